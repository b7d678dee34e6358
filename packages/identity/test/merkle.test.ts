import { describe, expect, test } from 'vitest'
import { concatBytes, merkleFoldsTo, merkleLeafHash, merkleNodeHash, merklePath, merkleRootInSteps, merkleRootOf, sha256, utf8 } from '../src/index.js'

const leaves = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => merkleLeafHash(utf8(`leaf ${i}`)))

describe('merkle', () => {
  test('hashes are domain-separated sha-256 and the odd node is carried up', () => {
    const [a, b, c] = leaves(3) as [Uint8Array, Uint8Array, Uint8Array]
    expect(a).toEqual(sha256(concatBytes(Uint8Array.of(0), utf8('leaf 0'))))
    expect(merkleNodeHash(a, b)).toEqual(sha256(concatBytes(Uint8Array.of(1), a, b)))
    expect(merkleRootOf([a])).toEqual(a)
    expect(merkleRootOf([a, b, c])).toEqual(merkleNodeHash(merkleNodeHash(a, b), c))
    expect(() => merkleRootOf([])).toThrow(RangeError)
  })

  test('every leaf of every size 1–20 proves; a changed leaf, step or root does not', () => {
    for (let n = 1; n <= 20; n++) {
      const hashes = leaves(n)
      for (let i = 0; i < n; i++) {
        const { root, steps } = merklePath(hashes, i)
        expect(root).toEqual(merkleRootOf(hashes))
        expect(merkleFoldsTo(hashes[i] as Uint8Array, steps, root)).toBe(true)
        expect(merkleFoldsTo(merkleLeafHash(utf8('other')), steps, root)).toBe(false)
        if (steps.length > 0) {
          const flipped = steps.map((s, k) => (k === 0 ? { side: s.side === 'left' ? 'right' as const : 'left' as const, hash: s.hash } : s))
          expect(merkleFoldsTo(hashes[i] as Uint8Array, flipped, root)).toBe(false)
        }
        expect(merkleFoldsTo(hashes[i] as Uint8Array, steps, new Uint8Array(32))).toBe(false)
      }
    }
    expect(() => merklePath(leaves(2), 2)).toThrow(RangeError)
  })

  test('merkleRootInSteps gives the same root and pauses every `step` hashes', async () => {
    for (const n of [1, 2, 7, 100]) {
      let pauses = 0
      const root = await merkleRootInSteps(leaves(n), async () => { pauses++ }, 10)
      expect(root).toEqual(merkleRootOf(leaves(n)))
      expect(pauses).toBe(Math.floor((n - 1) / 10)) // n − 1 node hashes in all
    }
    await expect(merkleRootInSteps([], async () => {})).rejects.toThrow(RangeError)
    expect(merkleFoldsTo(leaves(1)[0] as Uint8Array, [{ side: 'left', hash: new Uint8Array(3) }], new Uint8Array(32))).toBe(false)
  })
})
