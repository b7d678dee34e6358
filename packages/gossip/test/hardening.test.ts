// Hostile members: deflate bombs (signature before inflate, a per-frame inflate budget, a frame stops at its
// first misbehaving entry) and poisoned vector clocks (bounded where decoded and merged; the author is
// judged, not the member relaying its entry).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { deflateRawSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { type KeyPair, decodeEnvelope, encodeEnvelope, signEnvelope } from '@icn/identity'
import { readJsonSnapshot, writeJsonSnapshot } from '@icn/identity/fs'
import { SimNetwork, type SimEndpoint, withTempDir } from '@icn/testkit'
import {
  ENTRY_DOMAIN, type EntryBody, type Gossip, type GossipInit, GossipStore, MAX_MERGED_COUNTER, createEntry, createGossip, decodeMessage, encodeMessage
} from '../src/index.js'
import { keyOf, strangers } from './helpers/sim.js'

const MIB = 1024 * 1024
const TOPIC = 'test:topic'
const LIMITS = { compressThreshold: 1024, maxPayloadBytes: MIB }
/** 1 MiB payloads, a 4 MiB inflate budget per frame, anti-entropy only when a test asks for it. */
const INIT: GossipInit = { maxPayloadBytes: MIB, maxInflatedBytesPerFrame: 4 * MIB, antiEntropyIntervalMs: 1e9 }
const NOW = 1_700_000_000_000

const [alice, bob, mallory, paul] = [keyOf(0), keyOf(1), keyOf(2), keyOf(3)]

/** 1 MiB of zeros ending in `n`: a valid payload that deflates to about 1 KiB. */
function zeros (n: number): Uint8Array {
  const payload = new Uint8Array(MIB)
  new DataView(payload.buffer).setUint32(MIB - 4, n)
  return payload
}

const compressible = (author: KeyPair, n: number, now: number): Uint8Array =>
  createEntry(author, { topic: TOPIC, payload: zeros(n), clock: { [author.did]: n + 1 }, timestamp: now }, LIMITS).bytes

const small = (author: KeyPair, text: string, now: number, clock: Record<string, number> = { [author.did]: 1 }): Uint8Array =>
  createEntry(author, { topic: TOPIC, payload: new TextEncoder().encode(text), clock, timestamp: now }, LIMITS).bytes

/** 16 MiB of zeros deflated (about 16 KiB). */
const BOMB_DATA = new Uint8Array(deflateRawSync(new Uint8Array(16 * MIB)))

/** A deflate bomb correctly signed by `author` that declares 1,000 bytes. */
function bomb (author: KeyPair, n: number, now: number): Uint8Array {
  const id = new Uint8Array(32)
  id[0] = n
  const body: EntryBody = { topic: TOPIC, author: author.did, clock: { [author.did]: 1 }, timestamp: now, id, encoding: 'deflate-raw', size: 1000, data: BOMB_DATA }
  return encodeEnvelope(signEnvelope(ENTRY_DOMAIN, body, author))
}

function badlySigned (bytes: Uint8Array): Uint8Array {
  const envelope = decodeEnvelope(bytes)
  const signature = Uint8Array.from(envelope.signature)
  signature[0]! ^= 1
  return encodeEnvelope({ ...envelope, signature })
}

const push = (entries: Uint8Array[]): Uint8Array => encodeMessage({ t: 'push', entries })

/** Alice as a gossip node on a SimNetwork, and raw endpoints that play the other members. */
async function withAlice (init: GossipInit, others: KeyPair[], isMember?: (did: string) => boolean): Promise<{
  network: SimNetwork, gossip: Gossip, ends: SimEndpoint[]
}> {
  const network = new SimNetwork({ seed: 71 })
  const gossip = await createGossip({ transport: network.addNode(alice.did), clock: network.clock, keyPair: alice, ...(isMember === undefined ? {} : { isMember }) }, init)
  gossip.createTopic(TOPIC)
  const ends = others.map((k) => network.addNode(k.did))
  return { network, gossip, ends }
}

const rejections = (gossip: Gossip): number => Object.values(gossip.stats().rejected).reduce((a, b) => a + b, 0)

