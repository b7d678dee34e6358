import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CorruptFileError } from '@icn/identity/fs'
import { decode, encode, utf8 } from '@icn/identity'
import { withTempDir } from '@icn/testkit'
import {
  AccessDeniedError, ClosedError, EntryValidationError, InvalidArgumentError, InvalidStateError, PayloadTooLargeError, RequestTimeoutError,
  TopicExistsError, UnknownTopicError, WireError, createEntry, createGossip, decodeMessage, encodeMessage, parseEntry, type Gossip
} from '../src/index.js'
import { ManualClock, captureTransport, idSet, keyOf, payloadFor, simCluster } from './helpers/sim.js'

const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }
const alice = keyOf(0)
const bob = keyOf(1)
const carol = keyOf(2)

async function lonely (init = {}, trust: Record<string, number> = {}): Promise<{ gossip: Gossip, clock: ManualClock, wire: ReturnType<typeof captureTransport> }> {
  const clock = new ManualClock()
  const wire = captureTransport(alice.did, [bob.did])
  const gossip = await createGossip({ transport: wire.transport, clock, keyPair: alice, trustOf: (did) => trust[did] ?? 0 }, init)
  return { gossip, clock, wire }
}

const pushFrame = (author = bob, topic = 't', payload = utf8('hello'), timestamp = 1_700_000_000_000): Uint8Array =>
  encodeMessage({ t: 'push', entries: [createEntry(author, { topic, payload, clock: { [author.did]: 1 }, timestamp }, LIMITS).bytes] })

describe('topics', () => {
  it('refuses unknown topics locally and on the wire', async () => {
    const { gossip, wire } = await lonely()
    await expect(gossip.publish('nope', utf8('x'))).rejects.toThrow(UnknownTopicError)
    expect(() => gossip.subscribe('nope', () => undefined)).toThrow(UnknownTopicError)
    await wire.deliver(bob.did, pushFrame(bob, 'nope'))
    expect(gossip.stats().rejected['unknown-topic']).toBe(1)
    expect(gossip.topics()).toEqual([])
    await gossip.close()
  })

  it('creates topics idempotently, refuses a different rule for the same name and bad rules', async () => {
    const { gossip } = await lonely()
    gossip.createTopic('t')
    gossip.createTopic('t', { kind: 'public' })
    expect(() => gossip.createTopic('t', { kind: 'min-trust', minTrust: 0.5 })).toThrow(TopicExistsError)
    expect(() => gossip.createTopic('u', { kind: 'min-trust', minTrust: 2 })).toThrow(InvalidArgumentError)
    expect(() => gossip.createTopic('', { kind: 'public' })).toThrow(InvalidArgumentError)
    gossip.createTopic('v', { kind: 'min-trust' })
    gossip.createTopic('w', { kind: 'participants', participants: [carol.did, bob.did, bob.did] })
    expect(gossip.topics()).toEqual([
      { name: 't', access: { kind: 'public' }, entries: 0 },
      { name: 'v', access: { kind: 'min-trust', minTrust: 0.7 }, entries: 0 },
      { name: 'w', access: { kind: 'participants', participants: [bob.did, carol.did].sort() }, entries: 0 }
    ])
    await gossip.close()
  })

  it('min-trust topics admit authors and peers at or above the threshold only', async () => {
    const { gossip, wire } = await lonely({}, { [bob.did]: 0.8, [carol.did]: 0.5, [alice.did]: 0.69 })
    gossip.createTopic('t', { kind: 'min-trust' })
    await expect(gossip.publish('t', utf8('mine'))).rejects.toThrow(AccessDeniedError)
    await wire.deliver(bob.did, pushFrame(carol, 't', utf8('from carol')))
    expect(gossip.stats().rejected['access-denied']).toBe(1)
    await wire.deliver(carol.did, pushFrame(bob, 't', utf8('relayed by carol')))
    expect(gossip.stats().rejected['access-denied']).toBe(2)
    await wire.deliver(bob.did, pushFrame(bob, 't', utf8('from bob')))
    expect(gossip.entries('t').map((e) => [e.author, new TextDecoder().decode(e.payload)])).toEqual([[bob.did, 'from bob']])
    expect(() => gossip.send(carol.did, 't', utf8('x'))).toThrow(AccessDeniedError)
    await gossip.close()
  })

  it('participant topics are exchanged with participants only', async () => {
    const c = await simCluster({ size: 3, seed: 5, topic: 'open' })
    const members = [c.ids[0]!, c.ids[1]!]
    for (const node of c.nodes) node.createTopic('members', { kind: 'participants', participants: members })
    await c.network.runFor(100)
    await c.nodes[0]!.publish('members', utf8('secret'))
    await c.network.runFor(10_000)
    expect(c.nodes[1]!.entries('members').length).toBe(1)
    expect(c.nodes[2]!.entries('members').length).toBe(0)
    await expect(c.nodes[2]!.publish('members', utf8('outsider'))).rejects.toThrow(AccessDeniedError)
    await c.close()
  })
})

