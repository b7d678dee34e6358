import { type KeyPair, sha256, toHex } from '@icn/identity'
import { describe, expect, it } from 'vitest'
import {
  type CompletedSnapshot, DEFAULT_CONFIG, type Effect, type InitiateSnapshot, InvalidConfigError, ProtocolViolationError, RateLimitedError,
  type ReceivedMessage, type SnapshotAck, type SnapshotConfig, SnapshotError, type SnapshotEvent, SnapshotCoordinator, type SnapshotMessage, type StateChunk,
  chunkPayload, decodeMessage, encodeMessage, merkleRoot, packState, resolveConfig, signInitiation, sortLeaves
} from '../src/index.js'
import { keyPairs } from './support/cluster.js'
import { BlobProvider, Router } from './support/router.js'

/** Distinct, incompressible 6 KiB per node: with 1 KiB chunks a transfer spans several chunks. */
function noise (i: number): Uint8Array {
  const out = new Uint8Array(6144)
  for (let j = 0; j < out.length; j += 32) out.set(sha256(Uint8Array.of(i, j >> 8, j & 255)), j)
  return out
}

const SMALL_CHUNKS = { chunkSize: 1024, compressionLevel: 0 }

/** Node 0's records of `count` completed snapshots (ids s0, s1, …) of a 3-node run, and the three key pairs. */
async function heldSnapshots (count: number, seed: number): Promise<{ keys: KeyPair[], records: CompletedSnapshot[] }> {
  const router = new Router({ size: 3, seed, config: SMALL_CHUNKS, providers: (i) => [new BlobProvider('blob', noise(i))] })
  const records: CompletedSnapshot[] = []
  for (let k = 0; k < count; k++) {
    const { snapshotId } = router.nodes[0]!.snap.startSnapshot({ snapshotId: `s${k}` })
    await router.run()
    records.push(router.nodes[0]!.snap.getCompleted(snapshotId)!)
  }
  await router.close()
  return { keys: router.nodes.map((n) => n.keyPair), records }
}

function signed (message: SnapshotMessage, by: KeyPair): ReceivedMessage {
  return decodeMessage(encodeMessage(message, by))
}

const requestFrom = (peer: KeyPair, snapshotId: string): ReceivedMessage => signed({ type: 'RequestState', snapshotId, requester: peer.did }, peer)

/** The effects must all be StateChunks sent to `to`; returns them in order. */
function chunksTo (to: string, effects: Effect[]): StateChunk[] {
  return effects.map((e) => {
    if (e.kind !== 'send' || e.to !== to || e.message.type !== 'StateChunk') throw new Error(`unexpected effect ${e.kind}`)
    return e.message
  })
}

/** The error of a refused request's `rejected` effect; the only other effect allowed is one `RequestRefused` back to the requester (no chunks). */
function rejection (effects: Effect[]): SnapshotError {
  const [first, ...rest] = effects
  if (first?.kind !== 'rejected') throw new Error('the request was served')
  for (const e of rest) if (e.kind !== 'send' || e.to !== first.from || e.message.type !== 'RequestRefused') throw new Error(`unexpected effect ${e.kind}`)
  return first.error
}

function refusal (request: () => Effect[]): RateLimitedError {
  const error = rejection(request())
  if (error instanceof RateLimitedError) return error
  throw error
}

const fieldsOf = (e: RateLimitedError): unknown[] => [e.name, e.code, e instanceof ProtocolViolationError, e.peer, e.snapshotId, e.retryAt, e.message]

function coordinatorOf (self: KeyPair, init: Partial<SnapshotConfig>): SnapshotCoordinator {
  return new SnapshotCoordinator(self.did, resolveConfig({ ...SMALL_CHUNKS, ...init }), () => 1)
}

