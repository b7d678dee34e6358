import * as ed from '@noble/ed25519'
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js'
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js'
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js'

// noble's sync API needs its sha512 wired once.
ed.hashes.sha512 = nobleSha512

/**
 * The primitives every signature and hash in ICN goes through. Two
 * implementations give identical results: `nobleBackend` (portable, pure JS)
 * and the Node backend (OpenSSL via `node:crypto`, ~15x faster here).
 */
export interface CryptoBackend {
  readonly name: 'noble' | 'node'
  sha256(data: Uint8Array): Uint8Array
  /** The 32-byte ed25519 public key of a 32-byte secret seed. */
  publicKeyFromSeed(seed: Uint8Array): Uint8Array
  /** A 64-byte RFC 8032 ed25519 signature. */
  sign(message: Uint8Array, seed: Uint8Array): Uint8Array
  /** RFC 8032 (strict, non-ZIP215) verification; never throws, false on any malformed input. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
  randomBytes(length: number): Uint8Array
}

/** Pure-JS backend from `@noble/ed25519` and `@noble/hashes`; works in any runtime. */
export const nobleBackend: CryptoBackend = {
  name: 'noble',
  sha256: (data) => nobleSha256(data),
  publicKeyFromSeed: (seed) => ed.getPublicKey(seed),
  sign: (message, seed) => ed.sign(message, seed),
  verify: (signature, message, publicKey) => {
    try {
      return ed.verify(signature, message, publicKey, { zip215: false })
    } catch {
      return false
    }
  },
  randomBytes: (length) => nobleRandomBytes(length)
}

/** blake3 has no OpenSSL equivalent; noble's is used everywhere. */
export function blake3 (data: Uint8Array): Uint8Array {
  return nobleBlake3(data)
}

/** Checks that 32 bytes decode to a valid, non-small-order ed25519 point. */
export function isValidPublicKey (publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return false
  try {
    const point = ed.Point.fromBytes(publicKey, false)
    return !point.isSmallOrder()
  } catch {
    return false
  }
}
