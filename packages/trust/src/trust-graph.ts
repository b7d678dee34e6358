import type { Clock, Did, IsMember, MembershipAt } from '@icn/identity'
import { type TrustAttestation, assertGraph, supersedes, verifyAttestation } from './attestation.js'
import { TRUST_GRAPHS, type TrustClass, type TrustGraphName, type TrustWeights } from './constants.js'
import { EdgeIndex } from './edge-index.js'
import { ClosedError, InvalidArgumentError, NotMemberError } from './errors.js'
import { type ScoreParams, type ViewerScores, classifyScore, computeViewerScores, edgeWeight } from './score.js'
import { decodeTrustState, encodeTrustState } from './state.js'
import type { TrustStore } from './store.js'

/** What `attest` did with an attestation that passed validation. */
export type AttestOutcome = 'applied' | 'duplicate' | 'superseded'

/** A current edge seen from one end, with its effective (decayed, expiry-aware) weight now. */
export interface TrustNeighbour {
  /** The DID at the other end. */
  readonly did: string
  /** The signed score. */
  readonly score: number
  /** The score after age decay; 0 when revoked, expired, or its source is not a member now. */
  readonly weight: number
  readonly attestation: TrustAttestation
}

/** Resolved settings of a handle. */
export interface TrustGraphSettings {
  readonly depth: number
  readonly halfLifeMs: number
  readonly decayStepMs: number
  readonly cacheSize: number
  readonly weights: Readonly<Record<TrustGraphName, TrustWeights>>
}

/** The membership questions a handle asks (resolved components). */
export interface TrustMembership {
  /** Judges a new attestation's source at its `createdAt`. */
  readonly membershipAt: MembershipAt
  /** Which sources' edges feed scores now. */
  readonly isMember: IsMember
}

/**
 * The production trust handle: verified writes to LMDB, an in-memory
 * adjacency index, and a per-viewer score cache per graph (LRU) that every
 * accepted write invalidates for each viewer whose scores could read the edge,
 * and `membershipChanged()` clears.
 */
export class TrustGraphHandle {
  private readonly index = new EdgeIndex()
  private readonly caches = new Map<TrustGraphName, Map<string, ViewerScores>>(TRUST_GRAPHS.map((g) => [g, new Map()]))
  /** `isMember` answers for sources with edges, asked once per source between membership changes. */
  private readonly members = new Map<string, boolean>()
  private readonly params: Record<TrustGraphName, ScoreParams>
  private closing: Promise<void> | undefined

  constructor (
    private readonly store: TrustStore,
    private readonly clock: Clock,
    readonly settings: TrustGraphSettings,
    private readonly membership: TrustMembership
  ) {
    const { depth, halfLifeMs, decayStepMs, weights } = settings
    this.params = {
      social: { depth, halfLifeMs, decayStepMs, weights: weights.social },
      economic: { depth, halfLifeMs, decayStepMs, weights: weights.economic },
      technical: { depth, halfLifeMs, decayStepMs, weights: weights.technical }
    }
    for (const attestation of store.all()) this.index.set(attestation)
  }

  get size (): number {
    return this.index.size
  }

  validate (attestation: unknown): TrustAttestation {
    return verifyAttestation(attestation)
  }

  async attest (attestation: unknown): Promise<AttestOutcome> {
    this.assertOpen()
    const verified = verifyAttestation(attestation)
    const { graph, source, target, createdAt } = verified.payload
    // Judged at the attestation's own time, so every node that knows the same
    // governance history gives the same verdict whatever the arrival order.
    const status = this.membership.membershipAt(source, createdAt)
    if (status !== 'member') throw new NotMemberError(source, status, createdAt)
    const current = this.index.get(graph, source, target)
    if (current?.cid === verified.cid) return 'duplicate'
    if (!supersedes(verified, current)) return 'superseded'
    // Decide and index synchronously, so concurrent attests are judged in call
    // order and a query right after this call already sees the new edge.
    this.index.set(verified)
    this.invalidate(graph, source)
    try {
      await this.store.put(verified)
    } catch (cause) {
      if (this.index.get(graph, source, target) === verified) {
        if (current === undefined) this.index.delete(graph, source, target)
        else this.index.set(current)
        this.invalidate(graph, source)
      }
      throw cause
    }
    return 'applied'
  }

  trustOf (viewer: string, subject: string, graph: TrustGraphName): number {
    this.assertOpen()
    assertGraph(graph)
    if (typeof viewer !== 'string' || typeof subject !== 'string') throw new InvalidArgumentError('viewer and subject must be DID strings')
    if (viewer === subject) return 1
    return this.scoresOf(viewer, graph).scores.get(subject) ?? 0
  }

  isTrusted (viewer: string, subject: string, graph: TrustGraphName, threshold: number): boolean {
    if (typeof threshold !== 'number' || Number.isNaN(threshold) || threshold < 0 || threshold > 1) {
      throw new InvalidArgumentError(`threshold must be a number in [0, 1], got ${String(threshold)}`)
    }
    return this.trustOf(viewer, subject, graph) >= threshold
  }

