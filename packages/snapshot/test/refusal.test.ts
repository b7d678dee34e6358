import type { KeyPair } from '@icn/identity'
import { flushMicrotasks } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import {
  type CompletedSnapshot, type Effect, type FetchOutcome, ProtocolViolationError, RateLimitedError, type ReceivedMessage, RequestRefusedError,
  type RequestRefused, SnapshotCoordinator, SnapshotError, type SnapshotEvent, type SnapshotMessage, decodeMessage, encodeMessage, packState, resolveConfig
} from '../src/index.js'
import { RefusalGate } from '../src/serving.js'
import { keyPairs } from './support/cluster.js'
import { type Routed, Router } from './support/router.js'

/** The value of `promise` if it has settled after the pending microtasks and I/O callbacks ran, else 'pending' (no clock is advanced). */
async function settledValue<T> (promise: Promise<T>): Promise<T | 'pending'> {
  let value: T | 'pending' = 'pending'
  void promise.then((v) => { value = v })
  await flushMicrotasks()
  return value
}

const fieldsOf = (e: RequestRefusedError): unknown[] =>
  [e.name, e.code, e instanceof SnapshotError, e.peer, e.snapshotId, e.request, e.reason, e.retryAt, e.message]

const refusalsIn = (log: Routed[], from: string, to: string): RequestRefused[] =>
  log.flatMap((m) => m.from === from && m.to === to && m.message.type === 'RequestRefused' ? [m.message] : [])

const rejections = (events: SnapshotEvent[]): SnapshotError[] => events.flatMap((e) => e.type === 'rejected' ? [e.error] : [])

function failure (outcome: FetchOutcome | 'pending'): { reason: string, error: RequestRefusedError } {
  if (outcome === 'pending' || outcome.ok) throw new Error(`expected a failed fetch, got ${outcome === 'pending' ? 'pending' : 'ok'}`)
  if (!(outcome.error instanceof RequestRefusedError)) throw new Error(`expected RequestRefusedError, got ${String(outcome.error)}`)
  return { reason: outcome.reason, error: outcome.error }
}

async function completedSnapshot (router: Router): Promise<string> {
  const { snapshotId, outcome } = router.nodes[0]!.snap.startSnapshot()
  await router.run()
  const result = await outcome
  if (result.status !== 'complete') throw new Error(result.reason)
  return snapshotId
}

