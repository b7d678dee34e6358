import { type Did, type KeyPair, keyPairFromSeed } from '@icn/identity'
import { expect } from 'vitest'
import { type AccountDelta, type Ledger, type SignedEntry, decodeEntry, netChanges, signEntry } from '../src/index.js'

/** Deterministic key pairs: member(0), member(1), … */
export function member (index: number): KeyPair {
  const seed = new Uint8Array(32)
  seed[0] = 7
  seed[31] = index + 1
  return keyPairFromSeed(seed)
}

/** Balances recomputed from the applied journal alone, keyed `account currency`. */
export function balancesFromJournal (ledger: Ledger): Map<string, bigint> {
  const out = new Map<string, bigint>()
  const state = ledger.balances()
  const accounts = new Set(state.map((b) => b.account))
  const ids = new Set<string>()
  for (const account of accounts) {
    let after: string | undefined
    for (;;) {
      const page = ledger.history(account as Did, { limit: 1000, ...(after === undefined ? {} : { after }) })
      for (const e of page.entries) ids.add(e.id)
      if (page.next === undefined) break
      after = page.next
    }
  }
  for (const id of ids) {
    const record = ledger.entry(id)
    if (record === undefined) throw new Error(`history names unknown entry ${id}`)
    for (const c of netChanges(decodeEntry(record.bytes).entry).values()) {
      const k = `${c.account} ${c.currency}`
      out.set(k, (out.get(k) ?? 0n) + c.net)
    }
  }
  return out
}

/** The four ledger invariants of the issue, asserted on a live handle. */
export function assertInvariants (ledger: Ledger): void {
  const rows = ledger.balances()
  const perCurrency = new Map<string, bigint>()
  for (const r of rows) {
    perCurrency.set(r.currency, (perCurrency.get(r.currency) ?? 0n) + r.balance)
    // no balance below its negative credit limit
    expect(r.balance >= -ledger.creditLimit(r.account, r.currency)).toBe(true)
  }
  // sum of balances per currency is 0
  for (const sum of perCurrency.values()) expect(sum).toBe(0n)
  // each applied entry id appears once (and never also in quarantine)
  const quarantined = new Set(ledger.quarantine().map((q) => q.id))
  const applied = ledger.heads().length === 0 ? 0 : ledger.entryCount()
  const journal = balancesFromJournal(ledger)
  for (const q of quarantined) expect(ledger.entry(q)).toBeUndefined()
  // journal and balances agree
  expect(new Map(rows.map((r) => [`${r.account} ${r.currency}`, r.balance]))).toEqual(journal)
  expect(applied).toBe(ledger.entryCount())
}

/** Signs an entry by hand (for entries a correct ledger would never create: unbalanced, forks, gaps…). */
export function handEntry (author: KeyPair, seq: number, prev: string | undefined, deltas: AccountDelta[], extra: { acks?: string[], reference?: string, timestamp?: number } = {}): SignedEntry {
  return signEntry({
    author: author.did,
    seq,
    ...(prev === undefined ? {} : { prev }),
    timestamp: extra.timestamp ?? 1_700_000_000_000 + seq,
    deltas,
    ...(extra.reference === undefined ? {} : { reference: extra.reference }),
    acks: extra.acks ?? []
  }, author)
}

/** The two deltas of a payment. */
export function payment (from: Did, to: Did, amount: bigint, currency = 'HOUR'): AccountDelta[] {
  return [{ account: from, currency, debit: amount }, { account: to, currency, credit: amount }]
}
