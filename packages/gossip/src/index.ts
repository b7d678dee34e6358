/**
 * @packageDocumentation
 * @icn/gossip — signed topic gossip for ICN nodes: eager push plus range-based
 * anti-entropy that always completes, direct request/response messages, topic
 * access rules and validators, persisted as an atomic checksummed JSON snapshot.
 *
 * Transport-agnostic: give it a {@link MessageTransport} (the testkit's
 * `SimEndpoint` fits), a clock, a key pair, a `trustOf` lookup and, in a closed
 * network, an `isMember` check.
 *
 * **Membership is node-wide, not a topic access rule.** A network is closed as a
 * whole, so every topic a node carries is members-only: `isMember` is asked before
 * any topic rule, of every peer a frame comes from or goes to and of every entry's
 * author, and the {@link AccessRule}s (`public`, `min-trust`, `participants`) only
 * narrow further among members. A per-topic `members` kind was not chosen because
 * one topic created without it (any subsystem creates topics) would reopen the
 * network to outsiders, and a non-member's frame would have to be decoded before
 * its topic's rule could be read.
 */
import type { Clock, IsMember, KeyPair } from '@icn/identity'
import type { AccessRule } from './access.js'
import { GossipNode } from './gossip.js'

export { type AccessRule, DEFAULT_MIN_TRUST } from './access.js'
export {
  type GossipErrorCode, GossipError, UnknownTopicError, TopicExistsError, AccessDeniedError, PayloadTooLargeError,
  InvalidArgumentError, EntryValidationError, InvalidEntryError, InvalidStateError, ClosedError, RequestTimeoutError
} from './errors.js'
export { type EntryBody, type StoredEntry, type EntryDraft, type EntryLimits, type EntryRejection, createEntry, parseEntry } from './entry.js'
export { GossipStore, type GossipStoreInit, type PeerRecord, type TopicState } from './store.js'
export { type Key, type Range, type ReconcileOptions, type ReconcileStep, reconcile, openingRanges, fingerprint, MIN_KEY } from './reconcile.js'
export { type WireMessage, encodeMessage, decodeMessage, WireError } from './wire.js'
export { ENTRY_DOMAIN, DEFAULT_MAX_CLOCK_COMPONENTS, MAX_CLOCK_COUNTER, MAX_MERGED_COUNTER } from './constants.js'
export { DEFAULT_MISBEHAVIOUR_REASONS } from './options.js'

/** The transport gossip runs over (interfaces.md §2); FIFO per peer pair, may lose on disconnect. */
export interface MessageTransport {
  /** The local peer id (a `did:icn` DID in a node). */
  readonly id: string
  send(peer: string, bytes: Uint8Array): void
  onMessage(handler: (from: string, bytes: Uint8Array) => void | Promise<void>): () => void
  /** Peers currently connected. */
  peers(): string[]
}

/** Injected dependencies. */
export interface GossipComponents {
  transport: MessageTransport
  clock: Clock
  /** The node's identity: signs its entries. */
  keyPair: KeyPair
  /** Trust score in [0, 1] of a DID, for `min-trust` topics. Default: 0 for everyone (such topics admit no one). */
  trustOf?: (did: string) => number
  /** Uniform [0, 1) source (which of the peers synced longest ago anti-entropy picks). @default Math.random */
  random?: () => number
  /**
   * Whether a DID is a member of the network now (and not frozen); asked on every frame, so it must be cheap.
   * A frame from a peer it refuses is dropped unread before any state is created (counted in
   * `stats().refusedFromNonMembers`); nothing is sent to such a peer (`send`/`request` throw
   * `AccessDeniedError`); an entry whose author (signer) it refuses is not stored, relayed or delivered
   * (`stats().rejected['non-member-author']`) and is not remembered as refused for longer than the author
   * stays a non-member, so anti-entropy brings it again once this node's membership view has caught up.
   * This node's own `publish` is refused (`AccessDeniedError`) while it is not a member. Throwing counts as false.
   * @default every DID is a member
   */
  isMember?: IsMember
}

