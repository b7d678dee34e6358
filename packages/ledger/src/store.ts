import { type Did, decode, encode } from '@icn/identity'
import { type RootDatabase, type Transaction, open } from 'lmdb'
import type { BalanceRow, ChainCredit, ChainHead, QuarantineReason } from './rules.js'

/** An author's chain: last used slot (applied or quarantined) and how many of its entries were applied. */
export interface ChainRecord { readonly seq: number, readonly head: string, readonly applied: number }

/** A quarantined entry: its bytes, the typed reason, and whether it used a slot in its author's chain. */
export interface QuarantineRecord {
  readonly id: string
  readonly reason: QuarantineReason
  readonly detail: string
  /** True when the entry was judged at its chain turn (so the chain moved past it). */
  readonly chained: boolean
  readonly bytes: Uint8Array
}

/** Proof that an author signed two different entries for the same chain slot. */
export interface ForkProof {
  readonly author: Did
  readonly seq: number
  /** The entry that holds the slot. */
  readonly first: Uint8Array
  /** The conflicting entry. */
  readonly second: Uint8Array
}

/** A governance override of a member's credit limit. */
export interface LimitOverride { readonly account: Did, readonly currency: string, readonly limit: bigint, readonly reference: string }

/** A pending (held) entry, waiting for a gap in its author's chain or for the entries it acknowledges. */
export interface PendingRecord { readonly author: Did, readonly seq: number, readonly id: string, readonly bytes: Uint8Array }

// Key parts (DIDs, CIDs, currencies, zero-padded numbers) never contain a space; '!' sorts right after it.
// (NUL cannot be used: lmdb's ordered-binary key encoding treats it as an array separator.)
const SEP = ' '
const END = '!'
const MARK = Uint8Array.of(1)
const pad = (n: number): string => n.toString().padStart(16, '0')
const key = (...parts: Array<string | number>): string => parts.map((p) => (typeof p === 'number' ? pad(p) : p)).join(SEP)
const prefixRange = (...parts: Array<string | number>): { start: string, end: string } => {
  const p = key(...parts)
  return { start: p + SEP, end: p + END }
}
const bytesOf = (value: Uint8Array): Uint8Array => new Uint8Array(value)
// Hot small records (slots, chains, credit, balances, unacked credits) are space-separated text: several
// times cheaper than canonical CBOR here, and still unambiguous (no part contains a space).
const text = (value: string): Uint8Array => Buffer.from(value, 'utf8')
const fromText = (value: Uint8Array): string => Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')
const decodeRecord = (value: Uint8Array): Record<string, unknown> => decode(bytesOf(value)) as Record<string, unknown>

interface RangeQuery { start?: string, end?: string, limit?: number }

/**
 * One table of the ledger, stored as the key range `name + ' '` … `name + '!'` of the single LMDB
 * database: one B-tree instead of twelve means far fewer dirty pages to write per commit.
 */
class Table {
  private readonly prefix: string
  private readonly end: string

  constructor (private readonly db: RootDatabase<Uint8Array, string>, name: string) {
    this.prefix = name + SEP
    this.end = name + END
  }

  get (k: string): Uint8Array | undefined { return this.db.get(this.prefix + k) }
  doesExist (k: string): boolean { return this.db.doesExist(this.prefix + k) }
  putSync (k: string, value: Uint8Array): void { this.db.putSync(this.prefix + k, value) }
  removeSync (k: string): void { this.db.removeSync(this.prefix + k) }

  * getRange (query: RangeQuery = {}): Generator<{ key: string, value: Uint8Array }> {
    const range = this.db.getRange({
      start: this.prefix + (query.start ?? ''),
      end: query.end === undefined ? this.end : this.prefix + query.end,
      ...(query.limit === undefined ? {} : { limit: query.limit })
    })
    for (const { key: k, value } of range) yield { key: k.slice(this.prefix.length), value }
  }

  * getKeys (query: RangeQuery = {}): Generator<string> {
    for (const { key: k } of this.getRange(query)) yield k
  }

  getCount (): number { return this.db.getKeysCount({ start: this.prefix, end: this.end }) }
}

/** A raw row: its key without the table's prefix. */
export interface RawRow { readonly key: string, readonly value: Uint8Array }

