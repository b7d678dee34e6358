/**
 * @packageDocumentation
 * @icn/trust — a signed trust graph on LMDB. DIDs attest trust in each other
 * (signed edges in three isolated graphs: social, economic, technical); a
 * viewer's computed trust in a subject combines the direct edge with the mean
 * strength of chains through intermediates, with configurable depth and age
 * decay. Queries are synchronous and cached; the cache is invalidated by every
 * accepted attestation or revocation, and by `membershipChanged()`. Only
 * members' attestations are accepted (judged at their own signed time) and
 * only current members' edges count in scores. See docs/trust.md for the formula.
 */
import { type Clock, type IsMember, type MembershipAt, EVERYONE_IS_A_MEMBER, systemClock } from '@icn/identity'
import type { TrustAttestation } from './attestation.js'
import { DAY_MS, DEFAULT_WEIGHTS, TRUST_GRAPHS, type TrustClass, type TrustGraphName, type TrustWeights } from './constants.js'
import { InvalidArgumentError } from './errors.js'
import { openTrustStore } from './store.js'
import { type AttestOutcome, type TrustGraphSettings, type TrustNeighbour, TrustGraphHandle } from './trust-graph.js'

export {
  type TrustEdge, type TrustAttestation, type AttestationInit, type ValidateEdgeOptions,
  createAttestation, verifyAttestation, validateEdge, supersedes, isTrustGraphName
} from './attestation.js'
export {
  TRUST_ATTESTATION_DOMAIN, TRUST_GRAPHS, DEFAULT_WEIGHTS, CLASS_THRESHOLDS, STATE_FORMAT,
  type TrustGraphName, type TrustWeights, type TrustClass
} from './constants.js'
export { type ScoreParams, type ViewerScores, type OutgoingEdges, computeViewerScores, classifyScore, edgeWeight } from './score.js'
export { type TrustStore, openTrustStore } from './store.js'
export { encodeTrustState, decodeTrustState } from './state.js'
export type { AttestOutcome, TrustNeighbour, TrustGraphSettings } from './trust-graph.js'
export * from './errors.js'

/** Injected dependencies. */
export interface TrustGraphComponents {
  /** Time for expiry and decay. @default systemClock */
  clock?: Clock
  /**
   * Status of a DID at a time, from the network's governance history. `attest`
   * refuses (`NotMemberError`, nothing stored) an attestation whose source is
   * not `member` at the attestation's `createdAt`; the target may be anyone.
   * @default EVERYONE_IS_A_MEMBER
   */
  membership?: MembershipAt
  /**
   * "Is this DID a member, not frozen, now?": only edges whose source it
   * accepts count in scores (and in `neighbours` weights); other edges stay
   * stored. Its answers are cached: call `membershipChanged()` whenever they
   * may have changed. @default everyone (`() => true`)
   */
  isMember?: IsMember
}

/** Options of `openTrustGraph`. */
export interface TrustGraphInit {
  /** Directory of the LMDB environment (created if missing; one handle per directory). */
  path: string
  /** Longest chain counted, in edges; 2 is the original's formula, 1 counts direct edges only. @default 2 */
  depth?: number
  /** Age at which an edge's weight halves; `Infinity` disables decay. @default 15_552_000_000 (180 days) */
  halfLifeMs?: number
  /** Decay ages are measured from the clock rounded down to this step, so cached scores stay exact within it. @default 60_000 */
  decayStepMs?: number
  /** Viewers whose scores are cached per graph (least recently used evicted first); a node mostly queries as itself. @default 1024 */
  cacheSize?: number
  /** Direct / transitive weights per graph. @default social 0.6/0.4, economic 0.8/0.2, technical 0.9/0.1 */
  weights?: Partial<Record<TrustGraphName, TrustWeights>>
}

