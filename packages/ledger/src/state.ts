import { type Did, IdentityError, decode, encode } from '@icn/identity'
import { MAX_AMOUNT } from './constants.js'
import { type JournalEntry, type SignedEntry, checkAccount, checkCurrency, decodeEntry, hasValidSignature, netChanges } from './entry.js'
import { InvalidStateError, LedgerError } from './errors.js'
import { type ChainCredit, type QuarantineReason, checkEntryRules, isSelfPayment } from './rules.js'
import type { ForkProof, LedgerStore, LimitOverride, QuarantineRecord } from './store.js'

const STATE_FORMAT = 'icn-ledger-state'
const REASONS: ReadonlySet<string> = new Set<QuarantineReason>([
  'invalid-signature', 'unbalanced', 'unauthorized', 'exceeds-credit-limit', 'fork', 'charter-violation', 'rejected-by-hook'
])

/**
 * Canonical DAG-CBOR of the ledger's primary records, each list sorted by key:
 * applied entries, quarantine, held entries, fork proofs, limit overrides.
 * Everything else (balances, chains, indexes) is derived from them on restore,
 * and the local order in which entries arrived is not part of it, so equal
 * ledgers export identical bytes.
 */
export function exportLedgerState (store: LedgerStore): Uint8Array {
  return encode({
    format: STATE_FORMAT,
    version: 1,
    entries: [...store.entries()].map((e) => e.bytes),
    quarantine: store.quarantine().map((q) => ({ reason: q.reason, detail: q.detail, chained: q.chained, bytes: q.bytes })),
    pending: store.pending().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((p) => p.bytes),
    forks: store.forks().map((f) => ({ first: f.first, second: f.second })),
    overrides: store.overrides().map((o) => ({ account: o.account, currency: o.currency, limit: o.limit.toString(), reference: o.reference }))
  })
}

/** Every record a restore writes, derived and checked before anything is touched. */
interface DerivedState {
  readonly entries: readonly SignedEntry[]
  readonly quarantine: readonly QuarantineRecord[]
  readonly pending: readonly SignedEntry[]
  readonly forks: readonly ForkProof[]
  readonly overrides: readonly LimitOverride[]
  readonly slots: ReadonlyArray<{ author: Did, seq: number, id: string }>
  readonly chains: ReadonlyMap<Did, { seq: number, head: string, applied: number }>
  readonly balances: ReadonlyMap<string, { account: Did, currency: string, balance: bigint }>
  readonly credit: ReadonlyMap<string, { author: Did, currency: string, credit: ChainCredit }>
  readonly unacked: ReadonlyArray<{ account: Did, id: string, credits: Map<string, bigint> }>
  readonly waits: ReadonlyArray<{ ackId: string, author: Did }>
}

function fail (message: string): never { throw new InvalidStateError(message) }

function list (value: unknown, field: string): unknown[] {
  return Array.isArray(value) ? value : fail(`state field '${field}' must be a list`)
}

function bytesField (value: unknown, what: string): Uint8Array {
  return value instanceof Uint8Array ? value : fail(`${what} must be bytes`)
}

function signedEntry (bytes: unknown, what: string, mustVerify: boolean): SignedEntry {
  let signed: SignedEntry
  try {
    signed = decodeEntry(bytesField(bytes, what))
  } catch (err) {
    if (err instanceof LedgerError) fail(`${what}: ${err.message}`)
    throw err
  }
  if (mustVerify && !hasValidSignature(signed)) fail(`${what} ${signed.id}: signature does not verify`)
  return signed
}