/**
 * Raw reads of one committed state (see `LedgerStore.read`). Rows are walked as LMDB stores them, so
 * a damaged key is still seen: one that no longer carries its table's name, or breaks the key order,
 * is reported through `stray` instead of ending the walk early.
 */
export class StoreReader {
  constructor (private readonly db: RootDatabase<Uint8Array, string>, private readonly txn: Transaction) {}

  get (table: LedgerTable, k: string): Uint8Array | undefined {
    const v = this.db.get(table + SEP + k, { transaction: this.txn })
    return v === undefined ? undefined : bytesOf(v)
  }

  /** The first row of `table` whose key's leading part is `part` (a cheap "is there any" probe). */
  first (table: LedgerTable, part: string): RawRow | undefined {
    for (const { key: k, value } of this.db.getRange({ start: table + SEP + part + SEP, end: table + SEP + part + END, limit: 1, transaction: this.txn })) {
      return { key: k.slice(table.length + 1), value: bytesOf(value) }
    }
    return undefined
  }

  /**
   * Every row of `table` in stored order. A key that does not belong there (damaged) is passed to
   * `stray` with the previous good key, and the walk goes on. The walk is not bounded by the table's
   * end key (LMDB would stop at a damaged key that sorts past it, silently skipping the rest): it stops
   * at the first of two consecutive keys outside the table, the next table's rows.
   */
  * rows (table: LedgerTable, stray: (key: string, after: string | undefined) => void): Generator<RawRow> {
    const prefix = table + SEP
    let previous: string | undefined
    let outside: string | undefined
    for (const { key: k, value } of this.db.getRange({ start: prefix, transaction: this.txn })) {
      if (typeof k !== 'string' || !k.startsWith(prefix)) {
        if (outside !== undefined) return
        outside = String(k)
        continue
      }
      if (outside !== undefined) {
        stray(outside, previous)
        outside = undefined
      }
      const rest = k.slice(prefix.length)
      if (previous !== undefined && rest <= previous) stray(k, previous)
      else {
        previous = rest
        yield { key: rest, value: bytesOf(value) }
      }
    }
  }

  /** Every key of the database, in stored order (a full walk). */
  * all (): Generator<{ key: string, value: Uint8Array }> {
    for (const { key: k, value } of this.db.getRange({ transaction: this.txn })) yield { key: String(k), value: bytesOf(value) }
  }

  /** Keys that lie between the tables' ranges, found by probing the gaps (cheap: one seek per gap), at most `limit`. */
  gapKeys (limit: number): string[] {
    const names = [...DB_NAMES].sort()
    const bounds: Array<{ start?: string, end?: string }> = []
    names.forEach((name, i) => { bounds.push({ ...(i === 0 ? {} : { start: (names[i - 1] as string) + END }), end: name + SEP }) })
    bounds.push({ start: (names[names.length - 1] as string) + END })
    const out: string[] = []
    for (const range of bounds) {
      for (const k of this.db.getKeys({ ...range, limit: limit - out.length, transaction: this.txn })) out.push(String(k))
      if (out.length >= limit) break
    }
    return out
  }
}

/**
 * Typed reads of one committed state (`LedgerStore.openCutView`), paged by key so a large table is read
 * in bounded steps across event-loop turns. Every page starts after the last key of the one before.
 */
export class CutView {
  constructor (private readonly db: RootDatabase<Uint8Array, string>, private readonly txn: Transaction) {}

  private * page (table: LedgerTable, after: string | undefined, limit: number): Generator<RawRow> {
    const prefix = table + SEP
    // Starts at `after` itself and skips it: a key just above it cannot be spelled (NUL is lmdb's separator).
    const start = prefix + (after ?? '')
    let count = 0
    for (const { key: k, value } of this.db.getRange({ start, end: table + END, limit: limit + 1, transaction: this.txn })) {
      const rest = k.slice(prefix.length)
      if (rest === after || count === limit) continue
      count++
      yield { key: rest, value: bytesOf(value) }
    }
  }

  chains (after: string | undefined, limit: number): Array<{ key: string, author: Did, record: ChainRecord }> {
    return [...this.page('chains', after, limit)].map(({ key: k, value }) => ({ key: k, author: k as Did, record: parseChain(value) }))
  }