describe('refusing on the pure core: one RequestRefused per (peer, snapshot, request) per window', () => {
  function signed (message: SnapshotMessage, by: KeyPair): ReceivedMessage { return decodeMessage(encodeMessage(message, by)) }
  const stateRequest = (by: KeyPair, snapshotId: string): ReceivedMessage => signed({ type: 'RequestState', snapshotId, requester: by.did }, by)

  async function holder (): Promise<{ core: SnapshotCoordinator, server: KeyPair, peer: KeyPair, record: CompletedSnapshot }> {
    const router = new Router({ size: 3, seed: 131 })
    const snapshotId = await completedSnapshot(router)
    const record = router.nodes[0]!.snap.getCompleted(snapshotId)!
    await router.close()
    const core = new SnapshotCoordinator(router.nodes[0]!.did, resolveConfig({ snapshotTimeout: 10_000, maxStateTransfers: 2 }), () => 1)
    core.loadCompleted({ ...record, snapshotId: 's0' })
    return { core, server: router.nodes[0]!.keyPair, peer: router.nodes[1]!.keyPair, record }
  }

  /** [kind, error class, error message] of a refused request's effects, and the RequestRefused it sends, if any. */
  function refusedWith (effects: Effect[]): { error: string, reply?: RequestRefused } {
    const [rejected, send, ...rest] = effects
    if (rejected?.kind !== 'rejected' || rest.length > 0) throw new Error(`not a refusal: ${effects.map((e) => e.kind).join()}`)
    if (send === undefined) return { error: `${rejected.error.name}: ${rejected.error.message}` }
    if (send.kind !== 'send' || send.to !== rejected.from || send.message.type !== 'RequestRefused') throw new Error('refusal reply is not a RequestRefused to the requester')
    return { error: `${rejected.error.name}: ${rejected.error.message}`, reply: send.message }
  }

  it('a non-participant flooding RequestState gets one refusal, silence for the window, then one again; other requests and snapshots have their own', async () => {
    const { core, server } = await holder()
    const outsider = keyPairs(4, 132)[3]!
    const notParticipant = `ProtocolViolationError: ${outsider.did} is not a participant of s0`
    const reply = (request: RequestRefused['request'], reason: RequestRefused['reason'], snapshotId = 's0'): RequestRefused =>
      ({ type: 'RequestRefused', snapshotId, refuser: server.did, request, reason, retryAfter: 0 })
    expect(refusedWith(core.handleMessage(outsider.did, stateRequest(outsider, 's0'), 0))).toEqual({ error: notParticipant, reply: reply('RequestState', 'NOT_PARTICIPANT') })
    for (const t of [0, 1, 5000, 9999]) expect(refusedWith(core.handleMessage(outsider.did, stateRequest(outsider, 's0'), t))).toEqual({ error: notParticipant })
    // The same peer's VerifySnapshot, or a request for another snapshot, is a different key: answered once too.
    const verify = signed({ type: 'VerifySnapshot', snapshotId: 's0', requester: outsider.did, expectedRoot: new Uint8Array(32) }, outsider)
    expect(refusedWith(core.handleMessage(outsider.did, verify, 1))).toEqual({ error: notParticipant, reply: reply('VerifySnapshot', 'NOT_PARTICIPANT') })
    expect(refusedWith(core.handleMessage(outsider.did, verify, 2))).toEqual({ error: notParticipant })
    expect(refusedWith(core.handleMessage(outsider.did, stateRequest(outsider, 'nope'), 2))).toEqual({
      error: 'ProtocolViolationError: no recorded state for snapshot nope', reply: reply('RequestState', 'NO_RECORDED_STATE', 'nope')
    })
    expect(refusedWith(core.handleMessage(outsider.did, stateRequest(outsider, 'nope'), 3))).toEqual({ error: 'ProtocolViolationError: no recorded state for snapshot nope' })
    // stateTransferWindow (10 000 ms) after the first reply: answered again, once.
    expect(refusedWith(core.handleMessage(outsider.did, stateRequest(outsider, 's0'), 10_000))).toEqual({ error: notParticipant, reply: reply('RequestState', 'NOT_PARTICIPANT') })
    expect(refusedWith(core.handleMessage(outsider.did, stateRequest(outsider, 's0'), 10_001))).toEqual({ error: notParticipant })
  })

  it('a rate-limited participant is told when to retry (relative to the refusal); no second reply within a window of the first, even across a served request', async () => {
    const { core, server, peer } = await holder()
    const served = (t: number): number => core.handleMessage(peer.did, stateRequest(peer, 's0'), t).filter((e) => e.kind === 'send' && e.message.type === 'StateChunk').length
    const limited = (retryAt: number): string => `RateLimitedError: RequestState from ${peer.did} for s0 refused: 2 transfers within 10000 ms, next at ${retryAt}`
    const reply = (retryAfter: number): RequestRefused => ({ type: 'RequestRefused', snapshotId: 's0', refuser: server.did, request: 'RequestState', reason: 'RATE_LIMITED', retryAfter })
    expect([served(0), served(1000)]).toEqual([1, 1])
    expect(refusedWith(core.handleMessage(peer.did, stateRequest(peer, 's0'), 2000))).toEqual({ error: limited(10_000), reply: reply(8000) })
    expect(refusedWith(core.handleMessage(peer.did, stateRequest(peer, 's0'), 5000))).toEqual({ error: limited(10_000) })
    // At retryAt it is served; over budget again at 10 500, but within the window of the reply at 2000: silence.
    expect(served(10_000)).toBe(1)
    expect(refusedWith(core.handleMessage(peer.did, stateRequest(peer, 's0'), 10_500))).toEqual({ error: limited(11_000) })
    expect(served(11_000)).toBe(1)
    expect(refusedWith(core.handleMessage(peer.did, stateRequest(peer, 's0'), 12_000))).toEqual({ error: limited(20_000), reply: reply(8000) })
  })

  it('the gate remembers at most its capacity of keys, dropping expired ones and then the oldest', () => {
    const gate = new RefusalGate({ stateTransferWindow: 100 }, 3)
    const allow = (peer: string, t: number): boolean => gate.allow(peer, 's', 'RequestState', t)
    expect(['p1', 'p2', 'p3'].map((p) => allow(p, 0))).toEqual([true, true, true])
    expect(allow('p4', 10)).toBe(true)
    expect(gate.size()).toBe(3)
    // p1 was forgotten to make room: it earns one more reply; the others are still silenced.
    expect([allow('p1', 20), allow('p3', 20), allow('p4', 20)]).toEqual([true, false, false])
    // At 100 the replies sent at 0 are out of the window and dropped.
    expect(allow('p5', 100)).toBe(true)
    expect(gate.size()).toBe(3)
    expect([allow('p4', 109), allow('p4', 110)]).toEqual([false, true])
  })
})

