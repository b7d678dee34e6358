// Crash safety: a child applying entries is SIGKILLed at random points; every reopen must be a prefix of the sequence.
import { fileURLToPath } from 'node:url'
import { SeededRng, runSubprocess, startSubprocess, withTempDir } from '@icn/testkit'
import { expect, test } from 'vitest'

const helper = fileURLToPath(new URL('./helpers/ledger-crash.mjs', import.meta.url))
const soak = process.env.ICN_SOAK === '1'
const KILLS = soak ? 40 : 5
const TOTAL = soak ? 400 : 60
const SEED = soak ? Date.now() % 1_000_000 : 4

test(`SIGKILL at random points (${KILLS} kills) always leaves a prefix of the applied sequence`, async () => {
  await withTempDir(async (dir) => {
    const rng = new SeededRng(SEED)
    let last = 0
    const killedAt: number[] = []
    for (let kill = 0; kill < KILLS; kill++) {
      const child = startSubprocess(helper, ['run', dir, '11', String(TOTAL)])
      const target = last + rng.int(1, Math.max(1, Math.floor((TOTAL - last) / (KILLS - kill + 1))))
      await child.waitForOutput(`applied ${target}\n`)
      child.kill('SIGKILL')
      expect(await child.exited).toBe('SIGKILL')
      const recovered = Number(await runSubprocess(helper, ['check', dir, '11']))
      // durable commits: everything printed before the kill is there; the kill may land a few entries later
      expect(recovered, `kill ${kill}, rng seed ${SEED}`).toBeGreaterThanOrEqual(target)
      killedAt.push(recovered)
      last = recovered
    }
    expect(killedAt).toEqual([...killedAt].sort((a, b) => a - b))
    // after the crashes the sequence completes and still checks out
    await runSubprocess(helper, ['run', dir, '11', String(last + 10)])
    expect(Number(await runSubprocess(helper, ['check', dir, '11']))).toBe(last + 10)
  })
}, soak ? 1_800_000 : 120_000)