describe('serving RequestState: per-(peer, snapshot) budget on the injected clock', () => {
  it('refuses a peer past maxStateTransfers within the window with RateLimitedError and no chunks, and serves it again as the window slides', async () => {
    const { keys: [server, b, c], records: [record] } = await heldSnapshots(1, 81)
    const core = coordinatorOf(server!, { snapshotTimeout: 10_000, maxStateTransfers: 2 })
    core.loadCompleted(record!)
    const total = chunkPayload(packState(record!), 1024, 0).chunks.length
    expect(total).toBe(7)
    expect(chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's0'), 0)).length).toBe(total)
    expect(chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's0'), 1000)).length).toBe(total)
    const message = (retryAt: number): string => `RequestState from ${b!.did} for s0 refused: 2 transfers within 10000 ms, next at ${retryAt}`
    expect(fieldsOf(refusal(() => core.handleMessage(b!.did, requestFrom(b!, 's0'), 2000)))).toEqual(
      ['RateLimitedError', 'PROTOCOL_VIOLATION', true, b!.did, 's0', 10_000, message(10_000)])
    expect(refusal(() => core.handleMessage(b!.did, requestFrom(b!, 's0'), 9_999)).retryAt).toBe(10_000)
    // Another peer has its own budget.
    expect(chunksTo(c!.did, core.handleMessage(c!.did, requestFrom(c!, 's0'), 2000)).length).toBe(total)
    // The transfer at 0 leaves the window at 10 000; the one at 1000 at 11 000. Refusals cost no budget.
    expect(chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's0'), 10_000)).length).toBe(total)
    expect(fieldsOf(refusal(() => core.handleMessage(b!.did, requestFrom(b!, 's0'), 10_001)))).toEqual(
      ['RateLimitedError', 'PROTOCOL_VIOLATION', true, b!.did, 's0', 11_000, message(11_000)])
    expect(chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's0'), 11_000)).length).toBe(total)
    // Non-participants and unknown snapshots are refused before the budget is looked at, as before.
    const outsider = keyPairs(4, 99)[3]!
    expect(rejection(core.handleMessage(outsider.did, requestFrom(outsider, 's0'), 11_000))).toEqual(new ProtocolViolationError(`${outsider.did} is not a participant of s0`))
    expect(rejection(core.handleMessage(b!.did, requestFrom(b!, 'nope'), 11_000))).toEqual(new ProtocolViolationError('no recorded state for snapshot nope'))
  })

  it('budgets are per snapshot', async () => {
    const { keys: [server, b], records } = await heldSnapshots(2, 82)
    const core = coordinatorOf(server!, { snapshotTimeout: 5000, maxStateTransfers: 2 })
    for (const r of records) core.loadCompleted(r)
    for (const t of [0, 1]) chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's0'), t))
    expect(refusal(() => core.handleMessage(b!.did, requestFrom(b!, 's0'), 2)).retryAt).toBe(5000)
    expect(chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's1'), 2)).length).toBe(7)
  })

  it('the chunked payload is cached: repeat requests get the very same chunks, equal to a fresh pack + deflate + split', async () => {
    const { keys: [server, b, c], records: [record] } = await heldSnapshots(1, 83)
    const core = coordinatorOf(server!, { maxStateTransfers: 3 })
    core.loadCompleted(record!)
    const first = chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's0'), 0))
    const again = chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's0'), 1))
    const toC = chunksTo(c!.did, core.handleMessage(c!.did, requestFrom(c!, 's0'), 2))
    const fresh = chunkPayload(packState(record!), 1024, 0)
    for (const served of [first, again, toC]) {
      expect(served.map((ch) => [ch.chunkIndex, ch.totalChunks, ch.totalSize, toHex(ch.payloadHash), toHex(ch.data)])).toEqual(
        fresh.chunks.map((data, i) => [i, 7, fresh.totalSize, toHex(fresh.payloadHash), toHex(data)]))
    }
    // Not recomputed: the same byte arrays every time.
    first.forEach((ch, i) => {
      expect(again[i]!.data).toBe(ch.data)
      expect(toC[i]!.data).toBe(ch.data)
      expect(again[i]!.payloadHash).toBe(ch.payloadHash)
    })
    expect(core.servingIds()).toEqual({ payloads: ['s0'], budgets: ['s0'], verifyBudgets: [] })
    // A record replaced under the same id (reloaded from the store: equal bytes, new arrays) is chunked afresh; its budget stays.
    core.loadCompleted({ ...record!, localState: Uint8Array.from(record!.localState), channelState: Uint8Array.from(record!.channelState) })
    const reloaded = chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's0'), 3))
    expect(reloaded.map((ch) => toHex(ch.data))).toEqual(first.map((ch) => toHex(ch.data)))
    expect(reloaded[0]!.data).not.toBe(first[0]!.data)
    expect(refusal(() => core.handleMessage(b!.did, requestFrom(b!, 's0'), 4)).retryAt).toBe(DEFAULT_CONFIG.snapshotTimeout)
  })

  it('cache and budgets are freed when the snapshot is pruned from the completed set, and bounded by keepCompleted', async () => {
    const { keys: [server, b], records } = await heldSnapshots(3, 84)
    const core = coordinatorOf(server!, { keepCompleted: 2 })
    core.loadCompleted(records[0]!)
    core.loadCompleted(records[1]!)
    chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's1'), 0))
    chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's0'), 0))
    expect(core.servingIds()).toEqual({ payloads: ['s1', 's0'], budgets: ['s1', 's0'], verifyBudgets: [] })
    // s0 is the oldest completed record: loading s2 prunes it, and what serving held for it.
    core.loadCompleted(records[2]!)
    expect(core.servingIds()).toEqual({ payloads: ['s1'], budgets: ['s1'], verifyBudgets: [] })
    expect(rejection(core.handleMessage(b!.did, requestFrom(b!, 's0'), 1))).toEqual(new ProtocolViolationError('no recorded state for snapshot s0'))
    chunksTo(b!.did, core.handleMessage(b!.did, requestFrom(b!, 's2'), 1))
    expect(core.servingIds()).toEqual({ payloads: ['s1', 's2'], budgets: ['s1', 's2'], verifyBudgets: [] })
  })

  it('an active snapshot\'s payload carries over when it completes; a failed snapshot frees it', async () => {
    const [a, x, c] = keyPairs(3, 85)
    const participants = [a!.did, x!.did, c!.did].sort()
    const run = (snapshotId: string): { core: SnapshotCoordinator, ack: SnapshotAck, first: StateChunk[] } => {
      const core = coordinatorOf(x!, { snapshotTimeout: 5000 })
      const initiation: InitiateSnapshot = { type: 'InitiateSnapshot', snapshotId, initiator: a!.did, timestamp: 0, participants }
      expect(core.handleMessage(a!.did, signed(initiation, a!), 0).map((e) => e.kind)).toEqual(['capture', 'send', 'send'])
      expect(core.localStateCaptured(snapshotId, noise(1), 0)).toEqual([])
      const marker: SnapshotMessage = { type: 'Marker', snapshotId, sender: c!.did, initiation: signInitiation(initiation, a!) }
      const [acked] = core.handleMessage(c!.did, signed(marker, c!), 0)
      if (acked?.kind !== 'send' || acked.message.type !== 'SnapshotAck') throw new Error('no ack')
      const first = chunksTo(c!.did, core.handleMessage(c!.did, requestFrom(c!, snapshotId), 1))
      expect(core.servingIds()).toEqual({ payloads: [snapshotId], budgets: [snapshotId], verifyBudgets: [] })
      return { core, ack: acked.message, first }
    }

    const completing = run('active-1')
    const { ack } = completing
    const leaves = sortLeaves([a!, c!].map((k, i) => ({ did: k.did, stateHash: sha256(Uint8Array.of(i)), stateSize: 1, channelHash: sha256(Uint8Array.of(9, i)), channelSize: 1 }))
      .concat([{ did: x!.did, stateHash: ack.stateHash, stateSize: ack.stateSize, channelHash: ack.channelHash, channelSize: ack.channelSize }]))
    const complete: SnapshotMessage = { type: 'SnapshotComplete', snapshotId: 'active-1', coordinator: a!.did, globalStateRoot: merkleRoot(leaves), participants, leaves }
    expect(completing.core.handleMessage(a!.did, signed(complete, a!), 2).map((e) => e.kind)).toEqual(['completed'])
    const after = chunksTo(c!.did, completing.core.handleMessage(c!.did, requestFrom(c!, 'active-1'), 3))
    completing.first.forEach((ch, i) => { expect(after[i]!.data).toBe(ch.data) })
    expect(completing.core.servingIds()).toEqual({ payloads: ['active-1'], budgets: ['active-1'], verifyBudgets: [] })

    const failing = run('active-2')
    expect(failing.core.tick(5000)).toEqual([{ kind: 'failed', snapshotId: 'active-2', reason: `timed out after 5000 ms: no SnapshotComplete from ${a!.did}` }])
    expect(failing.core.servingIds()).toEqual({ payloads: [], budgets: [], verifyBudgets: [] })
    expect(rejection(failing.core.handleMessage(c!.did, requestFrom(c!, 'active-2'), 5001))).toEqual(new ProtocolViolationError('no recorded state for snapshot active-2'))
  })
})

