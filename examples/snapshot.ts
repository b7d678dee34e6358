// @icn/snapshot: the Merkle root a snapshot agrees on, and a participant's proof of inclusion.
import { keyPairFromSeed, sha256, toHex, utf8 } from '@icn/identity'
import { type SnapshotLeaf, merkleRoot, proveInclusion, verifyInclusion } from '@icn/snapshot'

// One leaf per participant: the hashes and sizes of its recorded local state and channel state.
const leaves: SnapshotLeaf[] = [1, 2, 3].map((n) => {
  const state = utf8(`state of node ${n}`)
  const channel = utf8(`messages in flight to node ${n}`)
  return {
    did: keyPairFromSeed(new Uint8Array(32).fill(n)).did,
    stateHash: sha256(state),
    stateSize: state.length,
    channelHash: sha256(channel),
    channelSize: channel.length
  }
})
const root = merkleRoot(leaves)
console.log('root:', toHex(root))
const proof = proveInclusion('snapshot-1', leaves, leaves[1]!.did)
console.log('proof steps:', proof.steps.length, 'verifies:', verifyInclusion(proof))
const forged = { ...proof, leaf: { ...proof.leaf, stateSize: proof.leaf.stateSize + 1 } }
console.log('forged leaf verifies:', verifyInclusion(forged))
