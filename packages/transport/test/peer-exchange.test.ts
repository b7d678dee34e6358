import { encode } from '@icn/identity'
import { afterEach, describe, expect, it } from 'vitest'
import { type AddressBook, type Libp2pTransport, type PeerAdmission, type PeerExchange, createLibp2pTransport, openAddressBook, signAddressRecord, startPeerExchange } from '../src/index.js'
import { addrOf, member } from './helpers/records.js'

const [alice, bob, carol, mallory] = [member(11), member(12), member(13), member(14)]
const members = new Set<string>([alice.did, bob.did, carol.did])
const membersOnly: PeerAdmission = { connect: (did) => members.has(did), stream: (did) => members.has(did) }

interface Member { transport: Libp2pTransport, book: AddressBook, exchange: PeerExchange }
const started: Member[] = []
afterEach(async () => {
  for (const m of started.splice(0)) { await m.exchange.close(); await m.transport.close() }
})

/** A member whose transport dials `peers` and whose exchange runs over the transport's own frames. */
async function startMember (keyPair: typeof alice, peers: string[]): Promise<Member> {
  const transport = await createLibp2pTransport({ keyPair, admission: membersOnly }, { peers, redialMinMs: 50 })
  const book = await openAddressBook()
  const exchange = await startPeerExchange({ transport, book, messaging: transport, keyPair, isMember: (did) => members.has(did) })
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

  it('refuses a non-member\'s record and a tampered list; a newer record replaces the dialled address', async () => {
    const a = await startMember(alice, [])
    const b = await startMember(bob, [a.transport.multiaddrs()[0]!])
    await b.transport.waitForPeer(alice.did, 20_000)
    await a.transport.waitForPeer(bob.did, 20_000)
    const before = b.exchange.stats()
    const malloryRecord = signAddressRecord(mallory, [addrOf(mallory.did, 4999)], Date.now())
    a.transport.send(bob.did, encode([malloryRecord.bytes]))
    a.transport.send(bob.did, encode(['not a record']))
    a.transport.send(bob.did, new Uint8Array([0xff, 0x00]))
    // Alice moves: her newer record (a second address) replaces the one bob dials.
    const moved = [...a.exchange.own.addrs, addrOf(alice.did, 4555)]
    await a.exchange.announce(moved)
    await waitFor(() => b.book.record(alice.did)?.addrs.length === 2)
    expect(b.book.record(alice.did)?.addrs).toEqual(moved)
    expect(b.book.record(mallory.did)).toBeUndefined()
    expect(b.exchange.stats().recordsRefused - before.recordsRefused).toBe(3)
    expect(b.transport.dialTargets()).toContain(addrOf(alice.did, 4555))
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
