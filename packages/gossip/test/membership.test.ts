// Membership (`isMember`): gossip serves members only, and a non-member costs a member nothing that grows.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type IsMember, type KeyPair, utf8 } from '@icn/identity'
import { readJsonSnapshot } from '@icn/identity/fs'
import { SimNetwork, withTempDir } from '@icn/testkit'
import {
  AccessDeniedError, type Gossip, MIN_KEY, RequestTimeoutError, type WireMessage, createEntry, createGossip, decodeMessage, encodeMessage, openingRanges
} from '../src/index.js'
import { ManualClock, captureTransport, idSet, keyOf, payloadFor, simCluster } from './helpers/sim.js'

const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }
const TOPIC = 'test:topic'

/** A membership view that a test can change: `admit`/`remove` flip what `isMember` answers. */
function membership (dids: readonly string[]): { isMember: IsMember, admit(did: string): void, remove(did: string): void } {
  const members = new Set(dids)
  return { isMember: (did) => members.has(did), admit: (did) => { members.add(did) }, remove: (did) => { members.delete(did) } }
}

const pushOf = (author: KeyPair, text: string, timestamp: number, clock: Record<string, number> = { [author.did]: 1 }): Uint8Array =>
  encodeMessage({ t: 'push', entries: [createEntry(author, { topic: TOPIC, payload: utf8(text), clock, timestamp }, LIMITS).bytes] })

/** One of each frame a peer can send: announcement, push, digest (fresh nonce), pull request, direct request, and the push tree's three. */
function everyFrame (author: KeyPair, n: number, now: number): Uint8Array[] {
  const nonce = new Uint8Array(16)
  new DataView(nonce.buffer).setUint32(12, n + 1)
  return [
    encodeMessage({ t: 'topics', topics: [TOPIC] }),
    pushOf(author, `throw-away ${n}`, now, { [author.did]: 1, [`did:icn:zJunk${n}`]: 7 }),
    encodeMessage({ t: 'sync', topic: TOPIC, nonce, at: now, round: 0, lower: MIN_KEY, ranges: openingRanges([], MIN_KEY) }),
    encodeMessage({ t: 'want', topic: TOPIC, nonce, ids: [new Uint8Array(32).fill(n)] }),
    encodeMessage({ t: 'direct', topic: TOPIC, id: n + 1, payload: utf8('hello?') }),
    encodeMessage({ t: 'have', topic: TOPIC, ids: [new Uint8Array(32).fill(n)] }),
    encodeMessage({ t: 'graft', topic: TOPIC, ids: [new Uint8Array(32).fill(n)] }),
    encodeMessage({ t: 'prune', topic: TOPIC })
  ]
}

