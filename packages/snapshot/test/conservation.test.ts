import { SeededRng } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { checkConservation } from './support/conservation.js'

describe('Chandy–Lamport token conservation (property over seeds)', () => {
  it('recorded balances + recorded in-flight tokens equal the initial total, N from 3 to 20, concurrent snapshots', async () => {
    const rng = new SeededRng(2026)
    const sizes = [3, 20]
    for (let i = 0; i < 10; i++) sizes.push(rng.int(3, 20))
    let inFlight = 0
    for (const [index, size] of sizes.entries()) {
      const run = await checkConservation(1000 + index, size, 1 + (index % 3))
      inFlight += run.inFlightFrames
    }
    // The property is not vacuous: snapshots did catch tokens in flight.
    expect(inFlight).toBeGreaterThan(0)
  })
})
