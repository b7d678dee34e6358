// Layer 4: one OS process writes, fresh OS processes read (and resume the scheduler) from the disk alone.
import { fileURLToPath } from 'node:url'
import { runSubprocess, SubprocessError, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'

const helper = fileURLToPath(new URL('./helpers/governance-restart.mjs', import.meta.url))

describe('layer 4: cross-process restart', () => {
  it('a fresh process reads exact proposals, votes, charter, membership timeline and names, then another closes and executes on schedule', async () => {
    await withTempDir(async (dir) => {
      const tokens = await runSubprocess(helper, ['write', dir])
      const [id, hash, voteCid, join] = tokens.split(',')
      expect(id).toMatch(/^bafyrei[a-z2-7]+$/)
      expect(join).toMatch(/^bafyrei[a-z2-7]+$/)
      expect(hash).toMatch(/^bafyrei[a-z2-7]+$/)
      expect(voteCid).toMatch(/^bafyrei[a-z2-7]+$/)
      await runSubprocess(helper, ['read', dir, 'open', tokens])
      // This process opens two weeks later: the scheduler's catch-up closes and executes both proposals (dave joins).
      await runSubprocess(helper, ['read', dir, 'executed', tokens])
      // And the executed state is on disk for yet another process.
      await runSubprocess(helper, ['read', dir, 'executed', tokens])
    })
  })

  it('the read process exits non-zero when a token does not match', async () => {
    await withTempDir(async (dir) => {
      const tokens = await runSubprocess(helper, ['write', dir])
      const [id, , voteCid, join] = tokens.split(',')
      const wrong = `${id},bafyreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,${voteCid},${join}`
      const failure = await runSubprocess(helper, ['read', dir, 'open', wrong]).catch((err: unknown) => err)
      expect(failure).toBeInstanceOf(SubprocessError)
      expect((failure as SubprocessError).stderr).toContain('charter hash')
    })
  })
})
