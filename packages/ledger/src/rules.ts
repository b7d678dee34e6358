import { type Did, encode, sha256, toHex } from '@icn/identity'
import { type JournalEntry, type SignedEntry, netChanges } from './entry.js'

/** Why an entry was quarantined. */
export type QuarantineReason =
  | 'invalid-signature'
  | 'unbalanced'
  | 'unauthorized'
  | 'exceeds-credit-limit'
  | 'fork'
  | 'charter-violation'
  | 'rejected-by-hook'

/** What a validation hook says about an entry. Hooks must be deterministic functions of the entry. */
export type HookVerdict =
  | { readonly ok: true }
  | { readonly ok: false, readonly reason: 'charter-violation' | 'rejected-by-hook', readonly detail: string }

/** A charter or policy rule plugged in by the node; runs inside the apply transaction. */
export type ValidationHook = (entry: JournalEntry, id: string) => HookVerdict

/** The author's own view of an account in one currency, built only from their chain (see docs/ledger.md). */
export interface ChainCredit {
  /** Own entries' net changes + acknowledged credits. */
  readonly known: bigint
  /** Own outflows + acknowledged credits: the `clearedVolume` of the limit policy. */
  readonly volume: bigint
}

export interface NetChange { readonly account: Did, readonly currency: string, readonly net: bigint }

/** What judging an entry needs, read beforehand by the caller (keeps this function pure). */
export interface JudgeInput {
  /** Applied entries in the author's chain before this one. */
  readonly chainEntries: number
  readonly creditOf: (currency: string) => ChainCredit
  /** Per currency, the credits that this entry's acks newly acknowledge. */
  readonly acknowledged: ReadonlyMap<string, bigint>
  readonly limitOf: (currency: string, volume: bigint, chainEntries: number) => bigint
  readonly hooks: readonly ValidationHook[]
}

export type Verdict =
  | { readonly ok: true, readonly changes: readonly NetChange[], readonly credit: ReadonlyMap<string, ChainCredit> }
  | { readonly ok: false, readonly reason: QuarantineReason, readonly detail: string }

const abs = (x: bigint): bigint => (x < 0n ? -x : x)

/**
 * The rules that depend on the entry alone: balanced per currency (Σ debit =
 * Σ credit), and only the author's balances may go down.
 */
export function checkEntryRules (entry: JournalEntry): { reason: QuarantineReason, detail: string } | undefined {
  const perCurrency = new Map<string, bigint>()
  for (const d of entry.deltas) perCurrency.set(d.currency, (perCurrency.get(d.currency) ?? 0n) + (d.credit ?? 0n) - (d.debit ?? 0n))
  for (const [currency, sum] of perCurrency) {
    if (sum !== 0n) return { reason: 'unbalanced', detail: `${currency}: credits − debits = ${sum}` }
  }
  for (const c of netChanges(entry).values()) {
    if (c.net < 0n && c.account !== entry.author) {
      return { reason: 'unauthorized', detail: `${c.account} would be debited ${-c.net} ${c.currency} by ${entry.author}` }
    }
  }
  return undefined
}

/**
 * Judges an entry that is next in its author's chain and whose acks are all
 * resolved. Rules, in order: balanced per currency; only the author's
 * balances may go down; the author's chain view stays above −limit; hooks.
 */
export function judgeEntry (signed: SignedEntry, input: JudgeInput): Verdict {
  const { entry } = signed
  const broken = checkEntryRules(entry)
  if (broken !== undefined) return { ok: false, ...broken }
  const changes = [...netChanges(entry).values()]
  const credit = new Map<string, ChainCredit>()
  const currencies = new Set([...input.acknowledged.keys(), ...changes.filter((c) => c.account === entry.author).map((c) => c.currency)])
  for (const currency of [...currencies].sort()) {
    const before = input.creditOf(currency)
    const acked = input.acknowledged.get(currency) ?? 0n
    const known = before.known + acked
    const volume = before.volume + acked
    const net = changes.find((c) => c.account === entry.author && c.currency === currency)?.net ?? 0n
    if (net < 0n) {
      const limit = input.limitOf(currency, volume, input.chainEntries)
      if (known + net < -limit) {
        return { ok: false, reason: 'exceeds-credit-limit', detail: `${currency}: ${known} + (${net}) < −${limit}` }
      }
    }
    credit.set(currency, { known: known + net, volume: volume + abs(net) })
  }
  for (const hook of input.hooks) {
    let verdict: HookVerdict
    try {
      verdict = hook(entry, signed.id)
    } catch (err) {
      // A throwing hook rejects the entry rather than aborting the whole transaction (or batch).
      verdict = { ok: false, reason: 'rejected-by-hook', detail: `hook threw: ${err instanceof Error ? err.message : String(err)}` }
    }
    if (!verdict.ok) return { ok: false, reason: verdict.reason, detail: verdict.detail }
  }
  return { ok: true, changes, credit }
}

/** A balance row of the state root. */
export interface BalanceRow { readonly account: Did, readonly currency: string, readonly balance: bigint }
/** An author's chain head: the last used slot, applied or quarantined. */
export interface ChainHead { readonly author: Did, readonly seq: number, readonly id: string }

/**
 * sha-256 (hex) of the canonical encoding of the balances and chain heads, each
 * sorted by key: equal sets of entries give equal roots whatever the arrival order.
 */
export function computeStateRoot (balances: readonly BalanceRow[], heads: readonly ChainHead[]): string {
  const byKey = <T>(key: (t: T) => string) => (a: T, b: T): number => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)
  const rows = [...balances].sort(byKey((b) => `${b.account}\u0000${b.currency}`)).map((b) => [b.account, b.currency, b.balance.toString()])
  const chains = [...heads].sort(byKey((h) => h.author)).map((h) => [h.author, h.seq, h.id])
  return toHex(sha256(encode({ balances: rows, heads: chains })))
}
