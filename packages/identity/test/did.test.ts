import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { base58btc } from 'multiformats/bases/base58'
import {
  InvalidDidError, didFromPublicKey, fromDidKey, fromHex, isDid, keyPairFromSeed, parseDid, publicKeyFromDid, toDidKey, toHex
} from '../src/index.js'

// Published did:key examples with their raw public keys (base58btc).
const PUBLISHED = [
  { didKey: 'did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th', publicKeyBase58: '8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K' },
  { didKey: 'did:key:z6MkwJSaEMnE4u6LiqrZV1BJHSkc9x8S4mTm3ArNL1m19BZR', publicKeyBase58: 'HrBXe7XnjMbscM1roSDTSMCcLNraetDQM9wSVjnzDxn3' }
]

describe('did:icn', () => {
  it('encodes the RFC 8032 test-1 key as computed independently', () => {
    const pk = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
    const did = didFromPublicKey(pk)
    expect(did).toBe('did:icn:zFVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z')
    expect(toHex(publicKeyFromDid(did))).toBe(toHex(pk))
    expect(toDidKey(did)).toBe('did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw')
  })

  it.each(PUBLISHED)('round-trips published example $didKey', ({ didKey, publicKeyBase58 }) => {
    const did = fromDidKey(didKey)
    expect(toHex(publicKeyFromDid(did))).toBe(toHex(base58btc.baseDecode(publicKeyBase58)))
    expect(did).toBe(`did:icn:z${publicKeyBase58}`)
    expect(toDidKey(did)).toBe(didKey)
  })

  it('refuses malformed DIDs with a typed, specific error', () => {
    const valid = keyPairFromSeed(new Uint8Array(32).fill(7)).did
    expect(() => parseDid('did:web:example.com')).toThrow(InvalidDidError)
    expect(() => parseDid(valid.replace('did:icn:z', 'did:icn:m'))).toThrow("expected multibase base58btc ('z' prefix)")
    expect(() => parseDid('did:icn:z0OIl')).toThrow('invalid base58btc')
    expect(() => parseDid(`did:icn:${base58btc.encode(new Uint8Array(31).fill(9))}`)).toThrow('key is 31 bytes, expected 32')
    expect(() => parseDid('did:key:zTjsVPtY')).toThrow(InvalidDidError)
    expect(() => fromDidKey('did:key:zTjsVPtY')).toThrow(InvalidDidError)
  })

  it('refuses keys that are not valid curve points', () => {
    // y = 2 has no x on the curve; the all-zero encoding is a small-order point.
    const offCurve = new Uint8Array(32); offCurve[0] = 2
    expect(() => didFromPublicKey(offCurve)).toThrow(InvalidDidError)
    const identity = new Uint8Array(32); identity[0] = 1
    expect(() => parseDid(`did:icn:${base58btc.encode(identity)}`)).toThrow('not a valid ed25519 curve point')
  })

  it('refuses did:key of another key type', () => {
    const secp = new Uint8Array(35); secp[0] = 0xe7; secp[1] = 0x01; secp[2] = 2
    expect(() => fromDidKey(`did:key:${base58btc.encode(secp)}`)).toThrow('multicodec 0xe7 is not ed25519-pub')
  })

  it('isDid is true for any generated DID and false for junk', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
      const kp = keyPairFromSeed(seed)
      expect(isDid(kp.did)).toBe(true)
      expect(fromDidKey(toDidKey(kp.did))).toBe(kp.did)
    }), { numRuns: 50 })
    expect(isDid(42)).toBe(false)
    expect(isDid('did:icn:')).toBe(false)
  })
})