describe('deflate bombs', () => {
  it('a frame of 56 entries of 1 MiB each inflates exactly the 4 MiB budget, then stops: one refusal, one misbehaviour', async () => {
    const { network, gossip, ends } = await withAlice(INIT, [mallory])
    const now = network.clock.now()
    ends[0]!.send(alice.did, push(Array.from({ length: 56 }, (_, n) => compressible(mallory, n, now))))
    await network.runFor(100)
    const stats = gossip.stats()
    expect(stats.inflated).toBe(4)
    expect(stats.inflatedBytes).toBe(4 * MIB)
    expect(stats.accepted).toBe(4)
    expect(stats.rejected['inflate-budget']).toBe(1)
    expect(rejections(gossip)).toBe(1)
    expect(gossip.misbehaviour(mallory.did)).toBe(1)
    expect(gossip.entries(TOPIC).map((e) => e.payload.length)).toEqual([MIB, MIB, MIB, MIB])
    await gossip.close()
  })

  it('a bomb with a bad signature is never inflated, and the frame stops at it', async () => {
    const { network, gossip, ends } = await withAlice(INIT, [mallory])
    const now = network.clock.now()
    const frame = [small(mallory, 'first', now), ...Array.from({ length: 55 }, (_, n) => badlySigned(bomb(mallory, n, now))), small(mallory, 'last', now)]
    ends[0]!.send(alice.did, push(frame))
    await network.runFor(100)
    const stats = gossip.stats()
    expect(stats.inflated).toBe(0)
    expect(stats.inflatedBytes).toBe(0)
    expect(stats.rejected['bad-signature']).toBe(1)
    expect(rejections(gossip)).toBe(1)
    expect(stats.accepted).toBe(1)
    expect(gossip.entries(TOPIC).map((e) => new TextDecoder().decode(e.payload))).toEqual(['first'])
    expect(gossip.misbehaviour(mallory.did)).toBe(1)
    await gossip.close()
  })

  it('a signed bomb inflates no further than its declared 1,000 bytes; the frame stops at the first', async () => {
    const { network, gossip, ends } = await withAlice(INIT, [mallory])
    const now = network.clock.now()
    ends[0]!.send(alice.did, push(Array.from({ length: 56 }, (_, n) => bomb(mallory, n, now))))
    await network.runFor(100)
    const stats = gossip.stats()
    expect(stats.inflated).toBe(1)
    expect(stats.inflatedBytes).toBe(1000)
    expect(stats.rejected.decompression).toBe(1)
    expect(rejections(gossip)).toBe(1)
    expect(gossip.misbehaviour(mallory.did)).toBe(1)
    expect(gossip.entries(TOPIC)).toEqual([])
    await gossip.close()
  })

  it("a non-member's bomb relayed by a member is not inflated, nor counted against the member", async () => {
    const { network, gossip, ends } = await withAlice(INIT, [bob], (did) => did !== mallory.did)
    const now = network.clock.now()
    ends[0]!.send(alice.did, push([bomb(mallory, 1, now), small(bob, 'after', now)]))
    await network.runFor(100)
    expect(gossip.stats().inflated).toBe(0)
    expect(gossip.stats().rejected['non-member-author']).toBe(1)
    expect(gossip.stats().accepted).toBe(1)
    expect(gossip.misbehaviour(bob.did)).toBe(0)
    await gossip.close()
  })

  it('an honest node keeps its pushes and pull replies within the budget: 6 entries of 1 MiB leave as frames of 4 and 2', async () => {
    const network = new SimNetwork({ seed: 72 })
    const frames: number[] = []
    const bobEnd = network.addNode(bob.did)
    const bobTransport = {
      id: bobEnd.id,
      peers: () => bobEnd.peers(),
      onMessage: bobEnd.onMessage.bind(bobEnd),
      send: (to: string, bytes: Uint8Array) => {
        const message = decodeMessage(bytes)
        if (message.t === 'push' || message.t === 'entries') frames.push(message.entries.length)
        bobEnd.send(to, bytes)
      }
    }
    const a = await createGossip({ transport: network.addNode(alice.did), clock: network.clock, keyPair: alice }, INIT)
    const b = await createGossip({ transport: bobTransport, clock: network.clock, keyPair: bob }, INIT)
    for (const node of [a, b]) node.createTopic(TOPIC)
    await network.runFor(100)
    for (let n = 0; n < 6; n++) await b.publish(TOPIC, zeros(n))
    await network.runFor(100)
    expect(frames).toEqual([4, 2])
    expect(a.stats().accepted).toBe(6)
    expect(a.stats().inflatedBytes).toBe(6 * MIB)
    expect(rejections(a)).toBe(0)
    expect(a.misbehaviour(bob.did)).toBe(0)

    // Pull replies: six more published while alice is cut off arrive by anti-entropy, in replies of at most 4.
    network.partition([[alice.did], [bob.did]])
    for (let n = 6; n < 12; n++) await b.publish(TOPIC, zeros(n))
    await network.runFor(100)
    network.heal()
    frames.length = 0
    for (let round = 0; round < 3; round++) { a.syncNow(bob.did); await network.runFor(1000) }
    expect(a.entries(TOPIC).length).toBe(12)
    expect(frames).toEqual([4, 2])
    expect(rejections(a)).toBe(0)
    expect(a.misbehaviour(bob.did)).toBe(0)
    await a.close()
    await b.close()
  })
})

