import { bytesEqual, encode, sha256 } from '@icn/identity'

/** What one participant commits to in a snapshot: its DID and the hashes and sizes of its local and channel states. */
export interface SnapshotLeaf {
  readonly did: string
  readonly stateHash: Uint8Array
  readonly stateSize: number
  readonly channelHash: Uint8Array
  readonly channelSize: number
}

/** One step of an inclusion proof: the sibling hash and which side it sits on. */
export interface ProofStep {
  readonly side: 'left' | 'right'
  readonly hash: Uint8Array
}

/** Evidence that `leaf` is in the snapshot whose root is `root`. */
export interface InclusionProof {
  readonly snapshotId: string
  readonly root: Uint8Array
  readonly leaf: SnapshotLeaf
  readonly index: number
  readonly leafCount: number
  readonly steps: readonly ProofStep[]
}

// Domain-separated prefixes (RFC 6962 style) so a leaf can never pose as an inner node.
const LEAF_PREFIX = Uint8Array.of(0)
const NODE_PREFIX = Uint8Array.of(1)

function hashWithPrefix (prefix: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, prefix.length)
  const buf = new Uint8Array(total)
  buf.set(prefix, 0)
  let offset = prefix.length
  for (const p of parts) { buf.set(p, offset); offset += p.length }
  return sha256(buf)
}

/** sha-256(0x00 ‖ DAG-CBOR(leaf)). */
export function leafHash (leaf: SnapshotLeaf): Uint8Array {
  return hashWithPrefix(LEAF_PREFIX, encode({
    did: leaf.did, stateHash: leaf.stateHash, stateSize: leaf.stateSize, channelHash: leaf.channelHash, channelSize: leaf.channelSize
  }))
}

/** sha-256(0x01 ‖ left ‖ right). */
export function nodeHash (left: Uint8Array, right: Uint8Array): Uint8Array {
  return hashWithPrefix(NODE_PREFIX, left, right)
}

/** Leaves in the one order every node uses: by DID (code-unit order; DIDs are ASCII). */
export function sortLeaves (leaves: readonly SnapshotLeaf[]): SnapshotLeaf[] {
  return [...leaves].sort((a, b) => a.did < b.did ? -1 : a.did > b.did ? 1 : 0)
}

/** Each level of the tree, leaves first; an unpaired last node is carried up unchanged (no duplication). */
function levels (leaves: readonly SnapshotLeaf[]): Uint8Array[][] {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf')
  const out: Uint8Array[][] = [leaves.map(leafHash)]
  for (let level = out[0] as Uint8Array[]; level.length > 1;) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array
      const right = level[i + 1]
      next.push(right === undefined ? left : nodeHash(left, right))
    }
    out.push(next)
    level = next
  }
  return out
}

/** The global state root: the Merkle root over the leaves sorted by DID. Throws on duplicate DIDs. */
export function merkleRoot (leaves: readonly SnapshotLeaf[]): Uint8Array {
  const sorted = sortLeaves(leaves)
  for (let i = 1; i < sorted.length; i++) {
    if ((sorted[i] as SnapshotLeaf).did === (sorted[i - 1] as SnapshotLeaf).did) throw new RangeError(`duplicate leaf for ${(sorted[i] as SnapshotLeaf).did}`)
  }
  const all = levels(sorted)
  return (all[all.length - 1] as Uint8Array[])[0] as Uint8Array
}

/** The inclusion proof of `did`'s leaf among `leaves` (sorted internally). */
export function proveInclusion (snapshotId: string, leaves: readonly SnapshotLeaf[], did: string): InclusionProof {
  const sorted = sortLeaves(leaves)
  const index = sorted.findIndex((l) => l.did === did)
  if (index < 0) throw new RangeError(`${did} is not a leaf of snapshot ${snapshotId}`)
  const all = levels(sorted)
  const steps: ProofStep[] = []
  let position = index
  for (let depth = 0; depth < all.length - 1; depth++) {
    const level = all[depth] as Uint8Array[]
    const siblingIndex = position % 2 === 0 ? position + 1 : position - 1
    const sibling = level[siblingIndex]
    if (sibling !== undefined) steps.push({ side: position % 2 === 0 ? 'right' : 'left', hash: sibling })
    position = Math.floor(position / 2)
  }
  return { snapshotId, root: (all[all.length - 1] as Uint8Array[])[0] as Uint8Array, leaf: sorted[index] as SnapshotLeaf, index, leafCount: sorted.length, steps }
}

/** True when the proof's steps hash its leaf up to its root. Never throws on malformed steps. */
export function verifyInclusion (proof: InclusionProof): boolean {
  try {
    let hash = leafHash(proof.leaf)
    for (const step of proof.steps) {
      if (!(step.hash instanceof Uint8Array) || step.hash.length !== 32) return false
      hash = step.side === 'left' ? nodeHash(step.hash, hash) : nodeHash(hash, step.hash)
    }
    return bytesEqual(hash, proof.root)
  } catch {
    return false
  }
}