describe('serving config', () => {
  it('defaults: 4 transfers per window; the window follows snapshotTimeout unless set', () => {
    expect([DEFAULT_CONFIG.maxStateTransfers, DEFAULT_CONFIG.stateTransferWindow]).toEqual([4, 300_000])
    const pick = (c: SnapshotConfig): number[] => [c.maxStateTransfers, c.stateTransferWindow, c.snapshotTimeout]
    expect(pick(resolveConfig())).toEqual([4, 300_000, 300_000])
    expect(pick(resolveConfig({ snapshotTimeout: 5000 }))).toEqual([4, 5000, 5000])
    expect(pick(resolveConfig({ snapshotTimeout: 5000, stateTransferWindow: 2000, maxStateTransfers: 2 }))).toEqual([2, 2000, 5000])
  })

  it('refuses out-of-range values with InvalidConfigError', () => {
    const transfers = new InvalidConfigError('maxStateTransfers must be an integer >= 2')
    const window = new InvalidConfigError('stateTransferWindow must be positive and at most snapshotTimeout')
    expect(() => resolveConfig({ maxStateTransfers: 1 })).toThrow(transfers)
    expect(() => resolveConfig({ maxStateTransfers: 2.5 })).toThrow(transfers)
    expect(() => resolveConfig({ stateTransferWindow: 0 })).toThrow(window)
    expect(() => resolveConfig({ stateTransferWindow: Number.NaN })).toThrow(window)
    expect(() => resolveConfig({ snapshotTimeout: 1000, stateTransferWindow: 1001 })).toThrow(window)
  })
})

