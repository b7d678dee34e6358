import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { ApiCallError } from '../src/client.js'
import { type MeshNode, eventually, ledgerOf, startMesh, startMeshNode } from './helpers/cluster.js'

async function pay (from: MeshNode, to: MeshNode, amount: number): Promise<void> {
  await from.api.post('/pay', { to: to.did, amount: String(amount) })
}

async function balance (node: MeshNode, of: MeshNode): Promise<string> {
  return (await node.api.get(`/balance?account=${of.did}`) as { balance: string }).balance
}

async function violations (node: MeshNode): Promise<number> {
  return (await node.api.get('/status') as { transport: { protocolViolations: number } }).transport.protocolViolations
}

describe('faults across real node processes', () => {
  it('SIGKILL during traffic and during a snapshot: the snapshot times out cleanly, the node restarts from its data dir, catches up by anti-entropy, and the next snapshot succeeds', async () => {
    await withTempDir(async (dir) => {
      const nodes = await startMesh(dir, 3)
      const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
      try {
        await pay(a, b, 10)
        await pay(c, a, 5)
        await eventually('first payments everywhere', nodes.map((n) => n.api), async () => (await Promise.all(nodes.map(ledgerOf))).every((l) => l.entries === 2) ? true : undefined)

        // Traffic runs (10 payments A→B) while C freezes (connections stay up, nothing answers),
        // a snapshot starts, and C is SIGKILLed while both are in flight: once A reports the
        // snapshot active (C, still connected, is one of its participants and can never answer).
        const traffic = (async () => { for (let i = 0; i < 10; i++) await pay(a, b, 1) })()
        c.proc.kill('SIGSTOP')
        const snapshot = a.api.post('/snapshots').then(() => undefined, (err: unknown) => err)
        await eventually('A\'s snapshot to be in flight', a.api, async () => (await a.api.get('/status') as { snapshots: { active: number } }).snapshots.active === 1 ? true : undefined)
        c.proc.kill('SIGKILL')
        expect(await c.proc.exited).toBe('SIGKILL')
        const failure = await snapshot
        expect(failure).toBeInstanceOf(ApiCallError)
        expect((failure as ApiCallError).status).toBe(409)
        expect((failure as ApiCallError).message).toMatch(/failed/)
        await traffic

        // Traffic goes on without C.
        await pay(a, b, 20)
        await pay(b, a, 7)
        await eventually('payments on A and B', [a.api, b.api], async () => (await ledgerOf(a)).entries === 14 && (await ledgerOf(b)).entries === 14 ? true : undefined)
        // A killed peer hung up; it broke no protocol rule.
        expect([await violations(a), await violations(b)]).toEqual([0, 0])
        expect((await a.api.get('/status') as { services: string[] }).services).toContain('snapshot')

        // C restarts from its data dir and catches up.
        const restarted = await startMeshNode(c.dataDir, 2, ['--peer', a.runtime.multiaddrs[0]!, '--peer', b.runtime.multiaddrs[0]!])
        nodes[2] = restarted
        expect(restarted.did).toBe(c.did)
        const aLedger = await ledgerOf(a)
        await eventually('C to catch up', restarted.api, async () => {
          const l = await ledgerOf(restarted)
          return l.entries === 14 && l.stateRoot === aLedger.stateRoot ? true : undefined
        })
        expect(await balance(restarted, b)).toBe('33') // +10 +10×1 +20 -7
        expect(await balance(restarted, a)).toBe('-28') // -10 +5 -10×1 -20 +7

        await eventually('C connected to both', [a.api, restarted.api], async () => (await a.api.get('/peers') as unknown[]).length === 2 && (await restarted.api.get('/peers') as unknown[]).length === 2 ? true : undefined)
        const taken = await a.api.post('/snapshots') as { snapshotId: string, root: string, participants: string[] }
        expect(taken.participants).toEqual([a.did, b.did, c.did].sort())
        for (const n of [a, b, restarted]) {
          const stored = await eventually('snapshot stored', n.api, async () => (await n.api.get('/snapshots') as Array<{ snapshotId: string, root: string }>).find((s) => s.snapshotId === taken.snapshotId))
          expect(stored.root).toBe(taken.root)
        }
        const report = await restarted.api.post(`/snapshots/${taken.snapshotId}/verify`) as { valid: boolean }
        expect(report.valid).toBe(true)
      } finally {
        const codes = await Promise.all(nodes.map(async (n) => n.proc.child.exitCode === null && n.proc.child.signalCode === null ? await n.stop() : 'already-stopped'))
        expect(codes.filter((code) => code !== 'already-stopped')).toEqual([0, 0, 0])
      }
    })
  }, 120_000)

  it('cut links and heal them: entries made on both sides of a partition converge once the links are back', async () => {
    await withTempDir(async (dir) => {
      const nodes = await startMesh(dir, 3)
      const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
      try {
        // A cuts its links to B and C for 3 s: A is partitioned from {B, C}.
        await a.api.post('/peers/block', { did: b.did, ms: 3000 })
        await a.api.post('/peers/block', { did: c.did, ms: 3000 })
        expect(await a.api.get('/peers')).toEqual([])
        await pay(a, b, 11)
        await pay(b, c, 4)
        await eventually('C to apply B\'s payment', c.api, async () => (await ledgerOf(c)).entries === 1 ? true : undefined)
        expect((await ledgerOf(a)).entries).toBe(1)
        expect((await ledgerOf(a)).stateRoot).not.toBe((await ledgerOf(b)).stateRoot)
        // Healed by redial (B and C keep A as a configured peer): every node converges to the same ledger.
        await eventually('all nodes to converge', nodes.map((n) => n.api), async () => {
          const ledgers = await Promise.all(nodes.map(ledgerOf))
          return ledgers.every((l) => l.entries === 2 && l.stateRoot === ledgers[0]!.stateRoot) ? true : undefined
        }, 40_000)
        expect(await balance(c, b)).toBe('7')
        expect(await balance(c, a)).toBe('-11')
        // Cutting links (a stream reset, then a hang-up) is no protocol violation on either side.
        expect(await Promise.all(nodes.map(violations))).toEqual([0, 0, 0])
      } finally {
        for (const n of nodes) expect(await n.stop()).toBe(0)
      }
    })
  }, 120_000)

  it('SIGTERM while a periodic snapshot waits on a frozen participant: the node stops at once (the snapshot is left to fail), not after the snapshot timeout', async () => {
    await withTempDir(async (dir) => {
      // A 60 s snapshot timeout: a stop that waited for the snapshot would outlast this test's 40 s.
      // Three nodes: a snapshot needs 3 participants by default.
      const nodes = await startMesh(dir, 3, 60_000)
      const [b, c] = [nodes[1]!, nodes[2]!]
      expect(await nodes[0]!.stop()).toBe(0)
      const a = await startMeshNode(nodes[0]!.dataDir, 0, ['--snapshot-every', '1', '--peer', b.runtime.multiaddrs[0]!, '--peer', c.runtime.multiaddrs[0]!])
      try {
        await eventually('A to reconnect to B and C', a.api, async () => (await a.api.get('/peers') as unknown[]).length === 2 ? true : undefined)
        c.proc.kill('SIGSTOP')
        await eventually('A\'s periodic snapshot to be in flight', a.api, async () => (await a.api.get('/status') as { snapshots: { active: number } }).snapshots.active === 1 ? true : undefined)
        expect(await a.stop()).toBe(0)
        const unfinished = a.proc.stdout().split('\n').filter((l) => l.includes('left unfinished')).map((l) => (JSON.parse(l) as { msg: string }).msg)
        expect(unfinished).toEqual(['periodic snapshot left unfinished: node stopping'])
      } finally {
        c.proc.kill('SIGCONT')
        expect(await b.stop()).toBe(0)
        expect(await c.stop()).toBe(0)
      }
    })
  }, 40_000)
})