/** The trust service a node uses. */
export interface TrustGraph {
  /** Resolved settings. */
  readonly settings: TrustGraphSettings
  /** Number of (source, target, graph) keys stored. */
  readonly size: number
  /**
   * Verifies (fields, signer = source, signature), checks the source was a
   * `member` at the attestation's `createdAt` (`NotMemberError` otherwise), and
   * stores the attestation if it is newer than the current one for its key.
   * Throws a `TrustError` subclass, storing nothing, on bad input: an
   * attestation refused for membership is judged afresh if offered again
   * (after this node's governance caught up). Queries see the result as soon
   * as the call returns; the promise resolves once it is flushed to disk.
   */
  attest(attestation: TrustAttestation): Promise<AttestOutcome>
  /**
   * The signature and field checks `attest` runs, without storing: a gossip
   * topic validator. It does not judge membership, whose verdict can change
   * as this node's governance catches up.
   */
  validate(attestation: unknown): TrustAttestation
  /** Computed trust of `viewer` in `subject`, in [0, 1] (1 for oneself, 0 for strangers). Synchronous. */
  trustOf(viewer: string, subject: string, graph: TrustGraphName): number
  /** `trustOf(…) >= threshold`; throws `InvalidArgumentError` unless threshold is in [0, 1]. */
  isTrusted(viewer: string, subject: string, graph: TrustGraphName, threshold: number): boolean
  /** The class of `trustOf(…)`. */
  classOf(viewer: string, subject: string, graph: TrustGraphName): TrustClass
  /** Current edges out of (or into) `did`, sorted by the other end's DID. @default direction 'out' */
  neighbours(did: string, graph: TrustGraphName, direction?: 'out' | 'in'): TrustNeighbour[]
  /** The current attestation for a key, revoked or expired ones included. */
  edge(source: string, target: string, graph: TrustGraphName): TrustAttestation | undefined
  /** Every current attestation (of one graph, or all), in (graph, source, target) order. */
  attestations(graph?: TrustGraphName): TrustAttestation[]
  /** Canonical DAG-CBOR of every current attestation: equal states give identical bytes. */
  exportState(): Promise<Uint8Array>
  /**
   * Validates `state` fully (typed error, nothing changed), then replaces
   * everything in one LMDB transaction. Membership is not judged: the state is
   * a snapshot of attestations already judged, restored alongside (possibly
   * before) the governance that judged them.
   */
  restoreState(state: Uint8Array): Promise<void>
  /**
   * Drops every cached score and membership answer, so the next queries ask
   * `isMember` again. Call it after every membership change this node learns
   * of (a charter amendment applied, a member admitted, removed, frozen or
   * unfrozen), before relying on `trustOf` / `isTrusted` / `classOf` /
   * `neighbours` again: until then they may still count a removed member's
   * edges. Throws `ClosedError` after `close()`.
   */
  membershipChanged(): void
  /** Awaits pending writes and closes LMDB. Idempotent. */
  close(): Promise<void>
  /** Alias of `close()`. */
  shutdown(): Promise<void>
}

const everyone: IsMember = () => true

function positiveInteger (value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(value)}`)
  return value
}

function resolveSettings (init: TrustGraphInit): TrustGraphSettings {
  const halfLifeMs = init.halfLifeMs ?? 180 * DAY_MS
  if (typeof halfLifeMs !== 'number' || Number.isNaN(halfLifeMs) || halfLifeMs <= 0) {
    throw new InvalidArgumentError(`halfLifeMs must be a positive number or Infinity, got ${String(halfLifeMs)}`)
  }
  const weights = { ...DEFAULT_WEIGHTS, ...init.weights }
  for (const graph of TRUST_GRAPHS) {
    const { direct, transitive } = weights[graph]
    for (const weight of [direct, transitive]) {
      if (typeof weight !== 'number' || !(weight >= 0 && weight <= 1)) throw new InvalidArgumentError(`${graph} weights must be numbers in [0, 1]`)
    }
  }
  return {
    depth: positiveInteger(init.depth ?? 2, 'depth'),
    halfLifeMs,
    decayStepMs: positiveInteger(init.decayStepMs ?? 60_000, 'decayStepMs'),
    cacheSize: positiveInteger(init.cacheSize ?? 1024, 'cacheSize'),
    weights
  }
}

/** Opens the trust graph stored at `init.path`, loading its adjacency index. */
export async function openTrustGraph (components: TrustGraphComponents, init: TrustGraphInit): Promise<TrustGraph> {
  if (typeof init?.path !== 'string' || init.path.length === 0) throw new InvalidArgumentError('init.path must be a directory path')
  const settings = resolveSettings(init)
  for (const name of ['membership', 'isMember'] as const) {
    if (components[name] !== undefined && typeof components[name] !== 'function') throw new InvalidArgumentError(`components.${name} must be a function`)
  }
  const store = await openTrustStore(init.path)
  try {
    const graph: TrustGraph = new TrustGraphHandle(store, components.clock ?? systemClock, settings, {
      membershipAt: components.membership ?? EVERYONE_IS_A_MEMBER,
      isMember: components.isMember ?? everyone
    })
    return graph
  } catch (cause) {
    await store.close()
    throw cause
  }
}
