import { base58btc } from 'multiformats/bases/base58'
import { varint } from 'multiformats'
import { isValidPublicKey } from './backend.js'
import { InvalidDidError } from './errors.js'

/** An ICN DID: `did:icn:z` + base58btc of the raw 32-byte ed25519 public key. */
export type Did = `did:icn:z${string}`

const ICN_PREFIX = 'did:icn:'
const KEY_PREFIX = 'did:key:'
/** multicodec `ed25519-pub` (0xed) as an unsigned varint. */
const ED25519_PUB_CODEC = 0xed
const ED25519_PUB_PREFIX = varint.encodeTo(ED25519_PUB_CODEC, new Uint8Array(varint.encodingLength(ED25519_PUB_CODEC)))

function checkedKey (key: Uint8Array, did: string): Uint8Array {
  if (key.length !== 32) throw new InvalidDidError(`${did}: key is ${key.length} bytes, expected 32`)
  if (!isValidPublicKey(key)) throw new InvalidDidError(`${did}: key is not a valid ed25519 curve point`)
  return key
}

function decodeBase58btc (multibase: string, did: string): Uint8Array {
  if (!multibase.startsWith('z')) throw new InvalidDidError(`${did}: expected multibase base58btc ('z' prefix)`)
  try {
    return base58btc.decode(multibase)
  } catch (cause) {
    throw new InvalidDidError(`${did}: invalid base58btc`, { cause })
  }
}

/** The `did:icn:` DID of a raw ed25519 public key. */
export function didFromPublicKey (publicKey: Uint8Array): Did {
  return `${ICN_PREFIX}${base58btc.encode(checkedKey(publicKey, 'public key'))}` as Did
}

// Parsing a DID decompresses a curve point (the costliest step of verifying an
// envelope) and the DIDs a node sees repeat (a 10k-member trust graph fits):
// keep recent ones, bounded (~10 MB at most).
const PARSED_DID_LIMIT = 65_536
const parsedDids = new Map<string, Uint8Array>()

/**
 * The raw public key of a `did:icn:` DID. Checks the prefix, the multibase
 * prefix, base58btc, the 32-byte length and that the key is a valid curve point.
 */
export function publicKeyFromDid (did: string): Uint8Array {
  if (typeof did !== 'string' || !did.startsWith(ICN_PREFIX)) throw new InvalidDidError(`not a did:icn DID: ${String(did).slice(0, 80)}`)
  const cached = parsedDids.get(did)
  if (cached !== undefined) return Uint8Array.from(cached)
  const key = checkedKey(decodeBase58btc(did.slice(ICN_PREFIX.length), did), did)
  if (parsedDids.size >= PARSED_DID_LIMIT) parsedDids.delete(parsedDids.keys().next().value as string)
  parsedDids.set(did, Uint8Array.from(key))
  return key
}

/** Parses and validates a `did:icn:` DID string. */
export function parseDid (did: string): Did {
  publicKeyFromDid(did)
  return did as Did
}

/** True when `value` is a valid `did:icn:` DID. */
export function isDid (value: unknown): value is Did {
  if (typeof value !== 'string') return false
  try {
    publicKeyFromDid(value)
    return true
  } catch {
    return false
  }
}

/** The standard `did:key` form (multicodec ed25519-pub) of a `did:icn:` DID. */
export function toDidKey (did: string): string {
  const key = publicKeyFromDid(did)
  const bytes = new Uint8Array(ED25519_PUB_PREFIX.length + 32)
  bytes.set(ED25519_PUB_PREFIX, 0)
  bytes.set(key, ED25519_PUB_PREFIX.length)
  return `${KEY_PREFIX}${base58btc.encode(bytes)}`
}

/** The `did:icn:` DID of a `did:key` ed25519 DID; other key types are refused. */
export function fromDidKey (didKey: string): Did {
  if (typeof didKey !== 'string' || !didKey.startsWith(KEY_PREFIX)) throw new InvalidDidError(`not a did:key DID: ${String(didKey).slice(0, 80)}`)
  const bytes = decodeBase58btc(didKey.slice(KEY_PREFIX.length), didKey)
  let codec: number
  let offset: number
  try {
    [codec, offset] = varint.decode(bytes)
  } catch (cause) {
    throw new InvalidDidError(`${didKey}: invalid multicodec varint`, { cause })
  }
  if (codec !== ED25519_PUB_CODEC) throw new InvalidDidError(`${didKey}: multicodec 0x${codec.toString(16)} is not ed25519-pub`)
  return didFromPublicKey(checkedKey(bytes.subarray(offset), didKey))
}