  balances (after: string | undefined, limit: number): Array<{ key: string, row: BalanceRow }> {
    return [...this.page('balances', after, limit)].map(({ key: k, value }) => {
      const [account, currency] = k.split(SEP) as [Did, string]
      return { key: k, row: { account, currency, balance: BigInt(fromText(value)) } }
    })
  }

  credit (after: string | undefined, limit: number): Array<{ key: string, author: Did, currency: string, credit: ChainCredit }> {
    return [...this.page('credit', after, limit)].map(({ key: k, value }) => {
      const [author, currency] = k.split(SEP) as [Did, string]
      const [known, volume] = fromText(value).split(SEP) as [string, string]
      return { key: k, author, currency, credit: { known: BigInt(known), volume: BigInt(volume) } }
    })
  }

  unacked (after: string | undefined, limit: number): Array<{ key: string, account: Did, id: string, credits: Array<[string, bigint]> }> {
    return [...this.page('unacked', after, limit)].map(({ key: k, value }) => {
      const [account, id] = k.split(SEP) as [Did, string]
      const parts = fromText(value).split(SEP)
      const credits: Array<[string, bigint]> = []
      for (let i = 0; i + 1 < parts.length; i += 2) credits.push([parts[i] as string, BigInt(parts[i + 1] as string)])
      return { key: k, account, id, credits }
    })
  }

  /** Held entries' bytes, by (author, seq, id). */
  pending (): Uint8Array[] { return [...this.page('pending', undefined, 2 ** 31)].map((r) => r.value) }
  quarantine (): QuarantineRecord[] {
    return [...this.page('quarantine', undefined, 2 ** 31)].map(({ key: id, value }) => {
      const r = decodeRecord(value)
      return { id, reason: r.reason as QuarantineReason, detail: r.detail as string, chained: r.chained as boolean, bytes: r.bytes as Uint8Array }
    })
  }

  forks (): ForkProof[] {
    return [...this.page('forks', undefined, 2 ** 31)].map(({ key: k, value }) => {
      const [author, seq] = k.split(SEP) as [Did, string]
      const r = decodeRecord(value)
      return { author, seq: Number(seq), first: r.first as Uint8Array, second: r.second as Uint8Array }
    })
  }

  overrides (): LimitOverride[] {
    return [...this.page('overrides', undefined, 2 ** 31)].map(({ key: k, value }) => {
      const [account, currency] = k.split(SEP) as [Did, string]
      const r = decodeRecord(value)
      return { account, currency, limit: BigInt(r.limit as string), reference: r.reference as string }
    })
  }

  /** Ends the read transaction. */
  done (): void { this.txn.done() }
}

function isEmpty (db: Table): boolean {
  for (const _ of db.getKeys({ limit: 1 })) return false
  return true
}

function parseChain (value: Uint8Array): ChainRecord {
  const [seq, applied, head] = fromText(value).split(SEP) as [string, string, string]
  return { seq: Number(seq), applied: Number(applied), head }
}

const DB_NAMES = ['entries', 'slots', 'chains', 'credit', 'balances', 'unacked', 'pending', 'waits', 'quarantine', 'forks', 'overrides', 'history', 'floors'] as const
type DbName = typeof DB_NAMES[number]
/** One table of the ledger store (a key range of its single LMDB database). */
export type LedgerTable = DbName
/** Every table, in the order they are listed in docs/ledger.md. */
export const LEDGER_TABLES: readonly LedgerTable[] = DB_NAMES
const SPARSE_TABLES: readonly DbName[] = ['pending', 'waits', 'quarantine', 'overrides', 'floors']

/**
 * The LMDB storage adapter: one environment per directory, one key range of one
 * database per table, binary values (canonical DAG-CBOR or text), string keys whose parts are
 * joined by a space (numbers zero-padded so they sort). Every method is
 * synchronous; group writes with `transaction` to make them atomic.
 */
