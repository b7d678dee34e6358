import { bytesEqual, toHex } from '@icn/identity'
import { describe, expect, it } from 'vitest'
import { InsufficientParticipantsError, type SnapshotOutcome, decodeMessage, merkleRoot, verifyInclusion } from '../src/index.js'
import { createTokenCluster, recordedBalance, recordedInFlight } from './support/cluster.js'

function completed (outcome: SnapshotOutcome): Extract<SnapshotOutcome, { status: 'complete' }> {
  if (outcome.status !== 'complete') throw new Error(`snapshot failed: ${outcome.reason}`)
  return outcome
}

describe('snapshot coordination (the original\'s four tests, done fully)', () => {
  it('three nodes: every participant, the initiator included, completes with the same Merkle root', async () => {
    const cluster = createTokenCluster({ size: 3, seed: 1 })
    const [a, b, c] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]]
    const { snapshotId, outcome } = a.snap.startSnapshot()
    expect(a.snap.stats.active).toBe(1)
    await cluster.net.runUntilIdle()
    const results = await Promise.all(cluster.nodes.map(async (n) => completed(await n.snap.waitForSnapshot(snapshotId))))
    const mine = completed(await outcome)
    const root = toHex(mine.snapshot.root)
    expect(results.map((r) => toHex(r.snapshot.root))).toEqual([root, root, root])
    expect(mine.snapshot.participants).toEqual([a.did, b.did, c.did].sort())
    expect(mine.snapshot.initiator).toBe(a.did)
    // The root is a real Merkle root over the leaves, sorted by DID.
    expect(mine.snapshot.leaves.map((l) => l.did)).toEqual([a.did, b.did, c.did].sort())
    expect(bytesEqual(merkleRoot(mine.snapshot.leaves), mine.snapshot.root)).toBe(true)
    for (const node of cluster.nodes) {
      const record = node.snap.getCompleted(snapshotId)
      expect(record?.node).toBe(node.did)
      expect(recordedBalance(record!)).toBe(100)
      expect(recordedInFlight(record!)).toEqual({ tokens: 0, frames: 0 })
      const proof = node.snap.inclusionProof(snapshotId)
      expect(proof.leaf.did).toBe(node.did)
      expect(toHex(proof.root)).toBe(root)
      expect(verifyInclusion(proof)).toBe(true)
      expect(node.snap.stats).toEqual({ active: 0, completed: 1, failed: 0, rejected: 0 })
    }
    expect(cluster.net.handlerErrors).toEqual([])
    expect(cluster.clock.pendingTimers).toBe(0)
    await cluster.close()
  })

  it('fewer than minParticipants trusted participants is a typed error', () => {
    const cluster = createTokenCluster({ size: 2, seed: 2 })
    const a = cluster.nodes[0]!
    expect(() => a.snap.startSnapshot()).toThrow(InsufficientParticipantsError)
    try {
      a.snap.startSnapshot()
    } catch (err) {
      expect((err as InsufficientParticipantsError).code).toBe('INSUFFICIENT_PARTICIPANTS')
      expect((err as InsufficientParticipantsError).participants).toBe(2)
      expect((err as InsufficientParticipantsError).required).toBe(3)
    }
    expect(a.snap.stats.active).toBe(0)
  })
})
