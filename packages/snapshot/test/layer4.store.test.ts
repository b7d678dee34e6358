import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { sha256, toHex } from '@icn/identity'
import { SubprocessError, runSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'

const helper = fileURLToPath(new URL('./helpers/snapshot-restart.mjs', import.meta.url))

describe('L4 cross-process: a snapshot written by one OS process restores real subsystem state in another', () => {
  it('write process prints id and root; a fresh read process loads, checks and restores exact values; damage is moved aside across processes', async () => {
    await withTempDir(async (dir) => {
      const out = await runSubprocess(helper, ['write', dir])
      const [snapshotId, root] = out.split(',')
      expect(snapshotId).toMatch(/^[0-9a-f]{32}$/)
      expect(root).toMatch(/^[0-9a-f]{64}$/)
      expect(await runSubprocess(helper, ['read', dir, snapshotId!, root!])).toBe('ok')
      // A wrong expected root makes the read process exit 1.
      const wrongRoot = `${root!.slice(0, 63)}${root!.endsWith('0') ? '1' : '0'}`
      await expect(runSubprocess(helper, ['read', dir, snapshotId!, wrongRoot])).rejects.toThrow(SubprocessError)
      // A file of it corrupted: the next process opens the store anyway, moves the snapshot's files into
      // damaged/ and reports them; a later process lists the same from the record, reports nothing new.
      const meta = `${dir}/1/${snapshotId!}.snapshot`
      const bytes = await readFile(meta)
      bytes[bytes.length - 3]! ^= 1
      await writeFile(meta, bytes)
      const sidecar = (await readFile(`${meta}.sha256`, 'utf8')).slice(0, 64)
      const reason = `${snapshotId!}.snapshot: sha-256 ${toHex(sha256(bytes))} does not match ${snapshotId!}.snapshot.sha256 (${sidecar})`
      const moved = [`${snapshotId!}.snapshot`, `${snapshotId!}.snapshot.sha256`].map((file) => ({
        file, snapshotId, kind: 'corrupt', reason, movedTo: `${dir}/1/damaged/${file}`, detectedAt: 1_800_000_000_000
      }))
      expect(JSON.parse(await runSubprocess(helper, ['damaged', dir, '1800000000000']))).toEqual({ reported: moved, damaged: moved, ids: [] })
      expect(JSON.parse(await runSubprocess(helper, ['damaged', dir, '1800000099999']))).toEqual({ reported: [], damaged: moved, ids: [] })
      const failure = await runSubprocess(helper, ['read', dir, snapshotId!, root!]).then(() => undefined, (e: unknown) => e)
      expect(failure).toBeInstanceOf(SubprocessError)
      expect((failure as SubprocessError).stderr).toContain(`SnapshotNotFoundError: no completed snapshot ${snapshotId!}`)
    })
  })
})