describe('publish and delivery', () => {
  it('sends the entries pushed in one turn as one push frame per peer, and no later frame to that peer overtakes them', async () => {
    const { gossip, wire } = await lonely()
    gossip.createTopic('t')
    await wire.deliver(bob.did, encodeMessage({ t: 'topics', topics: ['t'] }))
    wire.sent.length = 0
    const first = await gossip.publish('t', utf8('one'))
    const second = await gossip.publish('t', utf8('two'))
    expect(wire.sent).toEqual([])
    gossip.send(bob.did, 't', utf8('after two'))
    const third = await gossip.publish('t', utf8('three'))
    await new Promise((resolve) => { setImmediate(resolve) })
    const frames = wire.sent.map((s) => ({ to: s.to, message: decodeMessage(s.bytes) }))
    const ids = (message: ReturnType<typeof decodeMessage>): string[] => message.t === 'push' ? message.entries.map((e) => parseEntry(e, LIMITS).idHex) : []
    expect(frames.map((f) => [f.to, f.message.t])).toEqual([[bob.did, 'push'], [bob.did, 'direct'], [bob.did, 'push']])
    expect(ids(frames[0]!.message)).toEqual([first.id, second.id])
    expect(ids(frames[2]!.message)).toEqual([third.id])
    await gossip.close()
  })

  it('names the other peers each push frame went to, and relays an entry only to peers that neither sent it nor were named', async () => {
    const dave = keyOf(3)
    const clock = new ManualClock()
    const wire = captureTransport(alice.did, [bob.did, carol.did, dave.did])
    const gossip = await createGossip({ transport: wire.transport, clock, keyPair: alice }, {})
    gossip.createTopic('t')
    for (const peer of [bob, carol, dave]) await wire.deliver(peer.did, encodeMessage({ t: 'topics', topics: ['t'] }))
    const settle = async (): Promise<Array<{ to: string, message: ReturnType<typeof decodeMessage> }>> => {
      await new Promise((resolve) => { setImmediate(resolve) })
      const frames = wire.sent.splice(0).map((s) => ({ to: s.to, message: decodeMessage(s.bytes) })).filter((f) => f.message.t === 'push')
      return frames.sort((x, y) => x.to.localeCompare(y.to))
    }
    await settle()
    // Published: pushed to all three (every peer starts eager), each frame naming the other two.
    await gossip.publish('t', utf8('mine'))
    const published = await settle()
    expect(published.map((f) => [f.to, f.message.t === 'push' ? f.message.also : undefined])).toEqual(
      [bob, carol, dave].map((p) => p.did).sort().map((to) => [to, [bob.did, carol.did, dave.did].filter((d) => d !== to).sort()]))
    // Relayed: carol's entry from bob, who says dave has it too, goes nowhere (bob sent it, carol wrote it).
    const entry = (text: string): Uint8Array => createEntry(carol, { topic: 't', payload: utf8(text), clock: { [carol.did]: 1 }, timestamp: clock.now() }, LIMITS).bytes
    await wire.deliver(bob.did, encodeMessage({ t: 'push', entries: [entry('one')], also: [dave.did] }))
    expect(await settle()).toEqual([])
    // Without the claim it goes on to dave, naming bob, who holds it.
    await wire.deliver(bob.did, encodeMessage({ t: 'push', entries: [entry('two')] }))
    const relayed = await settle()
    expect(relayed.map((f) => [f.to, f.message.t === 'push' ? f.message.also : undefined])).toEqual([[dave.did, [bob.did]]])
    expect(gossip.stats().accepted).toBe(2)
    await gossip.close()
  })

  it('refuses a push frame whose also list is empty, too long or not peer ids', () => {
    const bytes = createEntry(bob, { topic: 't', payload: utf8('x'), clock: {}, timestamp: 0 }, LIMITS).bytes
    expect(decodeMessage(encodeMessage({ t: 'push', entries: [bytes], also: [carol.did] }))).toEqual({ t: 'push', entries: [bytes], also: [carol.did] })
    for (const also of [[], Array.from({ length: 33 }, (_, i) => `did:x:${i}`), [''], ['x'.repeat(257)]]) {
      expect(() => decodeMessage(encodeMessage({ t: 'push', entries: [bytes], also }))).toThrow(WireError)
    }
    expect(() => decodeMessage(encode({ t: 'push', entries: [bytes], also: [7] }))).toThrow(WireError)
  })

  it('delivers to subscribers on other nodes, never to the publisher, and unsubscribe stops delivery', async () => {
    const c = await simCluster({ size: 3, seed: 2 })
    await c.network.runFor(100)
    const entry = await c.nodes[0]!.publish('test:topic', payloadFor(1, 0))
    await c.network.runFor(100)
    expect(c.delivered.map((d) => d.map((e) => e.cid))).toEqual([[], [entry.cid], [entry.cid]])
    expect(c.delivered[1]![0]).toEqual(entry)
    c.nodes[2]!.unsubscribe('test:topic')
    await c.nodes[0]!.publish('test:topic', payloadFor(2, 0))
    await c.network.runFor(100)
    expect(c.delivered.map((d) => d.length)).toEqual([0, 2, 1])
    expect(idSet(c.nodes[2]!)).toEqual(idSet(c.nodes[0]!))
    await c.close()
  })

  it('publishing the same payload again returns the stored entry', async () => {
    const { gossip } = await lonely()
    gossip.createTopic('t')
    const first = await gossip.publish('t', utf8('same'))
    const second = await gossip.publish('t', utf8('same'))
    expect(second).toEqual(first)
    expect(gossip.stats().published).toBe(1)
    expect(first.clock).toEqual({ [alice.did]: 1 })
    expect((await gossip.publish('t', utf8('next'))).clock).toEqual({ [alice.did]: 2 })
    await gossip.close()
  })

  it('refuses oversized payloads and non-bytes', async () => {
    const { gossip } = await lonely({ maxPayloadBytes: 100 })
    gossip.createTopic('t')
    await expect(gossip.publish('t', new Uint8Array(101))).rejects.toThrow(PayloadTooLargeError)
    await expect(gossip.publish('t', 'text' as never)).rejects.toThrow(InvalidArgumentError)
    await gossip.close()
  })

  it('a validator drops failing entries: not stored, not delivered, counted, sender misbehaviour rises', async () => {
    const { gossip, wire } = await lonely()
    gossip.createTopic('t')
    gossip.setValidator('t', (e) => e.payload[0] !== 0x21)
    const seen: string[] = []
    gossip.subscribe('t', (e) => { seen.push(new TextDecoder().decode(e.payload)) })
    await wire.deliver(bob.did, pushFrame(bob, 't', utf8('!bad')))
    await wire.deliver(bob.did, pushFrame(bob, 't', utf8('good')))
    expect(seen).toEqual(['good'])
    expect(gossip.entries('t').length).toBe(1)
    expect(gossip.stats().rejected.validator).toBe(1)
    expect(gossip.misbehaviour(bob.did)).toBe(1)
    await expect(gossip.publish('t', utf8('!mine'))).rejects.toThrow(EntryValidationError)
    await gossip.close()
  })

  it('evicts the lowest (timestamp, id) beyond maxEntriesPerTopic', async () => {
    const { gossip, clock } = await lonely({ maxEntriesPerTopic: 5 })
    gossip.createTopic('t')
    const published = []
    for (let i = 0; i < 8; i++) { published.push(await gossip.publish('t', utf8(`e${i}`))); clock.advance(10) }
    expect(gossip.entries('t').map((e) => e.id)).toEqual(published.slice(3).map((e) => e.id))
    await gossip.close()
  })
})

