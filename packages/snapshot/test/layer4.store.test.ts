import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { SubprocessError, runSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'

const helper = fileURLToPath(new URL('./helpers/snapshot-restart.mjs', import.meta.url))

describe('L4 cross-process: a snapshot written by one OS process restores real subsystem state in another', () => {
  it('write process prints id and root; a fresh read process loads, checks and restores exact values', async () => {
    await withTempDir(async (dir) => {
      const out = await runSubprocess(helper, ['write', dir])
      const [snapshotId, root] = out.split(',')
      expect(snapshotId).toMatch(/^[0-9a-f]{32}$/)
      expect(root).toMatch(/^[0-9a-f]{64}$/)
      expect(await runSubprocess(helper, ['read', dir, snapshotId!, root!])).toBe('ok')
      // A wrong expected root makes the read process exit 1.
      const wrongRoot = `${root!.slice(0, 63)}${root!.endsWith('0') ? '1' : '0'}`
      await expect(runSubprocess(helper, ['read', dir, snapshotId!, wrongRoot])).rejects.toThrow(SubprocessError)
      // A corrupted file written by the first process is refused in the second with the typed error.
      const meta = `${dir}/1/${snapshotId!}.snapshot`
      const bytes = await readFile(meta)
      bytes[bytes.length - 3]! ^= 1
      await writeFile(meta, bytes)
      const failure = await runSubprocess(helper, ['read', dir, snapshotId!, root!]).then(() => undefined, (e: unknown) => e)
      expect(failure).toBeInstanceOf(SubprocessError)
      expect((failure as SubprocessError).stderr).toContain('CorruptSnapshotError')
    })
  })
})
