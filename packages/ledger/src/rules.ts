import { type Did, type MembershipAt, type MembershipStatus, encode, sha256, toHex } from '@icn/identity'
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

/**
 * Why a peer's entry was refused: nothing of it is stored (not applied, quarantined or held; no chain
 * slot used), so the same bytes offered again are judged again.
 * - `invalid-signature`: only with `applyBatch(…, { refuseInvalidSignatures: true })`;
 * - `not-a-member`: the author, or an account in the deltas, is not `member` at the entry's timestamp;
 * - `self-payment`: the entry changes no balance but its author's own.
 */
export type RefusalReason = 'invalid-signature' | 'not-a-member' | 'self-payment'

/** A refusal decided from the entry and the membership timeline alone (`refusalOf`). */
export type Refusal =
  | { readonly reason: 'self-payment', readonly detail: string }
  | {
    readonly reason: 'not-a-member'
    readonly detail: string
    /** The first DID found not a member: the author, else the deltas' accounts in order. */
    readonly did: Did
    readonly status: Exclude<MembershipStatus, 'member'>
    /** The entry's timestamp, the time membership is judged at. */
    readonly at: number
  }

/** True when the entry changes no balance but its author's: a payment to oneself, or zero amounts to others. */
export function isSelfPayment (entry: JournalEntry): boolean {
  for (const c of netChanges(entry).values()) if (c.account !== entry.author && c.net !== 0n) return false
  return true
}

const LATEST_DATE_MS = 8_640_000_000_000_000
const describeTime = (at: number): string => at <= LATEST_DATE_MS ? `${at} (${new Date(at).toISOString()})` : String(at)

/**
 * The refusals that depend on the entry and the membership timeline only, so every node that knows the
 * same governance history decides them alike whatever the arrival order: a self-payment; an author or
 * account whose status at `entry.timestamp` is not `member` (`frozen` and `none` both refuse). A
 * membership function that throws or answers anything else refuses as `none` (it is asked again when
 * the entry is offered again).
 */
export function refusalOf (entry: JournalEntry, membership: MembershipAt): Refusal | undefined {
  if (isSelfPayment(entry)) {
    return { reason: 'self-payment', detail: `entry changes no balance but its author's own (${entry.author}): a payment to oneself is refused` }
  }
  const at = entry.timestamp
  const dids = [...new Set([entry.author, ...entry.deltas.map((d) => d.account)])]
  for (const did of dids) {
    const role = did === entry.author ? 'author' : 'account'
    let status: unknown
    let failure = ''
    try {
      status = membership(did, at)
    } catch (err) {
      failure = `; the membership check threw: ${err instanceof Error ? err.message : String(err)}`
    }
    if (status === 'member') continue
    const known: Exclude<MembershipStatus, 'member'> = status === 'frozen' ? 'frozen' : 'none'
    const what = known === 'frozen' ? 'is frozen (status \'frozen\')' : 'is not a member (status \'none\')'
    return { reason: 'not-a-member', did, status: known, at, detail: `${role} ${did} ${what} at the entry's timestamp ${describeTime(at)}${failure}` }
  }
  return undefined
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
