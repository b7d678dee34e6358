import {
  type Did, type KeyPair, type SignedEnvelope, IdentityError, InvalidDidError, isDid, signEnvelope, verifyEnvelope
} from '@icn/identity'
import { TRUST_ATTESTATION_DOMAIN, TRUST_GRAPHS, type TrustGraphName } from './constants.js'
import { BadSignatureError, InvalidAttestationError, InvalidScoreError, SelfTrustError, UnknownGraphError } from './errors.js'

/**
 * One directed trust edge, as signed by `source`. `score` 0 revokes earlier
 * edges for the same (source, target, graph); an edge stops counting once the
 * clock reaches `expiresAt`.
 */
export interface TrustEdge {
  readonly source: Did
  readonly target: Did
  readonly graph: TrustGraphName
  /** In [0, 1]; 0 revokes. */
  readonly score: number
  readonly labels: readonly string[]
  /** References backing the claim (CIDs, URLs, free text). */
  readonly evidence: readonly string[]
  /** Milliseconds since the Unix epoch; the newest edge per (source, target, graph) wins. */
  readonly createdAt: number
  /** Milliseconds since the Unix epoch; absent means the edge never expires. */
  readonly expiresAt?: number
}

/** A trust edge signed by its source (`signEnvelope` under `TRUST_ATTESTATION_DOMAIN`). */
export type TrustAttestation = SignedEnvelope<TrustEdge>

/** Fields a signer supplies to `createAttestation`; `source` is the signer's DID. */
export interface AttestationInit {
  target: Did
  graph: TrustGraphName
  score: number
  createdAt: number
  labels?: readonly string[]
  evidence?: readonly string[]
  expiresAt?: number
}

/** Limits on the free-form lists, so one attestation cannot bloat every node's store. */
const MAX_LIST_ITEMS = 64
const MAX_ITEM_LENGTH = 512
const REQUIRED_FIELDS = ['createdAt', 'evidence', 'graph', 'labels', 'score', 'source', 'target']

/** True when `graph` names one of the three trust graphs. */
export function isTrustGraphName (graph: unknown): graph is TrustGraphName {
  return typeof graph === 'string' && (TRUST_GRAPHS as readonly string[]).includes(graph)
}

/** Throws `UnknownGraphError` unless `graph` is `social`, `economic` or `technical`. */
export function assertGraph (graph: unknown): asserts graph is TrustGraphName {
  if (!isTrustGraphName(graph)) throw new UnknownGraphError(`unknown trust graph '${String(graph).slice(0, 40)}', expected one of ${TRUST_GRAPHS.join(', ')}`)
}

function checkStringList (value: unknown, field: string): readonly string[] {
  if (!Array.isArray(value)) throw new InvalidAttestationError(`${field} must be an array of strings`)
  if (value.length > MAX_LIST_ITEMS) throw new InvalidAttestationError(`${field} has ${value.length} items, at most ${MAX_LIST_ITEMS} allowed`)
  for (const item of value) {
    if (typeof item !== 'string') throw new InvalidAttestationError(`${field} must be an array of strings`)
    if (item.length > MAX_ITEM_LENGTH) throw new InvalidAttestationError(`${field} item longer than ${MAX_ITEM_LENGTH} characters`)
  }
  return value as readonly string[]
}

function checkTimestamp (value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidAttestationError(`${field} must be a non-negative integer of milliseconds, got ${String(value)}`)
  }
  return value
}

/** Options of `validateEdge`. */
export interface ValidateEdgeOptions {
  /**
   * Parse both DIDs down to their curve points. Off only where the DIDs were
   * checked before (records this package stored, or the source that signature
   * verification parses anyway); the `did:icn:z` prefix is always checked.
   * @default true
   */
  checkDids?: boolean
}

const looksLikeDid = (value: unknown): value is Did => typeof value === 'string' && value.startsWith('did:icn:z')

/**
 * Checks the fields of an edge (graph, score, DIDs, no self-edge, lists,
 * timestamps, no unknown fields) and returns it typed. Throws
 * `UnknownGraphError`, `InvalidScoreError`, `SelfTrustError` or
 * `InvalidAttestationError`. Does not check a signature.
 */
