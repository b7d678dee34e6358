// Fuzzed wire input: nothing escapes the receive path, every frame the decoder
// refuses is counted as malformed, and no entry that fails a check is stored
// or delivered.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encode, utf8 } from '@icn/identity'
import { createEntry, createGossip, decodeMessage, encodeMessage, type GossipStats, type Gossip } from '../src/index.js'
import { ManualClock, captureTransport, keyOf } from './helpers/sim.js'

const alice = keyOf(0)
const bob = keyOf(1)
const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }

async function target (): Promise<{ gossip: Gossip, wire: ReturnType<typeof captureTransport>, delivered: Uint8Array[] }> {
  const wire = captureTransport(alice.did, [bob.did])
  const gossip = await createGossip({ transport: wire.transport, clock: new ManualClock(), keyPair: alice })
  gossip.createTopic('t')
  gossip.handleDirect('t', () => undefined)
  const delivered: Uint8Array[] = []
  gossip.subscribe('t', (e) => { delivered.push(e.payload) })
  return { gossip, wire, delivered }
}

const totalRejected = (stats: GossipStats): number => Object.values(stats.rejected).reduce((a, b) => a + b, 0)

function decodes (bytes: Uint8Array): boolean {
  try { decodeMessage(bytes); return true } catch { return false }
}

const validEntry = createEntry(bob, { topic: 't', payload: utf8('the one valid payload'), clock: { [bob.did]: 1 }, timestamp: 1_700_000_000_000 }, LIMITS)
const templates: Uint8Array[] = [
  encodeMessage({ t: 'push', entries: [validEntry.bytes] }),
  encodeMessage({ t: 'entries', topic: 't', re: new Uint8Array(16), entries: [validEntry.bytes] }),
  encodeMessage({ t: 'sync', topic: 't', nonce: new Uint8Array(16).fill(7), at: 1_700_000_000_000, round: 0, lower: { ts: 0, id: new Uint8Array(0) }, ranges: [{ upper: null, mode: 'fp', fingerprint: new Uint8Array(16) }] }),
  encodeMessage({ t: 'want', topic: 't', nonce: new Uint8Array(16), ids: [validEntry.key.id] }),
  encodeMessage({ t: 'topics', topics: ['t', 'u'] }),
  encodeMessage({ t: 'direct', topic: 't', id: 3, payload: utf8('hi') }),
  encodeMessage({ t: 'have', topic: 't', ids: [validEntry.key.id] }),
  encodeMessage({ t: 'graft', topic: 't', ids: [validEntry.key.id] }),
  encodeMessage({ t: 'prune', topic: 't' })
]

describe('fuzzed wire messages', () => {
  it('random bytes never throw and are each counted as malformed', async () => {
    const { gossip, wire, delivered } = await target()
    let frames = 0
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
      const before = gossip.stats()
      await wire.deliver(bob.did, bytes)
      frames++
      const after = gossip.stats()
      if (!decodes(bytes)) expect(after.rejected.malformed).toBe(before.rejected.malformed + 1)
    }), { numRuns: 500 })
    expect(gossip.stats().rejected.malformed).toBeGreaterThan(frames - 5)
    expect(delivered).toEqual([])
    await gossip.close()
  })

  it('structured messages with wrong fields never throw; refused ones are counted', async () => {
    const { gossip, wire, delivered } = await target()
    const value = fc.oneof(fc.string(), fc.integer(), fc.uint8Array({ maxLength: 40 }), fc.constant(null), fc.array(fc.uint8Array({ maxLength: 33 }), { maxLength: 4 }))
    const message = fc.record({
      t: fc.constantFrom('push', 'entries', 'sync', 'want', 'topics', 'direct', 'have', 'graft', 'prune', 'other'),
      topic: fc.oneof(fc.constant('t'), fc.string()),
      entries: fc.array(fc.uint8Array({ maxLength: 60 }), { maxLength: 3 }),
      nonce: fc.uint8Array({ minLength: 0, maxLength: 40 }),
      re: value, id: value, at: value, round: value, lower: value, ranges: fc.array(fc.array(value, { maxLength: 5 }), { maxLength: 3 }),
      ids: value, payload: value, topics: value
    }, { requiredKeys: ['t'] })
    await fc.assert(fc.asyncProperty(message, async (m) => {
      const bytes = encode(m)
      const before = totalRejected(gossip.stats())
      await wire.deliver(bob.did, bytes)
      if (!decodes(bytes)) expect(totalRejected(gossip.stats())).toBe(before + 1)
    }), { numRuns: 500 })
    expect(delivered).toEqual([])
    await gossip.close()
  })

  it('bit-flipped valid frames never throw, and only the genuine entry is ever delivered', async () => {
    const { gossip, wire, delivered } = await target()
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: templates.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
      async (which, flips) => {
        const bytes = Uint8Array.from(templates[which]!)
        for (const [at, mask] of flips) bytes[at % bytes.length]! ^= mask
        const before = totalRejected(gossip.stats())
        const statsBefore = gossip.stats()
        await wire.deliver(bob.did, bytes)
        const after = gossip.stats()
        if (!decodes(bytes)) expect(totalRejected(after)).toBe(before + 1)
        expect(after.handlerErrors).toBe(statsBefore.handlerErrors)
      }), { numRuns: 600 })
    for (const payload of delivered) expect(new TextDecoder().decode(payload)).toBe('the one valid payload')
    expect(gossip.entries('t').every((e) => e.id === validEntry.idHex)).toBe(true)
    await gossip.close()
  })
})
