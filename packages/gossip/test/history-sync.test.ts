import { decode, encode, utf8 } from '@icn/identity'
import { ManualClock } from '@icn/testkit'
import { describe, expect, test } from 'vitest'
import {
  type HistoryApplied, type HistoryDigest, type HistoryMessaging, type HistoryPeerProgress, type HistorySource, HistoryRefusedError, createHistorySync
} from '../src/index.js'

/** A toy chain store: author → items in seq order (seq = index + 1); items are `author:seq` bytes. */
class ChainStore implements HistorySource {
  readonly name = 'chains'
  readonly chains = new Map<string, string[]>()
  applyCalls: number[] = []
  constructor (private readonly refuse: (item: string) => boolean = () => false) {}

  add (author: string, n: number): void {
    const chain = this.chains.get(author) ?? []
    for (let i = 0; i < n; i++) chain.push(`${author}:${chain.length + 1}`)
    this.chains.set(author, chain)
  }

  digests (after: string | undefined, limit: number): HistoryDigest[] {
    return [...this.chains.keys()].sort().filter((k) => after === undefined || k > after).slice(0, limit)
      .map((key) => ({ key, count: this.chains.get(key)?.length ?? 0, hash: `${key}:${this.chains.get(key)?.length ?? 0}` }))
  }

  wants (remote: HistoryDigest): number | undefined {
    const have = this.chains.get(remote.key)?.length ?? 0
    return remote.count > have ? have + 1 : undefined
  }

  behind (remote: HistoryDigest): number { return remote.count - (this.chains.get(remote.key)?.length ?? 0) }

  items (key: string, from: number, limit: number): { items: Uint8Array[], next?: number } {
    const chain = this.chains.get(key) ?? []
    const items = chain.slice(from - 1, from - 1 + limit).map(utf8)
    return from - 1 + items.length < chain.length ? { items, next: from + items.length } : { items }
  }

  async apply (items: Uint8Array[]): Promise<HistoryApplied> {
    this.applyCalls.push(items.length)
    let applied = 0
    let refused = 0
    for (const bytes of items) {
      const item = new TextDecoder().decode(bytes)
      const cut = item.lastIndexOf(':')
      const author = item.slice(0, cut)
      const seq = item.slice(cut + 1)
      if (this.refuse(item) || cut < 0) { refused++; continue }
      const chain = this.chains.get(author) ?? []
      if (Number(seq) === chain.length + 1) { chain.push(item); applied++ }
      this.chains.set(author, chain)
    }
    return { applied, refused }
  }
}

/** In-memory request/response between named peers; `tamper` rewrites answers sent by `from`. */
function network (tamper?: (from: string, reply: Uint8Array) => Uint8Array | Promise<Uint8Array>) {
  const handlers = new Map<string, (from: string, payload: Uint8Array) => Uint8Array>()
  const messagingOf = (self: string): HistoryMessaging => ({
    request: async (peer, payload) => {
      const handler = handlers.get(peer)
      if (handler === undefined) throw new Error(`${peer} unreachable`)
      const reply = handler(self, payload)
      return tamper === undefined ? reply : await tamper(peer, reply)
    },
    onRequest: (handler) => { handlers.set(self, handler); return () => { handlers.delete(self) } }
  })
  return { messagingOf }
}

