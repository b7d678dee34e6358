import { type CancelTimer, type Clock, type KeyPair, decode, encode, isPlainMap, systemClock } from '@icn/identity'
import { type AddressBook, type AddressRecord, MAX_RECORD_ADDRS, openAddressRecord, signAddressRecord } from './address-book.js'
import { AddressRecordError } from './errors.js'
import { type TransportLogger, silentLogger } from './logger.js'
import { type Libp2pTransport, isRelayed } from './transport.js'

/** Point-to-point messages between members (in a node: gossip direct messages on their own topic). */
export interface AddressMessaging {
  send(peer: string, bytes: Uint8Array): void
  onMessage(handler: (from: string, bytes: Uint8Array) => void | Promise<void>): () => void
}

export interface PeerExchangeComponents {
  transport: Pick<Libp2pTransport, 'id' | 'peers' | 'multiaddrs' | 'onPeerChange' | 'addPeer' | 'removePeer' | 'dialTargetsOf' | 'disconnect' | 'reachability' | 'onAddressesChange'>
  book: AddressBook
  messaging: AddressMessaging
  keyPair: KeyPair
  /** Whose records are kept and dialled: members only. */
  isMember: (did: string) => boolean
  /** @default systemClock */
  clock?: Clock
  /** @default silentLogger */
  logger?: TransportLogger
  /** Uniform [0, 1) source for choosing which members to dial. @default Math.random */
  random?: () => number
}

export interface PeerExchangeInit {
  /**
   * Members this node dials until it is connected to this many (inbound connections count too): a
   * bounded mesh, not everyone. Operator addresses are dialled too (parked while their member is full). @default 8
   */
  degree?: number
  /**
   * Members connected beyond this many are told this node is full (with every record it holds) when they
   * connect, unless this node dials them itself; they leave for other members. A member that cannot be
   * reached directly stays on a full member that relays for it. At least `degree`. @default 2 × degree
   */
  maxPeers?: number
  /** A chosen member not connected after this long is replaced by another. @default 30000 */
  dialPatienceMs?: number
  /**
   * Addresses this node announces (a public or forwarded address). Circuit addresses through members'
   * relays are added while this node holds a reservation. @default the transport's own addresses
   */
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
  /** Members told on connecting that this node was full. */
  turnedAway: number
  /** Full members this node left for others. */
  leftFull: number
  /** Full members this node stayed on because they relay and this node has no address verified as reachable. */
  stayedForRelay: number
}

