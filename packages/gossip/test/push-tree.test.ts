// The push tree (Plumtree): prune on a pushed duplicate, `have` on lazy links, `graft` for what stays missing.
// The pure state first, then one node's frames on a captured wire, then a 20-node mesh on the simulated network.
import { describe, expect, it } from 'vitest'
import { utf8 } from '@icn/identity'
import { createEntry, createGossip, decodeMessage, encodeMessage, parseEntry, type Gossip, type WireMessage } from '../src/index.js'
import { PushTree } from '../src/push-tree.js'
import { ManualClock, captureTransport, keyOf, simCluster } from './helpers/sim.js'

const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }
const [alice, bob, carol, dave] = [keyOf(0), keyOf(1), keyOf(2), keyOf(3)]
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

describe('PushTree state', () => {
  it('prune makes a peer lazy per topic until it is grafted or leaves', () => {
    const tree = new PushTree(10, 3)
    expect(tree.prune('t', 'b')).toBe(true)
    expect(tree.prune('t', 'b')).toBe(false)
    expect([tree.isLazy('t', 'b'), tree.isLazy('u', 'b'), tree.isLazy('t', 'c')]).toEqual([true, false, false])
    tree.graft('t', 'b')
    expect(tree.isLazy('t', 'b')).toBe(false)
    tree.prune('t', 'b')
    tree.prune('t', 'c')
    tree.retainPeers(new Set(['c']))
    expect([tree.isLazy('t', 'b'), tree.isLazy('t', 'c')]).toEqual([false, true])
    expect(tree.size).toEqual({ lazyLinks: 1, awaited: 0 })
  })

  it('asks the first announcer when an id falls due, the next one a timeout later, and forgets it when none is left', () => {
    const tree = new PushTree(10, 3)
    tree.announced('t', 'x', 'b', 100)
    tree.announced('t', 'x', 'c', 150)
    tree.announced('t', 'x', 'b', 150)
    tree.announced('t', 'y', 'c', 120)
    expect(tree.nextDueAt()).toBe(100)
    expect(tree.due(99, () => false, 600)).toEqual(new Map())
    expect(tree.due(100, () => false, 600)).toEqual(new Map([['b', new Map([['t', ['x']]])]]))
    // y falls due at 120 but has arrived meanwhile: nothing to ask.
    expect(tree.due(120, (_, id) => id === 'y', 620)).toEqual(new Map())
    expect(tree.nextDueAt()).toBe(600)
    expect(tree.due(600, () => false, 1100)).toEqual(new Map([['c', new Map([['t', ['x']]])]]))
    expect(tree.nextDueAt()).toBe(undefined)
    expect(tree.size.awaited).toBe(0)
  })

  it('bounds what it awaits and remembers (the oldest goes first) and forgets a peer everywhere', () => {
    const tree = new PushTree(3, 2)
    for (const id of ['a', 'b', 'c', 'd']) tree.announced('t', id, 'p', 10)
    tree.announced('t', 'd', 'q', 10)
    tree.announced('t', 'd', 'r', 10)
    expect(tree.size.awaited).toBe(3)
    tree.forgetPeer('p')
    expect(tree.due(10, () => false, 20)).toEqual(new Map([['q', new Map([['t', ['d']]])]]))
    for (const id of ['a', 'b', 'c', 'd']) tree.fetched(id)
    expect(['a', 'b', 'c', 'd'].map((id) => tree.wasFetched(id))).toEqual([false, true, true, true])
  })
})