describe('history sync', () => {
  test('a late joiner fetches every chain in bounded pages, applies in batches, and reports exact progress', async () => {
    const clock = new ManualClock()
    const net = network()
    const origin = new ChainStore()
    origin.add('did:a', 2345)
    origin.add('did:b', 17)
    origin.add('did:c', 1)
    const joiner = new ChainStore()
    joiner.add('did:b', 5) // already holds part of one chain
    const server = createHistorySync({ messaging: net.messagingOf('origin'), clock, sources: [origin], peers: () => [] }, { digestPageSize: 2, itemPageSize: 100 })
    const reports: HistoryPeerProgress[] = []
    const client = createHistorySync({ messaging: net.messagingOf('joiner'), clock, sources: [joiner], peers: () => [], onProgress: (p) => reports.push(p) }, { digestPageSize: 2, itemPageSize: 100, applyBatchSize: 300, progressEveryMs: 1 })
    const done = await client.syncWith('origin')
    expect(joiner.chains).toEqual(origin.chains)
    expect(done).toMatchObject({ peer: 'origin', state: 'idle', behind: 0, fetched: 2345 + 12 + 1, applied: 2345 + 12 + 1, refused: 0, sessions: 1 })
    expect(done.lastError).toBeUndefined()
    // batches: 300 at a time within a digest page, the rest of a page at its end
    expect(joiner.applyCalls.reduce((a, b) => a + b, 0)).toBe(2358)
    expect(Math.max(...joiner.applyCalls)).toBe(300)
    expect(reports.at(-1)).toEqual(done)
    expect(client.progress()).toEqual([done])
    // 2 digest pages (of 2 and 1), 24 + 1 + 1 item pages
    expect(server.serveStats()).toEqual({ served: 2 + 24 + 1 + 1, rateLimited: 0, malformed: 0, itemsServed: 2358, refusedNonMembers: 0 })
    // nothing new: a second session asks for digests only
    const again = await client.syncWith('origin')
    expect(again).toMatchObject({ fetched: 0, applied: 0, sessions: 2, behind: 0 })
    await client.close()
    await server.close()
  })

  test('the server answers at a bounded rate: a session over budget ends with the refusal, the next round resumes', async () => {
    const clock = new ManualClock()
    const net = network()
    const origin = new ChainStore()
    origin.add('did:a', 50)
    const joiner = new ChainStore()
    const server = createHistorySync({ messaging: net.messagingOf('origin'), clock, sources: [origin], peers: () => [] }, { serveRate: { burst: 4, perSecond: 1 } })
    const client = createHistorySync({ messaging: net.messagingOf('joiner'), clock, sources: [joiner], peers: () => [] }, { itemPageSize: 10 })
    const first = await client.syncWith('origin')
    expect(first).toMatchObject({ fetched: 30, applied: 30, lastError: 'peer refused: rate-limited' })
    expect(server.serveStats()).toMatchObject({ served: 4, rateLimited: 1 })
    clock.advance(60_000)
    const second = await client.syncWith('origin')
    expect(second).toMatchObject({ fetched: 20, applied: 20, behind: 0 })
    expect(second.lastError).toBeUndefined()
    expect(joiner.chains).toEqual(origin.chains)
    await client.close()
    await server.close()
  })

  test('a hostile peer: malformed or out-of-order replies and refused items end the session, are reported, and apply nothing invalid', async () => {
    const cases: Array<{ name: string, tamper: (reply: Uint8Array) => Uint8Array, reason: string }> = [
      { name: 'garbage', tamper: () => Uint8Array.of(0xff, 0x00), reason: 'reply is not DAG-CBOR' },
      {
        name: 'unordered digests',
        tamper: (reply) => {
          const r = decode(reply) as { t: string, digests?: unknown[] }
          return r.t === 'digests' ? encode({ ...r, digests: [...(r.digests ?? [])].reverse() }) : reply
        },
        reason: 'digests out of key order'
      },
      {
        name: 'items that are not bytes',
        tamper: (reply) => {
          const r = decode(reply) as { t: string }
          return r.t === 'items' ? encode({ ...r, items: ['text'] }) : reply
        },
        reason: 'an item is not bytes'
      },
      {
        name: 'a cursor that does not advance',
        tamper: (reply) => {
          const r = decode(reply) as { t: string }
          return r.t === 'items' ? encode({ ...r, next: 0 }) : reply
        },
        reason: "unexpected reply to a 'items' request"
      }
    ]
    for (const c of cases) {
      const clock = new ManualClock()
      const net = network((_from, reply) => c.tamper(reply))
      const origin = new ChainStore()
      origin.add('did:a', 3)
      origin.add('did:b', 3)
      const joiner = new ChainStore()
      const reported: string[] = []
      const server = createHistorySync({ messaging: net.messagingOf('origin'), clock, sources: [origin], peers: () => [] })
      const client = createHistorySync({ messaging: net.messagingOf('joiner'), clock, sources: [joiner], peers: () => [], onMisbehaviour: (peer, reason) => reported.push(`${peer} ${reason}`) })
      const done = await client.syncWith('origin')
      expect(done.lastError, c.name).toBe(c.reason)
      expect(reported, c.name).toEqual([`origin ${c.reason}`])
      expect(joiner.chains.size, c.name).toBe(0)
      await client.close()
      await server.close()
    }
    // items the subsystem refuses (forged, say): counted, reported, the valid ones kept
    const clock = new ManualClock()
    const net = network()
    const origin = new ChainStore()
    origin.add('did:a', 4)
    const joiner = new ChainStore((item) => item === 'did:a:3')
    const reported: string[] = []
    const server = createHistorySync({ messaging: net.messagingOf('origin'), clock, sources: [origin], peers: () => [] })
    const client = createHistorySync({ messaging: net.messagingOf('joiner'), clock, sources: [joiner], peers: () => [], onMisbehaviour: (peer, reason) => reported.push(`${peer} ${reason}`) })
    const done = await client.syncWith('origin')
    expect(done).toMatchObject({ fetched: 4, applied: 2, refused: 1 }) // item 4 cannot apply without 3
    expect(joiner.chains.get('did:a')).toEqual(['did:a:1', 'did:a:2'])
    expect(reported).toEqual(['origin 1 refused chains items'])
    await client.close()
    await server.close()
  })

  test('malformed requests are answered "refused", never thrown; unknown sources too', async () => {
    const clock = new ManualClock()
    let handler: ((from: string, payload: Uint8Array) => Uint8Array) | undefined
    const server = createHistorySync({
      messaging: { request: async () => await Promise.reject(new Error('unused')), onRequest: (h) => { handler = h; return () => { handler = undefined } } },
      clock,
      sources: [new ChainStore()],
      peers: () => []
    })
    const ask = (payload: Uint8Array): unknown => decode((handler as NonNullable<typeof handler>)('x', payload))
    expect(ask(Uint8Array.of(1, 2, 3))).toEqual({ v: 1, t: 'refused', reason: 'malformed' })
    expect(ask(encode({ v: 1, t: 'items', source: 'chains', key: 'k', from: -1, limit: 5 }))).toEqual({ v: 1, t: 'refused', reason: 'malformed' })
    expect(ask(encode({ v: 1, t: 'digests', source: 'nope', after: null, limit: 5 }))).toEqual({ v: 1, t: 'refused', reason: 'unknown-source' })
    expect(ask(encode({ v: 1, t: 'digests', source: 'chains', after: null, limit: 5 }))).toEqual({ v: 1, t: 'digests', digests: [], more: false })
    expect(server.serveStats()).toEqual({ served: 1, rateLimited: 0, malformed: 2, itemsServed: 0, refusedNonMembers: 0 })
    await server.close()
    expect(handler).toBeUndefined()
  })

  test('members only: a non-member is not served, not synced from, and the round skips it', async () => {
    const clock = new ManualClock()
    const requested: string[] = []
    const net = network()
    const counted = (self: string): HistoryMessaging => {
      const inner = net.messagingOf(self)
      return { request: async (peer, payload) => { requested.push(`${self}→${peer}`); return await inner.request(peer, payload) }, onRequest: inner.onRequest }
    }
    const members = new Set(['origin', 'member'])
    const isMember = (peer: string): boolean => members.has(peer)
    const origin = new ChainStore()
    origin.add('did:a', 10)
    const server = createHistorySync({ messaging: counted('origin'), clock, sources: [origin], peers: () => [], isMember })
    // The outsider runs history sync with no membership view of its own: the server refuses it all the same.
    const outsiderStore = new ChainStore()
    const outsider = createHistorySync({ messaging: counted('outsider'), clock, sources: [outsiderStore], peers: () => [] })
    const refused = await outsider.syncWith('origin')
    expect(refused).toMatchObject({ fetched: 0, applied: 0, lastError: 'peer refused: not-a-member' })
    expect(outsiderStore.chains.size).toBe(0)
    expect(server.serveStats()).toEqual({ served: 0, rateLimited: 0, malformed: 0, itemsServed: 0, refusedNonMembers: 1 })

    // The member does not sync from the outsider (no request leaves), records nothing, and its round skips it.
    const memberStore = new ChainStore()
    const member = createHistorySync({ messaging: counted('member'), clock, sources: [memberStore], peers: () => ['outsider', 'origin'], isMember }, { intervalMs: 1000 })
    requested.length = 0
    await expect(member.syncWith('outsider')).rejects.toThrow(HistoryRefusedError)
    await expect(member.syncWith('outsider')).rejects.toThrow('peer refused: not-a-member')
    expect(member.progress()).toEqual([])
    clock.advance(1000) // the round starts a session with 'origin' only
    expect(member.progress().map((p) => [p.peer, p.state])).toEqual([['origin', 'syncing']])
    expect((await member.syncWith('origin')).applied).toBe(10)
    expect(requested).toEqual(['member→origin', 'member→origin']) // one digest page, one item page
    expect(memberStore.chains).toEqual(origin.chains)
    // A peer removed while its session runs: the session ends before its next request.
    origin.add('did:b', 5)
    requested.length = 0
    const removing: HistoryMessaging = {
      request: async (peer, payload) => { members.delete('origin'); return await counted('member').request(peer, payload) },
      onRequest: () => () => {}
    }
    const cut = createHistorySync({ messaging: removing, clock, sources: [new ChainStore()], peers: () => [], isMember })
    expect(await cut.syncWith('origin')).toMatchObject({ fetched: 0, applied: 0, lastError: 'peer refused: not-a-member' })
    expect(requested).toEqual(['member→origin'])
    expect(server.serveStats()).toEqual({ served: 3, rateLimited: 0, malformed: 0, itemsServed: 10, refusedNonMembers: 1 })
    cut.forgetPeer('origin')
    expect(cut.progress()).toEqual([])
    await cut.close()
    await member.close()
    await outsider.close()
    await server.close()
  })

  test('close() ends a session waiting on a peer that never answers, and stops the round timer', async () => {
    const clock = new ManualClock()
    const never = new Promise<Uint8Array>(() => {})
    const client = createHistorySync({
      messaging: { request: async () => await never, onRequest: () => () => {} },
      clock,
      sources: [new ChainStore()],
      peers: () => ['silent']
    }, { intervalMs: 1000 })
    clock.advance(1000) // the round starts a session with the connected peer
    const [running] = client.progress()
    expect(running).toMatchObject({ peer: 'silent', state: 'syncing' })
    await client.close()
    expect(client.progress()).toEqual([expect.objectContaining({ peer: 'silent', state: 'idle', lastError: 'peer refused: closing' })])
    expect(clock.pendingTimers).toBe(0)
    await expect(client.syncWith('silent')).rejects.toThrow('closed')
  })
  test('rounds back off while nothing is applied (30 s, 60 s, … up to maxIntervalMs) and come back to intervalMs on a nudge or an applied item', async () => {
    const clock = new ManualClock()
    const net = network()
    const origin = new ChainStore()
    const joiner = new ChainStore()
    const server = createHistorySync({ messaging: net.messagingOf('origin'), clock, sources: [origin], peers: () => [] })
    const rounds: number[] = []
    const t0 = clock.now()
    const client = createHistorySync({ messaging: net.messagingOf('joiner'), clock, sources: [joiner], peers: () => ['origin'], onProgress: (p) => { if (p.state === 'idle') rounds.push(clock.now() - t0) } }, { intervalMs: 30_000, maxIntervalMs: 240_000 })
    // Nothing to fetch: rounds at 30, 90, 210, 450 s, then every 240 s.
    await clock.advanceAsync(700_000)
    expect(rounds).toEqual([30_000, 90_000, 210_000, 450_000, 690_000])
    // A nudge (an entry arrived here): the next round is at most 30 s away, and the one after 30 s later.
    client.nudge()
    const nudgedAt = clock.now() - t0
    await clock.advanceAsync(30_000)
    expect(rounds.slice(5)).toEqual([nudgedAt + 30_000])
    // The nudge paces one more round (30 s later); the origin gets a chain and the joiner fetches it there.
    origin.add('did:a', 3)
    await clock.advanceAsync(30_000)
    expect(joiner.chains.get('did:a')?.length).toBe(3)
    // The next round was scheduled as that one started (quiet so far: 60 s); what it applied brings the one
    // after back to 30 s, and then quiet doubles it again.
    await clock.advanceAsync(150_000)
    expect(rounds.slice(5)).toEqual([nudgedAt + 30_000, nudgedAt + 60_000, nudgedAt + 120_000, nudgedAt + 150_000, nudgedAt + 210_000])
    await client.close()
    await server.close()
  })
})
