import { type Clock, type KeyPair, decode, encode, systemClock } from '@icn/identity'
import { type AddressBook, type AddressRecord, openAddressRecord, signAddressRecord } from './address-book.js'
import { AddressRecordError } from './errors.js'
import { type TransportLogger, silentLogger } from './logger.js'
import type { Libp2pTransport } from './transport.js'

/** Point-to-point messages between members (in a node: gossip direct messages on their own topic). */
export interface AddressMessaging {
  send(peer: string, bytes: Uint8Array): void
  onMessage(handler: (from: string, bytes: Uint8Array) => void | Promise<void>): () => void
}

export interface PeerExchangeComponents {
  transport: Pick<Libp2pTransport, 'id' | 'peers' | 'multiaddrs' | 'onPeerChange' | 'addPeer' | 'removePeer'>
  book: AddressBook
  messaging: AddressMessaging
  keyPair: KeyPair
  /** Whose records are kept and dialled: members only. */
  isMember: (did: string) => boolean
  /** @default systemClock */
  clock?: Clock
  /** @default silentLogger */
  logger?: TransportLogger
}

export interface PeerExchangeInit {
  /** Addresses this node announces (a public or forwarded address). @default the transport's listen multiaddrs */
  announce?: string[]
  /** Records per message. @default 256 */
  maxRecordsPerMessage?: number
}

export interface PeerExchangeStats {
  /** Records kept because they were newer than the book's. */
  recordsKept: number
  /** Records refused: forged, malformed, not a member's. */
  recordsRefused: number
  messagesSent: number
}

/**
 * Finding every member from one address: each member signs where it can be reached; on every new
 * connection the two sides send each other every record they hold, and a record newer than the one held
 * is kept (persisted), dialled and passed on to the other connected members. So a node given one member's
 * address learns the others' within a few round trips, and a member that moves tells everyone.
 */
export interface PeerExchange {
  /** This node's current record. */
  readonly own: AddressRecord
  stats(): PeerExchangeStats
  /** Signs a new record (new addresses) and sends it to every connected member. */
  announce(addrs: readonly string[]): Promise<void>
  /** Drops records (and dialling) of DIDs that are no longer members. */
  forgetNonMembers(): Promise<void>
  /** Stops listening and waits for records being handled. */
  close(): Promise<void>
}

class PeerExchangeImpl implements PeerExchange {
  own: AddressRecord
  private readonly counters: PeerExchangeStats = { recordsKept: 0, recordsRefused: 0, messagesSent: 0 }
  private readonly offs: Array<() => void> = []
  /** Messages are handled one at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve()
  private closed = false

  constructor (private readonly c: Required<PeerExchangeComponents>, own: AddressRecord, private readonly maxRecords: number) {
    this.own = own
  }

  start (): void {
    this.offs.push(this.c.messaging.onMessage((from, bytes) => { this.enqueue(async () => { await this.receive(from, bytes) }) }))
    this.offs.push(this.c.transport.onPeerChange((did, change) => { if (change === 'connected') this.sendAll(did) }))
    for (const addr of this.c.book.manual()) this.dial(addr)
    for (const record of this.c.book.records()) if (this.wanted(record)) for (const addr of record.addrs) this.dial(addr)
    for (const did of this.c.transport.peers()) this.sendAll(did)
  }

  stats (): PeerExchangeStats { return { ...this.counters } }

  async announce (addrs: readonly string[]): Promise<void> {
    const record = signAddressRecord(this.c.keyPair, addrs, Math.max(this.c.clock.now(), this.own.issuedAt + 1))
    await this.c.book.accept(record)
    this.own = record
    this.send(this.c.transport.peers(), [record])
  }

  async forgetNonMembers (): Promise<void> {
    for (const record of this.c.book.records()) {
      if (record.did === this.c.keyPair.did || this.c.isMember(record.did)) continue
      for (const addr of record.addrs) this.c.transport.removePeer(addr)
      await this.c.book.forget(record.did)
    }
  }

  async close (): Promise<void> {
    this.closed = true
    for (const off of this.offs.splice(0)) off()
    await this.queue
    await this.c.book.close()
  }

  private wanted (record: AddressRecord): boolean {
    return record.did !== this.c.keyPair.did && this.c.isMember(record.did)
  }

  private dial (addr: string): void {
    try {
      this.c.transport.addPeer(addr)
    } catch (err) {
      this.c.logger.debug({ addr, err: (err as Error).message }, 'cannot dial address')
    }
  }

  private enqueue (task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => { this.c.logger.warn({ err: (err as Error).message }, 'peer exchange: handling records failed') })
  }

  private sendAll (did: string): void {
    const records = this.c.book.records().filter((r) => r.did !== did && (r.did === this.c.keyPair.did || this.c.isMember(r.did)))
    this.send([did], records)
  }

  private send (peers: readonly string[], records: readonly AddressRecord[]): void {
    if (this.closed || records.length === 0) return
    for (let i = 0; i < records.length; i += this.maxRecords) {
      const message = encode(records.slice(i, i + this.maxRecords).map((r) => r.bytes))
      for (const peer of peers) {
        try {
          this.c.messaging.send(peer, message)
          this.counters.messagesSent++
        } catch (err) {
          this.c.logger.debug({ peer, err: (err as Error).message }, 'peer exchange: send failed')
        }
      }
    }
  }

  private async receive (from: string, bytes: Uint8Array): Promise<void> {
    if (this.closed) return
    let list: unknown
    try {
      list = decode(bytes)
    } catch {
      list = undefined
    }
    if (!Array.isArray(list) || list.length > this.maxRecords) {
      this.counters.recordsRefused++
      this.c.logger.debug({ peer: from }, 'peer exchange: message is not a list of records')
      return
    }
    const fresh: AddressRecord[] = []
    for (const item of list) {
      let record: AddressRecord
      try {
        if (!(item instanceof Uint8Array)) throw new AddressRecordError('a record must be bytes')
        record = openAddressRecord(item)
      } catch (err) {
        this.counters.recordsRefused++
        this.c.logger.debug({ peer: from, err: (err as Error).message }, 'peer exchange: record refused')
        continue
      }
      if (!this.wanted(record)) {
        if (record.did !== this.c.keyPair.did) this.counters.recordsRefused++
        continue
      }
      const previous = this.c.book.record(record.did)
      if (!await this.c.book.accept(record)) continue
      this.counters.recordsKept++
      fresh.push(record)
      for (const addr of previous?.addrs ?? []) if (!record.addrs.includes(addr)) this.c.transport.removePeer(addr)
      for (const addr of record.addrs) this.dial(addr)
    }
    // Passed on once, to everyone else connected: a record spreads as far as the members are connected.
    if (fresh.length > 0) this.send(this.c.transport.peers().filter((did) => did !== from), fresh)
  }
}

/** Starts the exchange: signs this node's record, dials what the book holds, and swaps records on every connection. */
export async function startPeerExchange (components: PeerExchangeComponents, init: PeerExchangeInit = {}): Promise<PeerExchange> {
  const c: Required<PeerExchangeComponents> = { clock: systemClock, logger: silentLogger, ...components }
  const previous = c.book.record(c.keyPair.did)
  const own = signAddressRecord(c.keyPair, init.announce ?? c.transport.multiaddrs(), Math.max(c.clock.now(), (previous?.issuedAt ?? 0) + 1))
  await c.book.accept(own)
  const exchange = new PeerExchangeImpl(c, own, init.maxRecordsPerMessage ?? 256)
  exchange.start()
  return exchange
}