export class LedgerStore {
  private readonly dbs: Record<DbName, Table>
  private closed = false
  // Lets the hot path skip reads of usually-empty tables (pending, waits, quarantine, overrides).
  // A table is "known empty" only after a check found it empty and nothing was put since; any
  // removal schedules a re-check, and an aborted transaction (writes rolled back) re-checks all.
  private readonly knownEmpty = new Set<DbName>()
  private readonly recheck = new Set<DbName>(SPARSE_TABLES)
  private cutGate: Promise<void> | undefined
  // Entries held, counted once (a walk of the table) and then kept by this handle's puts and removals;
  // forgotten (counted again on the next call) when a transaction rolls back or a commit fails.
  private entriesHeld: number | undefined
  // Moves at the end of every write transaction (committed or rolled back: every write of balances and chain
  // heads happens in one), so a state root computed at one value holds until it moves.
  private stateWrites = 0

  private constructor (readonly path: string, private readonly root: RootDatabase<Uint8Array, string>) {
    this.dbs = Object.fromEntries(DB_NAMES.map((name) => [name, new Table(root, name)])) as Record<DbName, Table>
  }

  /**
   * Opens (creating if needed) the store in directory `path`; with `readOnly`, an existing store that
   * nothing here can write to (what a check uses).
   */
  static open (path: string, options: { readOnly?: boolean } = {}): LedgerStore {
    return new LedgerStore(path, open<Uint8Array, string>({ path, encoding: 'binary', ...(options.readOnly === true ? { readOnly: true } : {}) }))
  }

  /**
   * Runs `fn` over the raw rows of every table, all read in one LMDB read transaction: one committed
   * state, whatever other handles or processes write meanwhile (a commit is all of an operation's
   * writes or none). For integrity checks (integrity.ts); the transaction ends when `fn`'s promise settles.
   */
  async read<T> (fn: (reader: StoreReader) => T | Promise<T>): Promise<T> {
    const txn = this.root.useReadTransaction()
    try {
      return await fn(new StoreReader(this.root, txn))
    } finally {
      txn.done()
    }
  }

  /** Runs `fn` in one durable LMDB write transaction: all of its writes commit together or not at all. */
  transaction<T> (fn: () => T): T {
    try {
      return this.root.transactionSync(this.abortable(fn))
    } finally {
      this.stateWrites++
    }
  }

  /** A counter that moves whenever the balances or chain heads readers see may have changed (this handle's writes). */
  stateVersion (): number {
    return this.stateWrites
  }

  /**
   * Group commit: queues `fn` to run (on this thread, in call order) in the next asynchronous write
   * transaction, as its own child transaction — a throw rolls back `fn`'s writes only. Every call
   * queued while a commit is in flight shares the next commit, which runs off the event loop; the
   * promise resolves once that commit is durable: flushed to disk, not only committed (lmdb-js's
   * default `overlappingSync` resolves a commit before its fsync, which survives a crash of this
   * process but not of the machine).
   */
  async transactionAsync<T> (fn: () => T): Promise<T> {
    // Writes asked for while a cut view opens queue behind it (in call order): see `openCutView`.
    while (this.cutGate !== undefined) await this.cutGate
    let result: T
    try {
      result = await this.root.childTransaction(this.abortable(fn)) as T
    } catch (err) {
      this.entriesHeld = undefined // the commit failed: what this handle counted may not be stored
      throw err
    } finally {
      this.stateWrites++
    }
    await this.root.flushed
    return result
  }

  /**
   * A read view of the state after every write queued before this call and none after: the ledger at a
   * snapshot marker. Writes asked for meanwhile wait only until the writes already queued have committed
   * (what they would wait for anyway under group commit); then a read transaction opens on exactly that
   * state and writers go on, while the view is read at leisure (LMDB's MVCC: a reader never blocks a writer).
   * Call `done()` on the view when finished.
   */
  async openCutView (): Promise<CutView> {
    while (this.cutGate !== undefined) await this.cutGate
    let release = (): void => {}
    this.cutGate = new Promise<void>((resolve) => { release = resolve })
    try {
      await this.root.childTransaction(() => undefined)
      return new CutView(this.root, this.root.useReadTransaction())
    } finally {
      this.cutGate = undefined
      release()
    }
  }

  /** `fn`, forgetting the sparse-table caches when it throws (its writes are rolled back). */
  private abortable<T> (fn: () => T): () => T {
    return () => {
      try {
        return fn()
      } catch (err) {
        this.knownEmpty.clear()
        for (const name of SPARSE_TABLES) this.recheck.add(name)
        this.entriesHeld = undefined
        throw err
      }
    }
  }

