import { bytesEqual, concatBytes, sha256, toHex } from '@icn/identity'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type SnapshotLeaf, leafHash, merkleRoot, nodeHash, proveInclusion, verifyInclusion } from '../src/index.js'
import { keyPairs } from './support/cluster.js'

const dids = keyPairs(20, 7).map((k) => k.did)
const leaf = (did: string, n: number): SnapshotLeaf => ({ did, stateHash: sha256(Uint8Array.of(n)), stateSize: n, channelHash: sha256(Uint8Array.of(n, 1)), channelSize: n + 1 })

describe('Merkle root and inclusion proofs', () => {
  it('matches a hand computation for three leaves (leaves sorted by DID, odd node carried up)', () => {
    const leaves = [leaf(dids[0]!, 1), leaf(dids[1]!, 2), leaf(dids[2]!, 3)]
    const [x, y, z] = [...leaves].sort((p, q) => p.did < q.did ? -1 : 1).map(leafHash)
    const expected = sha256(concatBytes(Uint8Array.of(1), sha256(concatBytes(Uint8Array.of(1), x!, y!)), z!))
    expect(toHex(merkleRoot(leaves))).toBe(toHex(expected))
    expect(toHex(nodeHash(x!, y!))).toBe(toHex(sha256(concatBytes(Uint8Array.of(1), x!, y!))))
  })

  it('is independent of input order and differs from a flat hash of the leaves', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), fc.integer(), (n, seed) => {
      const leaves = dids.slice(0, n).map((d, i) => leaf(d, i + seed % 7))
      const shuffled = [...leaves].reverse()
      expect(toHex(merkleRoot(shuffled))).toBe(toHex(merkleRoot(leaves)))
    }))
    const leaves = dids.slice(0, 4).map((d, i) => leaf(d, i))
    expect(toHex(merkleRoot(leaves))).not.toBe(toHex(sha256(concatBytes(...leaves.map(leafHash)))))
  })

  it('every leaf of every tree size 1..20 has a proof that verifies, and a proof fails for any changed leaf, step or root', () => {
    for (let n = 1; n <= 20; n++) {
      const leaves = dids.slice(0, n).map((d, i) => leaf(d, i))
      const root = merkleRoot(leaves)
      for (const did of dids.slice(0, n)) {
        const proof = proveInclusion('s1', leaves, did)
        expect(proof.leaf.did).toBe(did)
        expect(bytesEqual(proof.root, root)).toBe(true)
        expect(proof.leafCount).toBe(n)
        expect(verifyInclusion(proof)).toBe(true)
        expect(verifyInclusion({ ...proof, leaf: { ...proof.leaf, stateSize: proof.leaf.stateSize + 1 } })).toBe(false)
        expect(verifyInclusion({ ...proof, root: sha256(root) })).toBe(false)
        if (proof.steps.length > 0) {
          const steps = proof.steps.map((s, i) => i === 0 ? { ...s, hash: sha256(s.hash) } : s)
          expect(verifyInclusion({ ...proof, steps })).toBe(false)
          expect(verifyInclusion({ ...proof, steps: proof.steps.slice(1) })).toBe(false)
        }
      }
    }
  })

  it('refuses an empty tree, duplicate DIDs and an unknown DID', () => {
    expect(() => merkleRoot([])).toThrow(RangeError)
    expect(() => merkleRoot([leaf(dids[0]!, 1), leaf(dids[0]!, 2)])).toThrow(`duplicate leaf for ${dids[0]!}`)
    expect(() => proveInclusion('s', [leaf(dids[0]!, 1)], dids[1]!)).toThrow(RangeError)
  })
})
