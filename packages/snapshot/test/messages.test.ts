import { type KeyPair, encode, encodeEnvelope, sha256, signEnvelope } from '@icn/identity'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  InvalidMessageError, type RequestRefused, SNAPSHOT_DOMAIN, type SnapshotMessage, type StateChunk, decodeMessage, encodeMessage, leafHash, signInitiation
} from '../src/index.js'
import { MAX_RETRY_AFTER } from '../src/messages.js'
import { keyPairs } from './support/cluster.js'
import { Router } from './support/router.js'

const [alice, bob, carol] = keyPairs(3, 90) as [ReturnType<typeof keyPairs>[0], ReturnType<typeof keyPairs>[0], ReturnType<typeof keyPairs>[0]]
const participants = [alice.did, bob.did, carol.did].sort()
const h = (n: number): Uint8Array => sha256(Uint8Array.of(n))
const initiation = { type: 'InitiateSnapshot', snapshotId: 'abc123', initiator: alice.did, timestamp: 1_700_000_000_000, participants } as const
const leaves = participants.map((did, i) => ({ did, stateHash: h(i), stateSize: i, channelHash: h(i + 10), channelSize: i + 1 }))

/** One valid example of each of the nine message types, with its signer. */
const examples: Array<[SnapshotMessage, typeof alice]> = [
  [initiation, alice],
  [{ type: 'Marker', snapshotId: 'abc123', sender: bob.did, initiation: signInitiation(initiation, alice) }, bob],
  [{ type: 'SnapshotAck', snapshotId: 'abc123', node: bob.did, stateHash: h(1), stateSize: 10, channelHash: h(2), channelSize: 3 }, bob],
  [{ type: 'RequestState', snapshotId: 'abc123', requester: carol.did }, carol],
  [{ type: 'StateChunk', snapshotId: 'abc123', sender: bob.did, chunkIndex: 1, totalChunks: 2, totalSize: 5, payloadHash: h(3), data: Uint8Array.of(1, 2) }, bob],
  [{ type: 'SnapshotComplete', snapshotId: 'abc123', coordinator: alice.did, globalStateRoot: leafHash(leaves[0]!), participants, leaves }, alice],
  [{ type: 'VerifySnapshot', snapshotId: 'abc123', requester: carol.did, expectedRoot: h(4) }, carol],
  [{ type: 'VerificationResult', snapshotId: 'abc123', verifier: bob.did, valid: false, computedRoot: h(5), reason: 'differs' }, bob],
  [{ type: 'RequestRefused', snapshotId: 'abc123', refuser: bob.did, request: 'RequestState', reason: 'RATE_LIMITED', retryAfter: 2500 }, bob]
]

describe('snapshot messages: signed, canonical, validated', () => {
  it('each of the nine types round-trips exactly and is signed by its author', () => {
    expect(new Set(examples.map(([m]) => m.type)).size).toBe(9)
    for (const [message, signer] of examples) {
      const wire = encodeMessage(message, signer)
      const got = decodeMessage(wire)
      expect(got.message).toEqual(message)
      expect(got.signer).toBe(signer.did)
      expect(got.wire).toBe(wire)
    }
  })

  it('refuses a wrong author, a wrong domain, a bad signature, extra fields, bad ids and unsorted participants', () => {
    const expectInvalid = (bytes: Uint8Array, text: string): void => {
      expect(() => decodeMessage(bytes)).toThrow(InvalidMessageError)
      expect(() => decodeMessage(bytes)).toThrow(text)
    }
    expectInvalid(encodeMessage(examples[2]![0], carol), `SnapshotAck claims author ${bob.did} but is signed by ${carol.did}`)
    expectInvalid(encodeEnvelope(signEnvelope('icn/gossip/v1', examples[3]![0], carol)), 'is not \'icn/snapshot/v1\'')
    const wire = encodeMessage(examples[3]![0], carol)
    const flipped = Uint8Array.from(wire)
    flipped[flipped.length - 1]! ^= 1
    expectInvalid(flipped, 'not a valid snapshot envelope')
    expectInvalid(encodeMessage({ ...examples[3]![0], extra: 1 } as never, carol), 'has fields')
    expectInvalid(encodeMessage({ ...examples[3]![0], snapshotId: '../etc' } as never, carol), 'snapshotId must be')
    expectInvalid(encodeMessage({ ...initiation, participants: [...participants].reverse() }, alice), 'sorted and unique')
    expectInvalid(encodeMessage({ ...initiation, participants: participants.filter((p) => p !== alice.did) }, alice), 'must include the initiator')
    const forgedInitiation = { payload: initiation, signature: signInitiation(initiation, bob).signature }
    expectInvalid(encodeMessage({ type: 'Marker', snapshotId: 'abc123', sender: bob.did, initiation: forgedInitiation }, bob), 'initiation whose signature does not verify')
    expectInvalid(encodeMessage({ ...examples[4]![0], chunkIndex: 2 } as never, bob), 'chunkIndex must be an integer in [0, 1]')
    // StateChunks travel only in chunk frames, whose data must match the signed hash.
    expectInvalid(encodeEnvelope(signEnvelope(SNAPSHOT_DOMAIN, examples[4]![0], bob)), 'a StateChunk travels in a chunk frame')
    const frame = encodeMessage(examples[4]![0], bob)
    expect(frame[0]).toBe(0)
    const tampered = Uint8Array.from(frame)
    tampered[tampered.length - 1]! ^= 1
    expectInvalid(tampered, 'chunk data does not match its signed hash')
    expectInvalid(frame.subarray(0, 3), 'chunk frame is truncated')
    expectInvalid(Uint8Array.of(0, 0, 0, 1, 0), 'chunk frame header runs past the end')
  })
})

