import { decode, toHex } from '@icn/identity'
import { describe, expect, it } from 'vitest'
import type { Marker, SnapshotOutcome, SnapshotStore } from '../src/index.js'
import { createTokenCluster, keyPairs, recordedBalance, recordedInFlight } from './support/cluster.js'
import { BlobProvider, Router } from './support/router.js'

function complete (outcome: SnapshotOutcome): Extract<SnapshotOutcome, { status: 'complete' }>['snapshot'] {
  if (outcome.status !== 'complete') throw new Error(`snapshot failed: ${outcome.reason}`)
  return outcome.snapshot
}

describe('markers and acks', () => {
  it('marker convergence: every participant sends one marker, naming the snapshot and itself, to every other participant; acks only after all its channels closed', async () => {
    const router = new Router({ size: 4, seed: 11 })
    const [a] = router.nodes
    const { snapshotId, outcome } = a!.snap.startSnapshot()
    await router.run()
    expect(complete(await outcome).snapshotId).toBe(snapshotId)
    const initiations = router.log.filter((m) => m.message.type === 'InitiateSnapshot')
    expect(initiations.map((m) => `${m.from}>${m.to}`).sort()).toEqual(router.nodes.slice(1).map((n) => `${a!.did}>${n.did}`).sort())
    const markers = router.log.filter((m) => m.message.type === 'Marker')
    const expectedPairs = router.nodes.slice(1).flatMap((from) => router.nodes.filter((to) => to !== from).map((to) => `${from.did}>${to.did}`))
    expect(markers.map((m) => `${m.from}>${m.to}`).sort()).toEqual(expectedPairs.sort())
    for (const m of markers) {
      const marker = m.message as Marker
      expect(marker.snapshotId).toBe(snapshotId)
      expect(marker.sender).toBe(m.from)
      expect(marker.initiation.payload.initiator).toBe(a!.did)
    }
    // Each ack is sent only after every marker addressed to its sender was delivered (global FIFO router).
    for (const ackIndex of router.log.flatMap((m, i) => m.message.type === 'SnapshotAck' ? [i] : [])) {
      const acker = router.log[ackIndex]!.from
      const closers = router.log.flatMap((m, i) => (m.message.type === 'Marker' || m.message.type === 'InitiateSnapshot') && m.to === acker ? [i] : [])
      expect(closers.length).toBe(3)
      expect(Math.max(...closers)).toBeLessThan(ackIndex)
      expect(router.log[ackIndex]!.to).toBe(a!.did)
    }
    expect(router.log.filter((m) => m.message.type === 'SnapshotAck').length).toBe(3)
    expect(router.log.filter((m) => m.message.type === 'SnapshotComplete').map((m) => m.to).sort()).toEqual(router.nodes.slice(1).map((n) => n.did).sort())
    await router.close()
  })

  it('counts active and completed snapshots; several run at once, keyed by id', async () => {
    const router = new Router({ size: 3, seed: 12 })
    const [a, b] = router.nodes
    const first = a!.snap.startSnapshot()
    const second = b!.snap.startSnapshot()
    expect(first.snapshotId).not.toBe(second.snapshotId)
    expect(a!.snap.stats.active).toBe(1)
    expect(b!.snap.stats.active).toBe(1)
    await router.run()
    expect(complete(await first.outcome).initiator).toBe(a!.did)
    expect(complete(await second.outcome).initiator).toBe(b!.did)
    for (const n of router.nodes) expect(n.snap.stats).toEqual({ active: 0, completed: 2, failed: 0, rejected: 0 })
    await router.close()
  })
})

describe('channel recording', () => {
  it('records a message sent before the sender\'s marker and received after the receiver recorded', async () => {
    const cluster = createTokenCluster({ size: 3, seed: 21, links: { minDelayMs: 5, maxDelayMs: 5 } })
    const [a, b, c] = cluster.nodes
    const { snapshotId } = a!.snap.startSnapshot()
    b!.sendTokens(a!.did, 7) // B has not heard of the snapshot yet: the 7 tokens are in flight on B→A
    await cluster.net.runUntilIdle()
    const recordA = complete(await a!.snap.waitForSnapshot(snapshotId))
    const recordB = complete(await b!.snap.waitForSnapshot(snapshotId))
    const recordC = complete(await c!.snap.waitForSnapshot(snapshotId))
    expect(recordBalance(recordA, recordB, recordC)).toEqual([100, 93, 100])
    expect(recordedInFlight(recordA)).toEqual({ tokens: 7, frames: 1 })
    expect(recordedInFlight(recordB)).toEqual({ tokens: 0, frames: 0 })
    expect(a!.account.balance).toBe(107)
    await cluster.close()
  })
})