describe('push tree on the wire', () => {
  async function node (peers: string[]): Promise<{ gossip: Gossip, clock: ManualClock, wire: ReturnType<typeof captureTransport>, frames: () => Promise<Array<[string, WireMessage]>> }> {
    const clock = new ManualClock()
    const wire = captureTransport(alice.did, peers)
    const gossip = await createGossip({ transport: wire.transport, clock, keyPair: alice }, { antiEntropyIntervalMs: 1e9 })
    gossip.createTopic('t')
    for (const peer of peers) await wire.deliver(peer, encodeMessage({ t: 'topics', topics: ['t'] }))
    const frames = async (): Promise<Array<[string, WireMessage]>> => {
      await new Promise((resolve) => { setImmediate(resolve) })
      return wire.sent.splice(0).map((s): [string, WireMessage] => [s.to, decodeMessage(s.bytes)]).filter(([, m]) => m.t !== 'topics')
    }
    await frames()
    return { gossip, clock, wire, frames }
  }
  const entryOf = (author = carol, text = 'hello', timestamp = 1_700_000_000_000): Uint8Array =>
    createEntry(author, { topic: 't', payload: utf8(text), clock: { [author.did]: 1 }, timestamp }, LIMITS).bytes
  const idOf = (bytes: Uint8Array): Uint8Array => parseEntry(bytes, LIMITS).key.id

  it('a pruned peer gets ids after haveDelayMs instead of entries, and a graft brings it back with the ids it asked for', async () => {
    const { gossip, clock, wire, frames } = await node([bob.did, dave.did])
    await wire.deliver(bob.did, encodeMessage({ t: 'prune', topic: 't' }))
    const one = await gossip.publish('t', utf8('one'))
    const two = await gossip.publish('t', utf8('two'))
    const pushed = await frames()
    expect(pushed.map(([to, m]) => [to, m.t])).toEqual([[dave.did, 'push']])
    clock.advance(49)
    expect(await frames()).toEqual([])
    clock.advance(1)
    expect(await frames()).toEqual([[bob.did, { t: 'have', topic: 't', ids: [one.id, two.id].map((id) => Uint8Array.from(Buffer.from(id, 'hex'))) }]])
    await wire.deliver(bob.did, encodeMessage({ t: 'graft', topic: 't', ids: [Uint8Array.from(Buffer.from(two.id, 'hex'))] }))
    const grafted = await frames()
    expect(grafted.map(([to, m]) => [to, m.t, m.t === 'push' ? m.entries.map((e) => parseEntry(e, LIMITS).idHex) : []])).toEqual([[bob.did, 'push', [two.id]]])
    const three = await gossip.publish('t', utf8('three'))
    expect((await frames()).map(([to, m]) => [to, m.t === 'push' ? parseEntry(m.entries[0]!, LIMITS).idHex : m.t]).sort()).toEqual([[bob.did, three.id], [dave.did, three.id]].sort())
    expect(gossip.stats()).toMatchObject({ idsAnnounced: 2, idsGrafted: 0, prunesSent: 0 })
    await gossip.close()
  })

  it('an announced id still missing lazyTimeoutMs later is grafted from its first announcer, then the next', async () => {
    const { gossip, clock, wire, frames } = await node([bob.did, dave.did])
    const late = entryOf(carol, 'late')
    const early = entryOf(carol, 'early')
    await wire.deliver(bob.did, encodeMessage({ t: 'have', topic: 't', ids: [idOf(late), idOf(early)] }))
    clock.advance(10)
    await wire.deliver(dave.did, encodeMessage({ t: 'have', topic: 't', ids: [idOf(late)] }))
    await wire.deliver(dave.did, encodeMessage({ t: 'push', entries: [early] }))
    clock.advance(489)
    expect((await frames()).map(([, m]) => m.t)).toEqual([])
    clock.advance(1)
    expect(await frames()).toEqual([[bob.did, { t: 'graft', topic: 't', ids: [idOf(late)] }]])
    clock.advance(500)
    expect(await frames()).toEqual([[dave.did, { t: 'graft', topic: 't', ids: [idOf(late)] }]])
    clock.advance(5000)
    expect(await frames()).toEqual([])
    expect(gossip.stats()).toMatchObject({ idsGrafted: 2, accepted: 1, prunesSent: 0 })
    await gossip.close()
  })

  it('a pushed duplicate prunes its sender once per frame, unless the entry came by pull or was grafted', async () => {
    const { gossip, wire, frames } = await node([bob.did, dave.did])
    const first = entryOf(carol, 'first')
    await wire.deliver(dave.did, encodeMessage({ t: 'push', entries: [first] }))
    await frames()
    await wire.deliver(bob.did, encodeMessage({ t: 'push', entries: [first, first] }))
    expect(await frames()).toEqual([[bob.did, { t: 'prune', topic: 't' }]])
    // Pulled (an `entries` reply) first, then pushed by dave: dave's link did its job, no prune.
    const pulled = entryOf(carol, 'pulled')
    await wire.deliver(bob.did, encodeMessage({ t: 'entries', topic: 't', re: new Uint8Array(16), entries: [pulled] }))
    await wire.deliver(dave.did, encodeMessage({ t: 'push', entries: [pulled] }))
    expect(await frames()).toEqual([])
    expect(gossip.stats()).toMatchObject({ duplicates: 3, prunesSent: 1, accepted: 2 })
    await gossip.close()
  })
})

