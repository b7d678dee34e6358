/**
 * The gossip node: the I/O shell around the store, entry checks and the pure
 * reconciliation core. Frames are handled one at a time in arrival order
 * (so direct messages stay FIFO); the receive path never throws — every
 * refusal is counted by reason.
 */
import { type CancelTimer, type Did, type IsMember, fromHex, randomBytes, sha256, toHex } from '@icn/identity'
import { admits, normaliseAccessRule, type AccessRule } from './access.js'
import { MAX_ANNOUNCERS, MAX_AWAITED_IDS, MAX_PUSH_ALSO, MAX_REJECTED_IDS, MAX_TOPIC_LENGTH, MAX_WIRE_IDS } from './constants.js'
import { type DecodedEntry, type StoredEntry, createEntry, decodeEntry, inflateEntry, verifyEntrySignature } from './entry.js'
import {
  AccessDeniedError, ClosedError, EntryValidationError, InvalidArgumentError, InvalidEntryError, PayloadTooLargeError, RequestTimeoutError
} from './errors.js'
import type {
  DirectHandler, EntryHandler, EntryValidator, Gossip, GossipComponents, GossipEntry, GossipInit, GossipStats, RejectReason, TopicInfo
} from './index.js'
import { type GossipOptions, resolveOptions } from './options.js'
import { TokenBucket } from './rate-limit.js'
import { RangeOrderError, compareKeys, openingRanges, reconcile } from './reconcile.js'
import { GossipStore } from './store.js'
import { PushTree } from './push-tree.js'
import { BackoffTimer } from './backoff.js'
import {
  type DirectMessage, type EntriesMessage, type GraftMessage, type HaveMessage, type PruneMessage, type SyncMessage, type TopicsMessage,
  type WantMessage, type WireMessage,
  decodeMessage, encodeMessage
} from './wire.js'

const REJECT_REASONS: readonly RejectReason[] = [
  'malformed', 'too-large', 'decompression', 'bad-id', 'bad-signature', 'unknown-topic', 'access-denied', 'validator',
  'expired', 'future', 'replayed-nonce', 'stale-nonce', 'rate-limited', 'rounds-exceeded', 'no-handler', 'non-member-author',
  'inflate-budget', 'clock-bound'
]

/** The injected membership check as a total function on peer ids: absent admits everyone, throwing admits no one. */
function memberCheck (isMember: IsMember | undefined): (did: string) => boolean {
  if (isMember === undefined) return () => true
  return (did) => {
    try { return isMember(did as Did) === true } catch { return false }
  }
}

/** What an entry costs a frame's inflate budget: its declared size when deflated, nothing when raw. */
function inflatedSize (entry: StoredEntry): number {
  const body = entry.envelope.payload
  return body.encoding === 'deflate-raw' ? body.size : 0
}

/** What is left of the frame being read: its inflate budget; whether its sender was told to prune already. */
interface FrameBudget { inflate: number, pruned: boolean }

/** The pull cursor towards one peer for one topic: ids still to fetch and the page in flight. */
interface PullState {
  queue: string[]
  queued: Set<string>
  inFlight?: { nonce: string, ids: string[], sentAt: number }
}

interface PendingRequest {
  peer: string
  topic: string
  resolve: (payload: Uint8Array) => void
  reject: (error: Error) => void
  cancelTimer: CancelTimer
}

function toGossipEntry (entry: StoredEntry): GossipEntry {
  const body = entry.envelope.payload
  return { id: entry.idHex, cid: entry.envelope.cid, topic: body.topic, author: body.author, payload: entry.payload, timestamp: body.timestamp, clock: body.clock }
}

export class GossipNode implements Gossip {
  private readonly trustOf: (did: string) => number
  private readonly member: (did: string) => boolean
  private readonly random: () => number
  private readonly handlers = new Map<string, Set<EntryHandler>>()
  private readonly validators = new Map<string, EntryValidator>()
  private readonly directHandlers = new Map<string, DirectHandler>()
  private readonly ingressObservers = new Set<(from: string, bytes: Uint8Array) => void>()
  private readonly pending = new Map<number, PendingRequest>()
  private readonly syncBuckets = new Map<string, TokenBucket>()
  private readonly pullBuckets = new Map<string, TokenBucket>()
  private readonly pulls = new Map<string, Map<string, PullState>>()
  private readonly rejectedIds = new Map<string, Set<string>>()
  // Per topic: ids refused because their author was not a member (id → author). Not pulled again while the
  // author is still refused; pulled again as soon as it is a member. Bounded like rejectedIds, never persisted.
  private readonly refusedForMembership = new Map<string, Map<string, string>>()
  private readonly announced = new Map<string, { version: number, at: number }>()
  private readonly background = new Set<Promise<void>>()
  // Per peer: the entries waiting for the end of the turn, and the other peers every one of them goes to.
  private readonly outbox = new Map<string, { entries: Uint8Array[], bytes: number, inflated: number, also: Set<string> | undefined }>()
  private pushTimer: ReturnType<typeof setImmediate> | undefined
  // Per peer, per topic: ids to announce at the end of the turn (the push tree's lazy links).
  private readonly haveOutbox = new Map<string, Map<string, Uint8Array[]>>()
  private readonly tree = new PushTree(MAX_AWAITED_IDS, MAX_ANNOUNCERS)
  private cancelGraftTimer: CancelTimer | undefined
  private cancelHaveTimer: CancelTimer | undefined
  private graftDueAt = 0
  private readonly noncePrefix = randomBytes(8)
  private nonceCounter = 0
  private nextDirectId = 1
  private topicsVersion = 0
  private inbox: Promise<void> = Promise.resolve()
  private closed = false
  private closing: Promise<void> | undefined
  /** Anti-entropy: every `antiEntropyIntervalMs` while entries flow, backing off to `antiEntropyMaxIntervalMs`. */
  private readonly ticks: BackoffTimer
  private cancelSave: CancelTimer | undefined
  private stopListening: (() => void) | undefined
  private readonly counters: GossipStats