/** Range-reconciliation tuning. */
export interface ReconcileInit {
  /** @default 16 */
  branching?: number
  /** @default 32 */
  idThreshold?: number
  /** @default 128 */
  maxRanges?: number
}

/** Options. */
export interface GossipInit {
  /** Snapshot file holding the node's gossip state; omit for memory only. */
  path?: string
  /**
   * Whether the snapshot file holds the entries too. A node whose subsystems keep every entry in
   * their own stores (and serve them with history sync) sets `false`: the file then holds the vector
   * clock, topics and peer records only, so a save's cost is bounded by the peers, not the history,
   * and entries live in memory as a cache of recent ones. @default true
   */
  persistEntries?: boolean
  /** Retention window of entries. @default 2_592_000_000 (30 days) */
  retentionMs?: number
  /** Entries kept per topic; the lowest (timestamp, id) goes first. @default 10000 */
  maxEntriesPerTopic?: number
  /** Largest uncompressed payload: a larger declared size is refused before inflating. @default 10485760 (10 MiB) */
  maxPayloadBytes?: number
  /** Payloads of this many bytes or more are deflated when smaller that way. @default 1024 */
  compressThreshold?: number
  /** Largest frame accepted from the transport. @default 16777216 (16 MiB) */
  maxFrameBytes?: number
  /**
   * Total bytes the entries of one received frame may inflate to, counted by their signed declared sizes
   * before inflating (each inflate is bounded by its entry's size with zlib's `maxOutputLength`). The entry
   * that would exceed it is refused (`inflate-budget`) and the rest of the frame is not read. Frames this
   * node sends keep within its own budget. At least `maxPayloadBytes`.
   * @default max(2 × maxFrameBytes, maxPayloadBytes)
   */
  maxInflatedBytesPerFrame?: number
  /**
   * Most components a received entry's vector clock may have (counters are bounded by `MAX_CLOCK_COUNTER`,
   * 2^48 − 1); a larger clock is refused (`clock-bound`). The node's own clock keeps at most this many
   * (members only, counters up to `MAX_MERGED_COUNTER`), so the entries it publishes stay within it.
   * Set it above the network's member count. @default 1024
   */
  maxClockComponents?: number
  /**
   * Rejections that raise a misbehaviour count. The default
   * leaves out `replayed-nonce` because a lossy transport (or the simulated
   * network) may deliver an honest digest twice; over a stream transport that
   * never duplicates frames, add it, since then a repeated nonce is a replay.
   * The first entry of a frame whose rejection counts stops the frame: the
   * rest of it is not read, so a frame counts once. `clock-bound` counts
   * against the entry's author, not the peer relaying it (which then goes on).
   * @default ['malformed', 'too-large', 'decompression', 'bad-id', 'bad-signature', 'validator', 'inflate-budget', 'clock-bound']
   */
  misbehaviourReasons?: readonly RejectReason[]
  /**
   * An id announced by a lazy peer (`have`) and still missing this long later is asked for (`graft`), from
   * the next announcer after as long again. @default 500
   */
  lazyTimeoutMs?: number
  /** Announcements (`have`) wait this long, so the ids of entries that flow together share a frame. @default 50 */
  haveDelayMs?: number
  /**
   * Period of anti-entropy (one peer per tick, every shared topic) while entries flow. Each tick that
   * follows one with nothing published or accepted doubles the period, up to `antiEntropyMaxIntervalMs`;
   * a publish or an accepted entry brings it back at once. @default 2000
   */
  antiEntropyIntervalMs?: number
  /** Longest period of anti-entropy while nothing changes (at least `antiEntropyIntervalMs`). @default max(30000, antiEntropyIntervalMs) */
  antiEntropyMaxIntervalMs?: number
  /** Re-announce carried topics to a peer after this long. @default 60000 */
  announceIntervalMs?: number
  /** Entries per pull page. @default 64 */
  pullPageSize?: number
  /** Re-request an unanswered pull page after this long. @default 5000 */
  pullTimeoutMs?: number
  /** Per-peer budget of reconciliation messages: burst and refill per second. @default { burst: 64, perSecond: 32 } */
  syncRate?: { burst: number, perSecond: number }
  /** Per-peer budget of pull requests. @default { burst: 32, perSecond: 16 } */
  pullRate?: { burst: number, perSecond: number }
  /** Digest nonces are remembered this long; digests stamped further than half of it from now are refused. @default 600000 */
  nonceTtlMs?: number
  /** Entries stamped further than this in the future are refused (until then). @default 300000 */
  maxClockSkewMs?: number
  /** Rounds after which a reconciliation exchange is abandoned. @default 64 */
  maxSyncRounds?: number
  /** Save the snapshot file this long after a change (and on close). @default 1000 */
  saveDelayMs?: number
  reconcile?: ReconcileInit
}

