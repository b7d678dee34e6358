import { deflateRawSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { concatBytes, decodeEnvelope, encodeEnvelope, sha256, signEnvelope, toHex } from '@icn/identity'
import { ENTRY_DOMAIN, InvalidEntryError, MAX_CLOCK_COUNTER, createEntry, parseEntry, type EntryBody, type EntryLimits } from '../src/index.js'
import { keyOf, strangers } from './helpers/sim.js'

const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }
const alice = keyOf(0)

function reasonOf (fn: () => unknown): string {
  try { fn() } catch (error) { if (error instanceof InvalidEntryError) return error.reason; throw error }
  return 'accepted'
}

function forged (body: EntryBody): Uint8Array {
  return encodeEnvelope(signEnvelope(ENTRY_DOMAIN, body, alice))
}

describe('entries', () => {
  it('round-trips with the id = sha-256 of the payload and the author as signer', () => {
    const payload = new Uint8Array([1, 2, 3])
    const entry = createEntry(alice, { topic: 't', payload, clock: { [alice.did]: 1 }, timestamp: 42 }, LIMITS)
    const parsed = parseEntry(entry.bytes, LIMITS)
    expect(parsed.idHex).toBe(toHex(sha256(payload)))
    expect(parsed.payload).toEqual(payload)
    expect(parsed.envelope.signer).toBe(alice.did)
    expect(parsed.envelope.cid).toBe(entry.envelope.cid)
    expect(parsed.envelope.payload).toMatchObject({ topic: 't', author: alice.did, timestamp: 42, encoding: 'raw', size: 3, clock: { [alice.did]: 1 } })
  })

  it('deflates payloads of 1 KiB or more only when that is smaller', () => {
    const text = new Uint8Array(4096).fill(97)
    const compressible = createEntry(alice, { topic: 't', payload: text, clock: {}, timestamp: 1 }, LIMITS)
    expect(compressible.envelope.payload.encoding).toBe('deflate-raw')
    expect(compressible.envelope.payload.data.length).toBeLessThan(100)
    expect(parseEntry(compressible.bytes, LIMITS).payload).toEqual(text)
    const random = concatBytes(...Array.from({ length: 64 }, (_, i) => sha256(new Uint8Array([i]))))
    const incompressible = createEntry(alice, { topic: 't', payload: random, clock: {}, timestamp: 1 }, LIMITS)
    expect(incompressible.envelope.payload.encoding).toBe('raw')
    const small = createEntry(alice, { topic: 't', payload: new Uint8Array(1023).fill(97), clock: {}, timestamp: 1 }, LIMITS)
    expect(small.envelope.payload.encoding).toBe('raw')
  })

  it('refuses an id that is not the hash of the payload, a bad signature, and a signer that is not the author', () => {
    const entry = createEntry(alice, { topic: 't', payload: new Uint8Array([9]), clock: {}, timestamp: 1 }, LIMITS)
    const body = entry.envelope.payload
    expect(reasonOf(() => parseEntry(forged({ ...body, id: sha256(new Uint8Array([8])) }), LIMITS))).toBe('bad-id')
    expect(reasonOf(() => parseEntry(forged({ ...body, size: 2 }), LIMITS))).toBe('bad-id')
    const tampered = encodeEnvelope({ ...entry.envelope, payload: { ...body, timestamp: 2 } })
    expect(reasonOf(() => parseEntry(tampered, LIMITS))).toBe('bad-signature')
    expect(reasonOf(() => parseEntry(forged({ ...body, author: keyOf(1).did }), LIMITS))).toBe('bad-signature')
    expect(reasonOf(() => parseEntry(new Uint8Array([1, 2, 3]), LIMITS))).toBe('malformed')
    expect(reasonOf(() => parseEntry(encodeEnvelope(signEnvelope('other', body, alice)), LIMITS))).toBe('malformed')
  })

  it('bounds decompression: a deflate bomb over the limit is refused', () => {
    const bomb = new Uint8Array(deflateRawSync(new Uint8Array(11 * 1024 * 1024)))
    const body: EntryBody = { topic: 't', author: alice.did, clock: {}, timestamp: 1, id: new Uint8Array(32), encoding: 'deflate-raw', size: 1000, data: bomb }
    expect(reasonOf(() => parseEntry(forged(body), LIMITS))).toBe('decompression')
    expect(reasonOf(() => parseEntry(forged({ ...body, size: 11 * 1024 * 1024 }), LIMITS))).toBe('too-large')
    expect(reasonOf(() => parseEntry(forged({ ...body, data: new Uint8Array([0xff, 0xfe]) }), LIMITS))).toBe('decompression')
  })

  it('checks the signature before inflating: a bomb whose signature fails is refused as bad-signature', () => {
    const bomb = new Uint8Array(deflateRawSync(new Uint8Array(11 * 1024 * 1024)))
    const body: EntryBody = { topic: 't', author: alice.did, clock: {}, timestamp: 1, id: new Uint8Array(32), encoding: 'deflate-raw', size: 1000, data: bomb }
    const signedByOther = encodeEnvelope(signEnvelope(ENTRY_DOMAIN, body, keyOf(1)))
    expect(reasonOf(() => parseEntry(signedByOther, LIMITS))).toBe('bad-signature')
    // The signature covers the deflated bytes and the declared size: changing either breaks it.
    const good = forged(body)
    expect(reasonOf(() => parseEntry(encodeEnvelope({ ...decodeEnvelope(good), payload: { ...body, size: 999 } }), LIMITS))).toBe('bad-signature')
    expect(reasonOf(() => parseEntry(encodeEnvelope({ ...decodeEnvelope(good), payload: { ...body, data: bomb.subarray(1) } }), LIMITS))).toBe('bad-signature')
  })

  it('bounds vector clocks: at most maxClockComponents (default 1,024) components and counters up to 2^48 − 1', () => {
    const dids = strangers(1025)
    const withClock = (clock: Record<string, number>, limits: EntryLimits = LIMITS): string =>
      reasonOf(() => parseEntry(createEntry(alice, { topic: 't', payload: new Uint8Array([1]), clock, timestamp: 1 }, LIMITS).bytes, limits))
    expect(withClock(Object.fromEntries(dids.slice(0, 1024).map((d) => [d, 1])))).toBe('accepted')
    expect(withClock(Object.fromEntries(dids.map((d) => [d, 1])))).toBe('clock-bound')
    expect(withClock(Object.fromEntries(dids.map((d) => [d, 1])), { ...LIMITS, maxClockComponents: 1025 })).toBe('accepted')
    expect(withClock({ [alice.did]: MAX_CLOCK_COUNTER })).toBe('accepted')
    expect(withClock({ [alice.did]: MAX_CLOCK_COUNTER + 1 })).toBe('clock-bound')
    expect(withClock({ [alice.did]: Number.MAX_SAFE_INTEGER })).toBe('clock-bound')
    expect(withClock({ [alice.did]: -1 })).toBe('malformed')
    expect(withClock({ 'not-a-did': 1 })).toBe('malformed')
  })
})