export function validateEdge (value: unknown, options: ValidateEdgeOptions = {}): TrustEdge {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidAttestationError('trust edge must be a map')
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (!REQUIRED_FIELDS.includes(key) && key !== 'expiresAt') throw new InvalidAttestationError(`trust edge has unknown field '${key.slice(0, 40)}'`)
  }
  for (const key of REQUIRED_FIELDS) {
    if (!(key in record)) throw new InvalidAttestationError(`trust edge lacks field '${key}'`)
  }
  assertGraph(record.graph)
  const { score, source, target } = record
  if (typeof score !== 'number' || Number.isNaN(score) || score < 0 || score > 1) {
    throw new InvalidScoreError(`trust score must be a number in [0, 1], got ${String(score)}`)
  }
  const didCheck = options.checkDids === false ? looksLikeDid : isDid
  if (!didCheck(source)) throw new InvalidAttestationError(`source is not a did:icn DID: ${String(source).slice(0, 80)}`)
  if (!didCheck(target)) throw new InvalidAttestationError(`target is not a did:icn DID: ${String(target).slice(0, 80)}`)
  if (source === target) throw new SelfTrustError(`${source} cannot attest trust in itself`)
  const labels = checkStringList(record.labels, 'labels')
  const evidence = checkStringList(record.evidence, 'evidence')
  const createdAt = checkTimestamp(record.createdAt, 'createdAt')
  const edge: TrustEdge = { source, target, graph: record.graph, score, labels, evidence, createdAt }
  if (record.expiresAt === undefined) return edge
  const expiresAt = checkTimestamp(record.expiresAt, 'expiresAt')
  if (expiresAt <= createdAt) throw new InvalidAttestationError(`expiresAt ${expiresAt} is not after createdAt ${createdAt}`)
  return { ...edge, expiresAt }
}

/** Builds, checks and signs an attestation by `keyPair` (the edge's source). */
export function createAttestation (keyPair: KeyPair, init: AttestationInit): TrustAttestation {
  const edge = validateEdge({
    source: keyPair.did,
    target: init.target,
    graph: init.graph,
    score: init.score,
    labels: init.labels ?? [],
    evidence: init.evidence ?? [],
    createdAt: init.createdAt,
    ...(init.expiresAt === undefined ? {} : { expiresAt: init.expiresAt })
  })
  return signEnvelope(TRUST_ATTESTATION_DOMAIN, edge, keyPair)
}

/**
 * Full check of a received attestation: envelope shape and domain, the edge's
 * fields (`validateEdge`), signer = source, then content id and signature.
 * Returns the attestation typed; throws a `TrustError` subclass, never an
 * identity error.
 */
export function verifyAttestation (envelope: unknown): TrustAttestation {
  if (typeof envelope !== 'object' || envelope === null) throw new InvalidAttestationError('attestation must be a signed envelope')
  const { domain, payload, signer, signature, cid } = envelope as Record<string, unknown>
  if (domain !== TRUST_ATTESTATION_DOMAIN) throw new InvalidAttestationError(`envelope domain '${String(domain).slice(0, 80)}' is not '${TRUST_ATTESTATION_DOMAIN}'`)
  if (!(signature instanceof Uint8Array) || typeof cid !== 'string' || typeof signer !== 'string') {
    throw new InvalidAttestationError('attestation envelope needs signer, signature bytes and cid')
  }
  // The source is parsed by signature verification below (signer = source).
  const edge = validateEdge(payload, { checkDids: false })
  if (!isDid(edge.target)) throw new InvalidAttestationError(`target is not a did:icn DID: ${String(edge.target).slice(0, 80)}`)
  if (signer !== edge.source) throw new BadSignatureError(`attestation signed by ${signer.slice(0, 80)}, not by its source ${edge.source}`)
  const attestation: TrustAttestation = { domain, payload: edge, signer: edge.source, signature, cid }
  try {
    verifyEnvelope(attestation, TRUST_ATTESTATION_DOMAIN)
  } catch (cause) {
    if (cause instanceof InvalidDidError) throw new InvalidAttestationError(`source is not a did:icn DID: ${edge.source.slice(0, 80)}`, { cause })
    if (cause instanceof IdentityError) throw new BadSignatureError(`attestation ${cid.slice(0, 80)} does not verify: ${cause.message}`, { cause })
    throw cause
  }
  return attestation
}

/**
 * True when `candidate` supersedes `current` for the same (source, target,
 * graph): a later `createdAt` wins; equal times are broken by the larger CID,
 * so every node picks the same edge whatever the arrival order.
 */
export function supersedes (candidate: TrustAttestation, current: TrustAttestation | undefined): boolean {
  if (current === undefined) return true
  const a = candidate.payload.createdAt
  const b = current.payload.createdAt
  return a > b || (a === b && candidate.cid > current.cid)
}
