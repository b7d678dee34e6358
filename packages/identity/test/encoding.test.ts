import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EncodingError, NonCanonicalError, checkDecimal, checkDid, checkFields, checkInteger, checkOneOf, checkString, isPlainMap, cidOf, cidOfBytes, decode, encode, fromJson, toHex, toJson, utf8, blake3, sha256 } from '../src/index.js'

// Values DAG-CBOR carries exactly (integers are safe numbers, so they decode as they went in).
const canonicalValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null), fc.boolean(), fc.integer(), fc.string(), fc.uint8Array({ maxLength: 16 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 })
  )
})).value

describe('canonical encoding', () => {
  it('round-trips any value, and encoding is deterministic', () => {
    fc.assert(fc.property(canonicalValue, (value) => {
      const bytes = encode(value)
      const decoded = decode(bytes)
      expect(decoded).toEqual(value)
      expect(toHex(encode(decoded))).toBe(toHex(bytes))
    }), { numRuns: 300 })
  })

  it('sorts map keys (length first, then bytewise) regardless of insertion order', () => {
    expect(toHex(encode({ b: 1, a: 2, aa: 3 }))).toBe(toHex(encode({ aa: 3, a: 2, b: 1 })))
    expect(toHex(encode({ b: 1, a: 2 }))).toBe('a2616102616201')
  })

  it('leaves out undefined properties, so optional fields have one encoding', () => {
    expect(toHex(encode({ a: 1, b: undefined }))).toBe(toHex(encode({ a: 1 })))
  })

  it('carries bigints outside the safe range', () => {
    const big = 2n ** 63n
    expect(decode(encode({ amount: big }))).toEqual({ amount: big })
  })

  it('refuses values it cannot encode with EncodingError', () => {
    expect(() => encode(Number.NaN)).toThrow(EncodingError)
    expect(() => encode({ f: () => 1 })).toThrow(EncodingError)
    expect(() => encode([undefined])).toThrow(EncodingError)
  })

  it('refuses non-canonical bytes with NonCanonicalError and malformed bytes with EncodingError', () => {
    // {"b":1,"a":2} with keys in the wrong order.
    expect(() => decode(Uint8Array.from([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02]))).toThrow(NonCanonicalError)
    // 1 encoded in two bytes instead of one.
    expect(() => decode(Uint8Array.from([0x18, 0x01]))).toThrow(EncodingError)
    expect(() => decode(Uint8Array.from([0xa2, 0x61]))).toThrow(EncodingError)
  })

  it('gives the CID of the sha2-256 of the canonical bytes', () => {
    expect(cidOf({ hello: 'world' }).toString()).toBe(cidOfBytes(encode({ hello: 'world' }), 0x71).toString())
    expect(cidOfBytes(utf8('abc')).toString()).toBe('bafkreif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu')
  })

  it('hashes with sha-256 and blake3 (published "abc" vectors)', () => {
    expect(toHex(sha256(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(toHex(blake3(utf8('abc')))).toBe('6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85')
  })
})

describe('tagged JSON', () => {
  it('round-trips bytes and bigints', () => {
    const value = { amount: -12345678901234567890n, key: Uint8Array.from([1, 2, 255]), list: [1, 'x', null] }
    expect(fromJson(toJson(value))).toEqual(value)
    expect(toJson({ n: 5n })).toBe('{"n":{"$bigint":"5"}}')
  })

  it('refuses invalid JSON with EncodingError', () => {
    expect(() => fromJson('{"a":')).toThrow(EncodingError)
  })
})

describe('shape checks', () => {
  const fail = (message: string): Error => new RangeError(message)
  it('accepts exact and optional fields and names what is wrong otherwise', () => {
    expect(checkFields({ a: 1, b: 2 }, 'rec', ['a'], ['b'], fail)).toEqual({ a: 1, b: 2 })
    expect(() => checkFields({ a: 1, c: 3 }, 'rec', ['a'], ['b'], fail)).toThrow('rec has fields [a,c], expected [a] (optional b)')
    expect(() => checkFields({ b: 2 }, 'rec', ['a'], [], fail)).toThrow('rec has fields [b], expected [a]')
    expect(() => checkFields(Uint8Array.of(1), 'rec', [], [], fail)).toThrow('rec must be a map')
    expect(isPlainMap([])).toBe(false)
  })

  it('checks scalars with the caller\'s error', () => {
    expect(() => checkInteger(1.5, 'n', fail)).toThrow(RangeError)
    expect(checkInteger(7, 'n', fail, 0, 10)).toBe(7)
    expect(checkDecimal('120', 'amount', fail)).toBe('120')
    expect(() => checkDecimal('012', 'amount', fail)).toThrow('amount must be a non-negative decimal integer string')
    expect(checkOneOf('for', ['for', 'against'], 'choice', fail)).toBe('for')
    expect(() => checkString('', 'name', fail, { min: 1 })).toThrow('name must be a string of 1-1000 characters')
    expect(() => checkDid('did:icn:nope', 'member', fail)).toThrow('member must be a did:icn DID')
  })
})
