/** Signature domain of ledger entries: a signature made here is never valid for another protocol. */
export const LEDGER_DOMAIN = 'icn/ledger/entry/v1'

/** Largest amount or credit limit accepted: 2^63 − 1 minor units (a signed 64-bit integer, as the original). */
export const MAX_AMOUNT = (1n << 63n) - 1n

/** Bounds that keep one entry small enough to verify and store cheaply. */
export const MAX_DELTAS = 64
export const MAX_ACKS = 256
export const MAX_REFERENCE_LENGTH = 256
export const CURRENCY_PATTERN = /^[A-Za-z0-9._:-]{1,32}$/

/** Fixed-point scales of policy rates (no floats in money). */
export const BPS = 10_000n
export const PPM = 1_000_000n
