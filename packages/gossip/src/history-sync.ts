/**
 * History sync: catch-up served from the subsystems' own stores, so that a node
 * that joins late or was offline long gets the whole history, whatever gossip's
 * window keeps (docs/gossip.md, "History sync").
 *
 * Each {@link HistorySource} presents its store as ordered *groups* (a ledger
 * author's chain, a trust source's attestations, a proposal's envelopes), each
 * with a digest. A session with a peer pages through the peer's digests, asks
 * the source which groups hold something new, fetches those in bounded pages
 * and hands each page to the source's batched apply, fetching the next page
 * while one applies. The responder answers from its store at a bounded rate;
 * the requester checks every reply's shape and the source checks every item,
 * so a peer can make this node read a bounded amount, never apply anything
 * its subsystem would refuse. Only members (`isMember`) are served or synced
 * from; a non-member's request is answered `not-a-member` before any per-peer
 * state exists.
 */
import { type Clock, type Did, type IsMember, decode, encode } from '@icn/identity'
import { BackoffTimer } from './backoff.js'
import { ClosedError, InvalidArgumentError } from './errors.js'
import { TokenBucket } from './rate-limit.js'

/** A peer's summary of one group: the source decides from it what this node lacks. */
export interface HistoryDigest {
  /** Group key, unique and ordered within its source (≤ 256 characters). */
  readonly key: string
  /** Size of the group, in the source's terms (a chain's head seq; a set's item count). */
  readonly count: number
  /** What the group holds (a chain's head id; a hash of a set's item ids), ≤ 128 characters. */
  readonly hash: string
}

/** What applying a page did. */
export interface HistoryApplied {
  /** Items new to this node (applied, or held by the subsystem until what they depend on arrives). */
  readonly applied: number
  /** Items the subsystem refused (malformed, forged, invalid): the peer served them. */
  readonly refused: number
}

/** One kind of history a node serves from, and applies to, its own store. */
export interface HistorySource {
  /** Name on the wire, e.g. `ledger` (≤ 64 characters, unique per node). */
  readonly name: string
  /** This node's digests in key order: keys after `after` (all when undefined), at most `limit`. */
  digests(after: string | undefined, limit: number): HistoryDigest[]
  /** Given a peer's digest, the cursor to start fetching that group from, or undefined when it holds nothing new here. May throw on a digest it cannot read (the session with that peer stops). */
  wants(remote: HistoryDigest): number | undefined
  /** How many items this node lacks of the group, estimated from the peer's digest (for progress). @default 1 */
  behind?(remote: HistoryDigest): number
  /** Items of group `key` from cursor `from`: at most `limit` and `maxBytes` (but at least one); `next` continues, absent at the end. */
  items(key: string, from: number, limit: number, maxBytes: number): { items: Uint8Array[], next?: number }
  /** Applies a page fetched from `peer` (untrusted bytes: checked by the owning subsystem); resolves once durable. */
  apply(items: Uint8Array[], peer: string): Promise<HistoryApplied>
}

/** Request/response messaging to peers (a node routes it over gossip's direct messages). */
export interface HistoryMessaging {
  /** Sends a request to `peer` and resolves with its answer; rejects on timeout or disconnect. */
  request(peer: string, payload: Uint8Array): Promise<Uint8Array>
  /** Answers requests from peers; returns a function that stops answering. */
  onRequest(handler: (from: string, payload: Uint8Array) => Uint8Array): () => void
}

export interface HistorySyncComponents {
  messaging: HistoryMessaging
  clock: Clock
  /** Served and fetched in this order (e.g. trust before the ledger, whose credit limits read trust). */
  sources: readonly HistorySource[]
  /** Connected peers, for the periodic round. */
  peers: () => string[]
  /** A peer served malformed replies or items its subsystem refused. */
  onMisbehaviour?: (peer: string, reason: string) => void
  /** Progress of a running session, at most every `progressEveryMs`, and its end. */
  onProgress?: (progress: HistoryPeerProgress) => void
  /**
   * Whether a peer is a member of the network now (and not frozen). A non-member's request is answered
   * `{ t: 'refused', reason: 'not-a-member' }` before any per-peer state is created (counted in
   * `serveStats().refusedNonMembers`); `syncWith` a non-member rejects with `HistoryRefusedError('not-a-member')`
   * and records nothing; a running session stops before its next request once the peer is no longer one; the
   * round skips non-members. Throwing counts as false. @default every peer is a member
   */
  isMember?: IsMember
}

