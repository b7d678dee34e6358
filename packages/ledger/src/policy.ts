import { BPS, MAX_AMOUNT, PPM } from './constants.js'

/**
 * The original's credit-limit policy, in integers:
 * `limit = (baseline + baseline × trust × trustMultiplier + clearedVolume × historyBonusRate) × ramp`,
 * rates in basis points, trust rounded to parts per million, every division flooring.
 */
export interface CreditPolicy {
  /** Limit of a fully ramped member with zero trust and no history, in minor units. */
  readonly baseline: bigint
  /** `trustMultiplier` × 10,000 (0.3 → 3000). */
  readonly trustMultiplierBps: bigint
  /** `historyBonusRate` × 10,000 (0.05 → 500). */
  readonly historyBonusBps: bigint
  /** New-member ramp: the limit grows linearly over the author's first `rampEntries` applied entries… */
  readonly rampEntries: number
  /** …starting from this fraction of the full limit, in basis points. */
  readonly rampFloorBps: bigint
}

/** Conservative preset: baseline 10,000, trust multiplier 0.3, history bonus 0.05; ramp from 25 % over 10 entries. */
export const CONSERVATIVE_POLICY: CreditPolicy = Object.freeze({
  baseline: 10_000n, trustMultiplierBps: 3_000n, historyBonusBps: 500n, rampEntries: 10, rampFloorBps: 2_500n
})

/** Permissive preset: baseline 50,000, trust multiplier 0.5, history bonus 0.15; ramp from 50 % over 5 entries. */
export const PERMISSIVE_POLICY: CreditPolicy = Object.freeze({
  baseline: 50_000n, trustMultiplierBps: 5_000n, historyBonusBps: 1_500n, rampEntries: 5, rampFloorBps: 5_000n
})

/** Trust in [0, 1] as integer parts per million; anything else (NaN, out of range) is clamped. */
export function trustToPpm (trust: number): bigint {
  if (!Number.isFinite(trust) || trust <= 0) return 0n
  if (trust >= 1) return PPM
  return BigInt(Math.round(trust * 1_000_000))
}

/**
 * The policy limit of a member with `trust`, `clearedVolume` (acknowledged
 * volume in their own chain) and `chainEntries` applied entries of their own.
 */
export function policyCreditLimit (policy: CreditPolicy, trust: number, clearedVolume: bigint, chainEntries: number): bigint {
  const full = policy.baseline +
    (policy.baseline * trustToPpm(trust) * policy.trustMultiplierBps) / (PPM * BPS) +
    (clearedVolume * policy.historyBonusBps) / BPS
  const ramped = policy.rampEntries <= 0 || chainEntries >= policy.rampEntries
    ? full
    : (full * (policy.rampFloorBps + ((BPS - policy.rampFloorBps) * BigInt(chainEntries)) / BigInt(policy.rampEntries))) / BPS
  return ramped > MAX_AMOUNT ? MAX_AMOUNT : ramped
}

export function checkPolicy (policy: CreditPolicy): CreditPolicy {
  const okBig = (v: unknown): boolean => typeof v === 'bigint' && v >= 0n && v <= MAX_AMOUNT
  if (!okBig(policy.baseline) || !okBig(policy.trustMultiplierBps) || !okBig(policy.historyBonusBps) ||
    !okBig(policy.rampFloorBps) || policy.rampFloorBps > BPS || !Number.isSafeInteger(policy.rampEntries) || policy.rampEntries < 0) {
    throw new RangeError('credit policy fields must be non-negative integers (bigint amounts and rates, rampFloorBps ≤ 10000)')
  }
  return policy
}