  private constructor (
    private readonly components: GossipComponents, private readonly options: GossipOptions, private readonly store: GossipStore, member: (did: string) => boolean
  ) {
    this.trustOf = components.trustOf ?? (() => 0)
    this.member = member
    this.random = components.random ?? Math.random
    this.ticks = new BackoffTimer(components.clock, options.antiEntropyIntervalMs, options.antiEntropyMaxIntervalMs, () => { this.tick() })
    this.counters = {
      published: 0, accepted: 0, duplicates: 0, delivered: 0, handlerErrors: 0, unsolicitedReplies: 0,
      rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>, inflated: 0, inflatedBytes: 0,
      syncsStarted: 0, syncMessagesSent: 0, syncBytesSent: 0, pullsSent: 0, saves: 0, saveFailures: 0, tickErrors: 0, refusedFromNonMembers: 0,
      idsAnnounced: 0, idsGrafted: 0, prunesSent: 0
    }
  }

  static async open (components: GossipComponents, init: GossipInit): Promise<GossipNode> {
    const { transport, clock, keyPair } = components ?? {}
    if (typeof transport?.send !== 'function' || typeof transport.onMessage !== 'function' || typeof transport.peers !== 'function') {
      throw new InvalidArgumentError('components.transport must have send, onMessage and peers')
    }
    if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function') throw new InvalidArgumentError('components.clock must be a Clock')
    if (!(keyPair?.seed instanceof Uint8Array) || typeof keyPair.did !== 'string') throw new InvalidArgumentError('components.keyPair must be a KeyPair')
    if (components.isMember !== undefined && typeof components.isMember !== 'function') throw new InvalidArgumentError('components.isMember must be a function')
    const options = resolveOptions(init ?? {})
    const member = memberCheck(components.isMember)
    const store = await GossipStore.open({
      path: options.path,
      persistEntries: options.persistEntries,
      now: components.clock.now(),
      retentionMs: options.retentionMs,
      maxEntries: options.maxEntriesPerTopic,
      maxPayloadBytes: options.maxPayloadBytes,
      compressThreshold: options.compressThreshold,
      maxClockComponents: options.maxClockComponents,
      isMember: member,
      self: keyPair.did
    })
    const node = new GossipNode(components, options, store, member)
    node.start()
    return node
  }

  get peerId (): string { return this.components.transport.id }

  private get did (): string { return this.components.keyPair.did }

  private start (): void {
    this.stopListening = this.components.transport.onMessage((from, bytes) => this.receive(from, bytes))
    this.ticks.start()
    if (this.store.topics.size > 0) for (const peer of this.memberPeers()) this.announce(peer)
  }

  /** Connected peers that are members: the only ones anything is sent to or synced with. */
  private memberPeers (): string[] {
    return this.components.transport.peers().filter(this.member)
  }

  // ---------------------------------------------------------------- topics

  createTopic (topic: string, access: AccessRule = { kind: 'public' }): void {
    this.assertOpen()
    this.checkTopicName(topic)
    if (this.store.createTopic(topic, normaliseAccessRule(access))) {
      this.topicsVersion++
      for (const peer of this.memberPeers()) this.announce(peer)
      this.scheduleSave()
    }
  }