/** Parses and checks exported state, and derives every table from it (pure: touches no store). */
export function deriveLedgerState (bytes: Uint8Array): DerivedState {
  let root: unknown
  try {
    root = decode(bytes)
  } catch (err) {
    if (err instanceof IdentityError) fail(`state is not canonical DAG-CBOR: ${err.message}`)
    throw err
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) fail('state must be a map')
  const state = root as Record<string, unknown>
  if (state.format !== STATE_FORMAT || state.version !== 1) fail(`state format must be ${STATE_FORMAT} version 1`)

  const entries = list(state.entries, 'entries').map((b, i) => signedEntry(b, `entries[${i}]`, true))
  for (const e of entries) {
    const broken = checkEntryRules(e.entry)
    if (broken !== undefined) fail(`applied entry ${e.id} breaks a rule: ${broken.reason}`)
    // Membership is not judged here: it needs the governance history, and a snapshot is restored as it was taken.
    if (isSelfPayment(e.entry)) fail(`applied entry ${e.id} is a self-payment, which is refused`)
  }
  const quarantine = list(state.quarantine, 'quarantine').map((value, i): QuarantineRecord => {
    const q = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
    if (typeof q.reason !== 'string' || !REASONS.has(q.reason) || typeof q.detail !== 'string' || typeof q.chained !== 'boolean') {
      fail(`quarantine[${i}] must have a known reason, a detail and a chained flag`)
    }
    const signed = signedEntry(q.bytes, `quarantine[${i}]`, q.chained)
    return { id: signed.id, reason: q.reason as QuarantineReason, detail: q.detail, chained: q.chained, bytes: signed.bytes }
  })
  const pending = list(state.pending, 'pending').map((b, i) => signedEntry(b, `pending[${i}]`, true))
  const forks = list(state.forks, 'forks').map((value, i): ForkProof => {
    const f = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
    const second = signedEntry(f.second, `forks[${i}].second`, true)
    return { author: second.entry.author, seq: second.entry.seq, first: bytesField(f.first, `forks[${i}].first`), second: second.bytes }
  })
  const overrides = list(state.overrides, 'overrides').map((value, i): LimitOverride => {
    const o = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
    try {
      const limit = typeof o.limit === 'string' && /^\d+$/.test(o.limit) ? BigInt(o.limit) : -1n
      if (limit < 0n || limit > MAX_AMOUNT || typeof o.reference !== 'string') fail(`overrides[${i}] needs a limit in [0, 2^63 − 1] and a reference`)
      return { account: checkAccount(o.account), currency: checkCurrency(o.currency), limit, reference: o.reference as string }
    } catch (err) {
      if (err instanceof InvalidStateError) throw err
      if (err instanceof LedgerError) fail(`overrides[${i}]: ${err.message}`)
      throw err
    }
  })

  // Chains: applied and chained-quarantined entries fill slots 1..n of each author, linked by prev.
  const bySlot = new Map<string, SignedEntry>()
  const chained = [...entries, ...quarantine.filter((q) => q.chained).map((q) => decodeEntry(q.bytes))]
  for (const e of chained) {
    const slot = `${e.entry.author}\u0000${e.entry.seq}`
    if (bySlot.has(slot)) fail(`two entries hold slot ${e.entry.seq} of ${e.entry.author}`)
    bySlot.set(slot, e)
  }
  const chains = new Map<Did, { seq: number, head: string, applied: number }>()
  const appliedIds = new Set(entries.map((e) => e.id))
  for (const e of chained) {
    const c = chains.get(e.entry.author) ?? { seq: 0, head: '', applied: 0 }
    if (e.entry.seq > c.seq) { c.seq = e.entry.seq; c.head = e.id }
    if (appliedIds.has(e.id)) c.applied++
    chains.set(e.entry.author, c)
  }
  const slots: Array<{ author: Did, seq: number, id: string }> = []
  for (const [author, c] of chains) {
    for (let seq = 1; seq <= c.seq; seq++) {
      const e = bySlot.get(`${author}\u0000${seq}`) ?? fail(`chain of ${author} has a gap at ${seq}`)
      const prev = seq === 1 ? undefined : bySlot.get(`${author}\u0000${seq - 1}`)?.id
      if (e.entry.prev !== prev) fail(`entry ${e.id} does not link to ${author}'s entry ${seq - 1}`)
      slots.push({ author, seq, id: e.id })
    }
  }

  // Balances, unacknowledged credits and each author's chain view, from the applied entries alone.
  const totals = new JournalTotals()
  for (const e of entries) totals.add(e.id, e.entry)
  const { balances, credit, unacked } = totals.finish()

  // Held entries at their chain turn wait for the acknowledged entries still unknown.
  const known = new Set([...appliedIds, ...quarantine.map((q) => q.id)])
  const waits: Array<{ ackId: string, author: Did }> = []
  for (const p of pending) {
    if (p.entry.seq !== (chains.get(p.entry.author)?.seq ?? 0) + 1) continue
    for (const ack of p.entry.acks) if (!known.has(ack)) waits.push({ ackId: ack, author: p.entry.author })
  }
  return { entries, quarantine, pending, forks, overrides, slots, chains, balances, credit, unacked, waits }
}

