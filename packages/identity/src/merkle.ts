import { bytesEqual, concatBytes } from './bytes.js'
import { sha256 } from './crypto.js'

/** One step of a Merkle inclusion proof: the sibling hash and which side of the path it sits on. */
export interface MerkleStep {
  readonly side: 'left' | 'right'
  readonly hash: Uint8Array
}

// Domain-separated prefixes (RFC 6962 style) so a leaf can never pose as an inner node.
const LEAF_PREFIX = Uint8Array.of(0)
const NODE_PREFIX = Uint8Array.of(1)

/** sha-256(0x00 ‖ bytes): the hash of one leaf's encoding. */
export function merkleLeafHash (bytes: Uint8Array): Uint8Array {
  return sha256(concatBytes(LEAF_PREFIX, bytes))
}

/** sha-256(0x01 ‖ left ‖ right). */
export function merkleNodeHash (left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concatBytes(NODE_PREFIX, left, right))
}

/**
 * Every level of the tree over `leafHashes` (in the given order), leaves first. Each level pairs left to
 * right; an unpaired last node is carried up unchanged (no duplication, so two leaf lists never share a root).
 */
function levels (leafHashes: readonly Uint8Array[]): Uint8Array[][] {
  if (leafHashes.length === 0) throw new RangeError('a Merkle tree needs at least one leaf')
  const out: Uint8Array[][] = [[...leafHashes]]
  for (let level = out[0] as Uint8Array[]; level.length > 1;) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array
      const right = level[i + 1]
      next.push(right === undefined ? left : merkleNodeHash(left, right))
    }
    out.push(next)
    level = next
  }
  return out
}

/** The root over `leafHashes` (at least one). */
export function merkleRootOf (leafHashes: readonly Uint8Array[]): Uint8Array {
  const all = levels(leafHashes)
  return (all[all.length - 1] as Uint8Array[])[0] as Uint8Array
}

/**
 * `merkleRootOf`, computed in steps of at most `step` node hashes with `await pause()` between them (e.g. a
 * `setImmediate` turn), so a large tree never holds the event loop for long. Same root.
 */
export async function merkleRootInSteps (leafHashes: readonly Uint8Array[], pause: () => Promise<void>, step = 4096): Promise<Uint8Array> {
  if (leafHashes.length === 0) throw new RangeError('a Merkle tree needs at least one leaf')
  let level: readonly Uint8Array[] = leafHashes
  let done = 0
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array
      const right = level[i + 1]
      if (right === undefined) {
        next.push(left)
        continue
      }
      next.push(merkleNodeHash(left, right))
      if (++done % step === 0) await pause()
    }
    level = next
  }
  return level[0] as Uint8Array
}

/** The root and the sibling path of leaf `index` among `leafHashes`. */
export function merklePath (leafHashes: readonly Uint8Array[], index: number): { root: Uint8Array, steps: MerkleStep[] } {
  if (!Number.isSafeInteger(index) || index < 0 || index >= leafHashes.length) throw new RangeError(`leaf index ${index} is not in 0..${leafHashes.length - 1}`)
  const all = levels(leafHashes)
  const steps: MerkleStep[] = []
  let position = index
  for (let depth = 0; depth < all.length - 1; depth++) {
    const level = all[depth] as Uint8Array[]
    const sibling = level[position % 2 === 0 ? position + 1 : position - 1]
    if (sibling !== undefined) steps.push({ side: position % 2 === 0 ? 'right' : 'left', hash: sibling })
    position = Math.floor(position / 2)
  }
  return { root: (all[all.length - 1] as Uint8Array[])[0] as Uint8Array, steps }
}

/** True when folding `steps` up from `leafHash` gives `root`. Never throws on malformed steps. */
export function merkleFoldsTo (leafHash: Uint8Array, steps: readonly MerkleStep[], root: Uint8Array): boolean {
  try {
    let hash = leafHash
    for (const step of steps) {
      if (!(step.hash instanceof Uint8Array) || step.hash.length !== 32) return false
      if (step.side === 'left') hash = merkleNodeHash(step.hash, hash)
      else if (step.side === 'right') hash = merkleNodeHash(hash, step.hash)
      else return false
    }
    return root instanceof Uint8Array && bytesEqual(hash, root)
  } catch {
    return false
  }
}
