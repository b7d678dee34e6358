import type { TrustEdge } from './attestation.js'
import { CLASS_THRESHOLDS, type TrustClass, type TrustWeights } from './constants.js'

/** Parameters of the score formula (see docs/trust.md). */
export interface ScoreParams {
  /** Longest path counted, in edges (2 = the original's formula). */
  readonly depth: number
  /** Age at which an edge's weight halves; `Infinity` disables decay. */
  readonly halfLifeMs: number
  /** Ages are measured from the clock rounded down to this step, so a cached score stays exact within a step. */
  readonly decayStepMs: number
  readonly weights: TrustWeights
}

/** Outgoing current edges of a DID in one graph (attestations or anything carrying the edge as `payload`). */
export type OutgoingEdges = (source: string) => Iterable<{ readonly payload: TrustEdge }> | undefined

/** A viewer's scores of every subject it reaches, and until when they hold. */
export interface ViewerScores {
  readonly scores: ReadonlyMap<string, number>
  /** Clock time the scores were computed at. */
  readonly computedAt: number
  /** First clock time at which a decay step or an edge expiry may change them. */
  readonly validUntil: number
}

/** Time context of one computation: exact `now` for expiry, stepped `ageOrigin` for decay. */
interface Moment {
  readonly now: number
  readonly ageOrigin: number
  /** Earliest expiry after `now` among the edges read, tracked for cache validity. */
  nextExpiry: number
}

/**
 * Effective weight of an edge at a moment: 0 when revoked (score 0) or
 * expired (`now >= expiresAt`), else `score × 2^(−age / halfLife)`.
 */
function effectiveWeight (edge: TrustEdge, moment: Moment, halfLifeMs: number): number {
  if (edge.score === 0) return 0
  if (edge.expiresAt !== undefined) {
    if (moment.now >= edge.expiresAt) return 0
    if (edge.expiresAt < moment.nextExpiry) moment.nextExpiry = edge.expiresAt
  }
  if (halfLifeMs === Number.POSITIVE_INFINITY) return edge.score
  const age = Math.max(0, moment.ageOrigin - edge.createdAt)
  return edge.score * Math.pow(2, -age / halfLifeMs)
}

/** Clock time rounded down to the decay step. */
export function decayOrigin (now: number, decayStepMs: number): number {
  return now - (now % decayStepMs)
}

/** The decayed weight of one edge at clock time `now`. */
export function edgeWeight (edge: TrustEdge, now: number, params: Pick<ScoreParams, 'halfLifeMs' | 'decayStepMs'>): number {
  const moment: Moment = { now, ageOrigin: decayOrigin(now, params.decayStepMs), nextExpiry: Number.POSITIVE_INFINITY }
  return effectiveWeight(edge, moment, params.halfLifeMs)
}

/**
 * Strongest chain from `start` to every DID within `hops` edges, never
 * passing through `excluded` (the viewer): the maximum, over walks, of the
 * product of effective weights. Weights are ≤ 1, so the maximum is reached on
 * a simple path; max is order-independent, so arrival order never matters.
 * Fills and returns `best` (cleared first; reused to spare allocations).
 */
function strongestChains (
  start: string, hops: number, excluded: string, outgoing: OutgoingEdges, params: ScoreParams, moment: Moment,
  best: Map<string, number>
): Map<string, number> {
  best.clear()
  let frontier = new Map<string, number>([[start, 1]])
  for (let hop = 1; hop <= hops && frontier.size > 0; hop++) {
    // The last hop's improvements are never expanded: skip building its frontier.
    const next = hop < hops ? new Map<string, number>() : undefined
    for (const [node, strength] of frontier) {
      for (const { payload: edge } of outgoing(node) ?? []) {
        const to = edge.target
        if (to === excluded || to === start) continue
        const weight = effectiveWeight(edge, moment, params.halfLifeMs)
        if (weight === 0) continue
        const chain = strength * weight
        if (chain > (best.get(to) ?? 0)) {
          best.set(to, chain)
          next?.set(to, chain)
        }
      }
    }
    if (next === undefined) break
    frontier = next
  }
  return best
}

/** Sum of numbers in ascending order: the same set gives the same float whatever order it arrived in. */
function canonicalSum (values: number[]): number {
  values.sort((a, b) => a - b)
  let sum = 0
  for (const value of values) sum += value
  return sum
}

/**
 * Every score `viewer` gives, in one graph, at clock time `now`:
 *
 *   t(v, s) = min(1, w(v,s)·w_d + mean_{i ∈ I} (w(v,i) · C(i,s)) · w_t)
 *
 * where w is an edge's effective weight, I the viewer's out-neighbours
 * i ∉ {v, s} with C(i,s) > 0, and C(i,s) the strongest chain of at most
 * depth − 1 edges from i to s avoiding v. With depth 2, C(i,s) = w(i,s): the
 * original's formula. Subjects absent from the result score 0.
 */
export function computeViewerScores (viewer: string, outgoing: OutgoingEdges, params: ScoreParams, now: number): ViewerScores {
  const ageOrigin = decayOrigin(now, params.decayStepMs)
  const moment: Moment = { now, ageOrigin, nextExpiry: Number.POSITIVE_INFINITY }
  const direct = new Map<string, number>()
  for (const { payload: edge } of outgoing(viewer) ?? []) {
    const weight = effectiveWeight(edge, moment, params.halfLifeMs)
    if (weight > 0) direct.set(edge.target, weight)
  }
  // One contribution is kept as a number, more as a list (most subjects have one).
  const contributions = new Map<string, number | number[]>()
  if (params.depth >= 2) {
    const chains = new Map<string, number>()
    for (const [intermediate, firstHop] of direct) {
      for (const [subject, chain] of strongestChains(intermediate, params.depth - 1, viewer, outgoing, params, moment, chains)) {
        const previous = contributions.get(subject)
        const contribution = firstHop * chain
        if (previous === undefined) contributions.set(subject, contribution)
        else if (typeof previous === 'number') contributions.set(subject, [previous, contribution])
        else previous.push(contribution)
      }
    }
  }
  const { direct: wd, transitive: wt } = params.weights
  const scores = new Map<string, number>()
  const record = (subject: string, transitive: number): void => {
    const score = Math.min(1, (direct.get(subject) ?? 0) * wd + transitive * wt)
    if (score > 0) scores.set(subject, score)
  }
  for (const [subject, found] of contributions) {
    record(subject, typeof found === 'number' ? found : canonicalSum(found) / found.length)
  }
  for (const subject of direct.keys()) {
    if (!contributions.has(subject)) record(subject, 0)
  }
  const nextStep = params.halfLifeMs === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : ageOrigin + params.decayStepMs
  return { scores, computedAt: now, validUntil: Math.min(nextStep, moment.nextExpiry) }
}

/** The class of a score: isolated < 0.1 ≤ known < 0.4 ≤ partner < 0.7 ≤ federated. */
export function classifyScore (score: number): TrustClass {
  if (score >= CLASS_THRESHOLDS.federated) return 'federated'
  if (score >= CLASS_THRESHOLDS.partner) return 'partner'
  if (score >= CLASS_THRESHOLDS.known) return 'known'
  return 'isolated'
}