/**
 * Finding every member from one address: each member signs where it can be reached; on every new
 * connection the two sides send each other every record they hold, and a record newer than the one held
 * is kept (persisted) and passed on to the other connected members. So a node given one member's address
 * learns every member's record, and a member that moves tells everyone. It dials members until it is
 * connected to `degree` of them (a bounded mesh; gossip relays entries across it).
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
  private readonly counters: PeerExchangeStats = { recordsKept: 0, recordsRefused: 0, messagesSent: 0, turnedAway: 0, leftFull: 0, stayedForRelay: 0 }
  private readonly offs: Array<() => void> = []
  /** Messages are handled one at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve()
  private closed = false
  /** Members this node chose to dial (kept redialled by the transport once connected), with the addresses dialled and since when. */
  private readonly chosen = new Map<string, { addrs: readonly string[], since: number }>()
  /** Chosen members dropped for not connecting in time, and when: not chosen again for 4 × patience. */
  private readonly failedAt = new Map<string, number>()
  /**
   * Operator addresses (config `peers`, `peers --add`) of a member that said it was full, and since when:
   * dialled again only once this node has no connection and no dial pending, a patience later.
   */
  private readonly parked = new Map<string, number>()
  private recheck: CancelTimer | undefined
  /** Address book writes under way (awaited by `close`). */
  private readonly writes = new Set<Promise<unknown>>()
  /** Hang-ups of full members under way (awaited by `close`). */
  private readonly leaving = new Set<Promise<void>>()

  constructor (private readonly c: Required<PeerExchangeComponents>, own: AddressRecord, private readonly settings: Required<Omit<PeerExchangeInit, 'announce'>> & Pick<PeerExchangeInit, 'announce'>) {
    this.own = own
  }

  start (): void {
    this.offs.push(this.c.messaging.onMessage((from, bytes) => { this.enqueue(async () => { await this.receive(from, bytes) }) }))
    this.offs.push(this.c.transport.onPeerChange((did, change) => {
      if (change === 'connected') this.sendAll(did, false, this.full(did))
      this.fill()
    }))
    // A relay reservation made or lost (or an address verified): a new record, sent to everyone connected.
    this.offs.push(this.c.transport.onAddressesChange(() => { this.enqueue(async () => { await this.reannounce() }) }))
    for (const addr of this.c.book.manual()) this.dial(addr)
    // Connected before this exchange listened (the transport starts first): what those peers sent on
    // connecting went unheard, so ask them for their records again.
    for (const did of this.c.transport.peers()) this.sendAll(did, true, this.full(did))
    this.fill()
  }

  /**
   * Keeps `degree` members connected: drops chosen members that did not connect within the patience
   * (they are tried again later), then dials randomly chosen members with records until connected and
   * pending dials reach the degree. A timer runs only while a chosen member is still pending.
   */
  private fill (): void {
    if (this.closed) return
    const now = this.c.clock.now()
    const connected = new Set(this.c.transport.peers())
    let pending = 0
    for (const [did, choice] of this.chosen) {
      if (connected.has(did)) continue
      if (this.c.isMember(did) && now - choice.since < this.settings.dialPatienceMs) { pending++; continue }
      for (const addr of choice.addrs) this.c.transport.removePeer(addr)
      this.chosen.delete(did)
      this.failedAt.set(did, now)
    }
    const need = this.settings.degree - connected.size - pending
    if (need > 0) {
      const candidates = this.c.book.records().filter((r) => this.wanted(r) && !connected.has(r.did) && !this.chosen.has(r.did) &&
        now - (this.failedAt.get(r.did) ?? -Infinity) >= 4 * this.settings.dialPatienceMs)
      for (let i = 0; i < Math.min(need, candidates.length); i++) {
        const j = i + Math.floor(this.c.random() * (candidates.length - i))
        const record = candidates[j]!
        candidates[j] = candidates[i]!
        this.chosen.set(record.did, { addrs: record.addrs, since: now })
        for (const addr of record.addrs) this.dial(addr)
        pending++
      }
    }
    // Alone, with nothing left to try: back to the operator's addresses, a patience after the member was full.
    let waitingForParked = false
    if (connected.size === 0 && pending === 0) {
      for (const [addr, since] of this.parked) {
        if (now - since < this.settings.dialPatienceMs) { waitingForParked = true; continue }
        this.parked.delete(addr)
        this.dial(addr)
      }
    }
    if ((pending > 0 || waitingForParked) && this.recheck === undefined) {
      this.recheck = this.c.clock.setTimeout(() => { this.recheck = undefined; this.fill() }, this.settings.dialPatienceMs)
    }
  }

  /** Over `maxPeers` with `did` connected, and `did` is not a member this node dials itself. */
  private full (did: string): boolean {
    return this.c.transport.peers().length > this.settings.maxPeers && !this.chosen.has(did) && this.c.transport.dialTargetsOf(did).length === 0
  }

  /**
   * `from` said it is full: stop dialling it (its operator addresses are parked, a chosen member is not
   * chosen again for 4 × patience), hang up and dial another member instead, unless `from` relays and
   * this node has no address verified as reachable (behind NAT it may be this node's only way in).
   */
  private leave (from: string, relays: boolean): void {
    if (relays && this.c.transport.reachability().verified.length === 0) {
      this.counters.stayedForRelay++
      return
    }
    this.counters.leftFull++
    const now = this.c.clock.now()
    const choice = this.chosen.get(from)
    this.chosen.delete(from)
    this.failedAt.set(from, now)
    for (const addr of choice?.addrs ?? []) this.c.transport.removePeer(addr)
    for (const addr of this.c.transport.dialTargetsOf(from)) {
      this.c.transport.removePeer(addr)
      if (choice?.addrs.includes(addr) !== true) this.parked.set(addr, now)
    }
    const hangUp = this.c.transport.disconnect(from, 'member is full').catch((err: unknown) => {
      this.c.logger.debug({ peer: from, err: (err as Error).message }, 'peer exchange: hanging up a full member failed')
    }).finally(() => { this.leaving.delete(hangUp) })
    this.leaving.add(hangUp)
  }

  stats (): PeerExchangeStats { return { ...this.counters } }

  /** Signs a new record when the addresses this node would announce now differ from its record's. */
  private async reannounce (): Promise<void> {
    if (this.closed) return
    const addrs = ownAddresses(this.c.transport, this.settings.announce)
    if (addrs.length === this.own.addrs.length && addrs.every((a, i) => a === this.own.addrs[i])) return
    await this.announce(addrs)
  }

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
    this.recheck?.()
    this.recheck = undefined
    for (const off of this.offs.splice(0)) off()
    await this.queue
    await Promise.all([...this.writes, ...this.leaving])
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

  private track (write: Promise<unknown>): void {
    const settled = write.catch((err: unknown) => { this.c.logger.warn({ err: (err as Error).message }, 'peer exchange: writing the address book failed') })
      .finally(() => { this.writes.delete(settled) })
    this.writes.add(settled)
  }

  private enqueue (task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => { this.c.logger.warn({ err: (err as Error).message }, 'peer exchange: handling records failed') })
  }

  /** Sends `did` every record held; `full`: this node is full, the records say where else to go. */
  private sendAll (did: string, ask = false, full = false): void {
    const records = this.c.book.records().filter((r) => r.did !== did && (r.did === this.c.keyPair.did || this.c.isMember(r.did)))
    if (full) this.counters.turnedAway++
    this.send([did], records, ask, full)
  }

  /**
   * Sends `records` in messages `{ records: [bytes…] }`; the last message carries `ask` (the peer sends all
   * of its own) and `full` (this node is full: the peer should leave for another; `relays` when it relays).
   */
  private send (peers: readonly string[], records: readonly AddressRecord[], ask = false, full = false): void {
    if (this.closed || (records.length === 0 && !ask && !full)) return
    const last = Math.max(0, Math.ceil(records.length / this.settings.maxRecordsPerMessage) - 1) * this.settings.maxRecordsPerMessage
    for (let i = 0; i === 0 || i < records.length; i += this.settings.maxRecordsPerMessage) {
      const batch = records.slice(i, i + this.settings.maxRecordsPerMessage).map((r) => r.bytes)
      const flags = i !== last ? {} : { ...(ask ? { ask: true } : {}), ...(full ? { full: this.c.transport.reachability().relay ? 'relays' : true } : {}) }
      const message = encode({ ...flags, records: batch })
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
    let message: unknown
    try {
      message = decode(bytes)
    } catch {
      message = undefined
    }
    const list: unknown = isPlainMap(message) ? message.records : undefined
    const ask: unknown = isPlainMap(message) ? message.ask : undefined
    const full: unknown = isPlainMap(message) ? message.full : undefined
    if (!isPlainMap(message) || Object.keys(message).some((k) => k !== 'records' && k !== 'ask' && k !== 'full') || (ask !== undefined && ask !== true) ||
      (full !== undefined && full !== true && full !== 'relays') || !Array.isArray(list) || list.length > this.settings.maxRecordsPerMessage) {
      this.counters.recordsRefused++
      this.c.logger.debug({ peer: from }, 'peer exchange: message is not { records, ask?, full? }')
      return
    }
    if (ask === true) this.sendAll(from)
    const opened: AddressRecord[] = []
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
      opened.push(record)
    }
    // Newer than the book's are passed on at once; the book writes its file once for all of them in the
    // background (records are signed hints: one lost in a crash is sent again), so a record crosses a hop
    // without waiting for a disk.
    const fresh: AddressRecord[] = []
    for (const record of opened) {
      if (!this.c.book.isNewer(record)) continue
      fresh.push(record)
      this.track(this.c.book.accept(record))
    }
    for (const record of fresh) {
      this.counters.recordsKept++
      // A chosen member that moved: dial its new addresses instead of the old ones.
      const choice = this.chosen.get(record.did)
      if (choice !== undefined) {
        for (const addr of choice.addrs) if (!record.addrs.includes(addr)) this.c.transport.removePeer(addr)
        for (const addr of record.addrs) this.dial(addr)
        this.chosen.set(record.did, { addrs: record.addrs, since: choice.since })
      }
    }
    // After the records it carried: they are where this node goes instead.
    if (full !== undefined && this.c.isMember(from)) this.leave(from, full === 'relays')
    if (fresh.length > 0 || full !== undefined) this.fill()
    // Passed on once, to everyone else connected: a record spreads as far as the members are connected.
    if (fresh.length > 0) this.send(this.c.transport.peers().filter((did) => did !== from), fresh)
  }
}