export interface HistorySyncInit {
  /**
   * Period of the background round (every connected peer not already syncing) while entries flow. A round
   * after one in which nothing was applied and nothing `nudge`d comes twice as late, up to `maxIntervalMs`.
   * @default 30000
   */
  intervalMs?: number
  /** Longest period of the round while nothing changes (at least `intervalMs`). @default max(300000, intervalMs) */
  maxIntervalMs?: number
  /** Digests per page. @default 500 */
  digestPageSize?: number
  /** Items asked per page. @default 500 */
  itemPageSize?: number
  /** Largest reply this node sends (bytes of items); keep it under the transport's frame limit. @default 1048576 */
  maxReplyBytes?: number
  /** Items collected before one batched apply. @default 2000 */
  applyBatchSize?: number
  /** Requests served per peer: burst and refill per second; beyond it a request is answered `rate-limited`. @default { burst: 128, perSecond: 64 } */
  serveRate?: { burst: number, perSecond: number }
  /** @default 2000 */
  progressEveryMs?: number
}

/** How far this node is with one peer. */
export interface HistoryPeerProgress {
  readonly peer: string
  readonly state: 'idle' | 'syncing'
  /** Items this node lacks by the peer's digests, at the last digest page, minus what was applied since. */
  readonly behind: number
  /** Items fetched / new to this node / refused, in the current (or last) session. */
  readonly fetched: number
  readonly applied: number
  readonly refused: number
  /** New items per second over the current (or last) session. */
  readonly entriesPerSecond: number
  readonly sessions: number
  readonly startedAt?: number
  readonly finishedAt?: number
  /** Why the last session ended early. */
  readonly lastError?: string
}

export interface HistoryServeStats {
  /** Requests answered, refused by rate, and malformed. */
  readonly served: number
  readonly rateLimited: number
  readonly malformed: number
  readonly itemsServed: number
  /** Requests refused because the requester is not a member. */
  readonly refusedNonMembers: number
}

/** The history sync a node runs. */
export interface HistorySync {
  /** Starts a session with `peer` unless one runs; resolves with its progress when it ends. */
  syncWith(peer: string): Promise<HistoryPeerProgress>
  progress(): HistoryPeerProgress[]
  serveStats(): HistoryServeStats
  /** Forgets `peer`'s progress record and serving budget (a node calls it when a member is removed). */
  forgetPeer(peer: string): void
  /** Something changed (an entry arrived or was made): rounds come back to `intervalMs`, the next within it. */
  nudge(): void
  /** Stops the round, ends sessions at their next step and awaits them. Idempotent. */
  close(): Promise<void>
}

const MAX_KEY = 256
const MAX_HASH = 128
const MAX_NAME = 64
const MAX_PAGE = 5_000

type Request =
  | { t: 'digests', source: string, after: string | null, limit: number }
  | { t: 'items', source: string, key: string, from: number, limit: number }
type Reply =
  | { t: 'digests', digests: HistoryDigest[], more: boolean }
  | { t: 'items', items: Uint8Array[], next: number | null }
  | { t: 'refused', reason: string }

/** A reply or request that is not what the protocol allows. */
export class HistoryProtocolError extends Error {
  override readonly name: string = 'HistoryProtocolError'
}

