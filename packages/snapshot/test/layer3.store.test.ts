import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decode, toHex } from '@icn/identity'
import { readJsonSnapshot } from '@icn/identity/fs'
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { type DamagedSnapshot, SnapshotQuarantinedError, decodeLocalState, openSnapshotStore, snapshotFileNames, verifyInclusion, writeSnapshotFiles } from '../src/index.js'
import { fieldsOf, realRecords } from './support/records.js'
import { Router } from './support/router.js'

describe('L3 same-process lifecycle: close, then fresh handles restore from disk alone', () => {
  it('after node and store close, fresh nodes on the same directories restore exact state and can verify again', async () => {
    await withTempDir(async (dir) => {
      const paths = [0, 1, 2].map((i) => `${dir}/${i}`)
      const firstStores = await Promise.all(paths.map(async (path) => await openSnapshotStore({ path })))
      const first = new Router({ size: 3, seed: 301, stores: firstStores })
      first.nodes[1]!.account.balance = 4242
      const { snapshotId, outcome } = first.nodes[0]!.snap.startSnapshot()
      await first.run()
      const done = await outcome
      if (done.status !== 'complete') throw new Error(done.reason)
      const root = toHex(done.snapshot.root)
      await first.close()
      for (const s of firstStores) await s.close()
      await expect(firstStores[0]!.list()).rejects.toThrow('snapshot store is closed')

      const stores = await Promise.all(paths.map(async (path) => await openSnapshotStore({ path })))
      const fresh = new Router({ size: 3, seed: 301, stores })
      for (const n of fresh.nodes) n.account.balance = 0
      expect(fresh.nodes[0]!.snap.getCompleted(snapshotId)).toBe(undefined)
      // Serving and verification resume from the records on disk.
      expect(await fresh.nodes[0]!.snap.loadStored()).toEqual([snapshotId])
      expect(await fresh.nodes[1]!.snap.loadStored()).toEqual([snapshotId])
      const report = await fresh.runUntil(fresh.nodes[2]!.snap.verify(snapshotId)) // loads node 2's record from its store
      expect(report.results.map((r) => [r.valid, toHex(r.computedRoot!)])).toEqual([[true, root], [true, root], [true, root]])
      for (const n of fresh.nodes) await n.snap.restore(snapshotId)
      expect(fresh.nodes.map((n) => n.account.balance)).toEqual([100, 4242, 102])
      const record = fresh.nodes[1]!.snap.getCompleted(snapshotId)!
      expect(toHex(record.root)).toBe(root)
      expect(decode(decodeLocalState(record.localState).get('tokens')!)).toEqual({ balance: 4242 })
      const proof = fresh.nodes[1]!.snap.inclusionProof(snapshotId)
      expect([proof.leaf.did, toHex(proof.root), verifyInclusion(proof)]).toEqual([fresh.nodes[1]!.did, root, true])
      await fresh.close()
      for (const s of stores) await s.close()
      expect(fresh.clock.pendingTimers).toBe(0)
    })
  })

  it('what a store moved aside (at open and at a later read) is listed exactly by a fresh handle after close(), which reports nothing new', async () => {
    const [a] = await realRecords(311)
    const [b] = await realRecords(312)
    await withTempDir(async (dir) => {
      await writeSnapshotFiles(dir, a!)
      await writeSnapshotFiles(dir, b!)
      await writeFile(join(dir, 'notes.txt'), 'hello')
      const first = await openSnapshotStore({ path: dir, clock: new ManualClock(1_800_000_000_000) })
      // a chunk of a's state that b does not share goes bad
      const chunksOf = async (id: string): Promise<string[]> => {
        const meta = await readJsonSnapshot(join(dir, snapshotFileNames(id).meta)) as Record<'localState' | 'channelState', { chunks: string[] }>
        return [...meta.localState.chunks, ...meta.channelState.chunks]
      }
      const shared = new Set(await chunksOf(b!.snapshotId))
      const chunk = (await chunksOf(a!.snapshotId)).find((c) => !shared.has(c))!
      const bytes = await readFile(join(dir, 'chunks', chunk))
      bytes[0]! ^= 1
      await writeFile(join(dir, 'chunks', chunk), bytes)
      await expect(first.load(a!.snapshotId)).rejects.toThrow(SnapshotQuarantinedError)
      const damaged = first.damaged()
      const names = snapshotFileNames(a!.snapshotId)
      expect(damaged.map((d) => [d.file, d.kind])).toEqual([['notes.txt', 'unknown'], ...[names.meta, names.checksum, `chunks/${chunk}`].map((f) => [f, 'corrupt'])])
      await first.close()

      const reported: DamagedSnapshot[] = []
      const fresh = await openSnapshotStore({ path: dir, clock: new ManualClock(1_900_000_000_000), onDamaged: (d) => { reported.push(d) } })
      expect([fresh.damaged(), reported, (await fresh.list()).map((s) => s.snapshotId)]).toEqual([damaged, [], [b!.snapshotId]])
      expect(fieldsOf(await fresh.load(b!.snapshotId))).toEqual(fieldsOf(b!))
      await fresh.close()
    })
  })
})
