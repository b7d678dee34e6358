/**
 * The gossip store: topics (with access rules), their entry logs, the node's
 * vector clock and what it knows about peers, persisted as one atomic,
 * checksummed JSON snapshot file (`@icn/identity/fs`). Also the canonical
 * `exportState`/`restoreState` encoding used by distributed snapshots.
 */
import { CorruptFileError, readJsonSnapshot, writeJsonSnapshot } from '@icn/identity/fs'
import { decode, encode } from '@icn/identity'
import { type AccessRule, normaliseAccessRule, sameAccessRule } from './access.js'
import { DEFAULT_MAX_CLOCK_COMPONENTS, MAX_MERGED_COUNTER, MAX_NONCES_PER_PEER, STATE_FILE_FORMAT, STATE_VERSION } from './constants.js'
import { type EntryLimits, type StoredEntry, parseEntry } from './entry.js'
import { InvalidStateError, TopicExistsError, UnknownTopicError } from './errors.js'
import { type AddResult, TopicLog, type TopicLogLimits } from './topic-log.js'

/** What a node remembers about a peer across restarts. */
export interface PeerRecord {
  /** Topics the peer announced it carries. */
  topics: Set<string>
  /** Invalid entries and malformed frames received from it. */
  misbehaviour: number
  /** When this node last started anti-entropy with it (0 = never). */
  lastSyncAt: number
  /** Recently seen digest nonces (hex → receive time), oldest first. */
  nonces: Map<string, number>
}

export interface TopicState {
  readonly access: AccessRule
  readonly log: TopicLog
}

export interface GossipStoreInit extends TopicLogLimits, EntryLimits {
  /** Snapshot file; omitted = memory only. */
  path?: string
  /** Whether the file holds the entries (else clock, topics and peers only). @default true */
  persistEntries?: boolean
  /** Current time, for the retention rule when loading. */
  now: number
  /**
   * Vector-clock components merged from stored entries are kept for the DIDs it accepts only, so an entry's
   * clock cannot grow the node's (and every entry it publishes) with identities outside the network. The
   * loaded file is not filtered by it (`forget` prunes it). @default every DID
   */
  isMember?: (did: string) => boolean
  /**
   * This node's DID: its clock component is always kept within `maxClockComponents`, so the clock of
   * every entry it publishes stays within the bound peers decode. @default none
   */
  self?: string
}

interface TopicFile { name: string, access: AccessRule, entries: Uint8Array[] }
interface PeerFile { id: string, topics: string[], misbehaviour: number, lastSyncAt: number, nonces: Array<[string, number]> }
interface StateFile { format: string, version: number, clock: Array<[string, number]>, topics: TopicFile[], peers: PeerFile[] }

/** Collects problems found while parsing untrusted state; the caller picks the error type. */
type Complain = (message: string) => never

function asRecord (value: unknown, what: string, complain: Complain): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) complain(`${what} must be a map`)
  return value as Record<string, unknown>
}

function asArray (value: unknown, what: string, complain: Complain): unknown[] {
  if (!Array.isArray(value)) complain(`${what} must be a list`)
  return value
}

function asCount (value: unknown, what: string, complain: Complain): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) complain(`${what} must be a non-negative integer`)
  return value
}

export class GossipStore {
  readonly topics = new Map<string, TopicState>()
  /** This node's vector clock (DID → counter). */
  readonly clock = new Map<string, number>()
  readonly peers = new Map<string, PeerRecord>()
  private saving: Promise<void> = Promise.resolve()

  private constructor (private readonly init: GossipStoreInit) {}

  /**
   * Opens the store, loading `path` when it exists. A file that is truncated,
   * fails its checksum or holds an invalid entry is refused with
   * `CorruptFileError` and left untouched.
   */
  static async open (init: GossipStoreInit): Promise<GossipStore> {
    const store = new GossipStore(init)
    if (init.path !== undefined) {
      const path = init.path
      const data = await readJsonSnapshot(path)
      if (data !== undefined) store.load(data, (message) => { throw new CorruptFileError(path, message) })
    }
    return store
  }

  get path (): string | undefined { return this.init.path }

  /** Creates a topic; returns false when it already exists with the same rule, throws `TopicExistsError` for a different one. */
  createTopic (name: string, access: AccessRule): boolean {
    const existing = this.topics.get(name)
    if (existing !== undefined) {
      if (!sameAccessRule(existing.access, access)) throw new TopicExistsError(name)
      return false
    }
    this.topics.set(name, { access, log: new TopicLog(this.init) })
    return true
  }

