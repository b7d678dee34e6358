import { isValidPublicKey } from './backend.js'
import { toHex } from './bytes.js'
import { cryptoBackend, randomBytes } from './crypto.js'
import { type Did, didFromPublicKey } from './did.js'
import { InvalidKeyError } from './errors.js'

/** An ed25519 identity: the 32-byte secret seed, its public key and its DID. */
export interface KeyPair {
  readonly seed: Uint8Array
  readonly publicKey: Uint8Array
  readonly did: Did
}

/** Derives the key pair of a 32-byte secret seed. */
export function keyPairFromSeed (seed: Uint8Array): KeyPair {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new InvalidKeyError(`ed25519 seed must be 32 bytes, got ${seed instanceof Uint8Array ? seed.length : typeof seed}`)
  }
  const copy = Uint8Array.from(seed)
  const publicKey = cryptoBackend.publicKeyFromSeed(copy)
  const keyPair: KeyPair = Object.freeze({ seed: copy, publicKey, did: didFromPublicKey(publicKey) })
  derivedKeyPairs.add(keyPair)
  return keyPair
}

// Key pairs whose public key this module derived from their seed: what they sign is known valid.
const derivedKeyPairs = new WeakSet<object>()

/** A fresh key pair from the system's secure random source. */
export function generateKeyPair (): KeyPair {
  return keyPairFromSeed(randomBytes(32))
}

/**
 * Signs `message` with the key pair's seed (RFC 8032 ed25519). A signature made with a key pair from
 * `keyPairFromSeed` is remembered as verified, so the node's own later check of it (a gossip validator
 * on publish) costs a hash, not a verify.
 */
export function sign (message: Uint8Array, keyPair: Pick<KeyPair, 'seed'>): Uint8Array {
  const signature = cryptoBackend.sign(message, keyPair.seed)
  if (verifiedCacheSize > 0 && derivedKeyPairs.has(keyPair)) remember(verifiedKey((keyPair as KeyPair).publicKey, signature, message))
  return signature
}

const verifiedKey = (publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): string =>
  toHex(publicKey) + toHex(signature) + toHex(cryptoBackend.sha256(message))

function remember (key: string): void {
  if (recentlyVerified.size >= verifiedCacheSize) recentlyVerified.delete(recentlyVerified.keys().next().value as string)
  recentlyVerified.add(key)
}

/** True when `signature` is a valid ed25519 signature of `message` by `publicKey`; never throws. */
export function verify (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array && message instanceof Uint8Array && publicKey instanceof Uint8Array) || signature.length !== 64 || publicKey.length !== 32) {
    return cryptoBackend.verify(signature, message, publicKey)
  }
  if (verifiedCacheSize === 0) return cryptoBackend.verify(signature, message, publicKey)
  const key = verifiedKey(publicKey, signature, message)
  if (recentlyVerified.has(key)) return true
  const ok = cryptoBackend.verify(signature, message, publicKey)
  if (ok) remember(key)
  return ok
}

// Valid (public key, signature, sha-256 of the message) triples seen lately, oldest first. One signature is
// often checked twice on one path — a gossip validator, then a ledger that cannot trust its caller — and
// hashing the message costs ~1 µs against ~130 µs for an ed25519 verify (Bitcoin Core keeps a signature
// cache for the same reason). Only successes are kept, so flooding invalid signatures cannot evict anything
// useful; 4,096 entries are about 1.5 MB at most.
let verifiedCacheSize = 4096
const recentlyVerified = new Set<string>()

/**
 * Sets how many recently verified signatures `verify` remembers (default 4,096; 0 turns it off and
 * empties it). Simulations that run several nodes in one process set 0, so that each simulated node
 * pays for its own verifications as separate processes would.
 */
export function setVerifiedSignatureCacheSize (size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('verified-signature cache size must be a non-negative integer')
  verifiedCacheSize = size
  for (const key of recentlyVerified) {
    if (recentlyVerified.size <= size) break
    recentlyVerified.delete(key)
  }
}

/** Throws `InvalidKeyError` unless `publicKey` is 32 bytes and a valid, non-small-order curve point. */
export function assertPublicKey (publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new InvalidKeyError(`ed25519 public key must be 32 bytes, got ${publicKey instanceof Uint8Array ? publicKey.length : typeof publicKey}`)
  }
  if (!isValidPublicKey(publicKey)) throw new InvalidKeyError('public key is not a valid ed25519 curve point')
}