describe('refusals over the network: the requester fails at once with RequestRefusedError', () => {
  it('a rate-limited fetchState ends with who refused, why and when to retry, without the clock reaching the timeout; at retryAt it is served', async () => {
    const router = new Router({ size: 3, seed: 133, config: { snapshotTimeout: 1000, maxStateTransfers: 2 } })
    const [a, b] = router.nodes
    const snapshotId = await completedSnapshot(router)
    const t0 = router.clock.now()
    // Use up A's budget at B with two requests in A's name (their chunks are dropped on the way).
    const request = encodeMessage({ type: 'RequestState', snapshotId, requester: a!.did }, a!.keyPair)
    await b!.inject(a!.did, request)
    await b!.inject(a!.did, request)
    await router.run((m) => m.to === a!.did)
    router.held.length = 0

    const pending = a!.snap.fetchState(snapshotId, b!.did)
    await router.run()
    const { reason, error } = failure(await settledValue(pending))
    const message = `RequestState for ${snapshotId} refused by ${b!.did}: rate limited, retry at ${t0 + 1000}`
    expect(fieldsOf(error)).toEqual(['RequestRefusedError', 'REQUEST_REFUSED', true, b!.did, snapshotId, 'RequestState', 'RATE_LIMITED', t0 + 1000, message])
    expect(reason).toBe(message)
    expect(router.clock.now()).toBe(t0)
    expect(router.clock.pendingTimers).toBe(0)
    expect(refusalsIn(router.log, b!.did, a!.did)).toEqual([
      { type: 'RequestRefused', snapshotId, refuser: b!.did, request: 'RequestState', reason: 'RATE_LIMITED', retryAfter: 1000 }
    ])
    expect(rejections(b!.events).map((e) => [e.name, e instanceof RateLimitedError && e.retryAt])).toEqual([['RateLimitedError', t0 + 1000]])
    expect(a!.snap.stats.rejected).toBe(0)

    await router.clock.advanceAsync(1000)
    const retry = a!.snap.fetchState(snapshotId, b!.did)
    await router.run()
    const got = await retry
    expect(got.ok && packState(got.state)).toEqual(packState(b!.snap.getCompleted(snapshotId)!))
    await router.close()
  })

  it('a verifier refusing VerifySnapshot is reported with its refusal at once, not as a timeout', async () => {
    const router = new Router({ size: 3, seed: 134, config: { snapshotTimeout: 1000, maxStateTransfers: 2 } })
    const [a, b, c] = router.nodes
    const snapshotId = await completedSnapshot(router)
    for (let i = 0; i < 2; i++) {
      const report = c!.snap.verify(snapshotId)
      await router.run()
      expect((await report).valid).toBe(true)
    }
    const t = router.clock.now()
    const pending = c!.snap.verify(snapshotId)
    await router.run()
    const report = await settledValue(pending)
    if (report === 'pending') throw new Error('the verification is still waiting')
    expect(router.clock.now()).toBe(t)
    expect(report.valid).toBe(false)
    const refusedBy = (peer: string): string => `VerifySnapshot for ${snapshotId} refused by ${peer}: rate limited, retry at ${t + 1000}`
    expect(report.results.map((r) => [r.verifier, r.valid, r.reason, r.error === undefined ? undefined : fieldsOf(r.error)])).toEqual(
      [a!.did, b!.did, c!.did].sort().map((did) => did === c!.did
        ? [did, true, '', undefined]
        : [did, false, refusedBy(did), ['RequestRefusedError', 'REQUEST_REFUSED', true, did, snapshotId, 'VerifySnapshot', 'RATE_LIMITED', t + 1000, refusedBy(did)]]))
    for (const n of [a!, b!]) expect(refusalsIn(router.log, n.did, c!.did).map((r) => [r.request, r.reason, r.retryAfter])).toEqual([['VerifySnapshot', 'RATE_LIMITED', 1000]])
    expect(router.clock.pendingTimers).toBe(0)
    await router.close()
  })

  it('a verification job whose state fetch is refused (the peer no longer holds the snapshot) reports that refusal at once', async () => {
    const router = new Router({ size: 4, seed: 135, config: { snapshotTimeout: 1000, keepCompleted: 1 } })
    const [a, b, c, d] = router.nodes
    const first = await completedSnapshot(router)
    // B, C and D take a second snapshot without A: with keepCompleted 1 they drop the first; A keeps it.
    const second = b!.snap.startSnapshot({ participants: [c!.did, d!.did] })
    await router.run()
    expect((await second.outcome).status).toBe('complete')
    expect([a, b, c, d].map((n) => n!.snap.getCompleted(first) !== undefined)).toEqual([true, false, false, false])
    const t = router.clock.now()
    const pending = a!.snap.verify(first)
    await router.run()
    const report = await settledValue(pending)
    if (report === 'pending') throw new Error('the verification is still waiting')
    expect(router.clock.now()).toBe(t)
    const others = [b!.did, c!.did, d!.did].sort()
    // A asked the others in DID order; the first refusal to arrive names the job's failure.
    const own = `could not fetch state of ${others[0]!}: RequestState for ${first} refused by ${others[0]!}: no recorded state there`
    expect(report.results.map((r) => [r.verifier, r.valid, r.reason])).toEqual(
      [a!.did, ...others].sort().map((did) => [did, false, did === a!.did ? own : 'snapshot not completed here']))
    for (const did of others) {
      expect(refusalsIn(router.log, did, a!.did)).toEqual([
        { type: 'RequestRefused', snapshotId: first, refuser: did, request: 'RequestState', reason: 'NO_RECORDED_STATE', retryAfter: 0 }
      ])
    }
    expect(router.clock.pendingTimers).toBe(0)
    await router.close()
  })

  it('a peer flooding RequestState past its budget gets exactly one refusal, then silence, then one again once the window has passed', async () => {
    const router = new Router({ size: 3, seed: 136, config: { snapshotTimeout: 1000, maxStateTransfers: 2 } })
    const [, b, c] = router.nodes
    const snapshotId = await completedSnapshot(router)
    const t0 = router.clock.now()
    const request = encodeMessage({ type: 'RequestState', snapshotId, requester: c!.did }, c!.keyPair)
    const flood = async (times: number): Promise<void> => {
      for (let i = 0; i < times; i++) await b!.inject(c!.did, request)
      await router.run((m) => m.to === c!.did) // C has nothing outstanding: hold what B sends it
    }
    const transfers = (): number => router.held.filter((m) => m.message.type === 'StateChunk').length
    await flood(20)
    expect([transfers(), refusalsIn(router.log, b!.did, c!.did).length, b!.snap.stats.rejected]).toEqual([2, 1, 18])
    await router.clock.advanceAsync(999)
    await flood(20)
    expect([transfers(), refusalsIn(router.log, b!.did, c!.did).length, b!.snap.stats.rejected]).toEqual([2, 1, 38])
    // t0 + 1000: both transfers and the refusal have left B's window: two transfers, then one refusal again.
    await router.clock.advanceAsync(1)
    await flood(20)
    expect([transfers(), refusalsIn(router.log, b!.did, c!.did).length, b!.snap.stats.rejected]).toEqual([4, 2, 56])
    expect(refusalsIn(router.log, b!.did, c!.did).map((r) => r.retryAfter)).toEqual([1000, 1000])
    expect(router.clock.now()).toBe(t0 + 1000)
    await router.close()
  })
})

