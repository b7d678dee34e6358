import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  ConvergenceTimeoutError, ManualClock, SeededRng, SimNetwork, type SimEndpoint, SubprocessError, createCluster, runSubprocess, startSubprocess, withTempDir
} from '../src/index.js'

const echo = fileURLToPath(new URL('./fixtures/echo.mjs', import.meta.url))

describe('withTempDir', () => {
  it('gives a fresh directory and removes it, even when the body throws', async () => {
    let seen = ''
    await expect(withTempDir(async (dir) => {
      seen = dir
      await writeFile(join(dir, 'x'), 'y')
      throw new Error('boom')
    })).rejects.toThrow('boom')
    expect(seen).not.toBe('')
    expect(existsSync(seen)).toBe(false)
  })
})

describe('SeededRng', () => {
  it('replays the same sequence from the same seed', () => {
    const a = new SeededRng(42)
    const b = new SeededRng(42)
    const seqA = Array.from({ length: 20 }, () => a.int(0, 1000))
    expect(Array.from({ length: 20 }, () => b.int(0, 1000))).toEqual(seqA)
    expect(new SeededRng(43).int(0, 1_000_000)).not.toBe(new SeededRng(42).int(0, 1_000_000))
  })

  it('stays in range and shuffles to a permutation', () => {
    const rng = new SeededRng(7)
    for (let i = 0; i < 1000; i++) {
      const v = rng.int(-3, 3)
      expect(v >= -3 && v <= 3).toBe(true)
    }
    expect(rng.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5])
    expect(rng.bytes(16).length).toBe(16)
  })
})

describe('ManualClock', () => {
  it('fires timers in due-time then creation order, and only when advanced', () => {
    const clock = new ManualClock(1000)
    const fired: string[] = []
    clock.setTimeout(() => fired.push('b@20'), 20)
    clock.setTimeout(() => fired.push('a@10'), 10)
    clock.setTimeout(() => fired.push('c@20'), 20)
    const cancel = clock.setTimeout(() => fired.push('cancelled'), 5)
    cancel()
    expect(fired).toEqual([])
    clock.advance(15)
    expect(fired).toEqual(['a@10'])
    expect(clock.now()).toBe(1015)
    clock.advance(5)
    expect(fired).toEqual(['a@10', 'b@20', 'c@20'])
    expect(clock.pendingTimers).toBe(0)
  })

  it('fires timers scheduled by timers within the same advance', () => {
    const clock = new ManualClock(0)
    const at: number[] = []
    const tick = (): void => { at.push(clock.now()); if (at.length < 3) clock.setTimeout(tick, 10) }
    clock.setTimeout(tick, 10)
    clock.advance(100)
    expect(at).toEqual([10, 20, 30])
  })
})

describe('subprocess', () => {
  it('returns trimmed stdout of a successful process', async () => {
    expect(await runSubprocess(echo, ['echo', 'a', 'b'])).toBe('a,b')
  })

  it('throws SubprocessError carrying stderr on a non-zero exit', async () => {
    const err = await runSubprocess(echo, ['fail']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SubprocessError)
    expect((err as SubprocessError).code).toBe(3)
    expect((err as SubprocessError).stderr).toContain('deliberate failure')
  })

  it('starts a process that can be waited on and killed', async () => {
    const proc = startSubprocess(echo, ['wait'])
    await proc.waitForOutput('ready')
    proc.kill('SIGKILL')
    expect(await proc.exited).toBe('SIGKILL')
  })
})

function recordingNetwork (seed: number, defaults = {}): { net: SimNetwork, log: string[], send: (from: string, to: string, n: number) => void } {
  const net = new SimNetwork({ seed, defaults })
  const log: string[] = []
  const endpoints = new Map<string, SimEndpoint>()
  for (const id of ['a', 'b', 'c', 'd']) {
    const ep = net.addNode(id)
    ep.onMessage((from, bytes) => { log.push(`${from}>${id}:${bytes[0] as number}`) })
    endpoints.set(id, ep)
  }
  return { net, log, send: (from, to, n) => { endpoints.get(from)!.send(to, Uint8Array.of(n)) } }
}