/** A session ended by a refusal (the peer's, or this node closing): not misbehaviour. */
export class HistoryRefusedError extends HistoryProtocolError {
  override readonly name = 'HistoryRefusedError'
  constructor (readonly reason: string) { super(`peer refused: ${reason}`) }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max

function parseRequest (bytes: Uint8Array): Request {
  const r = decode(bytes) as Record<string, unknown>
  if (typeof r !== 'object' || r === null || r.v !== 1 || !isText(r.source, MAX_NAME) || !isCount(r.limit) || r.limit < 1) throw new HistoryProtocolError('malformed request')
  if (r.t === 'digests' && (r.after === null || isText(r.after, MAX_KEY))) return { t: 'digests', source: r.source, after: r.after, limit: r.limit }
  if (r.t === 'items' && isText(r.key, MAX_KEY) && isCount(r.from)) return { t: 'items', source: r.source, key: r.key, from: r.from, limit: r.limit }
  throw new HistoryProtocolError('malformed request')
}

/** Checks a peer's reply to `request` completely (shape, bounds, key order); throws `HistoryProtocolError`. */
function parseReply (bytes: Uint8Array, request: Request): Reply {
  let r: Record<string, unknown>
  try { r = decode(bytes) as Record<string, unknown> } catch { throw new HistoryProtocolError('reply is not DAG-CBOR') }
  if (typeof r !== 'object' || r === null || r.v !== 1) throw new HistoryProtocolError('reply has no version 1')
  if (r.t === 'refused' && isText(r.reason, MAX_NAME)) return { t: 'refused', reason: r.reason }
  if (request.t === 'digests' && r.t === 'digests' && Array.isArray(r.digests) && typeof r.more === 'boolean' && r.digests.length <= request.limit) {
    let last = request.after
    const digests = r.digests.map((d: Record<string, unknown>) => {
      if (typeof d !== 'object' || d === null || !isText(d.k, MAX_KEY) || !isCount(d.n) || typeof d.h !== 'string' || d.h.length > MAX_HASH) throw new HistoryProtocolError('malformed digest')
      if (last !== null && d.k <= last) throw new HistoryProtocolError('digests out of key order')
      last = d.k
      return { key: d.k, count: d.n, hash: d.h }
    })
    return { t: 'digests', digests, more: r.more }
  }
  if (request.t === 'items' && r.t === 'items' && Array.isArray(r.items) && r.items.length <= request.limit && (r.next === null || (isCount(r.next) && r.next > request.from))) {
    if (!r.items.every((i) => i instanceof Uint8Array)) throw new HistoryProtocolError('an item is not bytes')
    return { t: 'items', items: r.items as Uint8Array[], next: r.next as number | null }
  }
  throw new HistoryProtocolError(`unexpected reply to a '${request.t}' request`)
}

interface Session {
  progress: HistoryPeerProgress
  done: Promise<HistoryPeerProgress>
}

class HistorySyncNode implements HistorySync {
  private readonly sources = new Map<string, HistorySource>()
  private readonly sessions = new Map<string, Session>()
  private readonly last = new Map<string, HistoryPeerProgress>()
  private readonly buckets = new Map<string, TokenBucket>()
  private readonly served = { served: 0, rateLimited: 0, malformed: 0, itemsServed: 0, refusedNonMembers: 0 }
  private readonly member: (peer: string) => boolean
  private readonly options: Required<HistorySyncInit>
  private readonly stopServing: () => void
  /** Rounds with every connected peer: every `intervalMs` while entries are applied, backing off to `maxIntervalMs`. */
  private readonly rounds: BackoffTimer
  private closed = false
  private closing: Promise<void> | undefined
  private signalClosed: () => void = () => {}
  private readonly whenClosed = new Promise<never>((_resolve, reject) => {
    this.signalClosed = () => { reject(new HistoryRefusedError('closing')) }
  })

  constructor (private readonly components: HistorySyncComponents, init: HistorySyncInit) {
    this.whenClosed.catch(() => undefined)
    const isMember = components.isMember
    if (isMember !== undefined && typeof isMember !== 'function') throw new InvalidArgumentError('history sync isMember must be a function')
    this.member = isMember === undefined
      ? () => true
      : (peer) => { try { return isMember(peer as Did) === true } catch { return false } }
    this.options = {
      intervalMs: init.intervalMs ?? 30_000,
      maxIntervalMs: init.maxIntervalMs ?? Math.max(300_000, init.intervalMs ?? 30_000),
      digestPageSize: init.digestPageSize ?? 500,
      itemPageSize: init.itemPageSize ?? 500,
      maxReplyBytes: init.maxReplyBytes ?? 1024 * 1024,
      applyBatchSize: init.applyBatchSize ?? 2000,
      serveRate: init.serveRate ?? { burst: 128, perSecond: 64 },
      progressEveryMs: init.progressEveryMs ?? 2000
    }
    for (const [name, value] of Object.entries(this.options)) {
      if (name === 'serveRate') continue
      if (!Number.isSafeInteger(value) || (value as number) < 1) throw new InvalidArgumentError(`history sync ${name} must be a positive integer`)
    }
    if (this.options.maxIntervalMs < this.options.intervalMs) throw new InvalidArgumentError('history sync maxIntervalMs must be at least intervalMs')
    if (this.options.digestPageSize > MAX_PAGE || this.options.itemPageSize > MAX_PAGE) throw new InvalidArgumentError(`history sync page sizes must be at most ${MAX_PAGE}`)
    for (const source of components.sources) {
      if (!isText(source.name, MAX_NAME) || this.sources.has(source.name)) throw new InvalidArgumentError(`history source name '${String(source.name)}' must be unique and 1..${MAX_NAME} characters`)
      this.sources.set(source.name, source)
    }
    this.rounds = new BackoffTimer(components.clock, this.options.intervalMs, this.options.maxIntervalMs, () => { this.round() })
    this.stopServing = components.messaging.onRequest((from, payload) => this.serve(from, payload))
    this.rounds.start()
  }

