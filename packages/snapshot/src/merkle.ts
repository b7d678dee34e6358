import { type MerkleStep, encode, merkleFoldsTo, merkleLeafHash, merkleNodeHash, merklePath, merkleRootOf } from '@icn/identity'

/** What one participant commits to in a snapshot: its DID and the hashes and sizes of its local and channel states. */
export interface SnapshotLeaf {
  readonly did: string
  readonly stateHash: Uint8Array
  readonly stateSize: number
  readonly channelHash: Uint8Array
  readonly channelSize: number
}

/** One step of an inclusion proof: the sibling hash and which side it sits on. */
export type ProofStep = MerkleStep

/** Evidence that `leaf` is in the snapshot whose root is `root`. */
export interface InclusionProof {
  readonly snapshotId: string
  readonly root: Uint8Array
  readonly leaf: SnapshotLeaf
  readonly index: number
  readonly leafCount: number
  readonly steps: readonly ProofStep[]
}

/** sha-256(0x00 ‖ DAG-CBOR(leaf)). */
export function leafHash (leaf: SnapshotLeaf): Uint8Array {
  return merkleLeafHash(encode({
    did: leaf.did, stateHash: leaf.stateHash, stateSize: leaf.stateSize, channelHash: leaf.channelHash, channelSize: leaf.channelSize
  }))
}

/** sha-256(0x01 ‖ left ‖ right). */
export const nodeHash = merkleNodeHash

/** Leaves in the one order every node uses: by DID (code-unit order; DIDs are ASCII). */
export function sortLeaves (leaves: readonly SnapshotLeaf[]): SnapshotLeaf[] {
  return [...leaves].sort((a, b) => a.did < b.did ? -1 : a.did > b.did ? 1 : 0)
}

/** The global state root: the Merkle root over the leaves sorted by DID. Throws on duplicate DIDs. */
export function merkleRoot (leaves: readonly SnapshotLeaf[]): Uint8Array {
  const sorted = sortLeaves(leaves)
  for (let i = 1; i < sorted.length; i++) {
    if ((sorted[i] as SnapshotLeaf).did === (sorted[i - 1] as SnapshotLeaf).did) throw new RangeError(`duplicate leaf for ${(sorted[i] as SnapshotLeaf).did}`)
  }
  return merkleRootOf(sorted.map(leafHash))
}

/** The inclusion proof of `did`'s leaf among `leaves` (sorted internally). */
export function proveInclusion (snapshotId: string, leaves: readonly SnapshotLeaf[], did: string): InclusionProof {
  const sorted = sortLeaves(leaves)
  const index = sorted.findIndex((l) => l.did === did)
  if (index < 0) throw new RangeError(`${did} is not a leaf of snapshot ${snapshotId}`)
  const { root, steps } = merklePath(sorted.map(leafHash), index)
  return { snapshotId, root, leaf: sorted[index] as SnapshotLeaf, index, leafCount: sorted.length, steps }
}

/** True when the proof's steps hash its leaf up to its root. Never throws on malformed steps. */
export function verifyInclusion (proof: InclusionProof): boolean {
  try {
    return merkleFoldsTo(leafHash(proof.leaf), proof.steps, proof.root)
  } catch {
    return false
  }
}
