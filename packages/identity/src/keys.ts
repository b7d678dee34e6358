import { isValidPublicKey } from './backend.js'
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
  return { seed: copy, publicKey, did: didFromPublicKey(publicKey) }
}

/** A fresh key pair from the system's secure random source. */
export function generateKeyPair (): KeyPair {
  return keyPairFromSeed(randomBytes(32))
}

/** Signs `message` with the key pair's seed (RFC 8032 ed25519). */
export function sign (message: Uint8Array, keyPair: Pick<KeyPair, 'seed'>): Uint8Array {
  return cryptoBackend.sign(message, keyPair.seed)
}

/** True when `signature` is a valid ed25519 signature of `message` by `publicKey`; never throws. */
export function verify (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  return cryptoBackend.verify(signature, message, publicKey)
}

/** Throws `InvalidKeyError` unless `publicKey` is 32 bytes and a valid, non-small-order curve point. */
export function assertPublicKey (publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new InvalidKeyError(`ed25519 public key must be 32 bytes, got ${publicKey instanceof Uint8Array ? publicKey.length : typeof publicKey}`)
  }
  if (!isValidPublicKey(publicKey)) throw new InvalidKeyError('public key is not a valid ed25519 curve point')
}
