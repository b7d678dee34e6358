import { type Did, IdentityError, bytesEqual, decode, encode, merkleFoldsTo, merkleLeafHash, merklePath, merkleRootInSteps, merkleRootOf, sha256 } from '@icn/identity'
import { MAX_AMOUNT } from './constants.js'
import { type JournalEntry, type SignedEntry, checkAccount, checkCurrency, decodeEntry, hasValidSignature, netChanges } from './entry.js'
import { CutNotHeldError, InvalidArgumentError, InvalidStateError, LedgerError } from './errors.js'
import type { BalanceRow, ChainCredit, QuarantineReason } from './rules.js'
import type { ChainRecord, CutView, ForkProof, LedgerStore, LimitOverride, QuarantineRecord } from './store.js'
import { nextTurn } from './verifier.js'

const CUT_FORMAT = 'icn-ledger-cut'
const CUT_VERSION = 1
/** Rows per encoded page: one page is read, encoded and hashed per event-loop turn. */
export const CUT_PAGE_ROWS = 1024
/** The balance root of a ledger without balances: sha-256 of no bytes. */
export const EMPTY_BALANCE_ROOT = sha256(new Uint8Array(0))
const REASONS: ReadonlySet<string> = new Set<QuarantineReason>([
  'invalid-signature', 'unbalanced', 'unauthorized', 'exceeds-credit-limit', 'fork', 'charter-violation', 'rejected-by-hook'
])

/** An author's chain at the cut: its head slot, the entry there, and how many of its entries were applied. */
export interface CutHead { readonly author: Did, readonly seq: number, readonly id: string, readonly applied: number }

/**
 * A ledger's state at a cut (`decodeLedgerCut`): per author chain the head, and what those chains derive —
 * balances (with their Merkle root), each author's credit view, unacknowledged credits — plus the sparse
 * records (held, quarantined, fork proofs, limit overrides). Entries below the heads are not in it: they are
 * immutable, content-addressed and kept by every ledger's store.
 */
export interface LedgerCut {
  readonly heads: readonly CutHead[]
  readonly balances: readonly BalanceRow[]
  /** Merkle root over the balances in (account, currency) order; leaf = sha256(0x00 ‖ DAG-CBOR [account, currency, balance]). */
  readonly balanceRoot: Uint8Array
  readonly credit: ReadonlyArray<{ readonly author: Did, readonly currency: string, readonly credit: ChainCredit }>
  readonly unacked: ReadonlyArray<{ readonly account: Did, readonly id: string, readonly credits: ReadonlyArray<readonly [string, bigint]> }>
  readonly pending: readonly SignedEntry[]
  readonly quarantine: readonly QuarantineRecord[]
  readonly forks: readonly ForkProof[]
  readonly overrides: readonly LimitOverride[]
}

/** Evidence that `account` held `balance` of `currency` in the cut whose balance root is `root`. */
export interface BalanceProof {
  readonly account: Did
  readonly currency: string
  readonly balance: bigint
  readonly index: number
  readonly leafCount: number
  readonly steps: ReadonlyArray<{ readonly side: 'left' | 'right', readonly hash: Uint8Array }>
  readonly root: Uint8Array
}

const balanceLeaf = (account: string, currency: string, balance: bigint): Uint8Array => encode([account, currency, balance.toString()])

/**
 * Reads the cut from `view` in pages of `CUT_PAGE_ROWS` rows, one page per event-loop turn, and encodes it:
 * canonical DAG-CBOR `{ format, version, balanceRoot, heads, balances, credit, unacked, pending, quarantine,
 * forks, overrides }` whose four large tables are lists of pages (each the DAG-CBOR bytes of its rows), so no
 * single step encodes or hashes more than one page. Equal ledgers give identical bytes.
 */
