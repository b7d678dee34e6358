// An account's statement: its entries in a period, each with the running balance after it, and its CSV form
// (what `icn-node statement --csv` prints and `GET /statement?format=csv` answers). Types only from the
// packages: the CLI's client commands load this file.
import type { Did } from '@icn/identity'
import type { EntryRecord, Ledger } from '@icn/ledger'

/** One entry of a statement. Amounts are decimal strings (minor units). */
export interface StatementLine {
  id: string
  timestamp: number
  author: string
  /** The other accounts the entry moves this currency for (the payee of a payment, or its payer). */
  counterparties: string[]
  reference: string | null
  /** What the entry takes from / gives to the account (null when it does not). */
  debit: string | null
  credit: string | null
  /** The account's balance after this entry. */
  balance: string
}

/** `GET /statement`: the period is [from, to) in ms since the epoch. */
export interface Statement {
  account: string
  currency: string
  from: number
  to: number
  /** Balance before the period's first entry. */
  opening: string
  /** Balance after the period's last entry (the opening one when the period has none). */
  closing: string
  lines: StatementLine[]
}

const PAGE = 1000

/**
 * The statement of `account` in `currency` over [from, to). Entries come in the ledger's history order
 * (timestamp, then id); the running balance is anchored on the balance the ledger holds now and walked
 * back by the entries it holds, so it ends at the account's real balance even when older entries are
 * not on this node (a restore from a snapshot cut keeps balances, not every past entry).
 */
export function accountStatement (ledger: Ledger, account: Did, currency: string, from: number, to: number): Statement {
  const changes: Array<{ record: EntryRecord, debit: bigint, credit: bigint }> = []
  let after: string | undefined
  do {
    const page = ledger.history(account, { limit: PAGE, ...(after === undefined ? {} : { after }) })
    for (const record of page.entries) {
      let debit = 0n
      let credit = 0n
      for (const d of record.entry.deltas) {
        if (d.account !== account || d.currency !== currency) continue
        debit += d.debit ?? 0n
        credit += d.credit ?? 0n
      }
      if (debit !== 0n || credit !== 0n) changes.push({ record, debit, credit })
    }
    after = page.next
  } while (after !== undefined)

  let running = ledger.balance(account, currency)
  for (const c of changes) running -= c.credit - c.debit
  let opening = running
  const lines: StatementLine[] = []
  for (const { record, debit, credit } of changes) {
    const { entry } = record
    if (entry.timestamp < from) { running += credit - debit; opening = running; continue }
    if (entry.timestamp >= to) break
    running += credit - debit
    const counterparties = [...new Set(entry.deltas.filter((d) => d.account !== account && d.currency === currency).map((d) => d.account))].sort()
    lines.push({
      id: record.id,
      timestamp: entry.timestamp,
      author: entry.author,
      counterparties,
      reference: entry.reference ?? null,
      debit: debit === 0n ? null : debit.toString(),
      credit: credit === 0n ? null : credit.toString(),
      balance: running.toString()
    })
  }
  return { account, currency, from, to, opening: opening.toString(), closing: (lines.length === 0 ? opening : running).toString(), lines }
}

/** A CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
const csvField = (value: string | null): string => {
  const text = value ?? ''
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/**
 * The statement as CSV: a header, then one line per entry with the running balance after it; lines end in
 * CRLF (RFC 4180), the last one without. The CLI and the API write exactly this, followed by one `\n`.
 */
export function statementCsv (s: Statement): string {
  const header = ['date', 'entry', 'counterparty', 'reference', 'debit', 'credit', 'balance', 'currency']
  const rows = s.lines.map((l) => [new Date(l.timestamp).toISOString(), l.id, l.counterparties.join(' '), l.reference, l.debit, l.credit, l.balance, s.currency])
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n')
}
