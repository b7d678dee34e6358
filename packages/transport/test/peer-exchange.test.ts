import { encode } from '@icn/identity'
import { afterEach, describe, expect, it } from 'vitest'
import { type AddressBook, type Libp2pTransport, type PeerAdmission, type PeerExchange, type PeerExchangeInit, createLibp2pTransport, openAddressBook, signAddressRecord, startPeerExchange } from '../src/index.js'
import { addrOf, member } from './helpers/records.js'

const [alice, bob, carol, dave, mallory] = [member(11), member(12), member(13), member(15), member(14)]
const members = new Set<string>([alice.did, bob.did, carol.did, dave.did])
const membersOnly: PeerAdmission = { connect: (did) => members.has(did), stream: (did) => members.has(did) }

interface Member { transport: Libp2pTransport, book: AddressBook, exchange: PeerExchange }
const started: Member[] = []
afterEach(async () => {
  for (const m of started.splice(0)) { await m.exchange.close(); await m.transport.close() }
})

/** A member whose transport dials `peers` and whose exchange runs over the transport's own frames. */
async function startMember (keyPair: typeof alice, peers: string[], degree?: number, init: PeerExchangeInit = {}, relay = false): Promise<Member> {
  const transport = await createLibp2pTransport({ keyPair, admission: membersOnly }, { peers, redialMinMs: 50, relay: relay ? {} : false })
  const book = await openAddressBook()
  const exchange = await startPeerExchange({ transport, book, messaging: transport, keyPair, isMember: (did) => members.has(did) }, { ...init, ...(degree === undefined ? {} : { degree }) })
  const m = { transport, book, exchange }
  started.push(m)
  return m
}

describe('peer exchange: every member from one address', () => {
  it('a member given only bob\'s address learns alice\'s signed record and connects to her', async () => {
    const a = await startMember(alice, [])
    const b = await startMember(bob, [a.transport.multiaddrs()[0]!])
    await b.transport.waitForPeer(alice.did, 20_000)
    const c = await startMember(carol, [b.transport.multiaddrs()[0]!])
    await c.transport.waitForPeer(alice.did, 20_000)
    expect(c.transport.peers()).toEqual([alice.did, bob.did].sort())
    expect(c.book.record(alice.did)?.addrs).toEqual(a.exchange.own.addrs)
    expect(c.book.record(alice.did)?.issuedAt).toBe(a.exchange.own.issuedAt)
    expect(c.book.record(bob.did)?.addrs).toEqual(b.exchange.own.addrs)
    // Alice hears of carol too (passed on by bob, or from carol on connecting).
    await a.transport.waitForPeer(carol.did, 20_000)
    expect(a.book.record(carol.did)?.addrs).toEqual(c.exchange.own.addrs)
    expect(c.exchange.stats().recordsRefused).toBe(0)
  })

  it('refuses a non-member\'s record and a tampered list; a newer record replaces the one held', async () => {
    const a = await startMember(alice, [])
    const b = await startMember(bob, [a.transport.multiaddrs()[0]!])
    await b.transport.waitForPeer(alice.did, 20_000)
    await a.transport.waitForPeer(bob.did, 20_000)
    const before = b.exchange.stats()
    const malloryRecord = signAddressRecord(mallory, [addrOf(mallory.did, 4999)], Date.now())
    a.transport.send(bob.did, encode({ records: [malloryRecord.bytes] }))
    a.transport.send(bob.did, encode({ records: ['not a record'] }))
    a.transport.send(bob.did, encode([malloryRecord.bytes]))
    a.transport.send(bob.did, new Uint8Array([0xff, 0x00]))
    // Alice moves: her newer record (a second address) replaces the one bob holds.
    const moved = [...a.exchange.own.addrs, addrOf(alice.did, 4555)]
    await a.exchange.announce(moved)
    await waitFor(() => b.book.record(alice.did)?.addrs.length === 2)
    expect(b.book.record(alice.did)?.addrs).toEqual(moved)
    expect(b.book.record(mallory.did)).toBeUndefined()
    expect(b.exchange.stats().recordsRefused - before.recordsRefused).toBe(4)
  })

  it('an exchange started after its transport connected asks its peers for their records', async () => {
    const a = await startMember(alice, [])
    const c = await startMember(carol, [a.transport.multiaddrs()[0]!])
    await waitFor(() => a.book.records().length === 2)
    // Bob's transport connects before his exchange listens (as in a node: transport, then gossip, then discovery).
    const transport = await createLibp2pTransport({ keyPair: bob, admission: membersOnly }, { peers: [a.transport.multiaddrs()[0]!], redialMinMs: 50 })
    const book = await openAddressBook()
    started.push({ transport, book, exchange: { close: async () => {} } as unknown as PeerExchange })
    await transport.waitForPeer(alice.did, 20_000)
    await waitFor(() => a.book.records().length === 2 && a.transport.peers().includes(bob.did))
    const exchange = await startPeerExchange({ transport, book, messaging: transport, keyPair: bob, isMember: (did) => members.has(did) })
    started[started.length - 1]!.exchange = exchange
    await waitFor(() => book.records().length === 3)
    expect(book.record(alice.did)?.addrs).toEqual(a.exchange.own.addrs)
    expect(book.record(carol.did)?.addrs).toEqual(c.exchange.own.addrs)
  })

  it('dials members only up to its degree, though it holds every member\'s record', async () => {
    // Alice has room for everyone (the next describe is about a full member).
    const a = await startMember(alice, [], 1, { maxPeers: 3 })
    const b = await startMember(bob, [a.transport.multiaddrs()[0]!], 1)
    const c = await startMember(carol, [a.transport.multiaddrs()[0]!], 1)
    await a.transport.waitForPeer(bob.did, 20_000)
    await a.transport.waitForPeer(carol.did, 20_000)
    // Dave, degree 2, is given alice: he learns all four records and dials exactly one member more.
    const d = await startMember(dave, [a.transport.multiaddrs()[0]!], 2)
    await waitFor(() => d.book.records().length === 4 && d.transport.peers().length === 2)
    expect(d.book.records().map((r) => r.did)).toEqual([alice.did, bob.did, carol.did, dave.did].sort())
    const other = d.transport.peers().find((did) => did !== alice.did)!
    expect([bob.did, carol.did]).toContain(other)
    const otherAddr = (other === bob.did ? b : c).exchange.own.addrs[0]!
    expect(d.transport.dialTargets()).toEqual([a.transport.multiaddrs()[0]!, otherAddr].sort())
    // Bob and carol, degree 1 and connected to alice, dialled no one more.
    expect(b.transport.dialTargets()).toEqual([a.transport.multiaddrs()[0]!])
    expect(c.transport.dialTargets()).toEqual([a.transport.multiaddrs()[0]!])
  })
})

