import type { TrustAttestation } from './attestation.js'
import { TRUST_GRAPHS, type TrustGraphName } from './constants.js'

/** Compares (graph, source, target) keys: the canonical order of stored and exported edges. */
export function compareEdgeKeys (a: TrustAttestation, b: TrustAttestation): number {
  const x = a.payload
  const y = b.payload
  if (x.graph !== y.graph) return x.graph < y.graph ? -1 : 1
  if (x.source !== y.source) return x.source < y.source ? -1 : 1
  if (x.target !== y.target) return x.target < y.target ? -1 : 1
  return 0
}

interface GraphAdjacency {
  /** source → target → current attestation. */
  readonly out: Map<string, Map<string, TrustAttestation>>
  /** target → sources with a current attestation to it (any score). */
  readonly in: Map<string, Set<string>>
}

/**
 * In-memory adjacency of the current attestation per (source, target, graph),
 * loaded from the store on open and updated on every accepted write.
 */
export class EdgeIndex {
  private readonly graphs = new Map<TrustGraphName, GraphAdjacency>(
    TRUST_GRAPHS.map((graph) => [graph, { out: new Map(), in: new Map() }])
  )

  private count = 0

  /** Number of (source, target, graph) keys held. */
  get size (): number {
    return this.count
  }

  get (graph: TrustGraphName, source: string, target: string): TrustAttestation | undefined {
    return this.adjacency(graph).out.get(source)?.get(target)
  }

  /** Stores `attestation` as the current one for its key (the caller decided it wins). */
  set (attestation: TrustAttestation): void {
    const { graph, source, target } = attestation.payload
    const adjacency = this.adjacency(graph)
    let targets = adjacency.out.get(source)
    if (targets === undefined) {
      targets = new Map()
      adjacency.out.set(source, targets)
    }
    if (!targets.has(target)) this.count++
    targets.set(target, attestation)
    let sources = adjacency.in.get(target)
    if (sources === undefined) {
      sources = new Set()
      adjacency.in.set(target, sources)
    }
    sources.add(source)
  }

  /** Drops the key (used only to undo a write the store failed to commit). */
  delete (graph: TrustGraphName, source: string, target: string): void {
    const adjacency = this.adjacency(graph)
    const targets = adjacency.out.get(source)
    if (targets?.delete(target) !== true) return
    this.count--
    if (targets.size === 0) adjacency.out.delete(source)
    const sources = adjacency.in.get(target)
    sources?.delete(source)
    if (sources?.size === 0) adjacency.in.delete(target)
  }

  /** Current attestations from `source` in `graph`, keyed by target. */
  outgoing (graph: TrustGraphName, source: string): ReadonlyMap<string, TrustAttestation> | undefined {
    return this.adjacency(graph).out.get(source)
  }

  /** DIDs with a current attestation to `target` in `graph`. */
  incoming (graph: TrustGraphName, target: string): ReadonlySet<string> | undefined {
    return this.adjacency(graph).in.get(target)
  }

  /**
   * `did` and every DID that reaches it in at most `hops` edges (following
   * edges backwards): the viewers whose scores may read an edge from `did`.
   * Returns `undefined` once more than `limit` DIDs are found.
   */
  upstream (graph: TrustGraphName, did: string, hops: number, limit = Number.POSITIVE_INFINITY): Set<string> | undefined {
    const seen = new Set<string>([did])
    let frontier = [did]
    for (let hop = 0; hop < hops && frontier.length > 0; hop++) {
      const next: string[] = []
      for (const node of frontier) {
        for (const source of this.incoming(graph, node) ?? []) {
          if (!seen.has(source)) {
            seen.add(source)
            if (seen.size > limit) return undefined
            next.push(source)
          }
        }
      }
      frontier = next
    }
    return seen
  }

  /** Every current attestation (of one graph, or of all), in canonical key order. */
  all (graph?: TrustGraphName): TrustAttestation[] {
    const out: TrustAttestation[] = []
    for (const name of graph === undefined ? TRUST_GRAPHS : [graph]) {
      for (const targets of this.adjacency(name).out.values()) out.push(...targets.values())
    }
    return out.sort(compareEdgeKeys)
  }

  clear (): void {
    for (const adjacency of this.graphs.values()) {
      adjacency.out.clear()
      adjacency.in.clear()
    }
    this.count = 0
  }

  private adjacency (graph: TrustGraphName): GraphAdjacency {
    return this.graphs.get(graph) as GraphAdjacency
  }
}
