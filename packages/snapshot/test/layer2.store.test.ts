import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { openSnapshotStore, readSnapshotFiles } from '../src/index.js'
import { fieldsOf } from './support/records.js'
import { Router } from './support/router.js'

describe('L2 production handle: snapshot nodes persisting through their SnapshotStore', () => {
  it('a snapshot completed through the node handle is on disk exactly as held in memory; keepNewest prunes', async () => {
    await withTempDir(async (dir) => {
      const stores = await Promise.all([0, 1, 2].map(async (i) => await openSnapshotStore({ path: `${dir}/${i}`, keepNewest: 2 })))
      const router = new Router({ size: 3, seed: 201, stores })
      const ids: string[] = []
      for (let round = 0; round < 3; round++) {
        router.nodes[round]!.account.balance += 1000 * round
        const { snapshotId, outcome } = router.nodes[round]!.snap.startSnapshot()
        await router.run()
        expect((await outcome).status).toBe('complete')
        // Each participant settles its outcome only after its own save: wait for all, not just the initiator.
        for (const node of router.nodes) expect((await node.snap.waitForSnapshot(snapshotId)).status).toBe('complete')
        ids.push(snapshotId)
        await router.clock.advanceAsync(10)
      }
      // Every node persisted what it holds; keepNewest(2) removed the oldest.
      for (const [i, node] of router.nodes.entries()) {
        for (const id of ids.slice(1)) {
          expect(fieldsOf(await readSnapshotFiles(`${dir}/${i}`, id))).toEqual(fieldsOf(node.snap.getCompleted(id)!))
        }
        expect((await stores[i]!.list()).map((s) => s.snapshotId)).toEqual([ids[2], ids[1]])
        await expect(stores[i]!.load(ids[0]!)).rejects.toThrow(`no completed snapshot ${ids[0]!}`)
      }
      await router.close()
      for (const s of stores) await s.close()
    })
  })
})