  // ---------------------------------------------------------------- serving

  private serve (from: string, payload: Uint8Array): Uint8Array {
    const refuse = (reason: string): Uint8Array => encode({ v: 1, t: 'refused', reason })
    if (this.closed) return refuse('closing')
    if (!this.member(from)) { this.served.refusedNonMembers++; return refuse('not-a-member') }
    let bucket = this.buckets.get(from)
    const now = this.components.clock.now()
    if (bucket === undefined) {
      bucket = new TokenBucket(this.options.serveRate.burst, this.options.serveRate.perSecond, now)
      this.buckets.set(from, bucket)
    }
    if (!bucket.take(now)) { this.served.rateLimited++; return refuse('rate-limited') }
    let request: Request
    try {
      request = parseRequest(payload)
    } catch {
      this.served.malformed++
      return refuse('malformed')
    }
    const source = this.sources.get(request.source)
    if (source === undefined) return refuse('unknown-source')
    this.served.served++
    try {
      if (request.t === 'digests') {
        const limit = Math.min(request.limit, MAX_PAGE)
        const digests = source.digests(request.after ?? undefined, limit + 1)
        return encode({ v: 1, t: 'digests', digests: digests.slice(0, limit).map((d) => ({ k: d.key, n: d.count, h: d.hash })), more: digests.length > limit })
      }
      const page = source.items(request.key, request.from, Math.min(request.limit, MAX_PAGE), this.options.maxReplyBytes)
      this.served.itemsServed += page.items.length
      return encode({ v: 1, t: 'items', items: page.items, next: page.next ?? null })
    } catch {
      // A key or cursor the store cannot read (a peer's invention): nothing to serve.
      return refuse('bad-request')
    }
  }

  // ---------------------------------------------------------------- fetching

  async syncWith (peer: string): Promise<HistoryPeerProgress> {
    if (this.closed) throw new ClosedError()
    if (!this.member(peer)) throw new HistoryRefusedError('not-a-member')
    const running = this.sessions.get(peer)
    if (running !== undefined) return await running.done
    const previous = this.last.get(peer)
    const session: Session = {
      progress: { peer, state: 'syncing', behind: 0, fetched: 0, applied: 0, refused: 0, entriesPerSecond: 0, sessions: (previous?.sessions ?? 0) + 1, startedAt: this.components.clock.now() },
      done: Promise.resolve(undefined as unknown as HistoryPeerProgress)
    }
    this.sessions.set(peer, session)
    session.done = this.run(peer, session).finally(() => { this.sessions.delete(peer) })
    return await session.done
  }

