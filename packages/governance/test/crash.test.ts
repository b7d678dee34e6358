// Durability: a process killed (SIGKILL) while committing vote bursts leaves a store that opens,
// holds every acknowledged vote, verifies, and tallies consistently.
import { fileURLToPath } from 'node:url'
import { runSubprocess, startSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'

const helper = fileURLToPath(new URL('./helpers/governance-crash.mjs', import.meta.url))
const ROUNDS = Number(process.env.ICN_SOAK === '1' ? 5 : 1)

describe('crash during writes', () => {
  it('SIGKILL mid-burst loses no acknowledged vote and corrupts nothing', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await withTempDir(async (dir) => {
        const churn = startSubprocess(helper, ['churn', dir])
        await churn.waitForOutput('committed 100 ')
        churn.kill('SIGKILL')
        expect(await churn.exited).toBe('SIGKILL')
        const acknowledged = Math.max(...churn.stdout().trim().split('\n').map((line) => Number(line.split(' ')[1])))
        expect(acknowledged).toBeGreaterThanOrEqual(100)
        const out = await runSubprocess(helper, ['verify', dir, String(acknowledged)])
        expect(out).toMatch(/^ok \d+$/)
        expect(Number(out.split(' ')[1])).toBeGreaterThanOrEqual(Math.min(120, acknowledged))
      })
    }
  })
})