export async function encodeLedgerCut (view: CutView): Promise<Uint8Array> {
  const pages = async <R>(read: (after: string | undefined) => Array<R & { key: string }>, row: (r: R) => unknown, each?: (r: R) => void): Promise<Uint8Array[]> => {
    const out: Uint8Array[] = []
    for (let after: string | undefined, page = read(undefined); page.length > 0; page = read(after)) {
      if (out.length > 0) await nextTurn()
      out.push(encode(page.map((r) => { each?.(r); return row(r) })))
      after = (page[page.length - 1] as { key: string }).key
    }
    return out
  }
  const leaves: Uint8Array[] = []
  const heads = await pages((after) => view.chains(after, CUT_PAGE_ROWS), (c) => [c.author, c.record.seq, c.record.head, c.record.applied])
  const balances = await pages((after) => view.balances(after, CUT_PAGE_ROWS), ({ row }) => [row.account, row.currency, row.balance.toString()],
    ({ row }) => { leaves.push(merkleLeafHash(balanceLeaf(row.account, row.currency, row.balance))) })
  const credit = await pages((after) => view.credit(after, CUT_PAGE_ROWS), (c) => [c.author, c.currency, c.credit.known.toString(), c.credit.volume.toString()])
  const unacked = await pages((after) => view.unacked(after, CUT_PAGE_ROWS), (u) => [u.account, u.id, u.credits.map(([c, a]) => [c, a.toString()])])
  const balanceRoot = leaves.length === 0 ? EMPTY_BALANCE_ROOT : await merkleRootInSteps(leaves, nextTurn)
  const pending = view.pending().map((bytes) => decodeEntry(bytes)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((p) => p.bytes)
  return encode({
    format: CUT_FORMAT,
    version: CUT_VERSION,
    balanceRoot,
    heads,
    balances,
    credit,
    unacked,
    pending,
    quarantine: view.quarantine().map((q) => ({ reason: q.reason, detail: q.detail, chained: q.chained, bytes: q.bytes })),
    forks: view.forks().map((f) => ({ first: f.first, second: f.second })),
    overrides: view.overrides().map((o) => ({ account: o.account, currency: o.currency, limit: o.limit.toString(), reference: o.reference }))
  })
}

function fail (message: string): never { throw new InvalidStateError(message) }

function list (value: unknown, field: string): unknown[] {
  return Array.isArray(value) ? value : fail(`cut field '${field}' must be a list`)
}

function bytesField (value: unknown, what: string): Uint8Array {
  return value instanceof Uint8Array ? value : fail(`${what} must be bytes`)
}

function decimal (value: unknown, what: string, signed: boolean): bigint {
  if (typeof value !== 'string' || !(signed ? /^-?(0|[1-9]\d*)$/ : /^(0|[1-9]\d*)$/).test(value) || value === '-0') fail(`${what} must be a decimal integer string`)
  return BigInt(value)
}

function count (value: unknown, what: string, min: number): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min ? value : fail(`${what} must be an integer ≥ ${min}`)
}

function guarded<T> (what: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof LedgerError && !(err instanceof InvalidStateError)) fail(`${what}: ${err.message}`)
    throw err
  }
}

function signedEntry (bytes: unknown, what: string, mustVerify: boolean): SignedEntry {
  const signed = guarded(what, () => decodeEntry(bytesField(bytes, what)))
  if (mustVerify && !hasValidSignature(signed)) fail(`${what} ${signed.id}: signature does not verify`)
  return signed
}

