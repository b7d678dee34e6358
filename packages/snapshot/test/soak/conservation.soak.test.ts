import { SeededRng } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { checkConservation } from '../support/conservation.js'

// `pnpm test:soak` sets ICN_SOAK=1 for the long sweep; the normal suite runs a short one.
const seeds = process.env.ICN_SOAK === '1' ? 200 : 3

describe(`token conservation soak (${seeds} seeds)`, () => {
  it('holds for every seed, N from 3 to 20, 1-4 concurrent snapshots', async () => {
    const rng = new SeededRng(77)
    let inFlight = 0
    for (let seed = 0; seed < seeds; seed++) {
      const run = await checkConservation(50_000 + seed, rng.int(3, 20), rng.int(1, 4))
      inFlight += run.inFlightFrames
    }
    expect(inFlight).toBeGreaterThan(0)
  }, 600_000)
})