describe('anti-entropy hardening', () => {
  async function syncFrame (): Promise<Uint8Array> {
    const other = await lonely()
    other.gossip.createTopic('t')
    other.gossip.syncNow(bob.did)
    const frame = other.wire.sent.find((s) => decodeMessage(s.bytes).t === 'sync')!.bytes
    await other.gossip.close()
    return frame
  }

  it('rejects a replayed digest nonce and a stale digest', async () => {
    const frame = await syncFrame()
    const { gossip, wire, clock } = await lonely()
    gossip.createTopic('t')
    await wire.deliver(bob.did, frame)
    await wire.deliver(bob.did, frame)
    expect(gossip.stats().rejected['replayed-nonce']).toBe(1)
    clock.advance(400_000)
    const fresh = await syncFrame()
    await wire.deliver(carol.did, fresh)
    expect(gossip.stats().rejected['stale-nonce']).toBe(1)
    await gossip.close()
  })

  it('counts a replayed nonce as misbehaviour only when configured to (stream transports)', async () => {
    const frame = await syncFrame()
    const lossy = await lonely()
    const stream = await lonely({ misbehaviourReasons: ['malformed', 'too-large', 'decompression', 'bad-id', 'bad-signature', 'validator', 'replayed-nonce'] })
    for (const node of [lossy, stream]) {
      node.gossip.createTopic('t')
      await node.wire.deliver(bob.did, frame)
      await node.wire.deliver(bob.did, frame)
      expect(node.gossip.stats().rejected['replayed-nonce']).toBe(1)
    }
    expect(lossy.gossip.misbehaviour(bob.did)).toBe(0)
    expect(stream.gossip.misbehaviour(bob.did)).toBe(1)
    await lossy.gossip.close()
    await stream.gossip.close()
  })

  it('remembers digest nonces across a restart (persisted peer state)', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const frame = await syncFrame()
      const first = await lonely({ path })
      first.gossip.createTopic('t')
      await first.wire.deliver(bob.did, frame)
      expect(first.gossip.stats().rejected['replayed-nonce']).toBe(0)
      await first.gossip.close()
      const second = await lonely({ path })
      await second.wire.deliver(bob.did, frame)
      expect(second.gossip.stats().rejected['replayed-nonce']).toBe(1)
      await second.gossip.close()
    })
  })

  it('rate-limits digests per peer (burst, then refill on the clock)', async () => {
    const { gossip, wire, clock } = await lonely({ syncRate: { burst: 4, perSecond: 2 } })
    gossip.createTopic('t')
    const frames = []
    for (let i = 0; i < 6; i++) frames.push(await syncFrame())
    for (const f of frames) await wire.deliver(bob.did, f)
    expect(gossip.stats().rejected['rate-limited']).toBe(2)
    clock.advance(1000)
    const more = [await syncFrame(), await syncFrame(), await syncFrame()]
    for (const f of more) await wire.deliver(bob.did, f)
    expect(gossip.stats().rejected['rate-limited']).toBe(3)
    await gossip.close()
  })
})

