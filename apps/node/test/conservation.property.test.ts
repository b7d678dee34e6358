import { withTempDir } from '@icn/testkit'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { runConservation } from './helpers/ledger-sim.js'

// `pnpm test:soak` (ICN_SOAK=1) runs 200 seeds (ICN_PROPERTY_RUNS to change) with sizes up to 20; the normal suite a few seconds' worth.
const SOAK = process.env.ICN_SOAK === '1'
const RUNS = Number(process.env.ICN_PROPERTY_RUNS ?? (SOAK ? 200 : 4))

describe('snapshot conservation under load (real ledger, gossip and snapshot nodes on SimNetwork)', () => {
  it('every currency sums to zero over every recorded state plus what was recorded in flight', async () => {
    let inFlight = 0
    let audited = 0
    await withTempDir(async (dir) => {
      await fc.assert(fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 3, max: SOAK ? 20 : 5 }), fc.integer({ min: 1, max: 3 }),
        async (seed, size, concurrent) => {
          const run = await runConservation(dir, seed, size, { concurrent, rounds: SOAK ? 40 : 20 })
          expect(run.failed).toEqual([])
          for (const audit of run.audits) {
            expect({ notes: audit.notes, complete: audit.complete }).toEqual({ notes: [], complete: true })
            for (const c of audit.currencies) expect({ currency: c.currency, total: c.total }).toEqual({ currency: c.currency, total: '0' })
            expect(audit.balanced).toBe(true)
          }
          expect(run.payments).toBeGreaterThan(0)
          inFlight += run.inFlight
          audited += run.audits.length
        }
      ), { numRuns: RUNS, seed: SOAK ? Date.now() % 1_000_000 : 2026, endOnFailure: true })
      // And one run at the largest size.
      const large = await runConservation(dir, 20_261, 20, { rounds: 6, perRound: 1, concurrent: 2 })
      expect(large.failed).toEqual([])
      for (const audit of large.audits) expect(audit.balanced).toBe(true)
      inFlight += large.inFlight
      audited += large.audits.length
    })
    // Not vacuous: snapshots were taken while payments were between nodes.
    expect(audited).toBeGreaterThan(0)
    expect(inFlight).toBeGreaterThan(0)
  }, SOAK ? 3_600_000 : 120_000)
})
