import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  EnvelopeError, InvalidSignatureError, InvalidDidError, cidOf, envelopeBodyFromBytes, envelopeSigningBytes, decodeEnvelope, sealEnvelope, encode, encodeEnvelope, isValidEnvelope,
  keyPairFromSeed, openEnvelope, signEnvelope, toHex, verifyEnvelope
} from '../src/index.js'

const alice = keyPairFromSeed(new Uint8Array(32).fill(1))
const bob = keyPairFromSeed(new Uint8Array(32).fill(2))

describe('signed envelopes', () => {
  it('signs, verifies and names the body by its CID', () => {
    const env = signEnvelope('icn/test', { amount: 5, memo: 'tea' }, alice)
    expect(env.signer).toBe(alice.did)
    expect(env.cid).toBe(cidOf({ domain: 'icn/test', payload: { amount: 5, memo: 'tea' }, signer: alice.did }).toString())
    expect(verifyEnvelope(env, 'icn/test')).toEqual({ amount: 5, memo: 'tea' })
  })

  it('round-trips through wire bytes with the same CID', () => {
    const env = signEnvelope('icn/test', { list: [1, 2, 3] }, alice)
    const back = decodeEnvelope(encodeEnvelope(env))
    expect(back).toEqual(env)
    expect(verifyEnvelope(back, 'icn/test')).toEqual({ list: [1, 2, 3] })
  })

  it('refuses a wrong domain, a swapped signer, a changed payload and a forged signature', () => {
    const env = signEnvelope('icn/test', { amount: 5 }, alice)
    expect(() => verifyEnvelope(env, 'icn/other')).toThrow(EnvelopeError)
    expect(() => verifyEnvelope({ ...env, signer: bob.did })).toThrow(EnvelopeError)
    expect(() => verifyEnvelope({ ...env, payload: { amount: 6 } })).toThrow('does not match its body')
    const forged = { ...env, signature: signEnvelope('icn/test', { amount: 5 }, bob).signature }
    expect(() => verifyEnvelope(forged)).toThrow(InvalidSignatureError)
    expect(() => verifyEnvelope({ ...env, signer: 'did:icn:zzz' as typeof env.signer })).toThrow(InvalidDidError)
    expect(isValidEnvelope(forged)).toBe(false)
  })

  it('any flipped bit in the wire bytes is refused or fails verification', () => {
    const env = signEnvelope('icn/test', { n: 1, text: 'hello' }, alice)
    const wire = encodeEnvelope(env)
    fc.assert(fc.property(fc.nat(wire.length * 8 - 1), (bit) => {
      const bad = Uint8Array.from(wire)
      bad[bit >> 3]! ^= 1 << (bit & 7)
      let accepted = false
      try {
        const decoded = decodeEnvelope(bad)
        accepted = isValidEnvelope(decoded, 'icn/test')
      } catch (err) {
        expect((err as Error).name).toMatch(/EnvelopeError|InvalidDidError/)
      }
      expect(accepted).toBe(false)
    }), { numRuns: wire.length * 8 })
  })

  it('openEnvelope decodes and verifies in one pass: same envelope, same refusals, and the same verdict on any flipped bit', () => {
    const env = signEnvelope('icn/test', { n: 1, text: 'hello' }, alice)
    const wire = encodeEnvelope(env)
    expect(openEnvelope(wire, 'icn/test')).toEqual(env)
    expect(() => openEnvelope(wire, 'icn/other')).toThrow("envelope domain 'icn/test' is not 'icn/other'")
    const forged = encodeEnvelope({ ...env, signature: signEnvelope('icn/test', { n: 1, text: 'hello' }, bob).signature })
    expect(() => openEnvelope(forged, 'icn/test')).toThrow(InvalidSignatureError)
    fc.assert(fc.property(fc.nat(wire.length * 8 - 1), (bit) => {
      const bad = Uint8Array.from(wire)
      bad[bit >> 3]! ^= 1 << (bit & 7)
      const twoSteps = ((): string => { try { verifyEnvelope(decodeEnvelope(bad), 'icn/test'); return 'ok' } catch (err) { return (err as Error).name } })()
      const onePass = ((): string => { try { openEnvelope(bad, 'icn/test'); return 'ok' } catch (err) { return (err as Error).name } })()
      expect(onePass).toBe(twoSteps)
      expect(onePass).not.toBe('ok')
    }), { numRuns: wire.length * 8 })
  })

  it('decodeEnvelope refuses wrong shapes with EnvelopeError', () => {
    expect(() => decodeEnvelope(encode([1, 2]))).toThrow(EnvelopeError)
    expect(() => decodeEnvelope(encode({ domain: 'x', payload: 1, signer: alice.did }))).toThrow('envelope has fields [domain,payload,signer], expected [domain,payload,signature,signer]')
    expect(() => decodeEnvelope(encode({ domain: 'x', payload: 1, signer: alice.did, signature: new Uint8Array(3) }))).toThrow('signature must be 64 bytes')
    expect(() => decodeEnvelope(Uint8Array.from([0xff]))).toThrow(EnvelopeError)
  })
})

describe('sealEnvelope', () => {
  it('gives the envelope signEnvelope makes, its encodeEnvelope bytes and its signed body, for any payload', () => {
    fc.assert(fc.property(fc.jsonValue(), (payload) => {
      const sealed = sealEnvelope('icn/test', payload, alice)
      const signed = signEnvelope('icn/test', payload, alice)
      expect(sealed.envelope).toEqual(signed)
      expect(toHex(sealed.bytes)).toBe(toHex(encodeEnvelope(signed)))
      expect(toHex(sealed.body)).toBe(toHex(envelopeSigningBytes('icn/test', payload, alice.did)))
      expect(decodeEnvelope(sealed.bytes).cid).toBe(signed.cid)
      expect(() => verifyEnvelope(decodeEnvelope(sealed.bytes), 'icn/test')).not.toThrow()
    }), { numRuns: 200 })
  })

  it('refuses an empty domain', () => {
    expect(() => sealEnvelope('', 1, alice)).toThrow(EnvelopeError)
  })
})

describe('envelopeBodyFromBytes', () => {
  it('slices exactly the signed body out of canonical wire bytes, for any payload', () => {
    fc.assert(fc.property(fc.jsonValue(), (payload) => {
      const env = signEnvelope('icn/test', payload, alice)
      expect(toHex(envelopeBodyFromBytes(encodeEnvelope(env)))).toBe(toHex(envelopeSigningBytes('icn/test', env.payload, alice.did)))
    }), { numRuns: 200 })
  })

  it('refuses bytes without the envelope layout', () => {
    expect(() => envelopeBodyFromBytes(encode({ a: 1 }))).toThrow(EnvelopeError)
    expect(() => envelopeBodyFromBytes(new Uint8Array(0))).toThrow('canonical envelope layout')
  })
})