/** A delivered or stored entry. */
export interface GossipEntry {
  /** Hex sha-256 of the payload. */
  readonly id: string
  /** CID of the signed envelope. */
  readonly cid: string
  readonly topic: string
  readonly author: string
  readonly payload: Uint8Array
  readonly timestamp: number
  readonly clock: Readonly<Record<string, number>>
}

export type EntryHandler = (entry: GossipEntry) => void | Promise<void>
/** Returns whether a received entry is acceptable (the owning subsystem's check). Throwing counts as false. */
export type EntryValidator = (entry: GossipEntry) => boolean

/** A received direct message; `reply` answers on the same topic to the sender. */
export interface DirectMessageEvent {
  readonly from: string
  readonly topic: string
  readonly payload: Uint8Array
  reply(payload: Uint8Array): void
}
export type DirectHandler = (message: DirectMessageEvent) => void | Promise<void>

/**
 * Why a frame or entry was refused. `inflate-budget`: the entry's declared size would take the frame past
 * `maxInflatedBytesPerFrame`; `clock-bound`: its vector clock exceeds `maxClockComponents` or `MAX_CLOCK_COUNTER`.
 */
export type RejectReason =
  | 'malformed' | 'too-large' | 'decompression' | 'bad-id' | 'bad-signature' | 'unknown-topic' | 'access-denied'
  | 'validator' | 'expired' | 'future' | 'replayed-nonce' | 'stale-nonce' | 'rate-limited' | 'rounds-exceeded'
  | 'no-handler' | 'non-member-author' | 'inflate-budget' | 'clock-bound'

export interface GossipStats {
  published: number
  /** Entries accepted from peers. */
  accepted: number
  /** Entries received again (already stored). */
  duplicates: number
  /** Handler calls made (subscriptions). */
  delivered: number
  handlerErrors: number
  /** Pull replies that answer no page in flight (late or unasked); their entries still pass every check and are used. */
  unsolicitedReplies: number
  rejected: Record<RejectReason, number>
  /** Received entry payloads inflated (each only after its signature was checked). */
  inflated: number
  /** Bytes those inflates were allowed (their declared sizes; each inflate stops there). */
  inflatedBytes: number
  syncsStarted: number
  syncMessagesSent: number
  syncBytesSent: number
  pullsSent: number
  saves: number
  saveFailures: number
  /** Anti-entropy ticks that hit an unexpected error (the timer keeps running). */
  tickErrors: number
  /** Frames dropped unread because their sender is not a member (`isMember`); no other state records them. */
  refusedFromNonMembers: number
  /** Entry ids sent in `have` frames (lazy links of the push tree) instead of the entries. */
  idsAnnounced: number
  /** Announced ids asked for (`graft`) because they had not arrived by push within `lazyTimeoutMs`. */
  idsGrafted: number
  /** `prune` frames sent: a pushed entry arrived that this node held already. */
  prunesSent: number
}

export interface TopicInfo {
  readonly name: string
  readonly access: AccessRule
  readonly entries: number
}