/** Rows of a paged table, each page decoded; keys must rise strictly across all pages. */
function pagedRows<T extends { key: string }> (value: unknown, field: string, parse: (row: unknown[], what: string) => T): T[] {
  const out: T[] = []
  for (const [p, page] of list(value, field).entries()) {
    let rows: unknown
    try {
      rows = decode(bytesField(page, `${field} page ${p}`))
    } catch (err) {
      if (err instanceof IdentityError) fail(`${field} page ${p} is not canonical DAG-CBOR: ${err.message}`)
      throw err
    }
    if (!Array.isArray(rows) || rows.length === 0 || rows.length > CUT_PAGE_ROWS) fail(`${field} page ${p} must hold 1..${CUT_PAGE_ROWS} rows`)
    if (p < list(value, field).length - 1 && rows.length !== CUT_PAGE_ROWS) fail(`${field} page ${p} is not full but is not the last`)
    for (const [i, row] of rows.entries()) {
      const what = `${field}[${out.length}]`
      if (!Array.isArray(row)) fail(`${what} must be a list`)
      const parsed = guarded(what, () => parse(row, what))
      const prev = out[out.length - 1]
      if (prev !== undefined && !(prev.key < parsed.key)) fail(`${what} is out of order or repeated (page ${p}, row ${i})`)
      out.push(parsed)
    }
  }
  return out
}

/**
 * Parses and checks a ledger cut (what `Ledger.exportState()` gives and a snapshot records): canonical
 * DAG-CBOR, the format, every row's shape and order, every held and chained-quarantined entry's signature,
 * the balance root against the balances, and that each currency's balances sum to zero (double entry).
 * Pure: needs no store. Throws `InvalidStateError`.
 */