  topic (name: string): TopicState {
    const topic = this.topics.get(name)
    if (topic === undefined) throw new UnknownTopicError(name)
    return topic
  }

  /** Stores a checked entry under its topic and merges its vector clock into the node's. */
  add (entry: StoredEntry, now: number): AddResult {
    const result = this.topic(entry.envelope.payload.topic).log.add(entry, now)
    if (result === 'added') this.mergeClock(entry.envelope.payload.clock)
    return result
  }

  /**
   * Merges an entry's clock (component-wise maximum) within the bounds: members only, counters up to
   * `MAX_MERGED_COUNTER`, and at most `maxClockComponents` components with one kept free for this node's
   * own — so neither the clock, the entries it signs nor the snapshot file grow with what a peer supplies.
   */
  mergeClock (clock: Readonly<Record<string, number>>): void {
    const admit = this.init.isMember
    for (const [who, counter] of Object.entries(clock)) {
      const known = this.clock.get(who)
      if (counter <= (known ?? 0) || counter > MAX_MERGED_COUNTER) continue
      if (known === undefined && !this.hasRoomFor(who)) continue
      if (admit === undefined || admit(who)) this.clock.set(who, counter)
    }
  }

  private get maxClockComponents (): number { return this.init.maxClockComponents ?? DEFAULT_MAX_CLOCK_COMPONENTS }

  /** Whether a new component for `who` fits: one place is always left for this node's own. */
  private hasRoomFor (who: string): boolean {
    const self = this.init.self
    const reserved = self !== undefined && who !== self && !this.clock.has(self) ? 1 : 0
    return this.clock.size + reserved < this.maxClockComponents
  }

  /** Removes `did`'s peer record and, unless `keepClock`, its vector-clock component; returns whether anything was removed. */
  forget (did: string, keepClock = false): boolean {
    const peer = this.peers.delete(did)
    const clock = !keepClock && this.clock.delete(did)
    return peer || clock
  }

  peer (id: string): PeerRecord {
    let record = this.peers.get(id)
    if (record === undefined) {
      record = { topics: new Set(), misbehaviour: 0, lastSyncAt: 0, nonces: new Map() }
      this.peers.set(id, record)
    }
    return record
  }

  /** Records a digest nonce; false when it was already seen (a replay). Forgets the oldest beyond the bound. */
  rememberNonce (peer: string, nonceHex: string, now: number, ttlMs: number): boolean {
    const nonces = this.peer(peer).nonces
    if (nonces.has(nonceHex)) return false
    for (const [old, at] of nonces) {
      if (nonces.size < MAX_NONCES_PER_PEER && at > now - ttlMs) break
      nonces.delete(old)
    }
    nonces.set(nonceHex, now)
    return true
  }

  /** Writes the snapshot file (no-op in memory). Writes are serialised; each captures the state when it starts. */
  async save (): Promise<void> {
    const path = this.init.path
    if (path === undefined) return
    const run = this.saving.then(async () => { await writeJsonSnapshot(path, this.toFile()) })
    this.saving = run.catch(() => undefined)
    await run
  }

  /** Waits for any save in progress, then writes the final state. */
  async close (): Promise<void> {
    await this.saving
    await this.save()
  }

  /**
   * Canonical DAG-CBOR of the replicated state: topics, access rules and entries in key order. Records the
   * entries only where the file persists them: with `persistEntries: false` the subsystems' stores hold
   * every entry, so the recorded state is the topics and rules alone and does not grow with traffic.
   */
  exportState (): Uint8Array {
    return encode({ version: STATE_VERSION, topics: this.topicFiles(this.init.persistEntries !== false) })
  }

  /**
   * Replaces topics and entries with an exported state after checking all of
   * it (every entry's id and signature); throws `InvalidStateError` and
   * changes nothing on bad input.
   */
  restoreState (bytes: Uint8Array, now: number): void {
    const complain: Complain = (message) => { throw new InvalidStateError(message) }
    let value: unknown
    try {
      value = decode(bytes)
    } catch (cause) {
      throw new InvalidStateError('gossip state is not canonical DAG-CBOR', { cause })
    }
    const state = asRecord(value, 'gossip state', complain)
    if (state.version !== STATE_VERSION) complain(`unsupported gossip state version ${String(state.version)}`)
    const topics = this.parseTopics(state.topics, now, complain)
    this.topics.clear()
    for (const [name, topic] of topics) this.topics.set(name, topic)
    for (const { log } of topics.values()) for (const entry of log.items) this.mergeClock(entry.envelope.payload.clock)
  }