describe('refusals the requester did not ask for', () => {
  it('an unsolicited, wrong-peer or wrong-request refusal is a protocol violation and changes nothing', async () => {
    const router = new Router({ size: 3, seed: 137, config: { snapshotTimeout: 1000 } })
    const [a, b, c] = router.nodes
    const snapshotId = await completedSnapshot(router)
    const outsider = keyPairs(4, 138)[3]!
    const refusal = (by: KeyPair, fields: Partial<RequestRefused> = {}): Uint8Array => encodeMessage({
      type: 'RequestRefused', snapshotId, refuser: by.did, request: 'RequestState', reason: 'NO_RECORDED_STATE', retryAfter: 0, ...fields
    }, by)
    const pending = a!.snap.fetchState(snapshotId, b!.did)
    await router.run((m) => m.message.type === 'RequestState') // A's request to B is held: its fetch stays outstanding
    const sent = router.log.length

    await a!.inject(c!.did, refusal(c!.keyPair)) // C was not asked
    await a!.inject(b!.did, refusal(b!.keyPair, { snapshotId: 'other' })) // B was not asked about that snapshot
    await a!.inject(b!.did, refusal(b!.keyPair, { request: 'VerifySnapshot' })) // A verifies nothing
    await a!.inject(c!.did, refusal(b!.keyPair)) // B's refusal, relayed by C
    await a!.inject(outsider.did, refusal(outsider, { reason: 'RATE_LIMITED', retryAfter: 5 }))
    expect(rejections(a!.events).map((e) => [e.name, e.code, e.message])).toEqual([
      ['ProtocolViolationError', 'PROTOCOL_VIOLATION', `unsolicited RequestRefused from ${c!.did} for RequestState ${snapshotId}`],
      ['ProtocolViolationError', 'PROTOCOL_VIOLATION', `unsolicited RequestRefused from ${b!.did} for RequestState other`],
      ['ProtocolViolationError', 'PROTOCOL_VIOLATION', `unsolicited RequestRefused from ${b!.did} for VerifySnapshot ${snapshotId}`],
      ['ProtocolViolationError', 'PROTOCOL_VIOLATION', `message from peer ${c!.did} is signed by ${b!.did}`],
      ['ProtocolViolationError', 'PROTOCOL_VIOLATION', `unsolicited RequestRefused from ${outsider.did} for RequestState ${snapshotId}`]
    ])
    expect(rejections(a!.events).every((e) => e instanceof ProtocolViolationError)).toBe(true)
    expect(a!.snap.stats.rejected).toBe(5)
    // Nothing changed: the fetch is still outstanding (its timer too), A sent nothing, and B's real answer completes it.
    expect(await settledValue(pending)).toBe('pending')
    expect(router.clock.pendingTimers).toBe(1)
    expect(router.log.length).toBe(sent)
    await router.release()
    const got = await pending
    expect(got.ok && packState(got.state)).toEqual(packState(b!.snap.getCompleted(snapshotId)!))
    // Answered now: a refusal for it afterwards is unsolicited too.
    await a!.inject(b!.did, refusal(b!.keyPair))
    expect(a!.snap.stats.rejected).toBe(6)
    await router.close()
  })

  it('a refusal of VerifySnapshot from a verifier that already answered, or from a non-participant, is refused and leaves the report as it was', async () => {
    const router = new Router({ size: 3, seed: 139, config: { snapshotTimeout: 1000 } })
    const [a, b, c] = router.nodes
    const snapshotId = await completedSnapshot(router)
    const outsider = keyPairs(4, 140)[3]!
    const refusal = (by: KeyPair): Uint8Array => encodeMessage({
      type: 'RequestRefused', snapshotId, refuser: by.did, request: 'VerifySnapshot', reason: 'RATE_LIMITED', retryAfter: 10
    }, by)
    const pending = a!.snap.verify(snapshotId)
    await router.run((m) => m.message.type === 'VerificationResult' && m.from === c!.did)
    expect(router.held.length).toBe(1)
    await a!.inject(b!.did, refusal(b!.keyPair)) // B has answered already
    await a!.inject(outsider.did, refusal(outsider))
    expect(rejections(a!.events).map((e) => [e.name, e.message])).toEqual([
      ['ProtocolViolationError', `unsolicited RequestRefused from ${b!.did} for VerifySnapshot ${snapshotId}`],
      ['ProtocolViolationError', `unsolicited RequestRefused from ${outsider.did} for VerifySnapshot ${snapshotId}`]
    ])
    expect(await settledValue(pending)).toBe('pending')
    await router.release()
    const report = await pending
    expect(report.results.map((r) => [r.verifier, r.valid, r.reason, r.error])).toEqual([a!.did, b!.did, c!.did].sort().map((did) => [did, true, '', undefined]))
    await router.close()
  })
})