describe('pull cursor', () => {
  it('pulls what a peer lacks in pages of pullPageSize, one page in flight at a time', async () => {
    const c = await simCluster({ size: 2, seed: 21, init: () => ({ pullPageSize: 64, antiEntropyIntervalMs: 1e9 }) })
    await c.network.runFor(100)
    c.network.splitAt(1)
    for (let i = 0; i < 150; i++) await c.nodes[1]!.publish('test:topic', payloadFor(i, 1))
    await c.network.runFor(100)
    c.network.heal()
    const pages: number[] = []
    c.nodes[1]!.onIngress((_, bytes) => { const m = decodeMessage(bytes); if (m.t === 'want') pages.push(m.ids.length) })
    c.nodes[0]!.syncNow(c.ids[1]!)
    await c.network.runFor(1000)
    expect(pages).toEqual([64, 64, 22])
    expect(idSet(c.nodes[0]!)).toEqual(idSet(c.nodes[1]!))
    expect(c.delivered[0]!.length).toBe(150)
    await c.close()
  })

  it('rate-limits pull requests per peer', async () => {
    const c = await simCluster({ size: 2, seed: 22, init: () => ({ pullPageSize: 10, antiEntropyIntervalMs: 1e9, pullRate: { burst: 2, perSecond: 0 } }) })
    await c.network.runFor(100)
    c.network.splitAt(1)
    for (let i = 0; i < 30; i++) await c.nodes[1]!.publish('test:topic', payloadFor(i, 1))
    c.network.heal()
    c.nodes[0]!.syncNow(c.ids[1]!)
    await c.network.runFor(1000)
    expect(c.nodes[0]!.entries('test:topic').length).toBe(20)
    expect(c.nodes[1]!.stats().rejected['rate-limited']).toBe(1)
    await c.close()
  })
})