describe('channel recording through observeIncoming (the node\'s gossip ingress wiring)', () => {
  it('the frame carrying a marker, and frames observed after it on that channel, are not channel state', async () => {
    const router = new Router({ size: 3, seed: 22 })
    const [a, b] = router.nodes
    const { snapshotId, outcome } = a!.snap.startSnapshot()
    await router.run((m) => m.from === b!.did && m.to === a!.did && m.message.type === 'Marker')
    const marker = router.held[0]!
    // As gossip would: app frame, then the frame that wraps B's marker, then a later app frame, all observed before dispatch.
    const wrap = (inner: Uint8Array): Uint8Array => Uint8Array.from([0xa2, 9, ...inner, 9])
    a!.snap.observeIncoming(b!.did, Uint8Array.of(1, 2, 3))
    a!.snap.observeIncoming(b!.did, wrap(marker.bytes))
    a!.snap.observeIncoming(b!.did, Uint8Array.of(4, 5, 6))
    await router.release()
    const result = await outcome
    if (result.status !== 'complete') throw new Error(result.reason)
    const { channels } = decode(result.snapshot.channelState) as { channels: Record<string, Uint8Array[]> }
    expect(channels).toEqual({ [b!.did]: [Uint8Array.of(1, 2, 3)], [router.nodes[2]!.did]: [] })
    expect(router.nodes.every((n) => n.snap.getCompleted(snapshotId) !== undefined)).toBe(true)
    await router.close()
  })
})

function recordBalance (...records: Array<Parameters<typeof recordedBalance>[0]>): number[] {
  return records.map(recordedBalance)
}

describe('trust gating', () => {
  it('the initiator invites only peers it trusts at least minTrustForSnapshot', async () => {
    const lowTrust = keyPairs(4, 31)[3]!.did
    const router = new Router({ size: 4, seed: 31, trustOf: (viewer, subject) => viewer === 0 && subject === lowTrust ? 0.49 : 0.5 })
    const [a, b, c, d] = router.nodes
    const { snapshotId, outcome } = a!.snap.startSnapshot()
    await router.run()
    expect(complete(await outcome).participants).toEqual([a!.did, b!.did, c!.did].sort())
    expect(router.log.some((m) => m.to === d!.did || m.from === d!.did)).toBe(false)
    expect(d!.snap.stats.completed).toBe(0)
    expect(complete(await b!.snap.waitForSnapshot(snapshotId)).participants.length).toBe(3)
    await router.close()
  })

  it('a participant refuses an initiation from an initiator it does not trust enough; the snapshot then times out', async () => {
    const initiator = keyPairs(3, 32)[0]!.did
    const router = new Router({ size: 3, seed: 32, config: { snapshotTimeout: 1000 }, trustOf: (viewer, subject) => viewer === 1 && subject === initiator ? 0.2 : 1 })
    const [a, b] = router.nodes
    const { outcome } = a!.snap.startSnapshot()
    await router.run()
    expect(b!.snap.stats.rejected).toBe(2) // the initiation and C's marker, both naming A as initiator
    const rejection = b!.events.find((e) => e.type === 'rejected')
    expect(rejection?.type === 'rejected' && rejection.error.code).toBe('PROTOCOL_VIOLATION')
    expect(rejection?.type === 'rejected' && rejection.error.message).toContain('trusted below 0.5')
    await router.clock.advanceAsync(1000)
    const result = await outcome
    expect(result.status).toBe('failed')
    expect(result.status === 'failed' && result.reason).toBe(`timed out after 1000 ms: no marker from ${b!.did}`)
    await router.close()
  })
})