  private topicFiles (withEntries = true): TopicFile[] {
    return [...this.topics.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, { access, log }]) => ({ name, access, entries: withEntries ? log.items.map((e) => e.bytes) : [] }))
  }

  private toFile (): StateFile {
    return {
      format: STATE_FILE_FORMAT,
      version: STATE_VERSION,
      clock: [...this.clock.entries()],
      topics: this.topicFiles(this.init.persistEntries !== false),
      peers: [...this.peers.entries()].map(([id, p]) => ({
        id, topics: [...p.topics], misbehaviour: p.misbehaviour, lastSyncAt: p.lastSyncAt, nonces: [...p.nonces.entries()]
      }))
    }
  }

  private parseTopics (value: unknown, now: number, complain: Complain): Map<string, TopicState> {
    const topics = new Map<string, TopicState>()
    for (const item of asArray(value, 'topics', complain)) {
      const topic = asRecord(item, 'topic', complain)
      if (typeof topic.name !== 'string' || topic.name.length === 0) complain('topic name must be a non-empty string')
      if (topics.has(topic.name)) complain(`topic ${topic.name} appears twice`)
      let access: AccessRule
      try { access = normaliseAccessRule(topic.access) } catch (cause) { complain(`topic ${topic.name}: ${(cause as Error).message}`) }
      const log = new TopicLog(this.init)
      for (const bytes of asArray(topic.entries, 'entries', complain)) {
        if (!(bytes instanceof Uint8Array)) complain('an entry must be bytes')
        let entry: StoredEntry
        try { entry = parseEntry(bytes, this.init) } catch (cause) { complain(`topic ${topic.name}: ${(cause as Error).message}`) }
        if (entry.envelope.payload.topic !== topic.name) complain(`entry ${entry.idHex} belongs to topic ${entry.envelope.payload.topic}, found under ${topic.name}`)
        if (log.add(entry, now) === 'duplicate') complain(`entry ${entry.idHex} appears twice`)
      }
      topics.set(topic.name, { access, log })
    }
    return topics
  }

  private load (data: unknown, complain: Complain): void {
    const file = asRecord(data, 'state file', complain)
    if (file.format !== STATE_FILE_FORMAT || file.version !== STATE_VERSION) complain(`not a ${STATE_FILE_FORMAT} v${STATE_VERSION} file`)
    const topics = this.parseTopics(file.topics, this.init.now, complain)
    const clock = new Map<string, number>()
    for (const item of asArray(file.clock, 'clock', complain)) {
      const [who, counter] = asArray(item, 'clock component', complain)
      if (typeof who !== 'string') complain('clock component must name a DID')
      clock.set(who, asCount(counter, 'clock counter', complain))
    }
    // A file written before the clock was bounded may hold a poisoned clock: it is loaded within the bounds.
    for (const [who, counter] of clock) if (counter > MAX_MERGED_COUNTER) clock.delete(who)
    const peers = new Map<string, PeerRecord>()
    for (const item of asArray(file.peers, 'peers', complain)) {
      const p = asRecord(item, 'peer', complain)
      if (typeof p.id !== 'string') complain('peer id must be a string')
      const topicNames = asArray(p.topics, 'peer topics', complain)
      if (topicNames.some((t) => typeof t !== 'string')) complain('peer topics must be strings')
      const nonces = new Map<string, number>()
      for (const n of asArray(p.nonces, 'peer nonces', complain)) {
        const [hex, at] = asArray(n, 'nonce', complain)
        if (typeof hex !== 'string') complain('nonce must be hex')
        nonces.set(hex, asCount(at, 'nonce time', complain))
      }
      peers.set(p.id, {
        topics: new Set(topicNames as string[]),
        misbehaviour: asCount(p.misbehaviour, 'misbehaviour', complain),
        lastSyncAt: asCount(p.lastSyncAt, 'lastSyncAt', complain),
        nonces
      })
    }
    for (const [name, topic] of topics) this.topics.set(name, topic)
    const self = this.init.self
    const own = self === undefined ? undefined : clock.get(self)
    if (self !== undefined && own !== undefined) this.clock.set(self, own)
    for (const [who, counter] of clock) if (who !== self && this.hasRoomFor(who)) this.clock.set(who, counter)
    for (const [id, peer] of peers) this.peers.set(id, peer)
  }
}