describe('membership: peers', () => {
  it("a non-member peer's pushes, digests and requests are ignored, and it receives nothing", async () => {
    const sent = new Map<string, Array<WireMessage['t']>>()
    let outsiderHandler: ((from: string, bytes: Uint8Array) => void | Promise<void>) | undefined
    const c = await simCluster({
      size: 3,
      seed: 31,
      isMember: (i) => (i < 2 ? membership([keyOf(0).did, keyOf(1).did]).isMember : undefined),
      transport: (endpoint, i) => i < 2
        ? endpoint
        : {
            id: endpoint.id,
            peers: () => endpoint.peers(),
            onMessage: (h) => { outsiderHandler = h; return endpoint.onMessage(h) },
            send: (to, bytes) => { sent.set(to, [...(sent.get(to) ?? []), decodeMessage(bytes).t]); endpoint.send(to, bytes) }
          }
    })
    const [a, b, outsider] = c.nodes as [Gossip, Gossip, Gossip]
    const outsiderReceived: string[] = []
    c.endpoints[2]!.onMessage((from) => { outsiderReceived.push(from) })
    const directs: string[] = []
    a.handleDirect(TOPIC, (m) => { directs.push(m.from); m.reply(utf8('answer')) })
    // The members never announce to the outsider; tell it by hand that they carry the topic, so it pushes and syncs.
    for (const member of [c.ids[0]!, c.ids[1]!]) await outsiderHandler?.(member, encodeMessage({ t: 'topics', topics: [TOPIC] }))
    await c.network.runFor(100)
    const theirs = []
    for (let i = 0; i < 5; i++) theirs.push(await outsider.publish(TOPIC, payloadFor(i, 2)))
    const ours = [await a.publish(TOPIC, payloadFor(0, 0)), await b.publish(TOPIC, payloadFor(1, 1)), await a.publish(TOPIC, payloadFor(2, 0))]
    const asked = expect(outsider.request(c.ids[0]!, TOPIC, utf8('question'), { timeoutMs: 5000 })).rejects.toThrow(RequestTimeoutError)
    await c.network.runFor(10_000)
    await asked

    expect(idSet(a)).toEqual(ours.map((e) => e.id).sort())
    expect(idSet(b)).toEqual(ours.map((e) => e.id).sort())
    expect(idSet(outsider)).toEqual(theirs.map((e) => e.id).sort())
    expect(c.delivered.map((d) => d.length)).toEqual([1, 2, 0])
    expect(directs).toEqual([])
    expect(outsiderReceived).toEqual([])
    // The outsider sent every kind of frame it could; each was dropped unread and counted, nothing else.
    expect([...new Set(sent.get(c.ids[0]!))].sort()).toEqual(['direct', 'push', 'sync', 'topics'])
    expect([...new Set(sent.get(c.ids[1]!))].sort()).toEqual(['push', 'sync', 'topics'])
    expect(a.stats().refusedFromNonMembers).toBe(sent.get(c.ids[0]!)!.length)
    expect(b.stats().refusedFromNonMembers).toBe(sent.get(c.ids[1]!)!.length)
    for (const node of [a, b]) {
      expect(Object.values(node.stats().rejected).reduce((x, y) => x + y, 0)).toBe(0)
      expect(node.misbehaviour(c.ids[2]!)).toBe(0)
    }
    expect(c.network.handlerErrors).toEqual([])
    await c.close()
  })

  it('100 throw-away identities sending every kind of frame leave the state file byte for byte unchanged', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const network = new SimNetwork({ seed: 41 })
      const alice = keyOf(0)
      const bob = keyOf(1)
      const view = membership([alice.did, bob.did])
      const aliceEnd = network.addNode(alice.did)
      const bobEnd = network.addNode(bob.did)
      const throwAway = Array.from({ length: 100 }, (_, i) => keyOf(1000 + i))
      const throwAwayEnds = throwAway.map((k) => network.addNode(k.did))
      const received: string[] = []
      for (const end of throwAwayEnds) end.onMessage((from) => { received.push(from) })
      const a = await createGossip({ transport: aliceEnd, clock: network.clock, keyPair: alice, isMember: view.isMember }, { path, antiEntropyIntervalMs: 1e9 })
      const b = await createGossip({ transport: bobEnd, clock: network.clock, keyPair: bob, isMember: view.isMember }, { antiEntropyIntervalMs: 1e9 })
      for (const node of [a, b]) node.createTopic(TOPIC)
      await a.publish(TOPIC, utf8('before'))
      await network.runFor(100)
      await a.flush()
      const before = await readFile(path)
      const beforeState = await readJsonSnapshot(path) as { peers: Array<{ id: string }>, clock: Array<[string, number]> }
      expect(beforeState.peers.map((p) => p.id)).toEqual([bob.did])
      expect(beforeState.clock).toEqual([[alice.did, 1]])

      throwAway.forEach((key, i) => { for (const frame of everyFrame(key, i, network.clock.now())) throwAwayEnds[i]!.send(alice.did, frame) })
      await network.runFor(100)
      await a.flush()
      const after = await readFile(path)
      expect(after.length).toBe(before.length)
      expect(after.equals(before)).toBe(true)
      expect(a.stats().refusedFromNonMembers).toBe(100 * 8)
      expect(a.stats().accepted).toBe(0)
      expect(a.misbehaviour(throwAway[0]!.did)).toBe(0)
      expect(received).toEqual([])
      await a.close()
      await b.close()
    })
  })

  it('send and request to a non-member throw AccessDeniedError; publishing while this node is not a member too', async () => {
    const alice = keyOf(0)
    const bob = keyOf(1)
    const view = membership([alice.did])
    const wire = captureTransport(alice.did, [bob.did])
    const gossip = await createGossip({ transport: wire.transport, clock: new ManualClock(), keyPair: alice, isMember: view.isMember }, {})
    gossip.createTopic(TOPIC)
    gossip.syncNow(bob.did)
    expect(() => { gossip.send(bob.did, TOPIC, utf8('x')) }).toThrow(AccessDeniedError)
    await expect(gossip.request(bob.did, TOPIC, utf8('x'))).rejects.toThrow(AccessDeniedError)
    expect(wire.sent).toEqual([])
    view.remove(alice.did)
    await expect(gossip.publish(TOPIC, utf8('mine'))).rejects.toThrow(AccessDeniedError)
    view.admit(alice.did)
    expect((await gossip.publish(TOPIC, utf8('mine'))).author).toBe(alice.did)
    await gossip.close()
  })

  it("a throwing isMember admits no one; isMember that is not a function is refused", async () => {
    const alice = keyOf(0)
    const bob = keyOf(1)
    const wire = captureTransport(alice.did, [bob.did])
    const gossip = await createGossip({ transport: wire.transport, clock: new ManualClock(), keyPair: alice, isMember: () => { throw new Error('governance not loaded') } }, {})
    await wire.deliver(bob.did, encodeMessage({ t: 'topics', topics: [TOPIC] }))
    expect(gossip.stats().refusedFromNonMembers).toBe(1)
    await gossip.close()
    await expect(createGossip({ transport: wire.transport, clock: new ManualClock(), keyPair: alice, isMember: 'yes' as never }, {})).rejects.toThrow('isMember must be a function')
  })
})