  private async run (peer: string, session: Session): Promise<HistoryPeerProgress> {
    let lastError: string | undefined
    let lastReport = this.components.clock.now()
    const update = (change: Partial<HistoryPeerProgress>): void => {
      const now = this.components.clock.now()
      const p = { ...session.progress, ...change }
      const seconds = Math.max(0.001, (now - (p.startedAt ?? now)) / 1000)
      session.progress = { ...p, entriesPerSecond: Math.round(p.applied / seconds) }
      if (now - lastReport >= this.options.progressEveryMs) {
        lastReport = now
        this.components.onProgress?.(session.progress)
      }
    }
    // One batch applies while the next is fetched, never more: memory stays bounded by two batches.
    let applying: Promise<void> = Promise.resolve()
    const applyPage = async (source: HistorySource, items: Uint8Array[]): Promise<void> => {
      await applying
      applying = (async () => {
        const result = await source.apply(items, peer)
        update({ applied: session.progress.applied + result.applied, refused: session.progress.refused + result.refused, behind: Math.max(0, session.progress.behind - result.applied) })
        if (result.refused > 0) this.components.onMisbehaviour?.(peer, `${result.refused} refused ${source.name} items`)
      })()
      applying.catch(() => undefined)
    }
    try {
      for (const source of this.sources.values()) {
        let after: string | null = null
        for (;;) {
          const page = await this.ask(peer, { t: 'digests', source: source.name, after, limit: this.options.digestPageSize })
          if (page.t === 'refused') throw new HistoryRefusedError(page.reason)
          if (page.t !== 'digests') throw new HistoryProtocolError('unexpected reply')
          const wanted: Array<{ digest: HistoryDigest, from: number }> = []
          for (const digest of page.digests) {
            const from = source.wants(digest)
            if (from !== undefined) wanted.push({ digest, from })
          }
          update({ behind: session.progress.behind + wanted.reduce((n, w) => n + Math.max(1, source.behind?.(w.digest) ?? 1), 0) })
          let batch: Uint8Array[] = []
          try {
            for (const { digest, from } of wanted) {
              let cursor: number | null = from
              while (cursor !== null) {
                const reply = await this.ask(peer, { t: 'items', source: source.name, key: digest.key, from: cursor, limit: this.options.itemPageSize })
                if (reply.t === 'refused') throw new HistoryRefusedError(reply.reason)
                if (reply.t !== 'items') throw new HistoryProtocolError('unexpected reply')
                batch.push(...reply.items)
                update({ fetched: session.progress.fetched + reply.items.length })
                cursor = reply.items.length === 0 ? null : reply.next
                if (batch.length >= this.options.applyBatchSize) { await applyPage(source, batch); batch = [] }
              }
            }
          } finally {
            // What was fetched before a failure is applied too: every item is checked on its own.
            if (batch.length > 0) await applyPage(source, batch)
          }
          const lastDigest = page.digests[page.digests.length - 1]
          if (!page.more || lastDigest === undefined) break
          after = lastDigest.key
        }
        // The next source may depend on this one (ledger limits read trust): finish applying first.
        await applying
      }
    } catch (err) {
      lastError = (err as Error).message
      if (err instanceof HistoryProtocolError && !(err instanceof HistoryRefusedError)) this.components.onMisbehaviour?.(peer, lastError)
    }
    try {
      await applying
    } catch (err) {
      lastError ??= `applying failed: ${(err as Error).message}`
    }
    const finished: HistoryPeerProgress = { ...session.progress, state: 'idle', finishedAt: this.components.clock.now(), ...(lastError === undefined ? {} : { lastError }) }
    const seconds = Math.max(0.001, ((finished.finishedAt ?? 0) - (finished.startedAt ?? 0)) / 1000)
    const result = { ...finished, behind: lastError === undefined ? 0 : finished.behind, entriesPerSecond: Math.round(finished.applied / seconds) }
    this.last.set(peer, result)
    if (result.applied > 0) this.rounds.touch()
    this.components.onProgress?.(result)
    return result
  }

  private async ask (peer: string, request: Request): Promise<Reply> {
    if (this.closed) throw new HistoryRefusedError('closing')
    if (!this.member(peer)) throw new HistoryRefusedError('not-a-member')
    const payload = request.t === 'digests'
      ? encode({ v: 1, t: 'digests', source: request.source, after: request.after, limit: request.limit })
      : encode({ v: 1, t: 'items', source: request.source, key: request.key, from: request.from, limit: request.limit })
    // A request in flight does not hold up close(): the session ends at once; the request settles later.
    const answer = this.components.messaging.request(peer, payload)
    answer.catch(() => undefined)
    return parseReply(await Promise.race([answer, this.whenClosed]), request)
  }

  progress (): HistoryPeerProgress[] {
    const peers = new Set([...this.last.keys(), ...this.sessions.keys()])
    return [...peers].sort().map((peer) => this.sessions.get(peer)?.progress ?? this.last.get(peer) as HistoryPeerProgress)
  }

  serveStats (): HistoryServeStats { return { ...this.served } }

  forgetPeer (peer: string): void {
    this.last.delete(peer)
    this.buckets.delete(peer)
  }

  // ---------------------------------------------------------------- round and lifecycle

  private round (): void {
    for (const peer of this.components.peers()) {
      if (!this.sessions.has(peer) && this.member(peer)) void this.syncWith(peer).catch(() => undefined)
    }
  }

  nudge (): void {
    if (!this.closed) this.rounds.wake()
  }

  async close (): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true
      this.signalClosed()
      this.rounds.stop()
      this.stopServing()
      while (this.sessions.size > 0) await Promise.allSettled([...this.sessions.values()].map(async (s) => await s.done))
    })()
    await this.closing
  }
}

/** Starts history sync: answers peers' requests from `sources` at once and runs a round every `intervalMs`. */
export function createHistorySync (components: HistorySyncComponents, init: HistorySyncInit = {}): HistorySync {
  return new HistorySyncNode(components, init)
}
