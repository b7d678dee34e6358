import * as dagCbor from '@ipld/dag-cbor'
import { decode as cborDecode, encode as cborEncode } from 'cborg'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { bytesEqual } from './bytes.js'
import { sha256 } from './crypto.js'
import { EncodingError, NonCanonicalError } from './errors.js'

/** multicodec codes used for CIDs. */
export const DAG_CBOR_CODE = 0x71
export const RAW_CODE = 0x55
const SHA2_256_CODE = 0x12

// DAG-CBOR's deterministic rules, plus: an object property whose value is
// `undefined` is left out (as JSON does), so optional fields encode one way.
const encodeOptions = { ...dagCbor.encodeOptions, ignoreUndefinedProperties: true }

/**
 * Canonical DAG-CBOR bytes of `value` (sorted map keys, shortest integers,
 * no floats where an integer fits). Throws `EncodingError` for values DAG-CBOR
 * cannot carry (NaN, Infinity, functions, symbols, undefined in arrays).
 * Note: integers come back from `decode` as `number` when they are safe
 * integers and as `bigint` otherwise.
 */
export function encode (value: unknown): Uint8Array {
  try {
    return cborEncode(value, encodeOptions)
  } catch (cause) {
    throw new EncodingError(`cannot encode value canonically: ${(cause as Error).message}`, { cause })
  }
}

/**
 * Decodes canonical DAG-CBOR. Throws `EncodingError` for malformed bytes and
 * `NonCanonicalError` for well-formed CBOR that is not in canonical form, so
 * every value has exactly one accepted byte representation.
 */
export function decode (bytes: Uint8Array): unknown {
  let value: unknown
  try {
    value = cborDecode(bytes, dagCbor.decodeOptions)
  } catch (cause) {
    throw new EncodingError(`malformed DAG-CBOR: ${(cause as Error).message}`, { cause })
  }
  if (!bytesEqual(encode(value), bytes)) throw new NonCanonicalError('bytes are valid CBOR but not canonical DAG-CBOR')
  return value
}

/** The CIDv1 (sha2-256) of bytes already encoded with `codec`. */
export function cidOfBytes (bytes: Uint8Array, codec: number = RAW_CODE): CID {
  return CID.createV1(codec, Digest.create(SHA2_256_CODE, sha256(bytes)))
}

/** The CIDv1 (dag-cbor, sha2-256) of a value's canonical encoding. */
export function cidOf (value: unknown): CID {
  return cidOfBytes(encode(value), DAG_CBOR_CODE)
}

/** Parses a CID string; throws `EncodingError` if malformed. */
export function parseCid (text: string): CID {
  try {
    return CID.parse(text)
  } catch (cause) {
    throw new EncodingError(`invalid CID: ${String(text).slice(0, 80)}`, { cause })
  }
}

export { CID }