describe('bound options', () => {
  it('refuses an inflate budget below maxPayloadBytes and a clock bound that is not a positive integer', async () => {
    const network = new SimNetwork({ seed: 74 })
    const components = { transport: network.addNode(alice.did), clock: network.clock, keyPair: alice }
    await expect(createGossip(components, { maxPayloadBytes: MIB, maxInflatedBytesPerFrame: MIB - 1 })).rejects.toThrow('maxInflatedBytesPerFrame must be a number ≥ 1048576')
    await expect(createGossip(components, { maxClockComponents: 0 })).rejects.toThrow('maxClockComponents must be a number ≥ 1')
    await expect(createGossip(components, { maxClockComponents: 1.5 })).rejects.toThrow('maxClockComponents must be an integer')
  })
})

describe('poisoned vector clocks', () => {
  /** 4,097 components — paul's and 4,096 strangers' — every counter 2^53 − 1. */
  const poisonedClock: Record<string, number> = Object.fromEntries([...strangers(4096), paul.did].map((did) => [did, Number.MAX_SAFE_INTEGER]))
  const poisonedEntry = createEntry(paul, { topic: TOPIC, payload: new TextEncoder().encode('poisoned'), clock: poisonedClock, timestamp: NOW }, LIMITS)
  const poisoned = (): Uint8Array => poisonedEntry.bytes

  it('relayed by an honest member: the author is judged, not the relayer; the frame goes on; the state file keeps its size', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const { network, gossip, ends } = await withAlice({ ...INIT, path, persistEntries: false }, [bob, paul])
      const [bobEnd, paulEnd] = ends as [SimEndpoint, SimEndpoint]
      for (const end of [bobEnd, paulEnd]) end.send(alice.did, encodeMessage({ t: 'topics', topics: [TOPIC] }))
      await network.runFor(100)
      await gossip.flush()
      const before = await readFile(path)

      bobEnd.send(alice.did, push([poisoned(), small(bob, 'honest', network.clock.now(), {})]))
      await network.runFor(100)
      expect(gossip.stats().rejected['clock-bound']).toBe(1)
      expect(rejections(gossip)).toBe(1)
      expect(gossip.misbehaviour(bob.did)).toBe(0)
      expect(gossip.misbehaviour(paul.did)).toBe(1)
      expect(gossip.entries(TOPIC).map((e) => e.author)).toEqual([bob.did])
      await gossip.flush()
      const after = await readFile(path)
      expect(after.length).toBe(before.length)
      const state = await readJsonSnapshot(path) as { clock: Array<[string, number]> }
      expect(state.clock).toEqual([])

      // Offered again by anti-entropy, it is not pulled (its id was proved, then remembered); another id is.
      const wants: Uint8Array[][] = []
      bobEnd.onMessage((_from, bytes) => { const m = decodeMessage(bytes); if (m.t === 'want') wants.push(m.ids) })
      const other = new Uint8Array(32).fill(3)
      const lower = { ts: network.clock.now() - 1000, id: new Uint8Array(0) }
      bobEnd.send(alice.did, encodeMessage({ t: 'sync', topic: TOPIC, nonce: new Uint8Array(16).fill(1), at: network.clock.now(), round: 0, lower, ranges: [{ upper: null, mode: 'offer', ids: [poisonedEntry.key.id, other] }] }))
      await network.runFor(100)
      expect(wants).toEqual([[other]])
      expect(gossip.stats().rejected['clock-bound']).toBe(1)
      await gossip.close()
    })
  })

  it('sent by its author: it counts once against the author and the rest of the frame is not read', async () => {
    const { network, gossip, ends } = await withAlice(INIT, [paul])
    const now = network.clock.now()
    ends[0]!.send(alice.did, push([poisoned(), small(paul, 'after', now)]))
    await network.runFor(100)
    expect(gossip.stats().rejected['clock-bound']).toBe(1)
    expect(rejections(gossip)).toBe(1)
    expect(gossip.misbehaviour(paul.did)).toBe(1)
    expect(gossip.entries(TOPIC)).toEqual([])
    await gossip.close()
  })

  it("the node's clock keeps within the bound and its own counter is never pushed by peers, so an honest peer never refuses its entries", async () => {
    const network = new SimNetwork({ seed: 73 })
    const init: GossipInit = { ...INIT, maxClockComponents: 8 }
    const a = await createGossip({ transport: network.addNode(alice.did), clock: network.clock, keyPair: alice }, init)
    const carol = keyOf(4)
    const c = await createGossip({ transport: network.addNode(carol.did), clock: network.clock, keyPair: carol }, init)
    for (const node of [a, c]) node.createTopic(TOPIC)
    const bobEnd = network.addNode(bob.did)
    await network.runFor(100)
    // Within the bound (8 components, counters ≤ 2^48 − 1), so accepted: bob's, 6 strangers' and one claiming
    // alice is at 2^47 — above what is merged, so alice's own counter does not move.
    const first = Object.fromEntries(strangers(6).map((did) => [did, 5]))
    const firstClock = { ...first, [bob.did]: 1, [alice.did]: MAX_MERGED_COUNTER + 1 }
    const second = { ...Object.fromEntries(strangers(7, 9).map((did) => [did, 3])), [bob.did]: 2 }
    const now = network.clock.now()
    bobEnd.send(alice.did, push([small(bob, 'one', now, firstClock), small(bob, 'two', now, second)]))
    await network.runFor(100)
    expect(a.stats().accepted).toBe(2)
    expect(rejections(a)).toBe(0)
    // One place stays free for alice's own component; the second entry's strangers find no room.
    const published = await a.publish(TOPIC, new TextEncoder().encode('mine'))
    expect(published.clock).toEqual({ ...first, [bob.did]: 2, [alice.did]: 1 })
    await network.runFor(100)
    expect(c.entries(TOPIC).map((e) => e.id)).toContain(published.id)
    expect(rejections(c)).toBe(0)
    expect(c.misbehaviour(alice.did)).toBe(0)
    await a.close()
    await c.close()
  })

  it('a state file holding a poisoned clock is loaded within the bounds', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const clock: Array<[string, number]> = [
        ...strangers(3000).map((did, i): [string, number] => [did, i % 2 === 0 ? Number.MAX_SAFE_INTEGER : i]),
        [alice.did, Number.MAX_SAFE_INTEGER], [bob.did, 7]
      ]
      await writeJsonSnapshot(path, { format: 'icn-gossip-state', version: 1, clock, topics: [], peers: [] })
      const store = await GossipStore.open({ ...LIMITS, compressThreshold: 1024, retentionMs: 86_400_000, maxEntries: 100, path, now: NOW, self: bob.did })
      expect(store.clock.size).toBe(1024)
      expect(store.clock.get(bob.did)).toBe(7)
      expect(store.clock.has(alice.did)).toBe(false)
      expect([...store.clock.values()].every((counter) => counter <= MAX_MERGED_COUNTER)).toBe(true)
      await store.close()
      const saved = await readJsonSnapshot(path) as { clock: Array<[string, number]> }
      expect(saved.clock.length).toBe(1024)
      expect(saved.clock[0]).toEqual([bob.did, 7])
      expect(saved.clock[1]).toEqual([strangers(2)[1], 1])
    })
  })
})