describe('membership: authors', () => {
  /** Members alice (strict: does not know carol yet) and bob (already counts carol); carol is a raw endpoint. */
  async function relayed (): Promise<{
    network: SimNetwork, a: Gossip, b: Gossip, view: ReturnType<typeof membership>, delivered: string[], carol: KeyPair, pushed: Uint8Array
  }> {
    const network = new SimNetwork({ seed: 51 })
    const [alice, bob, carol] = [keyOf(0), keyOf(1), keyOf(2)]
    const view = membership([alice.did, bob.did])
    const a = await createGossip({ transport: network.addNode(alice.did), clock: network.clock, keyPair: alice, isMember: view.isMember }, {})
    const b = await createGossip({ transport: network.addNode(bob.did), clock: network.clock, keyPair: bob }, {})
    const carolEnd = network.addNode(carol.did)
    for (const node of [a, b]) node.createTopic(TOPIC)
    const delivered: string[] = []
    a.subscribe(TOPIC, (e) => { delivered.push(e.author) })
    await network.runFor(100)
    const pushed = pushOf(carol, 'from carol', network.clock.now(), { [carol.did]: 1, [alice.did]: 1 })
    carolEnd.send(bob.did, pushed)
    await network.runFor(100)
    return { network, a, b, view, delivered, carol, pushed }
  }

  it('an entry authored by a non-member that arrives relayed through a member is not stored, delivered or relayed; anti-entropy does not pull it again', async () => {
    const { network, a, b, delivered, carol } = await relayed()
    expect(b.entries(TOPIC).map((e) => e.author)).toEqual([carol.did])
    expect(a.entries(TOPIC)).toEqual([])
    expect(delivered).toEqual([])
    expect(a.stats().rejected['non-member-author']).toBe(1)
    expect(a.misbehaviour(keyOf(1).did)).toBe(0)
    expect(a.stats().refusedFromNonMembers).toBe(0)
    // Ten anti-entropy ticks: the difference is found each time, but the id is not pulled while carol is out.
    await network.runFor(20_000)
    expect(a.entries(TOPIC)).toEqual([])
    expect(a.stats().rejected['non-member-author']).toBe(1)
    expect(a.stats().pullsSent).toBe(0)
    // Its clock kept no component for carol: the next entry alice publishes carries alice's only.
    expect((await a.publish(TOPIC, utf8('mine'))).clock).toEqual({ [keyOf(0).did]: 1 })
    await a.close()
    await b.close()
  })

  it('an entry refused while its author was not yet a member is accepted by anti-entropy once isMember says it is', async () => {
    const { network, a, b, view, delivered, carol } = await relayed()
    expect(a.entries(TOPIC)).toEqual([])
    view.admit(carol.did)
    await network.runFor(4_000)
    expect(a.entries(TOPIC)).toEqual(b.entries(TOPIC))
    expect(a.entries(TOPIC).map((e) => e.author)).toEqual([carol.did])
    expect(delivered).toEqual([carol.did])
    expect(a.stats().accepted).toBe(1)
    expect(a.stats().rejected['non-member-author']).toBe(1)
    expect((await a.publish(TOPIC, utf8('mine'))).clock).toEqual({ [keyOf(0).did]: 2, [carol.did]: 1 })
    await a.close()
    await b.close()
  })
})