describe('fuzzed snapshot messages never crash a participant', () => {
  it('random bytes, random signed payloads, bit flips and random field values are refused or handled, and the node still works after', async () => {
    const router = new Router({ size: 3, seed: 91, config: { snapshotTimeout: 1000 } })
    const [a, b] = router.nodes
    const dids = router.nodes.map((n) => n.did)
    // Real traffic to mutate.
    a!.snap.startSnapshot()
    await router.run()
    const chunkFromA = encodeMessage({ ...(examples[4]![0] as StateChunk), sender: a!.did, data: new Uint8Array(40).fill(9) }, a!.keyPair)
    const real = [...router.log.map((m) => m.bytes), chunkFromA, chunkFromA]
    let calls = 0
    const inject = async (bytes: Uint8Array): Promise<void> => { calls++; await b!.inject(a!.did, bytes) }

    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => { await inject(bytes) }), { numRuns: 150 })
    await fc.assert(fc.asyncProperty(fc.jsonValue(), async (payload) => {
      let wire: Uint8Array
      try { encode(payload); wire = encodeEnvelope(signEnvelope(SNAPSHOT_DOMAIN, payload, a!.keyPair)) } catch { return }
      await inject(wire)
    }), { numRuns: 150 })
    await fc.assert(fc.asyncProperty(fc.nat(real.length - 1), fc.nat(), fc.integer({ min: 1, max: 255 }), async (i, at, mask) => {
      const bytes = Uint8Array.from(real[i]!)
      bytes[at % bytes.length]! ^= mask
      await inject(bytes)
    }), { numRuns: 150 })
    const did = fc.constantFrom(...dids)
    const id = fc.constantFrom('x1', 'x2', 'abc')
    const hash = fc.uint8Array({ minLength: 32, maxLength: 32 })
    const count = fc.nat(100_000)
    const message: fc.Arbitrary<SnapshotMessage> = fc.oneof(
      fc.record({ type: fc.constant('SnapshotAck' as const), snapshotId: id, node: fc.constant(a!.did), stateHash: hash, stateSize: count, channelHash: hash, channelSize: count }),
      fc.record({ type: fc.constant('RequestState' as const), snapshotId: id, requester: fc.constant(a!.did) }),
      fc.record({ type: fc.constant('StateChunk' as const), snapshotId: id, sender: fc.constant(a!.did), chunkIndex: fc.constant(0), totalChunks: fc.constant(1), totalSize: count, payloadHash: hash, data: fc.uint8Array({ maxLength: 64 }) }),
      fc.record({ type: fc.constant('VerifySnapshot' as const), snapshotId: id, requester: fc.constant(a!.did), expectedRoot: hash }),
      fc.record({ type: fc.constant('VerificationResult' as const), snapshotId: id, verifier: fc.constant(a!.did), valid: fc.boolean(), computedRoot: hash, reason: fc.string() }),
      fc.record({
        type: fc.constant('RequestRefused' as const), snapshotId: id, refuser: fc.constant(a!.did), request: fc.constantFrom('RequestState' as const, 'VerifySnapshot' as const),
        reason: fc.constantFrom('RATE_LIMITED' as const, 'NOT_PARTICIPANT' as const, 'NO_RECORDED_STATE' as const), retryAfter: fc.nat(10_000)
      }),
      fc.uniqueArray(did, { minLength: 1, maxLength: 3 }).chain((ps) => fc.record({
        type: fc.constant('InitiateSnapshot' as const), snapshotId: id, initiator: fc.constant(a!.did), timestamp: count, participants: fc.constant([...new Set([...ps, a!.did])].sort())
      })),
      fc.record({ type: fc.constant('SnapshotComplete' as const), snapshotId: id, coordinator: fc.constant(a!.did), globalStateRoot: hash, participants: fc.constant([...dids].sort()), leaves: fc.constant([...dids].sort().map((d) => ({ did: d, stateHash: new Uint8Array(32), stateSize: 0, channelHash: new Uint8Array(32), channelSize: 0 }))) })
    )
    await fc.assert(fc.asyncProperty(message, async (m) => { await inject(encodeMessage(m, a!.keyPair)) }), { numRuns: 300 })

    expect(calls).toBe(750)
    expect(b!.snap.stats.rejected).toBeGreaterThan(600)
    // Still healthy: let fuzz-started snapshots time out, then a real snapshot completes everywhere.
    await router.clock.advanceAsync(1000)
    router.log.length = 0
    const { outcome } = b!.snap.startSnapshot()
    await router.run()
    expect((await outcome).status).toBe('complete')
    expect(b!.snap.stats.active).toBe(0)
    await router.close()
  })
})