  classOf (viewer: string, subject: string, graph: TrustGraphName): TrustClass {
    return classifyScore(this.trustOf(viewer, subject, graph))
  }

  neighbours (did: string, graph: TrustGraphName, direction: 'out' | 'in' = 'out'): TrustNeighbour[] {
    this.assertOpen()
    assertGraph(graph)
    if (direction !== 'out' && direction !== 'in') throw new InvalidArgumentError(`direction must be 'out' or 'in', got ${String(direction)}`)
    const now = this.clock.now()
    const attestations = direction === 'out'
      ? [...(this.index.outgoing(graph, did)?.values() ?? [])]
      : [...(this.index.incoming(graph, did) ?? [])].map((source) => this.index.get(graph, source, did) as TrustAttestation)
    return attestations
      .map((attestation) => ({
        did: direction === 'out' ? attestation.payload.target : attestation.payload.source,
        score: attestation.payload.score,
        weight: this.isMemberNow(attestation.payload.source) ? edgeWeight(attestation.payload, now, this.settings) : 0,
        attestation
      }))
      .sort((a, b) => a.did < b.did ? -1 : a.did > b.did ? 1 : 0)
  }

  edge (source: string, target: string, graph: TrustGraphName): TrustAttestation | undefined {
    this.assertOpen()
    assertGraph(graph)
    return this.index.get(graph, source, target)
  }

  attestations (graph?: TrustGraphName): TrustAttestation[] {
    this.assertOpen()
    if (graph !== undefined) assertGraph(graph)
    return this.index.all(graph)
  }

  async exportState (): Promise<Uint8Array> {
    this.assertOpen()
    return encodeTrustState(this.index.all())
  }

  async restoreState (state: Uint8Array): Promise<void> {
    this.assertOpen()
    const attestations = decodeTrustState(state)
    await this.store.flushed()
    this.assertOpen()
    // Synchronous from here: no attest can interleave between the store's
    // replacement and the index rebuild.
    this.store.replaceAll(attestations)
    this.index.clear()
    for (const attestation of attestations) this.index.set(attestation)
    this.members.clear()
    for (const cache of this.caches.values()) cache.clear()
  }

  membershipChanged (): void {
    this.assertOpen()
    this.members.clear()
    for (const cache of this.caches.values()) cache.clear()
  }

  async close (): Promise<void> {
    this.closing ??= (async () => {
      await this.store.close()
      this.index.clear()
      this.members.clear()
      for (const cache of this.caches.values()) cache.clear()
    })()
    await this.closing
  }

  async shutdown (): Promise<void> {
    await this.close()
  }

  /** Cached scores of `viewer`, recomputed when a write invalidated them, time moved past their validity, or the clock went back. */
  private scoresOf (viewer: string, graph: TrustGraphName): ViewerScores {
    const cache = this.caches.get(graph) as Map<string, ViewerScores>
    const now = this.clock.now()
    const cached = cache.get(viewer)
    if (cached !== undefined && now >= cached.computedAt && now < cached.validUntil) {
      // Re-insert to mark it most recently used.
      cache.delete(viewer)
      cache.set(viewer, cached)
      return cached
    }
    const scores = computeViewerScores(viewer, (source) => this.currentEdges(graph, source), this.params[graph], now)
    cache.delete(viewer)
    cache.set(viewer, scores)
    if (cache.size > this.settings.cacheSize) cache.delete(cache.keys().next().value as string)
    return scores
  }

  /** Edges out of `source` that count in scores: none unless `source` is a member now. */
  private currentEdges (graph: TrustGraphName, source: string): Iterable<TrustAttestation> | undefined {
    const edges = this.index.outgoing(graph, source)
    // Membership is asked only of DIDs with edges, which bounds `members` by the index.
    if (edges === undefined || !this.isMemberNow(source)) return undefined
    return edges.values()
  }

  private isMemberNow (did: string): boolean {
    let member = this.members.get(did)
    if (member === undefined) {
      member = this.membership.isMember(did as Did)
      this.members.set(did, member)
    }
    return member
  }

  /**
   * Drops cached scores of every viewer within depth − 1 hops upstream of
   * `source`: only they can read its edges. When that set is larger than
   * the cache (a hub at depth ≥ 3), clearing the graph's cache is cheaper.
   */
  private invalidate (graph: TrustGraphName, source: string): void {
    const cache = this.caches.get(graph) as Map<string, ViewerScores>
    if (cache.size === 0) return
    const viewers = this.index.upstream(graph, source, this.settings.depth - 1, this.settings.cacheSize)
    if (viewers === undefined) cache.clear()
    else for (const viewer of viewers) cache.delete(viewer)
  }

  private assertOpen (): void {
    if (this.closing !== undefined) throw new ClosedError()
  }
}
