// Shared by the Layer 4 and crash helper scripts (they run the BUILT package, ../../dist).
import { keyPairFromSeed } from '@icn/identity'

/** The same deterministic members as test/fixtures.ts. */
export function member (index) {
  const seed = new Uint8Array(32)
  seed[0] = 7
  seed[31] = index + 1
  return keyPairFromSeed(seed)
}

/** A clock frozen at `at()` (entries get deterministic timestamps). */
export function fixedClock (at) {
  return { now: at, setTimeout: () => () => {} }
}

/** Fails the process with a message on stderr (read modes exit 1 on mismatch). */
export function check (condition, message) {
  if (!condition) {
    console.error(`MISMATCH: ${message}`)
    process.exit(1)
  }
}

/** The ledger invariants: Σ balances per currency = 0, no balance below −limit. */
export function checkInvariants (ledger) {
  const sums = new Map()
  for (const row of ledger.balances()) {
    sums.set(row.currency, (sums.get(row.currency) ?? 0n) + row.balance)
    check(row.balance >= -ledger.creditLimit(row.account, row.currency), `${row.account} ${row.currency} ${row.balance} is below its limit`)
  }
  for (const [currency, sum] of sums) check(sum === 0n, `${currency} balances sum to ${sum}`)
}
