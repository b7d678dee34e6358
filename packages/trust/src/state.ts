import { type Did, DAG_CBOR_CODE, cidOfBytes, decode, encode, envelopeSigningBytes } from '@icn/identity'
import { type TrustAttestation, verifyAttestation } from './attestation.js'
import { STATE_FORMAT } from './constants.js'
import { compareEdgeKeys } from './edge-index.js'
import { InvalidStateError, TrustError } from './errors.js'

/**
 * Canonical DAG-CBOR of a whole trust state: `{ format, attestations }` with
 * the current attestation of every key in (graph, source, target) order, so
 * equal states give identical bytes on every node.
 */
export function encodeTrustState (attestations: readonly TrustAttestation[]): Uint8Array {
  const sorted = [...attestations].sort(compareEdgeKeys)
  return encode({
    format: STATE_FORMAT,
    attestations: sorted.map((a) => ({ domain: a.domain, payload: a.payload, signer: a.signer, signature: a.signature }))
  })
}

/**
 * Parses and fully checks `encodeTrustState` bytes: canonical encoding,
 * format tag, every attestation's fields and signature, strictly increasing
 * keys (one attestation per key). Throws `InvalidStateError`.
 */
export function decodeTrustState (bytes: Uint8Array): TrustAttestation[] {
  if (!(bytes instanceof Uint8Array)) throw new InvalidStateError('trust state must be bytes')
  let value: unknown
  try {
    value = decode(bytes)
  } catch (cause) {
    throw new InvalidStateError(`trust state is not canonical DAG-CBOR: ${(cause as Error).message}`, { cause })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidStateError('trust state must be a map')
  const record = value as Record<string, unknown>
  if (Object.keys(record).sort().join(',') !== 'attestations,format') throw new InvalidStateError('trust state must have exactly the fields attestations, format')
  if (record.format !== STATE_FORMAT) throw new InvalidStateError(`trust state format '${String(record.format).slice(0, 40)}' is not '${STATE_FORMAT}'`)
  if (!Array.isArray(record.attestations)) throw new InvalidStateError('trust state attestations must be an array')
  const out: TrustAttestation[] = []
  for (const [index, item] of record.attestations.entries()) {
    let attestation: TrustAttestation
    try {
      attestation = verifyAttestation(withCid(item))
    } catch (cause) {
      if (cause instanceof TrustError) throw new InvalidStateError(`attestation ${index}: ${cause.message}`, { cause })
      throw cause
    }
    const previous = out[out.length - 1]
    if (previous !== undefined && compareEdgeKeys(previous, attestation) >= 0) {
      throw new InvalidStateError(`attestation ${index} is out of order or repeats a (graph, source, target) key`)
    }
    out.push(attestation)
  }
  return out
}

/** Checks an exported envelope's fields and adds its derived CID (not carried in the state, like on the wire). */
function withCid (item: unknown): unknown {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new InvalidStateError('attestation must be a map')
  const record = item as Record<string, unknown>
  if (Object.keys(record).sort().join(',') !== 'domain,payload,signature,signer') {
    throw new InvalidStateError('attestation must have exactly the fields domain, payload, signature, signer')
  }
  const { domain, payload, signer } = record
  if (typeof domain !== 'string' || typeof signer !== 'string') throw new InvalidStateError('attestation domain and signer must be strings')
  return { ...record, cid: cidOfBytes(envelopeSigningBytes(domain, payload, signer as Did), DAG_CBOR_CODE).toString() }
}
