import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { concatBytes, sha256, toHex } from '@icn/identity'
import { readJsonSnapshot, writeJsonSnapshot } from '@icn/identity/fs'
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import {
  CorruptSnapshotError, SnapshotNotFoundError, listSnapshotFiles, openSnapshotStore, readSnapshotFiles, removeSnapshotFiles, removeUnreferencedChunks,
  snapshotFileNames, writeSnapshotFiles
} from '../src/index.js'
import { fieldsOf, realRecords } from './support/records.js'

describe('L1 direct persistence: the snapshot file adapter', () => {
  it('writes a completed snapshot (chunks + metadata + sidecar) and reads back every field exactly; equal states share chunks', async () => {
    const [record] = await realRecords(101)
    await withTempDir(async (dir) => {
      const written = await writeSnapshotFiles(dir, record!)
      const names = snapshotFileNames(record!.snapshotId)
      const meta = await readFile(join(dir, names.meta), 'utf8')
      expect(meta.split('\n')[0]).toMatch(/^\{"format":"icn-json-snapshot","version":1,"sha256":"[0-9a-f]{64}","length":\d+\}$/)
      const sidecar = await readFile(join(dir, names.checksum), 'utf8')
      expect(sidecar).toMatch(new RegExp(`^[0-9a-f]{64}  ${names.meta}\\n$`))
      // the state blobs are content-addressed chunks in chunks/: names are their sha-256, in order they are the blob
      const body = await readJsonSnapshot(join(dir, names.meta)) as Record<'localState' | 'channelState', { sha256: string, size: number, chunks: string[] }>
      for (const [ref, bytes] of [[body.localState, record!.localState], [body.channelState, record!.channelState]] as const) {
        expect([ref.sha256, ref.size]).toEqual([toHex(sha256(bytes)), bytes.length])
        const chunks = await Promise.all(ref.chunks.map(async (c) => new Uint8Array(await readFile(join(dir, 'chunks', c)))))
        expect(chunks.map((c) => toHex(sha256(c)))).toEqual(ref.chunks)
        expect(concatBytes(...chunks)).toEqual(bytes)
      }
      expect(written).toEqual({
        chunks: body.localState.chunks.length + body.channelState.chunks.length,
        newChunks: new Set([...body.localState.chunks, ...body.channelState.chunks]).size,
        bytesWritten: record!.localState.length + (body.channelState.chunks[0] === body.localState.chunks[0] ? 0 : record!.channelState.length) + Buffer.byteLength(meta) + sidecar.length
      })
      const back = await readSnapshotFiles(dir, record!.snapshotId)
      expect(fieldsOf(back)).toEqual(fieldsOf(record!))
      // a second snapshot of the same states writes no chunk: only its metadata and sidecar
      const twin = { ...record!, snapshotId: 'twin' }
      const again = await writeSnapshotFiles(dir, twin)
      const twinMeta = await readFile(join(dir, snapshotFileNames('twin').meta))
      expect(again).toEqual({ chunks: written.chunks, newChunks: 0, bytesWritten: twinMeta.length + sidecar.length - names.meta.length + 'twin.snapshot'.length })
      expect(fieldsOf(await readSnapshotFiles(dir, 'twin'))).toEqual(fieldsOf(twin))
      // removing one leaves the shared chunks; removing both and collecting leaves none
      await removeSnapshotFiles(dir, 'twin')
      expect(await removeUnreferencedChunks(dir)).toBe(0)
      expect(fieldsOf(await readSnapshotFiles(dir, record!.snapshotId))).toEqual(fieldsOf(record!))
      await removeSnapshotFiles(dir, record!.snapshotId)
      expect(await removeUnreferencedChunks(dir)).toBe(written.newChunks)
      expect(await readdir(join(dir, 'chunks'))).toEqual([])
      await writeSnapshotFiles(dir, record!)
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
    const chunk = async (dir: string, blob: 'localState' | 'channelState'): Promise<string> =>
      join(dir, 'chunks', ((await readJsonSnapshot(join(dir, names.meta))) as Record<string, { chunks: string[] }>)[blob]!.chunks[0]!)
    const corruptions: Array<[string, (dir: string) => Promise<void>, string]> = [
      ['flipped byte in metadata', async (dir) => { const p = join(dir, names.meta); const b = await readFile(p); b[b.length - 5]! ^= 1; await writeFile(p, b) }, 'does not match'],
      ['truncated metadata', async (dir) => { const p = join(dir, names.meta); const b = await readFile(p); await writeFile(p, b.subarray(0, b.length - 10)) }, 'does not match'],
      ['sidecar missing (write never committed)', async (dir) => { await rm(join(dir, names.checksum)) }, 'no .sha256 checksum file'],
      ['tampered local state chunk', async (dir) => { const p = await chunk(dir, 'localState'); const b = await readFile(p); b[0]! ^= 1; await writeFile(p, b) }, 'state chunk does not match its sha-256 (its name)'],
      ['truncated channel chunk', async (dir) => { const p = await chunk(dir, 'channelState'); const b = await readFile(p); await writeFile(p, b.subarray(1)) }, 'state chunk does not match its sha-256 (its name)'],
      ['missing chunk', async (dir) => { await rm(await chunk(dir, 'localState')) }, 'state chunk is missing'],
      ['a chunk list that does not add up', async (dir) => {
        const p = join(dir, names.meta)
        const body = await readJsonSnapshot(p) as Record<string, { size: number }>
        await writeJsonSnapshot(p, { ...body, localState: { ...body.localState, size: (body.localState as { size: number }).size + 1 } })
        await writeFile(join(dir, names.checksum), `${toHex(sha256(await readFile(p)))}  ${names.meta}\n`)
      }, 'state chunks add up to']
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
