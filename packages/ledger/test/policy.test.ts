import { expect, test } from 'vitest'
import { CONSERVATIVE_POLICY, MAX_AMOUNT, PERMISSIVE_POLICY, policyCreditLimit, trustToPpm } from '../src/index.js'

test('presets follow the original: baseline + baseline × trust × multiplier + volume × bonus', () => {
  // fully ramped (≥ rampEntries own entries)
  expect(policyCreditLimit(CONSERVATIVE_POLICY, 0, 0n, 10)).toBe(10_000n)
  expect(policyCreditLimit(CONSERVATIVE_POLICY, 1, 0n, 10)).toBe(13_000n)
  expect(policyCreditLimit(CONSERVATIVE_POLICY, 0.5, 20_000n, 10)).toBe(10_000n + 1_500n + 1_000n)
  expect(policyCreditLimit(PERMISSIVE_POLICY, 0, 0n, 5)).toBe(50_000n)
  expect(policyCreditLimit(PERMISSIVE_POLICY, 1, 10_000n, 5)).toBe(50_000n + 25_000n + 1_500n)
})

test('new members ramp linearly from the floor over their first entries', () => {
  expect([0, 1, 5, 9, 10, 50].map((n) => policyCreditLimit(CONSERVATIVE_POLICY, 0, 0n, n))).toEqual([2_500n, 3_250n, 6_250n, 9_250n, 10_000n, 10_000n])
  expect([0, 1, 4, 5].map((n) => policyCreditLimit(PERMISSIVE_POLICY, 0, 0n, n))).toEqual([25_000n, 30_000n, 45_000n, 50_000n])
})

test('trust is clamped to [0, 1] in integer parts per million; the limit is capped', () => {
  expect([-1, Number.NaN, 0, 0.3333333, 1, 7].map(trustToPpm)).toEqual([0n, 0n, 0n, 333_333n, 1_000_000n, 1_000_000n])
  expect(policyCreditLimit(CONSERVATIVE_POLICY, 0, MAX_AMOUNT * 100n, 10)).toBe(MAX_AMOUNT)
})