export function decodeLedgerCut (bytes: Uint8Array): LedgerCut {
  if (!(bytes instanceof Uint8Array)) fail('cut must be bytes')
  let root: unknown
  try {
    root = decode(bytes)
  } catch (err) {
    if (err instanceof IdentityError) fail(`cut is not canonical DAG-CBOR: ${err.message}`)
    throw err
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) fail('cut must be a map')
  const state = root as Record<string, unknown>
  if (state.format !== CUT_FORMAT || state.version !== CUT_VERSION) fail(`cut format must be ${CUT_FORMAT} version ${CUT_VERSION}`)
  const fields = 'balanceRoot,balances,credit,forks,format,heads,overrides,pending,quarantine,unacked,version'
  if (Object.keys(state).sort().join(',') !== fields) fail(`cut must have exactly the fields ${fields}`)

  const heads = pagedRows(state.heads, 'heads', (r, what) => {
    if (r.length !== 4 || typeof r[2] !== 'string' || r[2].length === 0) fail(`${what} must be [author, seq, id, applied]`)
    const author = checkAccount(r[0], 'author')
    const seq = count(r[1], `${what} seq`, 1)
    const applied = count(r[3], `${what} applied`, 0)
    if (applied > seq) fail(`${what} has more applied entries than slots`)
    return { key: author, head: { author, seq, id: r[2] as string, applied } }
  }).map((h) => h.head)
  const balances = pagedRows(state.balances, 'balances', (r, what) => {
    if (r.length !== 3) fail(`${what} must be [account, currency, balance]`)
    const account = checkAccount(r[0])
    const currency = checkCurrency(r[1])
    return { key: `${account} ${currency}`, row: { account, currency, balance: decimal(r[2], `${what} balance`, true) } }
  }).map((b) => b.row)
  const credit = pagedRows(state.credit, 'credit', (r, what) => {
    if (r.length !== 4) fail(`${what} must be [author, currency, known, volume]`)
    const author = checkAccount(r[0], 'author')
    const currency = checkCurrency(r[1])
    return { key: `${author} ${currency}`, author, currency, credit: { known: decimal(r[2], `${what} known`, true), volume: decimal(r[3], `${what} volume`, false) } }
  }).map(({ author, currency, credit: c }) => ({ author, currency, credit: c }))
  const unacked = pagedRows(state.unacked, 'unacked', (r, what) => {
    if (r.length !== 3 || typeof r[1] !== 'string' || r[1].length === 0 || !Array.isArray(r[2]) || r[2].length === 0) fail(`${what} must be [account, id, credits]`)
    const account = checkAccount(r[0])
    const credits = (r[2] as unknown[]).map((c, i): [string, bigint] => {
      if (!Array.isArray(c) || c.length !== 2) fail(`${what} credit ${i} must be [currency, amount]`)
      return [checkCurrency(c[0]), decimal(c[1], `${what} credit ${i}`, false)]
    })
    return { key: `${account} ${r[1] as string}`, account, id: r[1] as string, credits }
  }).map(({ account, id, credits }) => ({ account, id, credits }))

  const leaves = balances.map((b) => merkleLeafHash(balanceLeaf(b.account, b.currency, b.balance)))
  const balanceRoot = bytesField(state.balanceRoot, 'balanceRoot')
  const computed = leaves.length === 0 ? EMPTY_BALANCE_ROOT : merkleRootOf(leaves)
  if (!bytesEqual(computed, balanceRoot)) fail('balanceRoot does not recompute from the balances')
  const sums = new Map<string, bigint>()
  for (const b of balances) sums.set(b.currency, (sums.get(b.currency) ?? 0n) + b.balance)
  for (const [currency, sum] of sums) if (sum !== 0n) fail(`balances of ${currency} sum to ${sum}, not 0`)

  const pending = list(state.pending, 'pending').map((b, i) => signedEntry(b, `pending[${i}]`, true))
  const quarantine = list(state.quarantine, 'quarantine').map((value, i): QuarantineRecord => {
    const q = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
    if (typeof q.reason !== 'string' || !REASONS.has(q.reason) || typeof q.detail !== 'string' || typeof q.chained !== 'boolean') {
      fail(`quarantine[${i}] must have a known reason, a detail and a chained flag`)
    }
    const signed = signedEntry(q.bytes, `quarantine[${i}]`, q.chained)
    return { id: signed.id, reason: q.reason as QuarantineReason, detail: q.detail, chained: q.chained, bytes: signed.bytes }
  })
  const forks = list(state.forks, 'forks').map((value, i): ForkProof => {
    const f = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
    const second = signedEntry(f.second, `forks[${i}].second`, true)
    return { author: second.entry.author, seq: second.entry.seq, first: bytesField(f.first, `forks[${i}].first`), second: second.bytes }
  })
  const overrides = list(state.overrides, 'overrides').map((value, i): LimitOverride => {
    const o = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
    return guarded(`overrides[${i}]`, () => {
      const limit = typeof o.limit === 'string' && /^\d+$/.test(o.limit) ? BigInt(o.limit) : -1n
      if (limit < 0n || limit > MAX_AMOUNT || typeof o.reference !== 'string') fail(`overrides[${i}] needs a limit in [0, 2^63 − 1] and a reference`)
      return { account: checkAccount(o.account), currency: checkCurrency(o.currency), limit, reference: o.reference as string }
    })
  })
  return { heads, balances, balanceRoot, credit, unacked, pending, quarantine, forks, overrides }
}

/** The Merkle proof of `account`'s `currency` balance in `cut` (bytes or decoded). Throws `InvalidArgumentError` if the cut has no such balance. */
export function proveBalance (cut: Uint8Array | LedgerCut, account: Did, currency: string): BalanceProof {
  const decoded = cut instanceof Uint8Array ? decodeLedgerCut(cut) : cut
  const index = decoded.balances.findIndex((b) => b.account === account && b.currency === currency)
  if (index < 0) throw new InvalidArgumentError(`the cut holds no ${currency} balance of ${account}`)
  const leaves = decoded.balances.map((b) => merkleLeafHash(balanceLeaf(b.account, b.currency, b.balance)))
  const { root, steps } = merklePath(leaves, index)
  return { account, currency, balance: (decoded.balances[index] as BalanceRow).balance, index, leafCount: leaves.length, steps, root }
}

/**
 * True when `proof` folds from its balance leaf up to its root, and (if given) that root is
 * `expectedRoot` — a cut's `balanceRoot`. Pure; never throws.
 */
