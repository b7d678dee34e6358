/** Envelope domain of a trust attestation: its signature can never be replayed in another protocol. */
export const TRUST_ATTESTATION_DOMAIN = 'icn/trust/attestation/v1'

/** The three isolated trust graphs: an edge in one never contributes to a score in another. */
export const TRUST_GRAPHS = ['social', 'economic', 'technical'] as const

/** Name of one of the isolated trust graphs. */
export type TrustGraphName = typeof TRUST_GRAPHS[number]

/** How much the direct edge and the transitive mean contribute to a score. */
export interface TrustWeights {
  readonly direct: number
  readonly transitive: number
}

/** The original's weights per graph (direct / transitive). */
export const DEFAULT_WEIGHTS: Readonly<Record<TrustGraphName, TrustWeights>> = {
  social: { direct: 0.6, transitive: 0.4 },
  economic: { direct: 0.8, transitive: 0.2 },
  technical: { direct: 0.9, transitive: 0.1 }
}

/** Trust classes, as in the original: isolated < 0.1 ≤ known < 0.4 ≤ partner < 0.7 ≤ federated. */
export type TrustClass = 'isolated' | 'known' | 'partner' | 'federated'

/** Lower bounds of the classes above `isolated`. */
export const CLASS_THRESHOLDS = { known: 0.1, partner: 0.4, federated: 0.7 } as const

/** Version tag of the `exportState()` encoding. */
export const STATE_FORMAT = 'icn-trust-state/1'

/** One day in milliseconds. */
export const DAY_MS = 86_400_000
