import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readJsonSnapshot } from '@icn/identity/fs'
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import {
  CorruptSnapshotError, SnapshotNotFoundError, listSnapshotFiles, openSnapshotStore, readSnapshotFiles, snapshotFileNames, writeSnapshotFiles
} from '../src/index.js'
import { fieldsOf, realRecords } from './support/records.js'

describe('L1 direct persistence: the snapshot file adapter', () => {
  it('writes a completed snapshot (metadata + sidecar + blobs) and reads back every field exactly', async () => {
    const [record] = await realRecords(101)
    await withTempDir(async (dir) => {
      await writeSnapshotFiles(dir, record!)
      const names = snapshotFileNames(record!.snapshotId)
      const meta = await readFile(join(dir, names.meta), 'utf8')
      expect(meta.split('\n')[0]).toMatch(/^\{"format":"icn-json-snapshot","version":1,"sha256":"[0-9a-f]{64}","length":\d+\}$/)
      const sidecar = await readFile(join(dir, names.checksum), 'utf8')
      expect(sidecar).toMatch(new RegExp(`^[0-9a-f]{64}  ${names.meta}\\n$`))
      const back = await readSnapshotFiles(dir, record!.snapshotId)
      expect(fieldsOf(back)).toEqual(fieldsOf(record!))
      expect(await listSnapshotFiles(dir)).toEqual([{
        snapshotId: record!.snapshotId, node: record!.node, initiator: record!.initiator, timestamp: record!.timestamp,
        completedAt: record!.completedAt, participants: record!.participants, root: record!.root
      }])
    })
  })

  it('refuses corrupt, truncated, tampered and half-written snapshots with a typed error', async () => {
    const [record] = await realRecords(102)
    const id = record!.snapshotId
    const names = snapshotFileNames(id)
    const corruptions: Array<[string, (dir: string) => Promise<void>, string]> = [
      ['flipped byte in metadata', async (dir) => { const p = join(dir, names.meta); const b = await readFile(p); b[b.length - 5]! ^= 1; await writeFile(p, b) }, 'does not match'],
      ['truncated metadata', async (dir) => { const p = join(dir, names.meta); const b = await readFile(p); await writeFile(p, b.subarray(0, b.length - 10)) }, 'does not match'],
      ['sidecar missing (write never committed)', async (dir) => { await rm(join(dir, names.checksum)) }, 'no .sha256 checksum file'],
      ['tampered local state blob', async (dir) => { const p = join(dir, names.local); const b = await readFile(p); b[0]! ^= 1; await writeFile(p, b) }, 'state blob does not match its sha-256'],
      ['truncated channel blob', async (dir) => { const p = join(dir, names.channels); const b = await readFile(p); await writeFile(p, b.subarray(1)) }, 'state blob is'],
      ['missing blob', async (dir) => { await rm(join(dir, names.local)) }, 'state blob is missing']
    ]
    for (const [what, corrupt, message] of corruptions) {
      await withTempDir(async (dir) => {
        await writeSnapshotFiles(dir, record!)
        await corrupt(dir)
        const error = await readSnapshotFiles(dir, id).then(() => undefined, (e: unknown) => e)
        expect({ what, isCorrupt: error instanceof CorruptSnapshotError, code: (error as CorruptSnapshotError).code }).toEqual({ what, isCorrupt: true, code: 'CORRUPT_SNAPSHOT' })
        expect((error as Error).message).toContain(message)
      })
    }
    await withTempDir(async (dir) => {
      await expect(readSnapshotFiles(dir, 'nothing-here')).rejects.toThrow(SnapshotNotFoundError)
    })
  })

  it('the record of damaged files, damaged/damaged.json: a checksummed JSON snapshot file with every field, read back exactly on reopen', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'x.snapshot.sha256'), 'junk')
      await writeFile(join(dir, 'notes.txt'), 'hello')
      const first = await openSnapshotStore({ path: dir, clock: new ManualClock(1_800_000_000_000) })
      const damaged = first.damaged()
      await first.close()
      const record = join(dir, 'damaged', 'damaged.json')
      expect((await readFile(record, 'utf8')).split('\n')[0]).toMatch(/^\{"format":"icn-json-snapshot","version":1,"sha256":"[0-9a-f]{64}","length":\d+\}$/)
      const xReason = 'x.snapshot: checksum file present but snapshot file missing'
      expect(await readJsonSnapshot(record)).toEqual({
        format: 'icn-snapshot-damage',
        version: 1,
        entries: [
          { name: 'notes.txt', file: 'notes.txt', snapshotId: null, kind: 'unknown', reason: 'not a file of the snapshot store', detectedAt: 1_800_000_000_000 },
          { name: 'x.snapshot.sha256', file: 'x.snapshot.sha256', snapshotId: 'x', kind: 'corrupt', reason: xReason, detectedAt: 1_800_000_000_000 }
        ]
      })
      const again = await openSnapshotStore({ path: dir })
      expect(again.damaged()).toEqual(damaged)
      expect(damaged.map((d) => d.movedTo)).toEqual([join(dir, 'damaged', 'notes.txt'), join(dir, 'damaged', 'x.snapshot.sha256')])
      await again.close()
    })
  })
})