export function verifyBalanceProof (proof: BalanceProof, expectedRoot?: Uint8Array): boolean {
  try {
    if (typeof proof.balance !== 'bigint' || typeof proof.account !== 'string' || typeof proof.currency !== 'string') return false
    if (expectedRoot !== undefined && !(expectedRoot instanceof Uint8Array && bytesEqual(expectedRoot, proof.root))) return false
    return merkleFoldsTo(merkleLeafHash(balanceLeaf(proof.account, proof.currency, proof.balance)), proof.steps, proof.root)
  } catch {
    return false
  }
}

/** Throws `CutNotHeldError` unless `store` holds every head of `cut` (the entry there is the recorded one). */
export function checkHeadsHeld (store: LedgerStore, cut: LedgerCut): void {
  const missing = cut.heads.filter((h) => store.getSlot(h.author, h.seq) !== h.id)
    .map((h) => ({ author: h.author, seq: h.seq, held: store.getChain(h.author)?.seq ?? 0 }))
  if (missing.length > 0) throw new CutNotHeldError(missing)
}

const CUT_TABLES = ['chains', 'balances', 'credit', 'unacked', 'pending', 'waits', 'quarantine', 'forks', 'overrides', 'floors'] as const

/**
 * Rolls the store back to `cut` (call inside one transaction): every chain to its recorded head — entries
 * above it leave the store (peers send them again, as for any chain behind) — and the derived tables and
 * sparse records to the recorded ones. The store must hold each recorded head (the chain below it is then
 * the recorded one: entries link by hash); otherwise `CutNotHeldError` and the transaction rolls back.
 * A chain moved back keeps a floor, so its author does not sign at those slots again (docs/ledger.md).
 */
export function restoreLedgerCut (store: LedgerStore, cut: LedgerCut): void {
  checkHeadsHeld(store, cut)
  const recorded = new Map(cut.heads.map((h) => [h.author, h]))
  const floors = new Map<Did, number>()
  for (const { author, seq } of store.floors()) floors.set(author, seq)
  const chains: Array<{ author: Did, record: ChainRecord }> = [...store.chains()]
  for (const { author, record } of chains) {
    floors.set(author, Math.max(floors.get(author) ?? 0, record.seq))
    for (let seq = (recorded.get(author)?.seq ?? 0) + 1; seq <= record.seq; seq++) {
      const id = store.getSlot(author, seq)
      if (id === undefined) continue
      const bytes = store.getEntry(id)
      if (bytes !== undefined) {
        const { entry } = decodeEntry(bytes)
        for (const account of new Set(entry.deltas.map((d) => d.account))) store.removeHistory(account, entry.timestamp, id)
        store.removeEntry(id)
      }
      store.removeSlot(author, seq)
    }
  }
  store.clearTables(CUT_TABLES)
  for (const [author, seq] of floors) if (seq > (recorded.get(author)?.seq ?? 0)) store.putFloor(author, seq)
  for (const h of cut.heads) store.putChain(h.author, { seq: h.seq, head: h.id, applied: h.applied })
  for (const b of cut.balances) store.putBalance(b.account, b.currency, b.balance)
  for (const c of cut.credit) store.putCredit(c.author, c.currency, c.credit)
  for (const u of cut.unacked) store.putUnacked(u.account, u.id, new Map(u.credits))
  for (const q of cut.quarantine) store.putQuarantine(q)
  for (const f of cut.forks) store.putFork(decodeEntry(f.second).id, f)
  for (const o of cut.overrides) store.putOverride(o)
  for (const p of cut.pending) {
    store.putPending(p.entry.author, p.entry.seq, p.id, p.bytes)
    // A held entry at its chain turn waits for the acknowledged entries still unknown.
    if (p.entry.seq !== (recorded.get(p.entry.author)?.seq ?? 0) + 1) continue
    for (const ack of p.entry.acks) if (!store.hasEntry(ack) && !store.hasQuarantine(ack)) store.putWait(ack, p.entry.author)
  }
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