describe('serving over the simulated network', () => {
  const isChunk = (from: string, to: string) => (m: { from: string, to: string, message: SnapshotMessage }): boolean =>
    m.message.type === 'StateChunk' && m.from === from && m.to === to
  const rateLimited = (events: SnapshotEvent[]): unknown[][] => events.flatMap((e) =>
    e.type === 'rejected' && e.error instanceof RateLimitedError ? [[e.from, e.error.snapshotId, e.error.retryAt]] : [])

  it('a peer repeating RequestState gets its budget, then refusals (rejected events, no chunks), then service again after the window', async () => {
    const router = new Router({ size: 3, seed: 86, config: { snapshotTimeout: 1000 } })
    const [a, b, c] = router.nodes
    const { snapshotId, outcome } = a!.snap.startSnapshot()
    await router.run()
    expect((await outcome).status).toBe('complete')
    const t0 = router.clock.now()
    const request = encodeMessage({ type: 'RequestState', snapshotId, requester: c!.did }, c!.keyPair)
    for (let i = 0; i < 6; i++) await b!.inject(c!.did, request)
    expect(router.log.filter(isChunk(b!.did, c!.did)).length).toBe(4)
    expect(rateLimited(b!.events)).toEqual([[c!.did, snapshotId, t0 + 1000], [c!.did, snapshotId, t0 + 1000]])
    expect(b!.snap.stats.rejected).toBe(2)
    await router.clock.advanceAsync(999)
    await b!.inject(c!.did, request)
    expect(router.log.filter(isChunk(b!.did, c!.did)).length).toBe(4)
    await router.clock.advanceAsync(1)
    await b!.inject(c!.did, request)
    expect(router.log.filter(isChunk(b!.did, c!.did)).length).toBe(5)
    expect(rateLimited(b!.events).length).toBe(3)
    await router.close()
  })

  it('a lost chunk: the fetch times out and the retry is served, with the tightest budget and the first request slow in transit', async () => {
    const router = new Router({
      size: 3, seed: 87, config: { ...SMALL_CHUNKS, snapshotTimeout: 1000, maxStateTransfers: 2 }, providers: (i) => [new BlobProvider('blob', noise(i))]
    })
    const [a, b] = router.nodes
    const { snapshotId } = a!.snap.startSnapshot()
    await router.run()
    const t0 = router.clock.now()
    const first = a!.snap.fetchState(snapshotId, b!.did)
    await router.run((m) => m.message.type === 'RequestState')
    // The request reaches B 400 ms later; B's chunk 2 never reaches A.
    await router.clock.advanceAsync(400)
    const slow = router.held.splice(0)
    expect(slow.map((m) => [m.from, m.to])).toEqual([[a!.did, b!.did]])
    await b!.inject(a!.did, slow[0]!.bytes)
    await router.run((m) => m.message.type === 'StateChunk' && (m.message as StateChunk).chunkIndex === 2)
    expect(router.held.length).toBe(1)
    router.held.length = 0
    await router.clock.advanceAsync(600)
    expect(await first).toEqual({ ok: false, reason: 'timed out after 1000 ms waiting for state' })
    // The retry reaches B 600 ms after the first request did: within B's window, and served.
    const retry = a!.snap.fetchState(snapshotId, b!.did)
    await router.run()
    const got = await retry
    expect(got.ok && toHex(packState(got.state))).toBe(toHex(packState(b!.snap.getCompleted(snapshotId)!)))
    const served = router.log.filter(isChunk(b!.did, a!.did))
    expect(served.length).toBe(2 * 7)
    // Cached payload, deterministic signatures: the retry's chunk frames are byte for byte the first transfer's.
    expect(served.slice(7).map((m) => toHex(m.bytes))).toEqual(served.slice(0, 7).map((m) => toHex(m.bytes)))
    expect(rateLimited(b!.events)).toEqual([])
    // A third request within the window would be over budget: refused, nothing sent; served again once the first transfer leaves B's window.
    const request = encodeMessage({ type: 'RequestState', snapshotId, requester: a!.did }, a!.keyPair)
    await b!.inject(a!.did, request)
    expect(rateLimited(b!.events)).toEqual([[a!.did, snapshotId, t0 + 1400]])
    expect(router.log.filter(isChunk(b!.did, a!.did)).length).toBe(14)
    await router.clock.advanceAsync(400)
    await b!.inject(a!.did, request)
    expect(router.log.filter(isChunk(b!.did, a!.did)).length).toBe(21)
    expect(router.clock.pendingTimers).toBe(0)
    await router.close()
  })

  it('VerifySnapshot: a repeat while the recompute is pending gets that one answer; past the budget it is refused (rejected, no recompute); served again after the window', async () => {
    const router = new Router({ size: 3, seed: 89, config: { snapshotTimeout: 1000, maxStateTransfers: 2 } })
    const [a, b, c] = router.nodes
    const { snapshotId, outcome } = a!.snap.startSnapshot()
    await router.run()
    expect((await outcome).status).toBe('complete')
    const request = encodeMessage({ type: 'VerifySnapshot', snapshotId, requester: c!.did, expectedRoot: b!.snap.getCompleted(snapshotId)!.root }, c!.keyPair)
    const answers = (): boolean[] => router.log.flatMap((m) => m.from === b!.did && m.to === c!.did && m.message.type === 'VerificationResult' ? [m.message.valid] : [])
    const fetchesByB = (): number => router.log.filter((m) => m.from === b!.did && m.message.type === 'RequestState').length
    const t1 = router.clock.now()
    await b!.inject(c!.did, request)
    await b!.inject(c!.did, request) // while B still fetches A's and C's states: coalesced
    await router.run()
    expect(answers()).toEqual([true])
    expect(fetchesByB()).toBe(2)
    await b!.inject(c!.did, request) // the second within the window: answered from the states B fetched
    await router.run()
    expect(answers()).toEqual([true, true])
    expect(fetchesByB()).toBe(2)
    await b!.inject(c!.did, request)
    await router.run()
    expect(answers()).toEqual([true, true])
    const refused = b!.events.flatMap((e) => e.type === 'rejected' && e.error instanceof RateLimitedError ? [e.error] : [])
    expect(refused.map((e) => [e.peer, e.snapshotId, e.retryAt, e.message])).toEqual([
      [c!.did, snapshotId, t1 + 1000, `VerifySnapshot from ${c!.did} for ${snapshotId} refused: 2 verifications within 1000 ms, next at ${t1 + 1000}`]
    ])
    await router.clock.advanceAsync(t1 + 1000 - router.clock.now())
    await b!.inject(c!.did, request)
    await router.run()
    expect(answers()).toEqual([true, true, true])
    expect(b!.snap.stats.rejected).toBe(1)
    await router.close()
  })

  it('every node of 11 verifying at different times asks each peer once: no refusal even with the tightest budget', async () => {
    // 11 participants need 10 fetched states each, more than keepCompleted (8): fetched states stay for the window.
    const router = new Router({ size: 11, seed: 88, config: { snapshotTimeout: 5000, maxStateTransfers: 2 } })
    const { snapshotId, outcome } = router.nodes[0]!.snap.startSnapshot()
    await router.run()
    expect((await outcome).status).toBe('complete')
    const reports = []
    for (const n of router.nodes) {
      reports.push(n.snap.verify(snapshotId))
      await router.run()
      await router.clock.advanceAsync(100)
    }
    expect((await Promise.all(reports)).map((r) => r.valid)).toEqual(router.nodes.map(() => true))
    const requests = router.log.filter((m) => m.message.type === 'RequestState').map((m) => `${m.from}>${m.to}`)
    expect(requests.length).toBe(11 * 10)
    expect(new Set(requests).size).toBe(11 * 10)
    for (const n of router.nodes) expect(n.snap.stats.rejected).toBe(0)
    await router.close()
  })
})