describe('timeouts, partitions and recovery', () => {
  it('partition → every reachable participant fails by timeout with a reason, resources freed → heal → a later snapshot succeeds', async () => {
    const cluster = createTokenCluster({ size: 4, seed: 41, config: { snapshotTimeout: 5000 } })
    const { net, clock, nodes } = cluster
    const dids = nodes.map((n) => n.did)
    const d = nodes[3]!
    net.isolate(d.did)
    const { snapshotId, outcome } = nodes[0]!.snap.startSnapshot({ participants: dids })
    await net.runUntilIdle(60_000)
    const failed = await outcome
    expect(failed.status === 'failed' && failed.reason).toBe(`timed out after 5000 ms: no marker from ${d.did}`)
    for (const n of nodes.slice(1, 3)) {
      const o = await n.snap.waitForSnapshot(snapshotId)
      expect(o.status === 'failed' && o.reason).toBe(`timed out after 5000 ms: no marker from ${d.did}`)
    }
    for (const n of nodes.slice(0, 3)) expect(n.snap.stats).toEqual({ active: 0, completed: 0, failed: 1, rejected: 0 })
    expect(d.snap.stats.active).toBe(0)
    expect(clock.pendingTimers).toBe(0)
    net.heal()
    const again = nodes[0]!.snap.startSnapshot({ participants: dids })
    await net.runUntilIdle(60_000)
    const root = toHex(complete(await again.outcome).root)
    for (const n of nodes) expect(toHex(complete(await n.snap.waitForSnapshot(again.snapshotId)).root)).toBe(root)
    await cluster.close()
  })

  it('a participant the transport cannot reach (send throws) makes the snapshot time out, without crashing the sender', async () => {
    const cluster = createTokenCluster({ size: 3, seed: 44, config: { snapshotTimeout: 2000 } })
    const stranger = keyPairs(1, 999)[0]!.did // not in the network: SimNetwork.send throws for it
    const [a] = cluster.nodes
    const failures: string[] = []
    a!.snap.onEvent((e) => { if (e.type === 'send-failed') failures.push(`${e.messageType}>${e.to}`) })
    const { outcome } = a!.snap.startSnapshot({ participants: [...cluster.nodes.map((n) => n.did), stranger] })
    await cluster.net.runUntilIdle(10_000)
    expect(failures).toEqual([`InitiateSnapshot>${stranger}`])
    const result = await outcome
    expect(result.status === 'failed' && result.reason).toBe(`timed out after 2000 ms: no marker from ${stranger}`)
    expect(cluster.net.handlerErrors).toEqual([])
    await cluster.close()
  })

  it('a participant that acks but never gets SnapshotComplete fails with that reason', async () => {
    const router = new Router({ size: 3, seed: 42, config: { snapshotTimeout: 2000 } })
    const [a, b] = router.nodes
    const { snapshotId, outcome } = a!.snap.startSnapshot()
    await router.run((m) => m.message.type === 'SnapshotComplete' && m.to === b!.did)
    expect((await outcome).status).toBe('complete')
    await router.clock.advanceAsync(2000)
    const o = await b!.snap.waitForSnapshot(snapshotId)
    expect(o.status === 'failed' && o.reason).toBe(`timed out after 2000 ms: no SnapshotComplete from ${a!.did}`)
    await router.close()
  })

  it('restores every provider from a completed snapshot', async () => {
    const router = new Router({ size: 3, seed: 43 })
    const { snapshotId } = router.nodes[0]!.snap.startSnapshot()
    await router.run()
    for (const n of router.nodes) n.account.balance = -1
    for (const n of router.nodes) await n.snap.restore(snapshotId)
    expect(router.nodes.map((n) => n.account.balance)).toEqual([100, 101, 102])
    await router.close()
  })
})