/**
 * Balances, each author's chain view of its credit, and the credits not yet acknowledged, as the applied
 * entries added (in any order) make them: what a restore writes and what a check compares with the store.
 */
export class JournalTotals {
  private readonly balances = new Map<string, { account: Did, currency: string, balance: bigint }>()
  private readonly creditedBy = new Map<string, Map<string, bigint>>() // `${account}\0${id}` → credits
  private readonly credit = new Map<string, { author: Did, currency: string, credit: ChainCredit }>()
  private readonly acks: Array<readonly [Did, string]> = []

  add (id: string, entry: JournalEntry): void {
    for (const c of netChanges(entry).values()) {
      const k = `${c.account}\u0000${c.currency}`
      const row = this.balances.get(k) ?? { account: c.account, currency: c.currency, balance: 0n }
      row.balance += c.net
      this.balances.set(k, row)
      if (c.net > 0n && c.account !== entry.author) {
        const m = this.creditedBy.get(`${c.account}\u0000${id}`) ?? new Map<string, bigint>()
        m.set(c.currency, c.net)
        this.creditedBy.set(`${c.account}\u0000${id}`, m)
      }
      if (c.account === entry.author) this.bump(entry.author, c.currency, c.net, c.net < 0n ? -c.net : c.net)
    }
    for (const ack of entry.acks) this.acks.push([entry.author, ack])
  }

  /** The totals, keyed `account\0currency` (balances, credit); each credited entry's first ack counts. Call once, after the last `add`. */
  finish (): {
    balances: ReadonlyMap<string, { account: Did, currency: string, balance: bigint }>
    credit: ReadonlyMap<string, { author: Did, currency: string, credit: ChainCredit }>
    unacked: Array<{ account: Did, id: string, credits: Map<string, bigint> }>
  } {
    const acked = new Set<string>()
    for (const [author, ack] of this.acks) {
      const k = `${author}\u0000${ack}`
      const got = this.creditedBy.get(k)
      if (got === undefined || acked.has(k)) continue
      acked.add(k)
      for (const [currency, amount] of got) this.bump(author, currency, amount, amount)
    }
    const unacked = [...this.creditedBy].filter(([k]) => !acked.has(k)).map(([k, m]) => {
      const [account, id] = k.split('\u0000') as [Did, string]
      return { account, id, credits: m }
    })
    return { balances: this.balances, credit: this.credit, unacked }
  }

  private bump (author: Did, currency: string, known: bigint, volume: bigint): void {
    const k = `${author}\u0000${currency}`
    const row = this.credit.get(k) ?? { author, currency, credit: { known: 0n, volume: 0n } }
    row.credit = { known: row.credit.known + known, volume: row.credit.volume + volume }
    this.credit.set(k, row)
  }
}

/** Replaces the store's whole content with `state` (call inside one transaction). */
export function writeLedgerState (store: LedgerStore, state: DerivedState): void {
  // Chains the restore moves back keep a floor: this ledger has held (and its author may have signed and
  // sent) entries up to there, so authoring at those slots again would fork the chain.
  const floors = new Map<Did, number>()
  for (const { author, seq } of store.floors()) floors.set(author, seq)
  for (const { author, record } of store.chains()) floors.set(author, Math.max(floors.get(author) ?? 0, record.seq))
  store.clearAll()
  for (const [author, seq] of floors) if (seq > (state.chains.get(author)?.seq ?? 0)) store.putFloor(author, seq)
  for (const e of state.entries) {
    store.putEntry(e.id, e.bytes)
    for (const account of new Set(e.entry.deltas.map((d) => d.account))) store.putHistory(account, e.entry.timestamp, e.id)
  }
  for (const q of state.quarantine) store.putQuarantine(q)
  for (const p of state.pending) store.putPending(p.entry.author, p.entry.seq, p.id, p.bytes)
  for (const f of state.forks) store.putFork(decodeEntry(f.second).id, f)
  for (const o of state.overrides) store.putOverride(o)
  for (const s of state.slots) store.putSlot(s.author, s.seq, s.id)
  for (const [author, c] of state.chains) store.putChain(author, c)
  for (const b of state.balances.values()) store.putBalance(b.account, b.currency, b.balance)
  for (const c of state.credit.values()) store.putCredit(c.author, c.currency, c.credit)
  for (const u of state.unacked) store.putUnacked(u.account, u.id, u.credits)
  for (const w of state.waits) store.putWait(w.ackId, w.author)
}