describe('direct messages', () => {
  it('request gets the reply routed back; point-to-point order is FIFO', async () => {
    const c = await simCluster({ size: 2, seed: 3, topic: 'snapshot:coordinate' })
    const received: string[] = []
    c.nodes[1]!.handleDirect('snapshot:coordinate', (m) => {
      const text = new TextDecoder().decode(m.payload)
      received.push(text)
      if (text.startsWith('ping')) m.reply(utf8(`pong from ${m.from === c.ids[0] ? 'n0' : '?'}`))
    })
    const reply = c.nodes[0]!.request(c.ids[1]!, 'snapshot:coordinate', utf8('ping'))
    for (let i = 0; i < 30; i++) c.nodes[0]!.send(c.ids[1]!, 'snapshot:coordinate', utf8(`m${i}`))
    await c.network.runFor(1000)
    expect(new TextDecoder().decode(await reply)).toBe('pong from n0')
    expect(received).toEqual(['ping', ...Array.from({ length: 30 }, (_, i) => `m${i}`)])
    await c.close()
  })

  it('times out on the injected clock, counts unhandled topics, and close rejects pending requests', async () => {
    const { gossip, clock, wire } = await lonely()
    gossip.createTopic('t')
    const late = gossip.request(bob.did, 't', utf8('?'), { timeoutMs: 500 })
    clock.advance(500)
    await expect(late).rejects.toThrow(RequestTimeoutError)
    await wire.deliver(bob.did, encodeMessage({ t: 'direct', topic: 't', id: 1, payload: utf8('x') }))
    await wire.deliver(bob.did, encodeMessage({ t: 'direct', topic: 'other', id: 2, payload: utf8('x') }))
    expect(gossip.stats().rejected['no-handler']).toBe(1)
    expect(gossip.stats().rejected['unknown-topic']).toBe(1)
    const pending = gossip.request(bob.did, 't', utf8('?'))
    await gossip.close()
    await expect(pending).rejects.toThrow(ClosedError)
  })

  it('a direct handler can export state while its frame is being processed (snapshot markers)', async () => {
    const c = await simCluster({ size: 2, seed: 8, topic: 'snapshot:coordinate' })
    await c.nodes[1]!.publish('snapshot:coordinate', utf8('state entry'))
    c.nodes[1]!.handleDirect('snapshot:coordinate', async (m) => { m.reply(await c.nodes[1]!.exportState()) })
    const reply = c.nodes[0]!.request(c.ids[1]!, 'snapshot:coordinate', utf8('marker'))
    await c.network.runFor(100)
    expect(await reply).toEqual(await c.nodes[1]!.exportState())
    await c.close()
  })

  it('onIngress sees every frame before it is processed', async () => {
    const { gossip, wire } = await lonely()
    gossip.createTopic('t')
    const log: string[] = []
    gossip.subscribe('t', () => { log.push('delivered') })
    gossip.onIngress((from, bytes) => { log.push(`ingress ${from === bob.did ? 'bob' : from} ${bytes.length > 0 ? 'bytes' : ''}`) })
    await wire.deliver(bob.did, pushFrame())
    await wire.deliver(bob.did, new Uint8Array([0xff]))
    expect(log).toEqual(['ingress bob bytes', 'delivered', 'ingress bob bytes'])
    await gossip.close()
  })
})