describe('failure paths of the shell', () => {
  it('a provider that throws fails the snapshot with its message; the others time out', async () => {
    const failing = { name: 'broken', exportState: async (): Promise<Uint8Array> => { throw new Error('disk on fire') }, restoreState: async (): Promise<void> => {} }
    const router = new Router({ size: 3, seed: 71, config: { snapshotTimeout: 500 }, providers: (i, account) => i === 1 ? [failing] : [account] })
    const [a, b] = router.nodes
    const { snapshotId, outcome } = a!.snap.startSnapshot()
    await router.run()
    const atB = await b!.snap.waitForSnapshot(snapshotId)
    expect(atB.status === 'failed' && atB.reason).toBe('local state capture failed: disk on fire')
    await router.clock.advanceAsync(500)
    const atA = await outcome
    expect(atA.status === 'failed' && atA.reason).toBe(`timed out after 500 ms: no ack from ${b!.did}`)
    await router.close()
  })

  it('channel recording larger than maxSnapshotSize fails the snapshot', async () => {
    const router = new Router({ size: 3, seed: 72, config: { maxSnapshotSize: 2048 } })
    const [a, b] = router.nodes
    const { outcome } = a!.snap.startSnapshot()
    a!.snap.observeIncoming(b!.did, new Uint8Array(1500))
    a!.snap.observeIncoming(b!.did, new Uint8Array(1500))
    const result = await outcome
    expect(result.status === 'failed' && result.reason).toBe('channel recording exceeds maxSnapshotSize 2048')
    expect(a!.snap.stats.active).toBe(0)
    await router.close()
  })

  it('restore refuses a snapshot naming a provider this node lacks, and restores nothing', async () => {
    const router = new Router({ size: 3, seed: 73, providers: (_i, account) => [account, new BlobProvider('extra', Uint8Array.of(1))] })
    const { snapshotId } = router.nodes[0]!.snap.startSnapshot()
    await router.run()
    const record = router.nodes[0]!.snap.getCompleted(snapshotId)!
    await router.close()
    // A node with only the 'extra' provider, whose store holds that snapshot.
    const store: SnapshotStore = {
      path: '', save: async () => ({ chunks: 0, newChunks: 0, bytesWritten: 0 }), load: async () => record, list: async () => [], keepNewest: async () => [],
      prune: async () => [], usage: async () => ({ chunks: 0, chunkBytes: 0 }), damaged: () => [], close: async () => {}
    }
    const extra = new BlobProvider('extra', Uint8Array.of(7))
    const lacking = new Router({ size: 3, seed: 73, stores: [store], providers: () => [extra] })
    await expect(lacking.nodes[0]!.snap.restore(snapshotId)).rejects.toThrow(`snapshot ${snapshotId} has state for provider 'tokens', which this node does not have`)
    expect(extra.restored).toEqual([])
    expect(extra.state).toEqual(Uint8Array.of(7))
    await lacking.close()
  })

  it('restore asks every provider\'s checkState first: one refusal and no provider is replaced', async () => {
    const refusing = new BlobProvider('ledger', Uint8Array.of(2))
    const extra = new BlobProvider('extra', Uint8Array.of(1))
    refusing.checkState = async () => { throw new Error('chains not held') }
    const router = new Router({ size: 3, seed: 74, providers: (i) => (i === 0 ? [extra, refusing] : [new BlobProvider('extra', Uint8Array.of(1)), new BlobProvider('ledger', Uint8Array.of(2))]) })
    const { snapshotId } = router.nodes[0]!.snap.startSnapshot()
    await router.run()
    extra.state = Uint8Array.of(9)
    await expect(router.nodes[0]!.snap.restore(snapshotId)).rejects.toThrow('chains not held')
    expect([extra.restored, refusing.restored, extra.state]).toEqual([[], [], Uint8Array.of(9)])
    refusing.checkState = async () => {}
    await router.nodes[0]!.snap.restore(snapshotId)
    expect([extra.restored, refusing.restored]).toEqual([[Uint8Array.of(1)], [Uint8Array.of(2)]])
    await router.close()
  })

  it('close() ends pending outcomes as failed and leaves no timers', async () => {
    const router = new Router({ size: 3, seed: 74 })
    const { snapshotId, outcome } = router.nodes[0]!.snap.startSnapshot()
    const elsewhere = router.nodes[1]!.snap.waitForSnapshot('never-started')
    await router.close()
    expect(await outcome).toEqual({ status: 'failed', snapshotId, reason: 'snapshot node closed' })
    expect(await elsewhere).toEqual({ status: 'failed', snapshotId: 'never-started', reason: 'snapshot node closed' })
    expect(router.clock.pendingTimers).toBe(0)
    expect(() => router.nodes[0]!.snap.startSnapshot()).toThrow('snapshot node is closed')
  })
})