describe('membership: forgetting removed members', () => {
  it('forgetPeer removes the peer record and clock component from state and from the saved file; the own component stays', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      // The removed member (node 2) keeps its own view in which it still belongs.
      const view = membership([0, 1, 2].map((i) => keyOf(i).did))
      const c = await simCluster({ size: 3, seed: 61, init: (i) => (i === 0 ? { path } : {}), isMember: (i) => (i === 2 ? undefined : view.isMember) })
      const [a, b] = c.nodes as [Gossip, Gossip]
      await c.network.runFor(100)
      await b.publish(TOPIC, payloadFor(0, 1))
      await c.nodes[2]!.publish(TOPIC, payloadFor(0, 2))
      await a.publish(TOPIC, payloadFor(0, 0))
      await c.network.runFor(4_000)
      await a.flush()
      const full = await readJsonSnapshot(path) as { peers: Array<{ id: string }>, clock: Array<[string, number]> }
      expect(full.peers.map((p) => p.id).sort()).toEqual([c.ids[1]!, c.ids[2]!].sort())
      expect(Object.fromEntries(full.clock)).toEqual({ [c.ids[0]!]: 1, [c.ids[1]!]: 1, [c.ids[2]!]: 1 })

      view.remove(c.ids[2]!)
      a.forgetPeer(c.ids[2]!)
      a.forgetPeer(c.ids[0]!)
      a.forgetPeer('did:icn:zNeverSeen')
      await c.network.runFor(4_000)
      await a.flush()
      const pruned = await readJsonSnapshot(path) as { peers: Array<{ id: string }>, clock: Array<[string, number]> }
      expect(pruned.peers.map((p) => p.id)).toEqual([c.ids[1]!])
      expect(Object.fromEntries(pruned.clock)).toEqual({ [c.ids[0]!]: 1, [c.ids[1]!]: 1 })
      expect(a.misbehaviour(c.ids[2]!)).toBe(0)
      // The removed member keeps talking: nothing of it comes back.
      await c.nodes[2]!.publish(TOPIC, payloadFor(1, 2))
      await c.network.runFor(4_000)
      await a.flush()
      const later = await readJsonSnapshot(path) as { peers: Array<{ id: string }>, clock: Array<[string, number]> }
      expect(later.peers.map((p) => p.id)).toEqual([c.ids[1]!])
      expect(later.clock).toEqual(pruned.clock)
      expect(a.stats().refusedFromNonMembers > 0).toBe(true)
      await c.close()
    })
  })

  it('forgetNonMembers forgets every peer record and clock component isMember refuses now, and counts them', async () => {
    const view = membership([0, 1, 2, 3].map((i) => keyOf(i).did))
    const c = await simCluster({ size: 4, seed: 62, isMember: (i) => (i === 0 ? view.isMember : undefined) })
    await c.network.runFor(100)
    for (let i = 0; i < 4; i++) await c.nodes[i]!.publish(TOPIC, payloadFor(0, i))
    await c.network.runFor(4_000)
    const a = c.nodes[0]!
    expect(a.forgetNonMembers()).toBe(0)
    view.remove(c.ids[2]!)
    view.remove(c.ids[3]!)
    view.remove(c.ids[0]!)
    expect(a.forgetNonMembers()).toBe(2)
    expect(a.forgetNonMembers()).toBe(0)
    view.admit(c.ids[0]!)
    expect((await a.publish(TOPIC, payloadFor(1, 0))).clock).toEqual({ [c.ids[0]!]: 2, [c.ids[1]!]: 1 })
    await c.close()
  })
})