describe('lifecycle and state', () => {
  it('refuses missing components with a typed error', async () => {
    await expect(createGossip({ transport: undefined, clock: new ManualClock(), keyPair: alice } as never)).rejects.toThrow(InvalidArgumentError)
    await expect(createGossip({ transport: captureTransport('x').transport, clock: {}, keyPair: alice } as never)).rejects.toThrow(InvalidArgumentError)
    await expect(createGossip({ transport: captureTransport('x').transport, clock: new ManualClock(), keyPair: alice }, { antiEntropyIntervalMs: 0 })).rejects.toThrow(InvalidArgumentError)
  })

  it('close stops every timer, stops listening, is idempotent and refuses later calls', async () => {
    const { gossip, clock, wire } = await lonely({ path: undefined })
    gossip.createTopic('t')
    expect(clock.pendingTimers).toBe(1)
    await gossip.close()
    await gossip.shutdown()
    expect(clock.pendingTimers).toBe(0)
    expect(wire.listening()).toBe(false)
    await expect(gossip.publish('t', utf8('x'))).rejects.toThrow(ClosedError)
  })

  it('exportState is deterministic across converged nodes and restoreState reproduces it; bad input changes nothing', async () => {
    const c = await simCluster({ size: 3, seed: 11 })
    for (let i = 0; i < 10; i++) await c.nodes[i % 3]!.publish('test:topic', payloadFor(i, i % 3))
    await c.network.runFor(10_000)
    const states = await Promise.all(c.nodes.map(async (n) => await n.exportState()))
    expect(states[1]).toEqual(states[0])
    expect(states[2]).toEqual(states[0])
    const decoded = decode(states[0]!) as { version: number, topics: Array<{ name: string, entries: Uint8Array[] }> }
    expect(decoded.version).toBe(1)
    expect(decoded.topics.map((t) => [t.name, t.entries.length])).toEqual([['test:topic', 10]])
    const { gossip } = await lonely()
    gossip.createTopic('keep')
    await expect(gossip.restoreState(utf8('garbage'))).rejects.toThrow(InvalidStateError)
    const tampered = Uint8Array.from(states[0]!)
    tampered[tampered.length - 5]! ^= 1
    await expect(gossip.restoreState(tampered)).rejects.toThrow(InvalidStateError)
    expect(gossip.topics().map((t) => t.name)).toEqual(['keep'])
    await gossip.restoreState(states[0]!)
    expect(await gossip.exportState()).toEqual(states[0])
    expect(gossip.entries('test:topic').map((e) => e.id)).toEqual(c.nodes[0]!.entries('test:topic').map((e) => e.id))
    await gossip.close()
    await c.close()
  })

  it('refuses a corrupt or truncated snapshot file with CorruptFileError and leaves it untouched', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const { gossip } = await lonely({ path })
      gossip.createTopic('t')
      await gossip.publish('t', utf8('kept'))
      await gossip.close()
      const good = await readFile(path)
      for (const bad of [good.subarray(0, good.length - 3), Buffer.from(good.toString().replace('"name":"t"', '"name":"u"'))]) {
        await writeFile(path, bad)
        await expect(lonely({ path })).rejects.toThrow(CorruptFileError)
        expect(await readFile(path)).toEqual(bad)
      }
    })
  })
})
