import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as nodeCrypto from 'node:crypto'
import {
  InvalidKeyError, createNodeBackend, cryptoBackend, fromHex, keyPairFromSeed, nobleBackend, setVerifiedSignatureCacheSize, sign, toHex, verify
} from '../src/index.js'

const nodeBackend = createNodeBackend(nodeCrypto)
const backends = [nobleBackend, nodeBackend]

// RFC 8032 section 7.1, tests 1-3.
const RFC8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'
  },
  {
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'
  }
]

describe('crypto backends', () => {
  it('uses OpenSSL on Node', () => {
    expect(cryptoBackend.name).toBe('node')
  })

  for (const backend of backends) {
    describe(backend.name, () => {
      it.each(RFC8032)('matches RFC 8032 vector for seed $seed', (v) => {
        const seed = fromHex(v.seed)
        expect(toHex(backend.publicKeyFromSeed(seed))).toBe(v.publicKey)
        expect(toHex(backend.sign(fromHex(v.message), seed))).toBe(v.signature)
        expect(backend.verify(fromHex(v.signature), fromHex(v.message), fromHex(v.publicKey))).toBe(true)
      })

      it('hashes the NIST sha-256 "abc" vector', () => {
        expect(toHex(backend.sha256(new TextEncoder().encode('abc'))))
          .toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
      })

      it('returns false, never throws, for malformed verify input', () => {
        const v = RFC8032[0]!
        expect(backend.verify(new Uint8Array(63), new Uint8Array(0), fromHex(v.publicKey))).toBe(false)
        expect(backend.verify(fromHex(v.signature), new Uint8Array(0), new Uint8Array(31))).toBe(false)
        expect(backend.verify(new Uint8Array(64), new Uint8Array(0), fromHex(v.publicKey))).toBe(false)
      })
    })
  }

  it('gives identical keys, signatures, hashes and verdicts on both backends', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ maxLength: 256 }),
      fc.nat(),
      (seed, message, flip) => {
        const pk = nobleBackend.publicKeyFromSeed(seed)
        expect(toHex(nodeBackend.publicKeyFromSeed(seed))).toBe(toHex(pk))
        const sig = nobleBackend.sign(message, seed)
        expect(toHex(nodeBackend.sign(message, seed))).toBe(toHex(sig))
        expect(toHex(nodeBackend.sha256(message))).toBe(toHex(nobleBackend.sha256(message)))
        const bad = Uint8Array.from(sig)
        const bit = flip % (bad.length * 8)
        bad[bit >> 3]! ^= 1 << (bit & 7)
        expect(nodeBackend.verify(sig, message, pk)).toBe(true)
        expect(nobleBackend.verify(sig, message, pk)).toBe(true)
        expect(nodeBackend.verify(bad, message, pk)).toBe(false)
        expect(nobleBackend.verify(bad, message, pk)).toBe(false)
      }
    ), { numRuns: 100 })
  })
})

describe('key pairs', () => {
  it('derives the RFC 8032 public key and a did:icn DID from a seed', () => {
    const kp = keyPairFromSeed(fromHex(RFC8032[0]!.seed))
    expect(toHex(kp.publicKey)).toBe(RFC8032[0]!.publicKey)
    expect(kp.did).toBe('did:icn:zFVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z')
  })

  it('refuses seeds of the wrong length with InvalidKeyError', () => {
    expect(() => keyPairFromSeed(new Uint8Array(31))).toThrow(InvalidKeyError)
    expect(() => keyPairFromSeed(new Uint8Array(33))).toThrow('ed25519 seed must be 32 bytes, got 33')
  })

  it('sign/verify round-trips and any flipped bit in message or signature fails', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 1, maxLength: 128 }),
      fc.nat(), fc.boolean(),
      (seed, message, flip, inSignature) => {
        const kp = keyPairFromSeed(seed)
        const sig = sign(message, kp)
        expect(verify(sig, message, kp.publicKey)).toBe(true)
        const target = Uint8Array.from(inSignature ? sig : message)
        const bit = flip % (target.length * 8)
        target[bit >> 3]! ^= 1 << (bit & 7)
        expect(inSignature ? verify(target, message, kp.publicKey) : verify(sig, target, kp.publicKey)).toBe(false)
      }
    ), { numRuns: 200 })
  })

  it('a remembered valid signature never vouches for another key, or for its message changed in place', () => {
    const [a, b] = [keyPairFromSeed(new Uint8Array(32).fill(7)), keyPairFromSeed(new Uint8Array(32).fill(8))]
    const message = Uint8Array.from([1, 2, 3, 4])
    const sig = sign(message, a)
    expect(verify(sig, message, a.publicKey)).toBe(true)
    expect(verify(sig, message, a.publicKey)).toBe(true) // answered from the recently-verified set
    expect(verify(sig, message, b.publicKey)).toBe(false)
    message[0] = 9
    expect(verify(sig, message, a.publicKey)).toBe(false)
    expect(verify(sig.subarray(0, 63), Uint8Array.from([1, 2, 3, 4]), a.publicKey)).toBe(false)
  })

  it('a signature made with a derived key pair is remembered as verified: checking it costs no ed25519 verify', () => {
    const kp = keyPairFromSeed(new Uint8Array(32).fill(11))
    const message = Uint8Array.from([8, 8, 8])
    const backendVerify = cryptoBackend.verify
    let verifies = 0
    ;(cryptoBackend as { verify: typeof backendVerify }).verify = (...args) => { verifies++; return backendVerify(...args) }
    try {
      const sig = sign(message, kp)
      expect(verify(sig, message, kp.publicKey)).toBe(true)
      expect(verifies).toBe(0)
      // a look-alike key pair object (not derived here) signs as usual but vouches for nothing
      const lookalike = { seed: kp.seed, publicKey: kp.publicKey, did: kp.did }
      const other = Uint8Array.from([9, 9])
      const sig2 = sign(other, lookalike)
      expect(verify(sig2, other, kp.publicKey)).toBe(true)
      expect(verifies).toBe(1)
      expect(Object.isFrozen(kp)).toBe(true)
    } finally {
      (cryptoBackend as { verify: typeof backendVerify }).verify = backendVerify
    }
  })

  it('gives the same verdicts with the recently-verified set turned off, and refuses a bad size', () => {
    const kp = keyPairFromSeed(new Uint8Array(32).fill(9))
    const message = Uint8Array.from([5, 6])
    const sig = sign(message, kp)
    try {
      setVerifiedSignatureCacheSize(0)
      expect(verify(sig, message, kp.publicKey)).toBe(true)
      expect(verify(sig, Uint8Array.from([5, 7]), kp.publicKey)).toBe(false)
      expect(() => { setVerifiedSignatureCacheSize(-1) }).toThrow(RangeError)
    } finally {
      setVerifiedSignatureCacheSize(4096)
    }
  })
})
