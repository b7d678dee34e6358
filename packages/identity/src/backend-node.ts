import type { CryptoBackend } from './backend.js'

type NodeCrypto = typeof import('node:crypto')
type KeyObject = import('node:crypto').KeyObject

// DER prefixes that wrap a raw ed25519 seed / public key for OpenSSL.
const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const SPKI_ED25519_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
const KEY_CACHE_LIMIT = 4096

/** A small insertion-ordered cache: parsing DER into a KeyObject costs about as much as a hash. */
class KeyCache {
  private readonly entries = new Map<string, KeyObject>()
  get (key: string, make: () => KeyObject): KeyObject {
    let value = this.entries.get(key)
    if (value === undefined) {
      value = make()
      if (this.entries.size >= KEY_CACHE_LIMIT) {
        const oldest = this.entries.keys().next().value
        if (oldest !== undefined) this.entries.delete(oldest)
      }
      this.entries.set(key, value)
    }
    return value
  }
}

function withPrefix (prefix: Uint8Array, raw: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + raw.length)
  out.set(prefix, 0)
  out.set(raw, prefix.length)
  return out
}

/** Builds the OpenSSL-backed implementation from a loaded `node:crypto`. */
export function createNodeBackend (crypto: NodeCrypto): CryptoBackend {
  const privateKeys = new KeyCache()
  const publicKeys = new KeyCache()
  const privateKey = (seed: Uint8Array): KeyObject => {
    if (seed.length !== 32) throw new RangeError('ed25519 seed must be 32 bytes')
    return privateKeys.get(Buffer.from(seed).toString('latin1'), () =>
      crypto.createPrivateKey({ key: withPrefix(PKCS8_ED25519_PREFIX, seed), format: 'der', type: 'pkcs8' }))
  }
  const publicKey = (raw: Uint8Array): KeyObject =>
    publicKeys.get(Buffer.from(raw).toString('latin1'), () =>
      crypto.createPublicKey({ key: withPrefix(SPKI_ED25519_PREFIX, raw), format: 'der', type: 'spki' }))

  return {
    name: 'node',
    sha256: (data) => new Uint8Array(crypto.createHash('sha256').update(data).digest()),
    publicKeyFromSeed: (seed) => {
      const der = crypto.createPublicKey(privateKey(seed)).export({ format: 'der', type: 'spki' })
      return new Uint8Array(der.subarray(SPKI_ED25519_PREFIX.length))
    },
    sign: (message, seed) => new Uint8Array(crypto.sign(null, message, privateKey(seed))),
    verify: (signature, message, raw) => {
      if (signature.length !== 64 || raw.length !== 32) return false
      try {
        return crypto.verify(null, message, publicKey(raw), signature)
      } catch {
        return false
      }
    },
    randomBytes: (length) => new Uint8Array(crypto.randomBytes(length))
  }
}