  get isClosed (): boolean { return this.closed }

  /** Closes the environment (idempotent); the path can be opened again afterwards. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.root.close()
  }

  // entries: id → wire bytes of every applied entry
  getEntry (id: string): Uint8Array | undefined {
    const v = this.dbs.entries.get(id)
    return v === undefined ? undefined : bytesOf(v)
  }

  hasEntry (id: string): boolean { return this.dbs.entries.doesExist(id) }
  putEntry (id: string, bytes: Uint8Array): void {
    if (this.entriesHeld !== undefined && !this.dbs.entries.doesExist(id)) this.entriesHeld++
    this.dbs.entries.putSync(id, bytes)
  }
  * entries (): Generator<{ id: string, bytes: Uint8Array }> {
    for (const { key: id, value } of this.dbs.entries.getRange()) yield { id, bytes: bytesOf(value) }
  }

  /** Entries held: O(1) after the first call (`GET /status` reads it on every call). */
  entryCount (): number {
    this.entriesHeld ??= this.dbs.entries.getCount()
    return this.entriesHeld
  }

  removeEntry (id: string): void {
    if (this.entriesHeld !== undefined && this.dbs.entries.doesExist(id)) this.entriesHeld--
    this.dbs.entries.removeSync(id)
  }
  removeSlot (author: Did, seq: number): void { this.dbs.slots.removeSync(key(author, seq)) }
  removeHistory (account: Did, timestamp: number, id: string): void { this.dbs.history.removeSync(key(account, timestamp, id)) }

  /** Removes every record of `tables` (inside a transaction). */
  clearTables (tables: readonly LedgerTable[]): void {
    for (const name of tables) {
      if (SPARSE_TABLES.includes(name)) this.recheck.add(name)
      const db = this.dbs[name]
      for (const k of [...db.getKeys()]) db.removeSync(k)
    }
  }

  // slots: author, seq → id (applied or chained-quarantined)
  getSlot (author: Did, seq: number): string | undefined {
    const v = this.dbs.slots.get(key(author, seq))
    return v === undefined ? undefined : fromText(v)
  }

  /** Slots `from`, `from + 1`, … of `author`'s chain while they are filled, at most `limit`. */
  slotRange (author: Did, from: number, limit: number): Array<{ seq: number, id: string }> {
    const out: Array<{ seq: number, id: string }> = []
    for (const { key: k, value } of this.dbs.slots.getRange({ start: key(author, from), end: key(author) + END, limit })) {
      const seq = Number(k.slice(k.lastIndexOf(SEP) + 1))
      if (seq !== from + out.length) break
      out.push({ seq, id: fromText(value) })
    }
    return out
  }

  putSlot (author: Did, seq: number, id: string): void { this.dbs.slots.putSync(key(author, seq), text(id)) }

  // chains: author → chain record
  getChain (author: Did): ChainRecord | undefined {
    const v = this.dbs.chains.get(author)
    return v === undefined ? undefined : parseChain(v)
  }

  putChain (author: Did, record: ChainRecord): void { this.dbs.chains.putSync(author, text(`${record.seq} ${record.applied} ${record.head}`)) }
  /** Chain heads in author order; `after` an author, at most `limit`. */
  heads (page: { after?: string, limit?: number } = {}): ChainHead[] {
    const query = { ...(page.after === undefined ? {} : { start: page.after + END }), ...(page.limit === undefined ? {} : { limit: page.limit }) }
    return [...this.dbs.chains.getRange(query)].map(({ key: author, value }) => {
      const r = parseChain(value)
      return { author: author as Did, seq: r.seq, id: r.head }
    })
  }

  * chains (): Generator<{ author: Did, record: ChainRecord }> {
    for (const { key: author } of this.dbs.chains.getRange()) {
      const record = this.getChain(author as Did)
      if (record !== undefined) yield { author: author as Did, record }
    }
  }

  // credit: author, currency → the author's chain view
  getCredit (author: Did, currency: string): ChainCredit {
    const v = this.dbs.credit.get(key(author, currency))
    if (v === undefined) return { known: 0n, volume: 0n }
    const [known, volume] = fromText(v).split(SEP) as [string, string]
    return { known: BigInt(known), volume: BigInt(volume) }
  }

