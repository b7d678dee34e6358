import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { readJsonSnapshot } from '@icn/identity/fs'
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { InvalidConfigError, openSnapshotStore, readSnapshotFiles } from '../src/index.js'
import { fieldsOf, realRecords } from './support/records.js'
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

  it('save shares unchanged chunks; prune by count and by age removes snapshots and then the chunks no one uses', async () => {
    const T0 = 1_800_000_000_000
    const [a] = await realRecords(211)
    const [b] = await realRecords(212)
    await withTempDir(async (dir) => {
      const clock = new ManualClock(T0)
      const store = await openSnapshotStore({ path: dir, clock, maxAgeMs: 10_000 })
      const first = await store.save({ ...a!, snapshotId: 's1', completedAt: T0 - 9_000 })
      const chunksOfA = (await readdir(join(dir, 'chunks'))).sort()
      expect(chunksOfA.length).toBe(first.newChunks)
      // the same states again: nothing but metadata written
      const second = await store.save({ ...a!, snapshotId: 's2', completedAt: T0 - 5_000 })
      expect([second.chunks, second.newChunks]).toEqual([first.chunks, 0])
      const metaSize = async (id: string): Promise<number> => (await stat(join(dir, `${id}.snapshot`))).size + (await stat(join(dir, `${id}.snapshot.sha256`))).size
      expect(second.bytesWritten).toBe(await metaSize('s2'))
      const third = await store.save({ ...b!, snapshotId: 's3', completedAt: T0 })
      expect((await store.list()).map((x) => x.snapshotId)).toEqual(['s3', 's2', 's1'])
      const usage = await store.usage()
      expect(usage.chunks).toBe(first.newChunks + third.newChunks)

      // by age: s1 is 11 s old once the clock moves on; the next save's retention removes it, its chunks stay (s2 uses them)
      clock.advance(2_000)
      expect(await store.prune({ maxAgeMs: 10_000 })).toEqual(['s1'])
      expect(await store.usage()).toEqual(usage)
      // by count: keep the newest one; the chunks only s2 used go
      expect(await store.prune({ keepNewest: 1 })).toEqual(['s2'])
      const left = (await readdir(join(dir, 'chunks'))).sort()
      expect(left.length).toBe((await store.usage()).chunks)
      const meta = await readJsonSnapshot(join(dir, 's3.snapshot')) as Record<'localState' | 'channelState', { chunks: string[] }>
      expect(left).toEqual([...new Set([...meta.localState.chunks, ...meta.channelState.chunks])].sort())
      expect(fieldsOf(await store.load('s3'))).toEqual(fieldsOf({ ...b!, snapshotId: 's3', completedAt: T0 }))
      await expect(store.prune({ keepNewest: -1 })).rejects.toThrow(InvalidConfigError)
      await expect(store.prune({ kept: 1 } as never)).rejects.toThrow(new InvalidConfigError("unknown prune rule 'kept'"))
      await store.close()

      // a fresh handle sees the same, and the save-time rule applies on its next save
      const fresh = await openSnapshotStore({ path: dir, clock: new ManualClock(T0 + 20_000), maxAgeMs: 10_000 })
      expect((await fresh.list()).map((x) => x.snapshotId)).toEqual(['s3'])
      await fresh.save({ ...a!, snapshotId: 's4', completedAt: T0 + 20_000 })
      expect((await fresh.list()).map((x) => x.snapshotId)).toEqual(['s4'])
      expect((await readdir(join(dir, 'chunks'))).sort()).toEqual(chunksOfA)
      await fresh.close()
    })
  })
})