describe('RequestRefused on the wire', () => {
  const refusal: RequestRefused = { type: 'RequestRefused', snapshotId: 'abc123', refuser: bob.did, request: 'VerifySnapshot', reason: 'RATE_LIMITED', retryAfter: 2500 }
  const expectInvalid = (message: unknown, by: KeyPair, text: string): void => {
    const wire = encodeMessage(message as SnapshotMessage, by)
    expect(() => decodeMessage(wire)).toThrow(new InvalidMessageError(text))
  }

  it('every request kind, reason and retryAfter bound round-trips exactly', () => {
    const cases: RequestRefused[] = [
      refusal,
      { ...refusal, request: 'RequestState', retryAfter: 1 },
      { ...refusal, retryAfter: MAX_RETRY_AFTER },
      { ...refusal, reason: 'NOT_PARTICIPANT', retryAfter: 0 },
      { ...refusal, request: 'RequestState', reason: 'NO_RECORDED_STATE', retryAfter: 0 }
    ]
    for (const message of cases) {
      const got = decodeMessage(encodeMessage(message, bob))
      expect(got.message).toEqual(message)
      expect(got.signer).toBe(bob.did)
    }
    expect(MAX_RETRY_AFTER).toBe(2_147_483_647)
  })

  it('validates every field: author, field set, snapshotId, refuser, request, reason, retryAfter', () => {
    expectInvalid(refusal, carol, `RequestRefused claims author ${bob.did} but is signed by ${carol.did}`)
    const { retryAfter: _dropped, ...missing } = refusal
    expectInvalid(missing, bob, 'RequestRefused has fields [reason,refuser,request,snapshotId,type], expected [reason,refuser,request,retryAfter,snapshotId,type]')
    expectInvalid({ ...refusal, retryAt: 5 }, bob, 'RequestRefused has fields [reason,refuser,request,retryAfter,retryAt,snapshotId,type], expected [reason,refuser,request,retryAfter,snapshotId,type]')
    expectInvalid({ ...refusal, snapshotId: '../etc' }, bob, 'snapshotId must be 1-128 characters of [A-Za-z0-9_-]')
    expectInvalid({ ...refusal, snapshotId: 'x'.repeat(129) }, bob, 'snapshotId must be 1-128 characters of [A-Za-z0-9_-]')
    expectInvalid({ ...refusal, refuser: 'bob' }, bob, 'refuser must be a did:icn DID')
    for (const request of ['StateChunk', 'requestState', '', 7]) expectInvalid({ ...refusal, request }, bob, 'request must be RequestState or VerifySnapshot')
    for (const reason of ['rate_limited', 'TIMEOUT', '', null]) expectInvalid({ ...refusal, reason }, bob, 'reason must be RATE_LIMITED, NOT_PARTICIPANT or NO_RECORDED_STATE')
    const limited = `retryAfter must be an integer in [1, ${MAX_RETRY_AFTER}]`
    for (const retryAfter of [0, -1, 1.5, MAX_RETRY_AFTER + 1, '10', null]) expectInvalid({ ...refusal, retryAfter }, bob, limited)
    // Without a rate limit there is no retry time: only 0 is accepted, so a refusal has one encoding.
    for (const reason of ['NOT_PARTICIPANT', 'NO_RECORDED_STATE']) {
      for (const retryAfter of [1, 2500, -1]) expectInvalid({ ...refusal, reason, retryAfter }, bob, 'retryAfter must be an integer in [0, 0]')
    }
  })

  it('a flip of any single bit of the wire bytes is refused', () => {
    const wire = encodeMessage(refusal, bob)
    let refused = 0
    for (let i = 0; i < wire.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Uint8Array.from(wire)
        flipped[i]! ^= 1 << bit
        expect(() => decodeMessage(flipped)).toThrow(InvalidMessageError)
        refused++
      }
    }
    expect(refused).toBe(wire.length * 8)
    expect(decodeMessage(wire).message).toEqual(refusal)
  })
})