  putCredit (author: Did, currency: string, credit: ChainCredit): void {
    this.dbs.credit.putSync(key(author, currency), text(`${credit.known} ${credit.volume}`))
  }

  // balances: account, currency → decimal string (unbounded, so sums never overflow)
  getBalance (account: Did, currency: string): bigint | undefined {
    const v = this.dbs.balances.get(key(account, currency))
    return v === undefined ? undefined : BigInt(fromText(v))
  }

  putBalance (account: Did, currency: string, balance: bigint): void {
    this.dbs.balances.putSync(key(account, currency), text(balance.toString()))
  }

  balances (account?: Did): BalanceRow[] {
    const range = account === undefined ? {} : prefixRange(account)
    return [...this.dbs.balances.getRange(range)].map(({ key: k, value }) => {
      const [acct, currency] = k.split(SEP) as [Did, string]
      return { account: acct, currency, balance: BigInt(fromText(value)) }
    })
  }

  // unacked: account, entry id → credits (currency → amount) not yet acknowledged by the account's own chain
  getUnacked (account: Did, id: string): Map<string, bigint> | undefined {
    const v = this.dbs.unacked.get(key(account, id))
    if (v === undefined) return undefined
    const parts = fromText(v).split(SEP)
    const credits = new Map<string, bigint>()
    for (let i = 0; i + 1 < parts.length; i += 2) credits.set(parts[i] as string, BigInt(parts[i + 1] as string))
    return credits
  }

