import { toHex } from '@icn/identity'
import type { CompletedSnapshot } from '../../src/index.js'
import { Router } from './router.js'

/** Completed snapshot records from a real 3-node run (one per node). */
export async function realRecords (seed: number): Promise<CompletedSnapshot[]> {
  const router = new Router({ size: 3, seed })
  const { snapshotId } = router.nodes[0]!.snap.startSnapshot()
  await router.run()
  const records = router.nodes.map((n) => n.snap.getCompleted(snapshotId)!)
  await router.close()
  return records
}

/** Every field of a record in comparable form (hex for bytes). */
export function fieldsOf (r: CompletedSnapshot): Record<string, unknown> {
  return {
    snapshotId: r.snapshotId,
    node: r.node,
    initiator: r.initiator,
    timestamp: r.timestamp,
    completedAt: r.completedAt,
    participants: [...r.participants],
    root: toHex(r.root),
    leaves: r.leaves.map((l) => [l.did, toHex(l.stateHash), l.stateSize, toHex(l.channelHash), l.channelSize]),
    localState: toHex(r.localState),
    channelState: toHex(r.channelState)
  }
}
