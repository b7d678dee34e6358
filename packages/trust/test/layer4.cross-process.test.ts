// Layer 4: one OS process writes through the built package, a fresh process reads and asserts.
import { fileURLToPath } from 'node:url'
import { SubprocessError, runSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'

const helper = fileURLToPath(new URL('./helpers/trust-restart-helper.mjs', import.meta.url))

interface Tokens { cids: string[], scores: number[], stateCid: string }

describe('layer 4: cross-process persistence', () => {
  it('a fresh process reads exactly the edges, scores and state the writer produced', async () => {
    await withTempDir(async (dir) => {
      const tokens = JSON.parse(await runSubprocess(helper, ['write', dir])) as Tokens
      expect(tokens.cids).toHaveLength(7)
      expect(new Set(tokens.cids).size).toBe(7)
      // A→D social (index 3) at depth 3, 10 days old with a 30-day half-life: B→D at 0.9 and C→E→D at 0.72
      const f = Math.pow(2, -1 / 3)
      expect(tokens.scores[3]).toBeCloseTo((0.8 * f * 0.9 * f + 0.6 * f * 0.9 * f * 0.8 * f) / 2 * 0.4, 12)
      expect(tokens.stateCid).toMatch(/^bafk/)
      await runSubprocess(helper, ['read', dir, JSON.stringify(tokens)])
    })
  })

  it('the reader exits non-zero when the tokens do not match the disk', async () => {
    await withTempDir(async (dir) => {
      const tokens = JSON.parse(await runSubprocess(helper, ['write', dir])) as Tokens
      const wrong = { ...tokens, scores: tokens.scores.map((s, i) => i === 3 ? s + 1e-12 : s) }
      const failure = await runSubprocess(helper, ['read', dir, JSON.stringify(wrong)]).then(() => undefined, (err: unknown) => err)
      expect(failure).toBeInstanceOf(SubprocessError)
      expect((failure as SubprocessError).code).toBe(1)
      expect((failure as SubprocessError).stderr).toContain('score 3:')
    })
  })
})