/** The gossip handle a node uses. */
export interface Gossip {
  readonly peerId: string
  /** Creates a topic this node carries (idempotent for the same rule). Unknown topics are refused on the wire. */
  createTopic(topic: string, access?: AccessRule): void
  /** Carried topics, sorted by name. */
  topics(): TopicInfo[]
  /** Registers the topic's validator (replacing any earlier one). */
  setValidator(topic: string, validator: EntryValidator): void
  /** Adds a handler for entries received from peers; returns a function that removes it. */
  subscribe(topic: string, handler: EntryHandler): () => void
  /** Removes one handler, or every handler of the topic. */
  unsubscribe(topic: string, handler?: EntryHandler): void
  /** Signs, stores and pushes a payload; publishing the same payload again returns the stored entry. */
  publish(topic: string, payload: Uint8Array): Promise<GossipEntry>
  /** Stored entries of a topic in (timestamp, id) order. */
  entries(topic: string): GossipEntry[]
  /** Sends a direct message (point-to-point, FIFO). */
  send(peer: string, topic: string, payload: Uint8Array): void
  /** Sends a direct message and resolves with the reply; `RequestTimeoutError` after `timeoutMs` (default 10 s). */
  request(peer: string, topic: string, payload: Uint8Array, options?: { timeoutMs?: number }): Promise<Uint8Array>
  /** Sets the topic's direct-message handler; returns a function that removes it. */
  handleDirect(topic: string, handler: DirectHandler): () => void
  /** Observes every frame received from a member peer, before processing (for channel recording). */
  onIngress(observer: (from: string, bytes: Uint8Array) => void): () => void
  /**
   * Invalid entries and malformed frames received from `peer` (once per frame: a frame stops at its first),
   * plus entries it authored with a clock over the bounds, whoever relayed them.
   */
  misbehaviour(peer: string): number
  /**
   * Forgets what this node keeps about `did` — its peer record (announced topics, misbehaviour,
   * `lastSyncAt`, digest nonces), its vector-clock component, its rate budgets, pull cursors and waiting
   * pushes — and arms a save, so the snapshot file stops holding them `saveDelayMs` later (at once with
   * `flush`/`close`). A node calls it when a member is removed, so the file does not keep identities that
   * no longer belong. Entries it authored stay until retention or capacity evicts them. This node's own
   * clock component is kept (its counter must not go back). An unknown DID is a no-op; `ClosedError` once closed.
   */
  forgetPeer(did: string): void
  /**
   * `forgetPeer` for every DID in the peer records and the vector clock that `isMember` refuses now (this
   * node's own excepted), e.g. once at start-up after governance has loaded; returns how many were forgotten.
   */
  forgetNonMembers(): number
  stats(): GossipStats
  /** Runs one anti-entropy tick now (with `peer`, or the least recently synced). */
  syncNow(peer?: string): void
  /** Writes the snapshot file now. */
  flush(): Promise<void>
  /** The replicated state (topics, access rules, and the entries unless `persistEntries` is false). */
  exportState(): Promise<Uint8Array>
  /** Replaces topics and entries (none, for a state exported without them) after checking all of it. */
  restoreState(state: Uint8Array): Promise<void>
  /** Stops timers, awaits in-flight work and saves. Idempotent. */
  close(): Promise<void>
  /** Alias of `close`. */
  shutdown(): Promise<void>
}

/** Opens a gossip node: loads `init.path` (refusing a corrupt file with `CorruptFileError`) and starts anti-entropy. */
export async function createGossip (components: GossipComponents, init: GossipInit = {}): Promise<Gossip> {
  return await GossipNode.open(components, init)
}

export {
  type HistoryDigest, type HistoryApplied, type HistorySource, type HistoryMessaging, type HistorySyncComponents, type HistorySyncInit,
  type HistoryPeerProgress, type HistoryServeStats, type HistorySync, HistoryProtocolError, HistoryRefusedError, createHistorySync
} from './history-sync.js'