/**
 * What this node's record lists: the configured announce addresses (else the transport's own, relayed
 * ones aside), then the circuit addresses of its relay reservations, at most `MAX_RECORD_ADDRS` with room
 * kept for the relayed ones (behind NAT they are the only way in).
 */
function ownAddresses (transport: PeerExchangeComponents['transport'], announce: readonly string[] | undefined): string[] {
  const relayed = transport.reachability().relayed.slice(0, MAX_RECORD_ADDRS / 2)
  const direct = (announce ?? transport.multiaddrs().filter((a) => !isRelayed(a))).slice(0, MAX_RECORD_ADDRS - relayed.length)
  return [...new Set([...direct, ...relayed])]
}

/** Starts the exchange: signs this node's record, dials what the book holds, and swaps records on every connection. */
export async function startPeerExchange (components: PeerExchangeComponents, init: PeerExchangeInit = {}): Promise<PeerExchange> {
  const c: Required<PeerExchangeComponents> = { clock: systemClock, logger: silentLogger, random: Math.random, ...components }
  const previous = c.book.record(c.keyPair.did)
  const own = signAddressRecord(c.keyPair, ownAddresses(c.transport, init.announce), Math.max(c.clock.now(), (previous?.issuedAt ?? 0) + 1))
  await c.book.accept(own)
  const degree = init.degree ?? 8
  const exchange = new PeerExchangeImpl(c, own, { maxRecordsPerMessage: init.maxRecordsPerMessage ?? 256, degree, maxPeers: Math.max(degree, init.maxPeers ?? 2 * degree), dialPatienceMs: init.dialPatienceMs ?? 30_000, announce: init.announce })
  exchange.start()
  return exchange
}
