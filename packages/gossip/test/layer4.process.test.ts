// Layer 4 — cross-process: one OS process writes through the built package and
// prints the entry CIDs; a fresh process opens the same file and asserts them.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { SubprocessError, runSubprocess, withTempDir } from '@icn/testkit'

const helper = fileURLToPath(new URL('./helpers/gossip-restart.mjs', import.meta.url))

describe('layer 4: write in one process, read in another', () => {
  it('a fresh process reads the exact entries the first one wrote', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const cids = await runSubprocess(helper, ['write', path])
      expect(cids.split(',').length).toBe(3)
      expect(cids.split(',').every((cid) => cid.startsWith('bafy'))).toBe(true)
      await expect(runSubprocess(helper, ['read', path, cids])).resolves.toBe('')
      const wrong = cids.split(',').reverse().join(',')
      await expect(runSubprocess(helper, ['read', path, wrong])).rejects.toThrow(SubprocessError)
    })
  })
})