describe('peer exchange: a full member sends newcomers elsewhere', () => {
  /** Alice (dials no one, room for 1 peer) with bob connected; carol (degree 1) is given alice's address only. */
  async function fullAlice (carolInit: PeerExchangeInit = {}, aliceRelays = false): Promise<{ a: Member, b: Member, c: Member }> {
    const a = await startMember(alice, [], 0, { maxPeers: 1 }, aliceRelays)
    const b = await startMember(bob, [a.transport.multiaddrs()[0]!], 1)
    await a.transport.waitForPeer(bob.did, 20_000)
    await waitFor(() => a.book.records().length === 2)
    const c = await startMember(carol, [a.transport.multiaddrs()[0]!], 1, carolInit)
    return { a, b, c }
  }

  it('a member over its room tells a newcomer it is full with every record it holds; the newcomer stops dialling it and connects to another member', async () => {
    const { a, b, c } = await fullAlice()
    await waitFor(() => c.exchange.stats().leftFull === 1 && c.transport.peers().length === 1 && a.transport.peers().length === 1)
    expect(c.transport.peers()).toEqual([bob.did])
    expect(a.transport.peers()).toEqual([bob.did])
    // Alice's address (carol's operator address) is parked, not redialled; bob's record is what carol dials.
    expect(c.transport.dialTargets()).toEqual([b.exchange.own.addrs[0]!])
    expect(c.book.record(bob.did)?.addrs).toEqual(b.exchange.own.addrs)
    expect(a.exchange.stats()).toMatchObject({ turnedAway: 1, leftFull: 0, stayedForRelay: 0 })
    expect(c.exchange.stats()).toMatchObject({ turnedAway: 0, leftFull: 1, stayedForRelay: 0 })
    // Bob, degree 1 and room for 2, keeps both; he was never full.
    await waitFor(() => b.transport.peers().length === 2)
    expect(b.exchange.stats()).toMatchObject({ turnedAway: 0, leftFull: 0 })
    // A `full` that is neither true nor 'relays' is a malformed message: refused, and bob stays on alice.
    const refused = b.exchange.stats().recordsRefused
    a.transport.send(bob.did, encode({ full: 'yes', records: [] }))
    await waitFor(() => b.exchange.stats().recordsRefused === refused + 1)
    expect(b.transport.peers()).toEqual([alice.did, carol.did].sort())
    expect(b.exchange.stats().leftFull).toBe(0)
  })

  it('a newcomer left with no connection and nothing to dial goes back to its operator\'s address a patience later', async () => {
    const { a, b, c } = await fullAlice({ dialPatienceMs: 300 })
    await waitFor(() => c.exchange.stats().leftFull === 1 && c.transport.peers().length === 1)
    expect(c.transport.peers()).toEqual([bob.did])
    // Bob goes away: carol has no one, bob's dial runs out of patience, and alice (now with room) is dialled again.
    await b.exchange.close()
    await b.transport.close()
    started.splice(started.indexOf(b), 1)
    await waitFor(() => c.transport.peers().length === 1 && c.transport.peers()[0] === alice.did && a.transport.peers().length === 1)
    expect(c.transport.dialTargets()).toEqual([a.transport.multiaddrs()[0]!])
    expect(a.transport.peers()).toEqual([carol.did])
    expect(a.exchange.stats().turnedAway).toBe(1)
    expect(c.exchange.stats().leftFull).toBe(1)
  })

  it('a newcomer with no address verified as reachable stays on a full member that relays', async () => {
    const { a, c } = await fullAlice({}, true)
    await waitFor(() => c.exchange.stats().stayedForRelay === 1)
    expect(c.transport.reachability().verified).toEqual([])
    expect(c.transport.peers()).toContain(alice.did)
    expect(c.transport.dialTargets()).toContain(a.transport.multiaddrs()[0]!)
    expect(a.exchange.stats().turnedAway).toBe(1)
    expect(c.exchange.stats().leftFull).toBe(0)
  })
})

/** Polls `condition` every 20 ms: resolves once true, rejects after 20 s. */
async function waitFor (condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 20 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