  putUnacked (account: Did, id: string, credits: ReadonlyMap<string, bigint>): void {
    const rows = [...credits].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, a]) => `${c} ${a}`)
    this.dbs.unacked.putSync(key(account, id), text(rows.join(SEP)))
  }

  removeUnacked (account: Did, id: string): void { this.dbs.unacked.removeSync(key(account, id)) }
  unackedIds (account: Did, limit: number): string[] {
    return [...this.dbs.unacked.getKeys({ ...prefixRange(account), limit })].map((k) => k.split(SEP)[1] as string)
  }

  // pending: author, seq, id → wire bytes
  getPending (author: Did, seq: number, id: string): boolean { return this.hasRows('pending') && this.dbs.pending.doesExist(key(author, seq, id)) }
  putPending (author: Did, seq: number, id: string, bytes: Uint8Array): void {
    this.knownEmpty.delete('pending')
    this.dbs.pending.putSync(key(author, seq, id), bytes)
  }

  /** False when no entry is held (cheap: usually answered without touching LMDB). */
  hasAnyPending (): boolean { return this.hasRows('pending') }
  removePending (author: Did, seq: number, id: string): void {
    this.recheck.add('pending')
    this.dbs.pending.removeSync(key(author, seq, id))
  }
  pendingAt (author: Did, seq: number): PendingRecord[] {
    return [...this.dbs.pending.getRange(prefixRange(author, seq))].map(({ key: k, value }) => ({ author, seq, id: k.split(SEP)[2] as string, bytes: bytesOf(value) }))
  }

  pending (): PendingRecord[] {
    return [...this.dbs.pending.getRange()].map(({ key: k, value }) => {
      const [author, seq, id] = k.split(SEP) as [Did, string, string]
      return { author, seq: Number(seq), id, bytes: bytesOf(value) }
    })
  }

  // waits: acknowledged id, author → marker (the author's next entry waits for that id)
  putWait (ackId: string, author: Did): void {
    this.knownEmpty.delete('waits')
    this.dbs.waits.putSync(key(ackId, author), MARK)
  }

  takeWaiters (ackId: string): Did[] {
    if (!this.hasRows('waits')) return []
    const keys = [...this.dbs.waits.getKeys(prefixRange(ackId))]
    if (keys.length > 0) this.recheck.add('waits')
    for (const k of keys) this.dbs.waits.removeSync(k)
    return keys.map((k) => k.split(SEP)[1] as Did)
  }

  // quarantine: id → record
  getQuarantine (id: string): QuarantineRecord | undefined {
    const v = this.dbs.quarantine.get(id)
    if (v === undefined) return undefined
    const r = decodeRecord(v)
    return { id, reason: r.reason as QuarantineReason, detail: r.detail as string, chained: r.chained as boolean, bytes: r.bytes as Uint8Array }
  }

  hasQuarantine (id: string): boolean { return this.hasRows('quarantine') && this.dbs.quarantine.doesExist(id) }
  putQuarantine (record: QuarantineRecord): void {
    this.knownEmpty.delete('quarantine')
    this.dbs.quarantine.putSync(record.id, encode({ reason: record.reason, detail: record.detail, chained: record.chained, bytes: record.bytes }))
  }

  quarantine (): QuarantineRecord[] {
    return [...this.dbs.quarantine.getKeys()].map((id) => this.getQuarantine(id) as QuarantineRecord)
  }

  // forks: author, seq, second id → proof
  putFork (secondId: string, proof: ForkProof): void {
    this.dbs.forks.putSync(key(proof.author, proof.seq, secondId), encode({ first: proof.first, second: proof.second }))
  }

  forks (): ForkProof[] {
    return [...this.dbs.forks.getRange()].map(({ key: k, value }) => {
      const [author, seq] = k.split(SEP) as [Did, string]
      const r = decodeRecord(value)
      return { author, seq: Number(seq), first: r.first as Uint8Array, second: r.second as Uint8Array }
    })
  }

  // overrides: account, currency → governance limit
  getOverride (account: Did, currency: string): LimitOverride | undefined {
    if (!this.hasRows('overrides')) return undefined
    const v = this.dbs.overrides.get(key(account, currency))
    if (v === undefined) return undefined
    const r = decodeRecord(v)
    return { account, currency, limit: BigInt(r.limit as string), reference: r.reference as string }
  }

  putOverride (o: LimitOverride): void {
    this.knownEmpty.delete('overrides')
    this.dbs.overrides.putSync(key(o.account, o.currency), encode({ limit: o.limit.toString(), reference: o.reference }))
  }

  overrides (): LimitOverride[] {
    return [...this.dbs.overrides.getKeys()].map((k) => {
      const [account, currency] = k.split(SEP) as [Did, string]
      return this.getOverride(account, currency) as LimitOverride
    })
  }

  // history: account, timestamp, id → marker (ordered by the author's timestamp, then id)
  putHistory (account: Did, timestamp: number, id: string): void { this.dbs.history.putSync(key(account, timestamp, id), MARK) }
  historyPage (account: Did, after: { timestamp: number, id: string } | undefined, limit: number): Array<{ timestamp: number, id: string }> {
    const range = prefixRange(account)
    const start = after === undefined ? range.start : key(account, after.timestamp, after.id) + END
    return [...this.dbs.history.getKeys({ start, end: range.end, limit })].map((k) => {
      const [, ts, id] = k.split(SEP) as [string, string, string]
      return { timestamp: Number(ts), id }
    })
  }

  // floors: author → the highest chain slot this ledger held before a restore moved the chain back
  // (local safety, not part of the exported state: a new entry at or below it would fork the chain)
  getFloor (author: Did): number | undefined {
    if (!this.hasRows('floors')) return undefined
    const v = this.dbs.floors.get(author)
    return v === undefined ? undefined : Number(fromText(v))
  }

  putFloor (author: Did, seq: number): void {
    this.knownEmpty.delete('floors')
    this.dbs.floors.putSync(author, text(String(seq)))
  }

  removeFloor (author: Did): void {
    this.recheck.add('floors')
    this.dbs.floors.removeSync(author)
  }

  floors (): Array<{ author: Did, seq: number }> {
    return [...this.dbs.floors.getRange()].map(({ key: author, value }) => ({ author: author as Did, seq: Number(fromText(value)) }))
  }

  private hasRows (name: DbName): boolean {
    if (this.recheck.delete(name)) {
      if (isEmpty(this.dbs[name])) this.knownEmpty.add(name)
      else this.knownEmpty.delete(name)
    }
    return !this.knownEmpty.has(name)
  }

  /** Removes every record of every table (call inside `transaction` to replace state atomically). */
  clearAll (): void {
    for (const name of SPARSE_TABLES) this.recheck.add(name)
    for (const name of DB_NAMES) {
      const db = this.dbs[name]
      for (const k of [...db.getKeys()]) db.removeSync(k)
    }
  }
}