describe('push tree on a 20-node mesh (simulated network, degree ≥ 6)', () => {
  it('after a warm-up every entry crosses 19 eager links, once each; a lost relay is repaired by graft', async () => {
    const pushedEntries: number[] = Array.from({ length: 20 }, () => 0)
    const c = await simCluster({
      size: 20, seed: 11, defaults: { minDelayMs: 2, maxDelayMs: 10 },
      transport: (endpoint, index) => ({
        id: endpoint.id,
        onMessage: (handler) => endpoint.onMessage(handler),
        peers: () => endpoint.peers(),
        send: (to, bytes) => {
          const message = decodeMessage(bytes)
          if (message.t === 'push') pushedEntries[index]! += message.entries.length
          endpoint.send(to, bytes)
        }
      })
    })
    c.network.connectMesh(6)
    await c.network.runFor(100)
    const sum = (key: 'duplicates' | 'prunesSent' | 'idsGrafted' | 'accepted'): number => c.nodes.reduce((n, node) => n + node.stats()[key], 0)
    const publishSerially = async (count: number, from: (n: number) => number, label: string): Promise<void> => {
      for (let n = 0; n < count; n++) {
        await c.nodes[from(n)]!.publish('test:topic', utf8(`${label}-${n}`))
        await c.network.runFor(200)
      }
    }
    await publishSerially(40, (n) => (n * 7) % 20, 'warm-up')
    const before = { duplicates: sum('duplicates'), prunes: sum('prunesSent'), grafts: sum('idsGrafted'), accepted: sum('accepted'), pushed: pushedEntries.reduce((a, b) => a + b, 0) }
    await publishSerially(20, (n) => n, 'steady')
    expect({
      duplicates: sum('duplicates') - before.duplicates, prunes: sum('prunesSent') - before.prunes, grafts: sum('idsGrafted') - before.grafts,
      accepted: sum('accepted') - before.accepted, pushed: pushedEntries.reduce((a, b) => a + b, 0) - before.pushed
    }).toEqual({ duplicates: 0, prunes: 0, grafts: 0, accepted: 20 * 19, pushed: 20 * 19 })

    // The busiest relay goes away: the nodes below it get the ids from lazy links and graft, once per broken link.
    const relay = pushedEntries.indexOf(Math.max(...pushedEntries))
    c.network.isolate(c.ids[relay]!)
    const others = c.nodes.filter((_, i) => i !== relay)
    const graftsBefore = sum('idsGrafted')
    await publishSerially(10, (n) => (relay + 1 + n) % 20, 'repair')
    for (const node of others) expect(node.entries('test:topic').length).toBe(70)
    const repairGrafts = sum('idsGrafted') - graftsBefore
    expect(repairGrafts).toBeGreaterThan(0)
    const afterRepair = { grafts: sum('idsGrafted'), accepted: sum('accepted') }
    await publishSerially(10, (n) => (relay + 1 + n) % 20, 'repaired')
    expect({ grafts: sum('idsGrafted') - afterRepair.grafts, accepted: sum('accepted') - afterRepair.accepted }).toEqual({ grafts: 0, accepted: 10 * 18 })
    await c.close()
  })
})