describe('SimNetwork', () => {
  it('delivers point-to-point messages in FIFO order despite random delays', async () => {
    const net = new SimNetwork({ seed: 1, defaults: { minDelayMs: 1, maxDelayMs: 50 } })
    const a = net.addNode('a')
    const b = net.addNode('b')
    const got: number[] = []
    b.onMessage((_from, bytes) => { got.push(bytes[0] as number) })
    for (let i = 0; i < 100; i++) a.send('b', Uint8Array.of(i))
    await net.runUntilIdle()
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i))
    expect(net.stats).toEqual({ sent: 100, delivered: 100, dropped: 0, duplicated: 0, partitioned: 0 })
  })

  it('is deterministic for a seed, with drops and duplicates', async () => {
    const run = async (seed: number): Promise<string[]> => {
      const { net, log, send } = recordingNetwork(seed, { dropRate: 0.2, duplicateRate: 0.2, maxDelayMs: 30 })
      const ids = ['a', 'b', 'c', 'd']
      for (let i = 0; i < 200; i++) {
        const from = net.rng.pick(ids)
        send(from, net.rng.pick(ids.filter((x) => x !== from)), i)
      }
      await net.runUntilIdle()
      expect(net.stats.dropped).toBeGreaterThan(0)
      expect(net.stats.duplicated).toBeGreaterThan(0)
      expect(net.stats.delivered).toBe(200 - net.stats.dropped + net.stats.duplicated)
      expect(log.length).toBe(net.stats.delivered)
      return log
    }
    const first = await run(99)
    expect(await run(99)).toEqual(first)
    expect(await run(100)).not.toEqual(first)
  })

  it('partitions (split, isolate, even split), loses messages in flight, and heals', async () => {
    const { net, log, send } = recordingNetwork(3, { minDelayMs: 10, maxDelayMs: 10 })
    net.splitAt(1)
    expect(net.canReach('a', 'b')).toBe(false)
    expect(net.canReach('b', 'd')).toBe(true)
    send('a', 'b', 1) // refused at send: partitioned
    send('b', 'c', 2) // in flight when c is isolated: lost
    net.isolate('c')
    send('b', 'd', 3)
    await net.runFor(20)
    net.evenSplit()
    expect(net.canReach('a', 'b')).toBe(true)
    expect(net.canReach('d', 'a')).toBe(false)
    send('d', 'a', 4) // refused: d and a are in different halves
    net.heal()
    send('a', 'd', 5)
    await net.runUntilIdle()
    expect(log).toEqual(['b>d:3', 'a>d:5'])
    expect(net.stats.partitioned).toBe(3)
  })

  it('peers() lists only reachable nodes', () => {
    const net = new SimNetwork({ seed: 1 })
    const a = net.addNode('a'); net.addNode('b'); net.addNode('c')
    expect(a.peers()).toEqual(['b', 'c'])
    net.isolate('b')
    expect(a.peers()).toEqual(['c'])
  })

  it('awaits async handlers in order per node and records handler errors', async () => {
    const net = new SimNetwork({ seed: 5 })
    const a = net.addNode('a')
    const b = net.addNode('b')
    const done: number[] = []
    b.onMessage(async (_from, bytes) => {
      await new Promise((resolve) => setImmediate(resolve))
      if (bytes[0] === 2) throw new Error('bad message')
      done.push(bytes[0] as number)
    })
    for (const n of [1, 2, 3]) a.send('b', Uint8Array.of(n))
    await net.runUntilIdle()
    expect(done).toEqual([1, 3])
    expect(net.handlerErrors.map((e) => (e.error as Error).message)).toEqual(['bad message'])
  })
})

describe('createCluster', () => {
  it('builds n connected nodes and converges a flood of messages', async () => {
    const cluster = await createCluster({
      size: 5,
      seed: 11,
      create: (endpoint) => {
        const seen = new Set<number>()
        endpoint.onMessage((_from, bytes) => {
          const n = bytes[0] as number
          if (seen.has(n)) return
          seen.add(n)
          for (const p of endpoint.peers()) endpoint.send(p, bytes)
        })
        return { endpoint, seen }
      }
    })
    cluster.nodes[0]!.seen.add(7)
    for (const p of cluster.endpoints[0]!.peers()) cluster.endpoints[0]!.send(p, Uint8Array.of(7))
    const took = await cluster.awaitConvergence(() => cluster.nodes.every((n) => n.seen.has(7)), { stepMs: 5 })
    expect(took).toBeGreaterThan(0)
    expect(took).toBeLessThanOrEqual(25)
  })

  it('throws ConvergenceTimeoutError when the predicate never holds', async () => {
    const cluster = await createCluster({ size: 2, seed: 1, create: () => 0 })
    await expect(cluster.awaitConvergence(() => false, { timeoutMs: 1000 })).rejects.toBeInstanceOf(ConvergenceTimeoutError)
  })
})