  topics (): TopicInfo[] {
    return [...this.store.topics.entries()]
      .map(([name, t]) => ({ name, access: t.access, entries: t.log.size }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  setValidator (topic: string, validator: EntryValidator): void {
    this.store.topic(topic)
    if (typeof validator !== 'function') throw new InvalidArgumentError('validator must be a function')
    this.validators.set(topic, validator)
  }

  subscribe (topic: string, handler: EntryHandler): () => void {
    this.assertOpen()
    this.store.topic(topic)
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function')
    let set = this.handlers.get(topic)
    if (set === undefined) { set = new Set(); this.handlers.set(topic, set) }
    set.add(handler)
    return () => { this.unsubscribe(topic, handler) }
  }

  unsubscribe (topic: string, handler?: EntryHandler): void {
    if (handler === undefined) this.handlers.delete(topic)
    else this.handlers.get(topic)?.delete(handler)
  }

  entries (topic: string): GossipEntry[] {
    return this.store.topic(topic).log.items.map(toGossipEntry)
  }

  // ---------------------------------------------------------------- publish

  async publish (topic: string, payload: Uint8Array): Promise<GossipEntry> {
    this.assertOpen()
    const state = this.store.topic(topic)
    if (!(payload instanceof Uint8Array)) throw new InvalidArgumentError('payload must be a Uint8Array')
    if (payload.length > this.options.maxPayloadBytes) throw new PayloadTooLargeError(payload.length, this.options.maxPayloadBytes)
    if (!this.member(this.did) || !admits(state.access, this.did, this.trustOf)) throw new AccessDeniedError(topic, this.did)
    const existing = state.log.get(toHex(sha256(payload)))
    if (existing !== undefined) return toGossipEntry(existing)
    const clock = Object.fromEntries(this.store.clock)
    clock[this.did] = (this.store.clock.get(this.did) ?? 0) + 1
    const entry = createEntry(this.components.keyPair, { topic, payload, clock, timestamp: this.components.clock.now() }, this.options)
    const published = toGossipEntry(entry)
    if (!this.runValidator(topic, published)) throw new EntryValidationError(topic)
    if (this.store.add(entry, this.components.clock.now()) !== 'added') {
      throw new InvalidEntryError('expired', `topic '${topic}' is full of entries newer than now; the entry would be evicted at once`)
    }
    this.counters.published++
    this.ticks.wake()
    this.scheduleSave()
    this.pushEntry(entry, undefined)
    return published
  }

  private runValidator (topic: string, entry: GossipEntry): boolean {
    const validator = this.validators.get(topic)
    if (validator === undefined) return true
    try {
      return validator(entry) === true
    } catch {
      return false
    }
  }

  /**
   * Relays an entry along the push tree: whole to the topic's eager peers, as an id (`have`) to every other
   * peer sharing the topic (a fetched entry goes as an id to all). Never back to the peer it came from, its
   * author, or the peers known to hold it (`holdersKnown`: named by the sender, or announced it). Each frame
   * names the other peers that hold its entries now, so a fully connected group relays nothing: the
   * author's push covers every peer and each entry crosses each link once.
   */
  private pushEntry (entry: StoredEntry, from: string | undefined, holdersKnown: readonly string[] = []): void {
    const topic = entry.envelope.payload.topic
    const holders = new Set(holdersKnown)
    const candidates = this.sharingPeers(topic).filter((p) => p !== from && p !== entry.envelope.payload.author && !holders.has(p))
    const targets = this.tree.wasFetched(entry.idHex) ? [] : candidates.filter((p) => !this.tree.isLazy(topic, p))
    if (from !== undefined) holders.add(from)
    for (const peer of targets) holders.add(peer)
    for (const peer of targets) this.queuePush(peer, entry, holders)
    for (const peer of candidates) if (!holders.has(peer)) this.queueHave(peer, topic, entry.envelope.payload.id)
  }

  private queueHave (peer: string, topic: string, id: Uint8Array): void {
    let perTopic = this.haveOutbox.get(peer)
    if (perTopic === undefined) { perTopic = new Map(); this.haveOutbox.set(peer, perTopic) }
    let ids = perTopic.get(topic)
    if (ids === undefined) { ids = []; perTopic.set(topic, ids) }
    ids.push(id)
    this.counters.idsAnnounced++
    if (ids.length >= MAX_WIRE_IDS) this.sendHaves(peer)
    // Announcements wait `haveDelayMs`, so the ids of entries that flow together share a frame.
    this.cancelHaveTimer ??= this.components.clock.setTimeout(() => {
      this.cancelHaveTimer = undefined
      for (const peer of [...this.haveOutbox.keys()]) this.sendHaves(peer)
    }, this.options.haveDelayMs)
  }

  private sendHaves (peer: string): void {
    const haves = this.haveOutbox.get(peer)
    this.haveOutbox.delete(peer)
    if (haves === undefined || !this.member(peer)) return
    for (const [topic, ids] of haves) this.components.transport.send(peer, encodeMessage({ t: 'have', topic, ids }))
  }

  /**
   * Pushes wait for the end of the current I/O phase (`setImmediate`) and leave as one `push` frame per
   * peer: entries published or received together share a frame (one encode, one decode, one stream
   * write). A batch is sent early when it reaches the frame bounds (size, entry count, inflate budget).
   */
  private queuePush (peer: string, entry: StoredEntry, holders: ReadonlySet<string>): void {
    const { bytes } = entry
    const inflated = inflatedSize(entry)
    let batch = this.outbox.get(peer)
    if (batch !== undefined && (
      batch.entries.length >= MAX_WIRE_IDS || batch.bytes + bytes.length > this.options.maxFrameBytes / 2 ||
      batch.inflated + inflated > this.options.maxInflatedBytesPerFrame
    )) {
      this.sendPushes(peer)
      batch = undefined
    }
    if (batch === undefined) {
      batch = { entries: [], bytes: 0, inflated: 0, also: undefined }
      this.outbox.set(peer, batch)
    }
    batch.entries.push(bytes)
    batch.bytes += bytes.length
    batch.inflated += inflated
    if (batch.also === undefined) batch.also = new Set([...holders].filter((p) => p !== peer))
    else for (const p of batch.also) if (!holders.has(p)) batch.also.delete(p)
    this.pushTimer ??= setImmediate(() => { this.flushPushes() })
  }

  private sendPushes (peer: string): void {
    const batch = this.outbox.get(peer)
    if (batch === undefined) return
    this.outbox.delete(peer)
    if (!this.member(peer)) return
    const also = [...(batch.also ?? [])].sort().slice(0, MAX_PUSH_ALSO)
    this.components.transport.send(peer, encodeMessage({ t: 'push', entries: batch.entries, ...(also.length > 0 ? { also } : {}) }))
  }

  private flushPushes (): void {
    if (this.pushTimer !== undefined) clearImmediate(this.pushTimer)
    this.pushTimer = undefined
    for (const peer of [...this.outbox.keys()]) this.sendPushes(peer)
  }

  /** Every other frame: the peer's waiting pushes go first, so a peer stream stays FIFO (snapshot markers rely on it). */
  private transmit (peer: string, frame: Uint8Array): void {
    this.sendPushes(peer)
    // The last gate on the way out: a peer that stopped being a member after a frame was decided gets nothing.
    if (this.member(peer)) this.components.transport.send(peer, frame)
  }

  private sharingPeers (topic: string): string[] {
    const access = this.store.topic(topic).access
    return this.memberPeers().filter((p) => this.store.peers.get(p)?.topics.has(topic) === true && admits(access, p, this.trustOf))
  }

  // ---------------------------------------------------------------- direct messages

  send (peer: string, topic: string, payload: Uint8Array): void {
    this.sendDirect(peer, topic, payload, undefined)
  }

  async request (peer: string, topic: string, payload: Uint8Array, options: { timeoutMs?: number } = {}): Promise<Uint8Array> {
    const timeoutMs = options.timeoutMs ?? 10_000
    const id = this.sendDirect(peer, topic, payload, undefined)
    return await new Promise<Uint8Array>((resolve, reject) => {
      const cancelTimer = this.components.clock.setTimeout(() => {
        this.pending.delete(id)
        reject(new RequestTimeoutError(peer, topic, timeoutMs))
      }, timeoutMs)
      this.pending.set(id, { peer, topic, resolve, reject, cancelTimer })
    })
  }

  handleDirect (topic: string, handler: DirectHandler): () => void {
    this.store.topic(topic)
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function')
    this.directHandlers.set(topic, handler)
    return () => { if (this.directHandlers.get(topic) === handler) this.directHandlers.delete(topic) }
  }

  private sendDirect (peer: string, topic: string, payload: Uint8Array, re: number | undefined): number {
    this.assertOpen()
    const state = this.store.topic(topic)
    if (!(payload instanceof Uint8Array)) throw new InvalidArgumentError('payload must be a Uint8Array')
    if (payload.length > this.options.maxPayloadBytes) throw new PayloadTooLargeError(payload.length, this.options.maxPayloadBytes)
    if (!this.member(peer) || !admits(state.access, peer, this.trustOf)) throw new AccessDeniedError(topic, peer)
    const id = this.nextDirectId++
    this.transmit(peer, encodeMessage({ t: 'direct', topic, id, re, payload }))
    return id
  }

  // ---------------------------------------------------------------- receive path

  onIngress (observer: (from: string, bytes: Uint8Array) => void): () => void {
    this.ingressObservers.add(observer)
    return () => { this.ingressObservers.delete(observer) }
  }

  private receive (from: string, bytes: Uint8Array): Promise<void> {
    if (this.closed) return Promise.resolve()
    // Checked before anything else (observers, the inbox queue, decoding): a non-member's frame costs this
    // node the check and one counter, nothing that grows.
    if (!this.member(from)) { this.counters.refusedFromNonMembers++; return Promise.resolve() }
    for (const observer of this.ingressObservers) {
      try { observer(from, bytes) } catch { this.counters.handlerErrors++ }
    }
    const run = this.inbox.then(async () => { await this.process(from, bytes) })
    this.inbox = run
    return run
  }

  /** Counts a refusal; returns whether it counted as `blamed`'s misbehaviour (by default the sending peer's). */
  private reject (from: string, reason: RejectReason, blamed = from): boolean {
    this.counters.rejected[reason]++
    if (!this.options.misbehaviourReasons.has(reason) || blamed === this.did) return false
    this.store.peer(blamed).misbehaviour++
    if (blamed !== from) this.scheduleSave()
    return true
  }

  /** Reads a frame's entries in order and stops at the first one that counts as the sender's misbehaviour. */
  private async acceptEntries (from: string, entries: readonly Uint8Array[], pushed: boolean, expectedTopic: string | undefined, pushedAlsoTo?: readonly string[]): Promise<void> {
    const budget: FrameBudget = { inflate: this.options.maxInflatedBytesPerFrame, pruned: false }
    for (const entry of entries) {
      if (!await this.acceptEntry(from, entry, pushed, expectedTopic, budget, pushedAlsoTo)) return
    }
  }

  private async process (from: string, bytes: Uint8Array): Promise<void> {
    // Again at its turn: the sender may have been removed while the frame waited in the inbox.
    if (!this.member(from)) { this.counters.refusedFromNonMembers++; return }
    try {
      if (!(bytes instanceof Uint8Array) || bytes.length > this.options.maxFrameBytes) { this.reject(from, 'too-large'); return }
      let message: WireMessage
      try { message = decodeMessage(bytes) } catch { this.reject(from, 'malformed'); return }
      switch (message.t) {
        case 'push': await this.acceptEntries(from, message.entries, true, undefined, message.also); break
        case 'entries': await this.onEntries(from, message); break
        case 'sync': this.onSync(from, message); break
        case 'want': this.onWant(from, message); break
        case 'topics': this.onTopics(from, message); break
        case 'direct': await this.onDirect(from, message); break
        case 'have': this.onHave(from, message); break
        case 'graft': this.onGraft(from, message); break
        case 'prune': this.onPrune(from, message); break
      }
    } catch {
      // Unreachable by design (every check above counts its own reason); kept so a bug can never escape the receive path.
      this.reject(from, 'malformed')
    }
  }

  /**
   * The ingress checks of an entry, in order: shape and bounds (no inflate), topic, dedup by the declared
   * id, peer access, signature (over the bytes as received), author membership, declared size and the
   * frame's inflate budget, then bounded inflate and id, clock bounds, clock skew, author access,
   * validator; then store, deliver, and — for pushed entries — push on. (The sending peer's membership
   * was checked when its frame arrived.) Returns false when the refusal counted as the sender's
   * misbehaviour: the caller stops reading the frame.
   */
  private async acceptEntry (
    from: string, bytes: Uint8Array, pushed: boolean, expectedTopic: string | undefined, budget: FrameBudget, pushedAlsoTo: readonly string[] = []
  ): Promise<boolean> {
    const refuse = (error: unknown): boolean => !this.reject(from, error instanceof InvalidEntryError ? (error.reason as RejectReason) : 'malformed')
    let decoded: DecodedEntry
    try {
      decoded = decodeEntry(bytes, this.options)
    } catch (error) {
      return refuse(error)
    }
    const body = decoded.envelope.payload
    if (expectedTopic !== undefined && body.topic !== expectedTopic) return !this.reject(from, 'malformed')
    const topic = this.store.topics.get(body.topic)
    if (topic === undefined) return !this.reject(from, 'unknown-topic')
    // A forged entry naming an id this node holds is dropped here too, unverified: it cannot displace the real one.
    if (topic.log.has(decoded.idHex)) {
      this.counters.duplicates++
      // A pushed entry that came before by another way: this link is not needed for whole entries.
      if (pushed && !budget.pruned && !this.tree.wasFetched(decoded.idHex)) { budget.pruned = true; this.prunePeer(from, body.topic) }
      return true
    }
    if (!admits(topic.access, from, this.trustOf)) return !this.reject(from, 'access-denied')
    try {
      verifyEntrySignature(decoded)
    } catch {
      return !this.reject(from, 'bad-signature')
    }
    if (!this.member(body.author)) { this.rememberRefusedForMembership(body.topic, decoded.idHex, body.author); return !this.reject(from, 'non-member-author') }
    if (body.encoding === 'deflate-raw' && body.size <= this.options.maxPayloadBytes) {
      if (body.size > budget.inflate) return !this.reject(from, 'inflate-budget')
      budget.inflate -= body.size
      this.counters.inflated++
      this.counters.inflatedBytes += body.size
    }
    let entry: StoredEntry
    try {
      entry = inflateEntry(decoded, this.options)
    } catch (error) {
      return refuse(error)
    }
    if (!decoded.clockInBounds) {
      // The author signed the oversized clock; a relaying peer may run wider bounds (or an older version), so
      // the author is judged and the relayer's frame goes on. The id is proved by now, so remembering it
      // (not to pull it again) cannot shadow another entry.
      this.rememberRejected(body.topic, entry.idHex)
      return !this.reject(from, 'clock-bound', body.author) || from !== body.author
    }
    const now = this.components.clock.now()
    if (body.timestamp > now + this.options.maxClockSkewMs) { this.reject(from, 'future'); return true }
    const published = toGossipEntry(entry)
    if (!admits(topic.access, body.author, this.trustOf)) { this.rememberRejected(body.topic, entry.idHex); return !this.reject(from, 'access-denied') }
    if (!this.runValidator(body.topic, published)) { this.rememberRejected(body.topic, entry.idHex); return !this.reject(from, 'validator') }
    if (this.store.add(entry, now) !== 'added') return !this.reject(from, 'expired')
    this.refusedForMembership.get(body.topic)?.delete(entry.idHex)
    const announcers = this.tree.settled(entry.idHex)
    if (!pushed) this.tree.fetched(entry.idHex)
    this.counters.accepted++
    this.ticks.wake()
    this.scheduleSave()
    for (const handler of [...(this.handlers.get(body.topic) ?? [])]) {
      this.counters.delivered++
      try { await handler(published) } catch { this.counters.handlerErrors++ }
    }
    if (pushed && !this.closed) this.pushEntry(entry, from, announcers.length === 0 ? pushedAlsoTo : [...pushedAlsoTo, ...announcers])
    return true
  }

  private rememberRejected (topic: string, idHex: string): void {
    let set = this.rejectedIds.get(topic)
    if (set === undefined) { set = new Set(); this.rejectedIds.set(topic, set) }
    if (set.size >= MAX_REJECTED_IDS) set.delete(set.values().next().value as string)
    set.add(idHex)
  }

  private rememberRefusedForMembership (topic: string, idHex: string, author: string): void {
    let refused = this.refusedForMembership.get(topic)
    if (refused === undefined) { refused = new Map(); this.refusedForMembership.set(topic, refused) }
    if (!refused.has(idHex) && refused.size >= MAX_REJECTED_IDS) refused.delete(refused.keys().next().value as string)
    refused.set(idHex, author)
  }

  private onTopics (from: string, message: TopicsMessage): void {
    const record = this.store.peer(from)
    record.topics = new Set(message.topics)
    if (this.announced.get(from)?.version !== this.topicsVersion) this.announce(from)
    this.scheduleSave()
  }

  private announce (peer: string): void {
    this.transmit(peer, encodeMessage({ t: 'topics', topics: [...this.store.topics.keys()].sort() }))
    this.announced.set(peer, { version: this.topicsVersion, at: this.components.clock.now() })
  }

  // ---------------------------------------------------------------- push tree

  private prunePeer (peer: string, topic: string): void {
    this.tree.prune(topic, peer)
    this.counters.prunesSent++
    this.transmit(peer, encodeMessage({ t: 'prune', topic }))
  }

  private onPrune (from: string, message: PruneMessage): void {
    if (!this.store.topics.has(message.topic)) { this.reject(from, 'unknown-topic'); return }
    this.tree.prune(message.topic, from)
  }

  private onHave (from: string, message: HaveMessage): void {
    const topic = this.store.topics.get(message.topic)
    if (topic === undefined) { this.reject(from, 'unknown-topic'); return }
    if (!admits(topic.access, from, this.trustOf)) { this.reject(from, 'access-denied'); return }
    const dueAt = this.components.clock.now() + this.options.lazyTimeoutMs
    for (const id of message.ids) {
      const idHex = toHex(id)
      if (this.worthFetching(message.topic, idHex)) this.tree.announced(message.topic, idHex, from, dueAt)
    }
    this.armGraftTimer()
  }

  private onGraft (from: string, message: GraftMessage): void {
    const topic = this.store.topics.get(message.topic)
    if (topic === undefined) { this.reject(from, 'unknown-topic'); return }
    if (!admits(topic.access, from, this.trustOf)) { this.reject(from, 'access-denied'); return }
    // The link turns eager whatever the budget says, so the tree stays repaired; sending entries costs the pull budget.
    this.tree.graft(message.topic, from)
    if (message.ids.length === 0) return
    if (!this.bucket(this.pullBuckets, from, this.options.pullRate).take(this.components.clock.now())) { this.reject(from, 'rate-limited'); return }
    const none = new Set<string>()
    for (const id of message.ids) {
      const entry = topic.log.get(toHex(id))
      if (entry !== undefined) this.queuePush(from, entry, none)
    }
  }

  /** One timer for the earliest announced id still missing. */
  private armGraftTimer (): void {
    const dueAt = this.tree.nextDueAt()
    if (dueAt === undefined || this.closed) return
    if (this.cancelGraftTimer !== undefined && this.graftDueAt <= dueAt) return
    this.cancelGraftTimer?.()
    this.graftDueAt = dueAt
    this.cancelGraftTimer = this.components.clock.setTimeout(() => {
      this.cancelGraftTimer = undefined
      if (!this.closed) this.sendGrafts()
    }, Math.max(0, dueAt - this.components.clock.now()))
  }

  /** Asks the first announcer of every id still missing at its due time for it, and makes that link eager. */
  private sendGrafts (): void {
    const now = this.components.clock.now()
    const held = (topic: string, id: string): boolean => this.store.topics.get(topic)?.log.has(id) !== false
    const connected = new Set(this.memberPeers())
    for (const [peer, perTopic] of this.tree.due(now, held, now + this.options.lazyTimeoutMs)) {
      if (!connected.has(peer)) continue
      for (const [topic, ids] of perTopic) {
        this.tree.graft(topic, peer)
        for (const id of ids) this.tree.fetched(id)
        this.counters.idsGrafted += ids.length
        this.transmit(peer, encodeMessage({ t: 'graft', topic, ids: ids.map(fromHex) }))
      }
    }
    this.armGraftTimer()
  }

  private async onDirect (from: string, message: DirectMessage): Promise<void> {
    const topic = this.store.topics.get(message.topic)
    if (topic === undefined) { this.reject(from, 'unknown-topic'); return }
    if (!admits(topic.access, from, this.trustOf)) { this.reject(from, 'access-denied'); return }
    if (message.re !== undefined) {
      const waiting = this.pending.get(message.re)
      if (waiting !== undefined && waiting.peer === from && waiting.topic === message.topic) {
        this.pending.delete(message.re)
        waiting.cancelTimer()
        waiting.resolve(message.payload)
        return
      }
    }
    const handler = this.directHandlers.get(message.topic)
    if (handler === undefined) { this.reject(from, 'no-handler'); return }
    const reply = (payload: Uint8Array): void => { this.sendDirect(from, message.topic, payload, message.id) }
    try {
      await handler({ from, topic: message.topic, payload: message.payload, reply })
    } catch {
      this.counters.handlerErrors++
    }
  }

  // ---------------------------------------------------------------- anti-entropy

  private newNonce (): Uint8Array {
    const nonce = new Uint8Array(16)
    nonce.set(this.noncePrefix, 0)
    new DataView(nonce.buffer).setFloat64(8, ++this.nonceCounter)
    return nonce
  }

  private bucket (buckets: Map<string, TokenBucket>, peer: string, rate: { burst: number, perSecond: number }): TokenBucket {
    let bucket = buckets.get(peer)
    if (bucket === undefined) {
      bucket = new TokenBucket(rate.burst, rate.perSecond, this.components.clock.now())
      buckets.set(peer, bucket)
    }
    return bucket
  }

  private sendSync (peer: string, message: Omit<SyncMessage, 't' | 'nonce' | 'at'>): void {
    const frame = encodeMessage({ t: 'sync', nonce: this.newNonce(), at: this.components.clock.now(), ...message })
    this.counters.syncMessagesSent++
    this.counters.syncBytesSent += frame.length
    this.transmit(peer, frame)
  }

  private startSync (peer: string, topic: string): void {
    const log = this.store.topic(topic).log
    const lower = log.floor(this.components.clock.now())
    this.counters.syncsStarted++
    this.sendSync(peer, { topic, round: 0, lower, ranges: openingRanges(log.items, lower) })
  }

  private onSync (from: string, message: SyncMessage): void {
    const topic = this.store.topics.get(message.topic)
    if (topic === undefined) { this.reject(from, 'unknown-topic'); return }
    if (!admits(topic.access, from, this.trustOf)) { this.reject(from, 'access-denied'); return }
    const now = this.components.clock.now()
    if (!this.bucket(this.syncBuckets, from, this.options.syncRate).take(now)) { this.reject(from, 'rate-limited'); return }
    if (Math.abs(now - message.at) > this.options.nonceTtlMs / 2) { this.reject(from, 'stale-nonce'); return }
    if (!this.store.rememberNonce(from, toHex(message.nonce), now, this.options.nonceTtlMs)) { this.reject(from, 'replayed-nonce'); return }
    if (message.round >= this.options.maxSyncRounds) { this.reject(from, 'rounds-exceeded'); return }
    this.store.peer(from).topics.add(message.topic)
    const log = topic.log
    const floor = log.floor(now)
    if (compareKeys(floor, message.lower) > 0) {
      // We keep less than the peer asked about: restart the exchange above our floor.
      this.sendSync(from, { topic: message.topic, round: message.round + 1, lower: floor, ranges: openingRanges(log.items, floor) })
      return
    }
    let step
    try {
      step = reconcile(log.items, message.lower, message.ranges, this.options.reconcile)
    } catch (error) {
      if (!(error instanceof RangeOrderError)) throw error
      this.reject(from, 'malformed')
      return
    }
    if (step.reply.length > 0) this.sendSync(from, { topic: message.topic, round: message.round + 1, lower: message.lower, ranges: step.reply })
    if (step.need.length > 0) this.enqueuePull(from, message.topic, step.need.map(toHex))
  }

  private enqueuePull (peer: string, topic: string, ids: string[]): void {
    let perTopic = this.pulls.get(peer)
    if (perTopic === undefined) { perTopic = new Map(); this.pulls.set(peer, perTopic) }
    let state = perTopic.get(topic)
    if (state === undefined) { state = { queue: [], queued: new Set() }; perTopic.set(topic, state) }
    for (const id of ids) {
      if (state.queued.has(id) || !this.worthFetching(topic, id)) continue
      state.queue.push(id)
      state.queued.add(id)
    }
    if (state.inFlight === undefined) this.sendPullPage(peer, topic, state)
  }

  /**
   * Whether an id a peer offers (by reconciliation or `have`) is worth fetching: not held, not refused on
   * its content, and not by an author refused for membership who is still not a member (one who has become
   * a member since is forgotten there, so the entry is judged again).
   */
  private worthFetching (topic: string, id: string): boolean {
    if (this.store.topics.get(topic)?.log.has(id) !== false || this.rejectedIds.get(topic)?.has(id) === true) return false
    const refused = this.refusedForMembership.get(topic)
    const author = refused?.get(id)
    if (author === undefined) return true
    if (!this.member(author)) return false
    refused?.delete(id)
    return true
  }

  /** Sends the next page of the pull cursor, or forgets the cursor when nothing is left. */
  private sendPullPage (peer: string, topic: string, state: PullState): void {
    const log = this.store.topics.get(topic)?.log
    const page: string[] = []
    while (page.length < this.options.pullPageSize && state.queue.length > 0) {
      const id = state.queue.shift() as string
      if (log?.has(id) === true) state.queued.delete(id)
      else page.push(id)
    }
    if (page.length === 0) {
      state.inFlight = undefined
      this.pulls.get(peer)?.delete(topic)
      return
    }
    const nonce = this.newNonce()
    state.inFlight = { nonce: toHex(nonce), ids: page, sentAt: this.components.clock.now() }
    this.counters.pullsSent++
    this.transmit(peer, encodeMessage({ t: 'want', topic, nonce, ids: page.map(fromHex) }))
  }

  private onWant (from: string, message: WantMessage): void {
    const topic = this.store.topics.get(message.topic)
    if (topic === undefined) { this.reject(from, 'unknown-topic'); return }
    if (!admits(topic.access, from, this.trustOf)) { this.reject(from, 'access-denied'); return }
    if (!this.bucket(this.pullBuckets, from, this.options.pullRate).take(this.components.clock.now())) { this.reject(from, 'rate-limited'); return }
    const budget = Math.floor(this.options.maxFrameBytes / 2)
    const entries: Uint8Array[] = []
    let size = 0
    let inflated = 0
    for (const id of message.ids) {
      const entry = topic.log.get(toHex(id))
      if (entry === undefined) continue
      if (size + entry.bytes.length > budget || inflated + inflatedSize(entry) > this.options.maxInflatedBytesPerFrame) break
      entries.push(entry.bytes)
      size += entry.bytes.length
      inflated += inflatedSize(entry)
    }
    this.transmit(from, encodeMessage({ t: 'entries', topic: message.topic, re: message.nonce, entries }))
  }

  private async onEntries (from: string, message: EntriesMessage): Promise<void> {
    if (!this.store.topics.has(message.topic)) { this.reject(from, 'unknown-topic'); return }
    const state = this.pulls.get(from)?.get(message.topic)
    const answersCursor = state?.inFlight?.nonce === toHex(message.re)
    if (!answersCursor) this.counters.unsolicitedReplies++
    // Late or unsolicited replies are still checked and used: every entry passes the same ingress checks.
    await this.acceptEntries(from, message.entries, false, message.topic)
    if (answersCursor && state?.inFlight !== undefined && !this.closed) {
      for (const id of state.inFlight.ids) state.queued.delete(id)
      state.inFlight = undefined
      this.sendPullPage(from, message.topic, state)
    }
  }

  syncNow (peer?: string): void {
    this.assertOpen()
    const shared = (p: string): string[] => [...this.store.topics.keys()].filter((t) => this.sharingPeers(t).includes(p))
    let target = peer
    let topics: string[]
    if (target === undefined) {
      const candidates = this.memberPeers().filter((p) => shared(p).length > 0)
      if (candidates.length === 0) return
      const oldest = Math.min(...candidates.map((p) => this.store.peer(p).lastSyncAt))
      const due = candidates.filter((p) => this.store.peer(p).lastSyncAt === oldest)
      target = due[Math.floor(this.random() * due.length)] as string
      topics = shared(target)
    } else {
      // An explicit peer is synced on every topic it may see, announced or not; a non-member on none.
      if (!this.member(target)) return
      const who = target
      topics = [...this.store.topics.entries()].filter(([, t]) => admits(t.access, who, this.trustOf)).map(([name]) => name)
    }
    this.store.peer(target).lastSyncAt = this.components.clock.now()
    for (const topic of topics) this.startSync(target, topic)
  }

  private tick (): void {
    if (this.closed) return
    try {
      this.runTick()
    } catch {
      // A timer callback must never throw into the clock; the next tick retries.
      this.counters.tickErrors++
    }
  }

  private runTick (): void {
    const now = this.components.clock.now()
    let evicted = 0
    for (const { log } of this.store.topics.values()) evicted += log.evictExpired(now)
    if (evicted > 0) this.scheduleSave()
    const connected = new Set(this.memberPeers())
    this.tree.retainPeers(connected)
    for (const peer of connected) {
      const sent = this.announced.get(peer)
      if (this.store.topics.size > 0 && (sent === undefined || sent.version !== this.topicsVersion || now - sent.at >= this.options.announceIntervalMs)) this.announce(peer)
    }
    for (const [peer, perTopic] of this.pulls) {
      if (!connected.has(peer)) { this.pulls.delete(peer); continue }
      for (const [topic, state] of perTopic) {
        if (state.inFlight !== undefined && now - state.inFlight.sentAt >= this.options.pullTimeoutMs) {
          state.queue.unshift(...state.inFlight.ids)
          state.inFlight = undefined
          this.sendPullPage(peer, topic, state)
        }
      }
    }
    this.syncNow()
  }

  // ---------------------------------------------------------------- persistence and lifecycle

  misbehaviour (peer: string): number {
    return this.store.peers.get(peer)?.misbehaviour ?? 0
  }

  forgetPeer (did: string): void {
    this.assertOpen()
    if (typeof did !== 'string') throw new InvalidArgumentError('did must be a string')
    this.forget(did)
  }

  forgetNonMembers (): number {
    this.assertOpen()
    const dids = new Set([...this.store.peers.keys(), ...this.store.clock.keys()])
    let forgotten = 0
    for (const did of dids) if (did !== this.did && !this.member(did) && this.forget(did)) forgotten++
    return forgotten
  }

  /** Drops every per-peer record of `did`; saves when the snapshot file changes. */
  private forget (did: string): boolean {
    this.syncBuckets.delete(did)
    this.pullBuckets.delete(did)
    this.pulls.delete(did)
    this.announced.delete(did)
    this.outbox.delete(did)
    this.haveOutbox.delete(did)
    this.tree.forgetPeer(did)
    const changed = this.store.forget(did, did === this.did)
    if (changed) this.scheduleSave()
    return changed
  }

  stats (): GossipStats {
    return { ...this.counters, rejected: { ...this.counters.rejected } }
  }

  private scheduleSave (): void {
    if (this.store.path === undefined || this.closed || this.cancelSave !== undefined) return
    this.cancelSave = this.components.clock.setTimeout(() => {
      this.cancelSave = undefined
      this.track(this.save())
    }, this.options.saveDelayMs)
  }

  private async save (): Promise<void> {
    if (this.store.path === undefined) return
    try {
      await this.store.save()
      this.counters.saves++
    } catch (error) {
      this.counters.saveFailures++
      throw error
    }
  }

  /** Keeps a background promise until it settles, so `close` can await it; its failure is already counted. */
  private track (work: Promise<void>): void {
    const settled = work.catch(() => undefined).finally(() => { this.background.delete(settled) })
    this.background.add(settled)
  }

  async flush (): Promise<void> {
    this.assertOpen()
    await this.save()
  }

  // Neither waits for the frame being processed: the snapshot coordinator calls
  // these from inside a direct-message handler, and every store change is
  // synchronous, so the state read here is always a consistent one.
  async exportState (): Promise<Uint8Array> {
    this.assertOpen()
    return this.store.exportState()
  }

  async restoreState (state: Uint8Array): Promise<void> {
    this.assertOpen()
    this.store.restoreState(state, this.components.clock.now())
    this.pulls.clear()
    this.tree.clear()
    this.topicsVersion++
    for (const peer of this.memberPeers()) this.announce(peer)
    await this.save()
  }

  private assertOpen (): void {
    if (this.closed) throw new ClosedError()
  }

  private checkTopicName (topic: string): void {
    if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) throw new InvalidArgumentError(`topic must be a non-empty string of at most ${MAX_TOPIC_LENGTH} characters`)
  }

  async close (): Promise<void> {
    if (this.closing !== undefined) { await this.closing; return }
    this.closed = true
    this.closing = (async () => {
      this.stopListening?.()
      this.flushPushes()
      this.ticks.stop()
      this.cancelGraftTimer?.()
      this.cancelGraftTimer = undefined
      this.cancelHaveTimer?.()
      this.cancelHaveTimer = undefined
      for (const peer of [...this.haveOutbox.keys()]) this.sendHaves(peer)
      this.cancelSave?.()
      this.cancelSave = undefined
      for (const [id, request] of this.pending) {
        request.cancelTimer()
        request.reject(new ClosedError())
        this.pending.delete(id)
      }
      await this.inbox
      await Promise.all([...this.background])
      await this.save()
    })()
    await this.closing
  }

  async shutdown (): Promise<void> {
    await this.close()
  }
}
