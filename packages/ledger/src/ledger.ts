import { type Clock, type Did, type KeyPair, type MembershipAt, type SignedEnvelope, sha256, toHex } from '@icn/identity'
import { MAX_ACKS, MAX_AMOUNT } from './constants.js'
import {
  type AccountDelta, type JournalEntry, type SignedEntry, checkAccount, checkCurrency, decodeEntry, entryPayload,
  hasValidSignature, parseEntry, signEntry, toAmount
} from './entry.js'
import { CorruptStoreError, EntryRejectedError, InvalidArgumentError, InvalidStateError, LedgerClosedError, NotAMemberError } from './errors.js'
import { type CreditPolicy, policyCreditLimit } from './policy.js'
import {
  type BalanceRow, type ChainHead, type QuarantineReason, type RefusalReason, type ValidationHook, computeStateRoot, judgeEntry, refusalOf
} from './rules.js'
import { checkHeadsHeld, decodeLedgerCut, encodeLedgerCut, restoreLedgerCut } from './state.js'
import type { SignatureVerifier } from './verifier.js'
import type { ForkProof, LedgerStore, LimitOverride, QuarantineRecord } from './store.js'

/** What happened to one entry handed to the ledger. */
export type ApplyStatus = 'applied' | 'duplicate' | 'pending' | 'quarantined' | 'refused'

/** Options of `applyBatch`. */
export interface ApplyBatchOptions {
  /**
   * Entries whose signature does not verify are answered `refused` and nothing of them is written,
   * instead of being quarantined: for entries from a peer's history, which must not fill this
   * ledger's quarantine with forgeries. @default false
   */
  readonly refuseInvalidSignatures?: boolean
}

/** A run of one author's chain, as served to peers catching up. */
export interface ChainRange {
  readonly author: Did
  /** Wire bytes of the entries at slots `from`, `from + 1`, … (applied or quarantined at their turn). */
  readonly entries: readonly Uint8Array[]
  readonly from: number
}

/**
 * The verdict on one entry. `applied`, `quarantined` (with `reason: QuarantineReason`, the chain slot used
 * unless `invalid-signature`) and `pending` (held for a missing chain predecessor or acknowledged entry) are
 * stored; `duplicate` and `refused` store nothing. `refused` carries `reason: RefusalReason` and a `detail`
 * (for `not-a-member`: the DID, its status and the entry's timestamp): a refused entry of a batch does not
 * stop the others, and the same bytes offered again later are judged again (e.g. once this node's governance
 * history has caught up).
 */
export interface ApplyOutcome {
  readonly id: string
  readonly status: ApplyStatus
  readonly reason?: QuarantineReason | RefusalReason
  readonly detail?: string
  /**
   * Previously pending entries that left the pending set during this call, in order: applied or quarantined,
   * or refused at their turn (membership is judged again on release) and dropped.
   */
  readonly released: readonly string[]
}

/** What a local author asks for; the ledger fills in seq, prev, acks and timestamp, then signs. */
export interface EntryDraft {
  readonly deltas: readonly AccountDelta[]
  readonly reference?: string
}

/** An applied entry. */
export interface EntryRecord { readonly id: string, readonly entry: JournalEntry, readonly bytes: Uint8Array }

/** An author held back by a restore: its chain is at `head`, below the slot `floor` this ledger held before. */
export interface ChainFloor { readonly author: Did, readonly head: number, readonly floor: number }

/** One page of an account's history, oldest first; pass `next` back as `after` for the following page. */
export interface HistoryPage { readonly entries: readonly EntryRecord[], readonly next?: string }

export interface LedgerParts {
  readonly store: LedgerStore
  readonly clock: Clock
  readonly trustOf: (did: string) => number
  readonly policy: CreditPolicy
  readonly hooks: readonly ValidationHook[]
  readonly verifier: SignatureVerifier
  readonly membership: MembershipAt
}

/** Mutable per-call state of one write transaction. */
interface TxnContext {
  /** Authors whose chain moved or whose awaited acks resolved: their held entries get another look. */
  readonly wake: Did[]
  readonly released: string[]
  /** Set for a local creation: a failing rule throws instead of quarantining. */
  readonly local: boolean
}

/** Held entries kept decoded in memory, at most (beyond it the oldest is decoded again when needed). */
const MAX_HELD_DECODED = 4096
/** Entries of an `applyBatch` applied in one child transaction (one lmdb batch): ~0.1 ms each holds the event loop ~13 ms. */
const APPLY_CHUNK = 128

/**
 * Indexes of `entries` by (timestamp, author, seq): an entry comes after the ones it acknowledges as a
 * rule, so few wait as pending (verdicts do not depend on the order, only the work does).
 */
function applyOrder (entries: readonly SignedEntry[]): number[] {
  const order = entries.map((_, i) => i)
  return order.sort((a, b) => {
    const x = (entries[a] as SignedEntry).entry
    const y = (entries[b] as SignedEntry).entry
    return x.timestamp - y.timestamp || (x.author < y.author ? -1 : x.author > y.author ? 1 : x.seq - y.seq) || a - b
  })
}

const sumInto = (map: Map<string, bigint>, currency: string, amount: bigint): void => {
  map.set(currency, (map.get(currency) ?? 0n) + amount)
}

/** The ledger handle used by the node. Private: `openLedger` in index.ts builds it. */
export class LedgerHandle {
  private readonly store: LedgerStore
  private readonly clock: Clock
  private readonly trustOf: (did: string) => number
  private readonly policy: CreditPolicy
  private readonly hooks: ValidationHook[]
  private readonly verifier: SignatureVerifier
  private readonly membership: MembershipAt
  private closing: Promise<void> | undefined
  // Held entries, decoded: one waiting on several acknowledged entries gets another look each time one of
  // them resolves, and decoding it again each time was the bulk of a busy node's apply work. Keyed by id
  // (a hash of the bytes), so an entry here is right whatever happened to the transaction that held it.
  private readonly heldDecoded = new Map<string, SignedEntry>()
  private cachedRoot: { version: number, root: string } | undefined

  constructor (parts: LedgerParts) {
    this.store = parts.store
    this.clock = parts.clock
    this.trustOf = parts.trustOf
    this.policy = parts.policy
    this.hooks = [...parts.hooks]
    this.verifier = parts.verifier
    this.membership = parts.membership
  }

  get path (): string { return this.store.path }

  // ---- writes ----------------------------------------------------------------

  /** Builds, signs and applies a new entry by `keyPair`'s DID in one transaction; throws `EntryRejectedError` if a rule fails. */
  async createEntry (keyPair: KeyPair, draft: EntryDraft): Promise<EntryRecord> {
    this.open()
    const author = keyPair.did
    const signed = await this.store.transactionAsync(() => {
      const chain = this.store.getChain(author)
      const held = this.floorOf(author)
      if (held !== undefined) {
        throw new EntryRejectedError('fork', `this ledger held ${author}'s entry ${held.floor} before a restore moved the chain back to ${held.head}: ` +
          `a new entry now would fork the chain; wait until entries up to ${held.floor} arrive again`)
      }
      const acks = this.store.unackedIds(author, MAX_ACKS)
      const payload = entryPayload({
        author,
        seq: (chain?.seq ?? 0) + 1,
        ...(chain === undefined ? {} : { prev: chain.head }),
        timestamp: this.clock.now(),
        deltas: (draft.deltas ?? []).map((d) => ({
          ...d,
          ...(d.debit === undefined ? {} : { debit: toAmount(d.debit, 'debit') }),
          ...(d.credit === undefined ? {} : { credit: toAmount(d.credit, 'credit') })
        })),
        ...(draft.reference === undefined ? {} : { reference: draft.reference }),
        acks
      })
      const unsigned = parseEntry(payload)
      // Refused before signing: no signature exists for an entry this ledger would not store.
      const refusal = refusalOf(unsigned, this.membership)
      if (refusal?.reason === 'self-payment') throw new InvalidArgumentError(refusal.detail)
      if (refusal?.reason === 'not-a-member') throw new NotAMemberError(refusal.did, refusal.status, refusal.at, `entry refused: ${refusal.detail}`)
      const entry = signEntry(unsigned, keyPair)
      const ctx: TxnContext = { wake: [], released: [], local: true }
      this.place(entry, ctx)
      this.drain(ctx)
      return entry
    })
    return { id: signed.id, entry: signed.entry, bytes: signed.bytes }
  }

  /** A payment: `amount` of `currency` from `keyPair`'s DID to `to`. */
  async pay (keyPair: KeyPair, to: Did, currency: string, amount: bigint, reference?: string): Promise<EntryRecord> {
    checkAccount(to, 'payee')
    checkCurrency(currency)
    if (to === keyPair.did) throw new InvalidArgumentError(`a payment to oneself moves nothing and is refused (payer and payee are both ${to})`)
    if (amount === 0n) throw new InvalidArgumentError('a payment of 0 moves nothing and is refused')
    return await this.createEntry(keyPair, {
      deltas: [{ account: keyPair.did, currency, debit: amount }, { account: to, currency, credit: amount }],
      ...(reference === undefined ? {} : { reference })
    })
  }

  /** Applies one entry received from a peer, in its own durable transaction. */
  async applyEnvelope (input: Uint8Array | SignedEnvelope | SignedEntry): Promise<ApplyOutcome> {
    this.open()
    const signed = decodeEntry(input)
    return (await this.store.transactionAsync(() => this.ingestAll([signed], [0], () => hasValidSignature(signed), false)))[0] as ApplyOutcome
  }

  /**
   * Applies many entries, by (timestamp, author, seq), in child transactions of at most APPLY_CHUNK
   * entries, one per commit. All are decoded first (a malformed one throws and nothing is written);
   * signatures are checked on worker threads meanwhile, and while the chunks apply. Outcomes come in
   * input order. A chunk that throws rolls back alone (the chunks before it stay committed) and
   * rejects the call.
   */
  async applyBatch (inputs: ReadonlyArray<Uint8Array | SignedEnvelope | SignedEntry>, options: ApplyBatchOptions = {}): Promise<ApplyOutcome[]> {
    this.open()
    const batch = await this.verifier.prepare(inputs, decodeEntry)
    const refuse = options.refuseInvalidSignatures === true
    try {
      const order = applyOrder(batch.entries)
      const outcomes: ApplyOutcome[] = new Array(inputs.length)
      const ingestChunk = (chunk: readonly number[]): void => {
        this.ingestAll(batch.entries, chunk, batch.valid, refuse).forEach((outcome, j) => { outcomes[chunk[j] as number] = outcome })
      }
      // Chunk k+1 is queued once chunk k's callback has run (in the next macrotask), so it joins the
      // next commit: each lmdb batch holds one chunk and the event loop is never held for more.
      await new Promise<void>((resolve, reject) => {
        const queue = (from: number): void => {
          const chunk = order.slice(from, from + APPLY_CHUNK)
          const last = from + APPLY_CHUNK >= order.length
          this.store.transactionAsync(() => {
            ingestChunk(chunk)
            if (!last) setImmediate(() => { queue(from + APPLY_CHUNK) })
          }).then(() => { if (last) resolve() }, reject)
        }
        queue(0)
      })
      return outcomes
    } finally {
      batch.abandon()
    }
  }

  /** Governance override of a member's credit limit (applies to entries judged from now on). */
  async setCreditLimit (account: Did, currency: string, limit: bigint, reference: string): Promise<void> {
    this.open()
    checkAccount(account)
    checkCurrency(currency)
    if (typeof limit !== 'bigint' || limit < 0n || limit > MAX_AMOUNT) throw new InvalidArgumentError(`credit limit must be a bigint in [0, 2^63 − 1], got ${String(limit)}`)
    if (typeof reference !== 'string' || reference.length === 0) throw new InvalidArgumentError('credit limit override needs a reference (e.g. the governance decision)')
    await this.store.transactionAsync(() => { this.store.putOverride({ account, currency, limit, reference }) })
  }

  /**
   * The operator's way out of a restore floor (see `createEntry`): declares that `author`'s entries above its
   * current head are lost for good, so it may sign at the next slot again. If a peer still holds them they will
   * meet the new ones as forks (proofs kept in `forks()`); hence the explicit call and the required reference.
   */
  async releaseChainFloor (author: Did, reference: string): Promise<ChainFloor> {
    this.open()
    checkAccount(author, 'author')
    if (typeof reference !== 'string' || reference.length === 0) throw new InvalidArgumentError('releasing a chain floor needs a reference (who decided it and why)')
    return await this.store.transactionAsync(() => {
      const floor = this.floorOf(author)
      if (floor === undefined) throw new InvalidArgumentError(`${author}'s chain is not held back by a restore floor`)
      this.store.removeFloor(author)
      return floor
    })
  }

  /** Registers a validation hook (charter rules); returns a function that removes it. */
  addValidationHook (hook: ValidationHook): () => void {
    this.hooks.push(hook)
    return () => {
      const i = this.hooks.indexOf(hook)
      if (i >= 0) this.hooks.splice(i, 1)
    }
  }

  // ---- queries ---------------------------------------------------------------

  balance (account: Did, currency: string): bigint {
    this.open()
    return this.store.getBalance(checkAccount(account), checkCurrency(currency)) ?? 0n
  }

  /** Every non-empty balance row (of one account when given), sorted by account then currency. */
  balances (account?: Did): BalanceRow[] {
    this.open()
    return this.store.balances(account === undefined ? undefined : checkAccount(account))
  }

  /** The limit that would apply to `account`'s next entry in `currency`. */
  creditLimit (account: Did, currency: string): bigint {
    this.open()
    return this.limitOf(checkAccount(account), checkCurrency(currency), this.store.getCredit(account, currency).volume, this.store.getChain(account)?.applied ?? 0)
  }

  overrides (): LimitOverride[] { this.open(); return this.store.overrides() }

  entry (id: string): EntryRecord | undefined {
    this.open()
    const bytes = this.store.getEntry(id)
    if (bytes === undefined) return undefined
    let signed: SignedEntry | undefined
    try {
      signed = decodeEntry(bytes)
    } catch (cause) {
      throw new CorruptStoreError(this.store.path, 'entries', id, `stored bytes do not decode as an entry: ${(cause as Error).message}`, { cause })
    }
    // History is not read at open (docs/ledger.md, "Damage"): each entry read is checked instead (decoding already hashed it).
    if (signed.id !== id) throw new CorruptStoreError(this.store.path, 'entries', id, `stored bytes hash to ${signed.id}, not to their id`)
    return { id, entry: signed.entry, bytes }
  }

  history (account: Did, options: { limit?: number, after?: string } = {}): HistoryPage {
    this.open()
    const limit = options.limit ?? 50
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new InvalidArgumentError('history page limit must be an integer in 1..1000')
    let after: { timestamp: number, id: string } | undefined
    if (options.after !== undefined) {
      const [ts, id] = options.after.split(':')
      if (ts === undefined || id === undefined || !/^\d+$/.test(ts)) throw new InvalidArgumentError(`bad history cursor '${options.after}'`)
      after = { timestamp: Number(ts), id }
    }
    const rows = this.store.historyPage(checkAccount(account), after, limit)
    const entries = rows.map(({ id }) => this.entry(id) as EntryRecord)
    const last = rows[rows.length - 1]
    return rows.length === limit && last !== undefined ? { entries, next: `${last.timestamp}:${last.id}` } : { entries }
  }

  chainHead (author: Did): ChainHead | undefined {
    this.open()
    const chain = this.store.getChain(checkAccount(author, 'author'))
    return chain === undefined ? undefined : { author, seq: chain.seq, id: chain.head }
  }

  heads (page: { after?: Did, limit?: number } = {}): ChainHead[] {
    this.open()
    if (page.limit !== undefined && (!Number.isSafeInteger(page.limit) || page.limit < 1)) throw new InvalidArgumentError('heads page limit must be a positive integer')
    return this.store.heads(page)
  }

  chainRange (author: Did, from: number, options: { limit?: number, maxBytes?: number } = {}): ChainRange {
    this.open()
    checkAccount(author, 'author')
    const limit = options.limit ?? 500
    const maxBytes = options.maxBytes ?? 1024 * 1024
    if (!Number.isSafeInteger(from) || from < 1) throw new InvalidArgumentError('chain range must start at a seq ≥ 1')
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) throw new InvalidArgumentError('chain range limit must be an integer in 1..10000')
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new InvalidArgumentError('chain range maxBytes must be a positive integer')
    const entries: Uint8Array[] = []
    let size = 0
    for (const { id } of this.store.slotRange(author, from, limit)) {
      const applied = this.store.getEntry(id)
      const bytes = applied ?? this.store.getQuarantine(id)?.bytes
      if (bytes === undefined || (entries.length > 0 && size + bytes.length > maxBytes)) break
      // Served to peers: damaged bytes must not leave this node as the author's entry.
      const actual = toHex(sha256(bytes))
      if (actual !== id) {
        throw new CorruptStoreError(this.store.path, applied === undefined ? 'quarantine' : 'entries', id, `stored bytes of ${author}'s entry ${from + entries.length} hash to ${actual}, not to their id`)
      }
      entries.push(bytes)
      size += bytes.length
    }
    return { author, from, entries }
  }
  chainFloors (): ChainFloor[] {
    this.open()
    return this.store.floors().map(({ author }) => this.floorOf(author)).filter((f): f is ChainFloor => f !== undefined)
  }

  quarantine (): QuarantineRecord[] { this.open(); return this.store.quarantine() }
  forks (): ForkProof[] { this.open(); return this.store.forks() }
  /** Ids of held entries (waiting for a chain gap or acknowledged entries). */
  pending (): string[] { this.open(); return this.store.pending().map((p) => p.id) }
  entryCount (): number { this.open(); return this.store.entryCount() }
  stateRoot (): string {
    this.open()
    // Computed from every balance and head: kept until this handle writes again (status reads it often).
    const version = this.store.stateVersion()
    if (this.cachedRoot?.version !== version) this.cachedRoot = { version, root: computeStateRoot(this.store.balances(), this.store.heads()) }
    return this.cachedRoot.root
  }

  async close (): Promise<void> {
    this.closing ??= Promise.all([this.verifier.close(), this.store.close()]).then(() => undefined)
    await this.closing
  }

  async shutdown (): Promise<void> { await this.close() }

  /**
   * The ledger's cut (state.ts): chain heads, balances with their Merkle root, credit views, unacknowledged
   * credits and the sparse records, as of this call — after every write asked for before it, none after —
   * read from an LMDB read view in bounded steps. Its size follows accounts and chains, not entries.
   */
  async exportState (): Promise<Uint8Array> {
    this.open()
    const view = await this.store.openCutView()
    try {
      return await encodeLedgerCut(view)
    } finally {
      view.done()
    }
  }

  /**
   * Checks `state` fully (typed `InvalidStateError`, nothing changed), then rolls the ledger back to that cut in
   * one transaction; `CutNotHeldError` (nothing changed) when this ledger lacks the entries below its heads.
   */
  async checkCut (state: Uint8Array): Promise<void> {
    this.open()
    checkHeadsHeld(this.store, decodeLedgerCut(state))
  }

  async restoreState (state: Uint8Array): Promise<void> {
    this.open()
    const cut = decodeLedgerCut(state)
    await this.store.transactionAsync(() => { restoreLedgerCut(this.store, cut) })
  }

  // ---- the apply pipeline (runs inside a transaction) -------------------------

  private open (): void {
    if (this.closing !== undefined || this.store.isClosed) throw new LedgerClosedError()
  }

  /** `validSignature(i)` is asked only for entries that are not duplicates. Outcomes in input order. */
  /** Ingests `entries[i]` for each i of `order`, in that order; the outcomes follow `order`. */
  private ingestAll (entries: readonly SignedEntry[], order: readonly number[], validSignature: (i: number) => boolean, refuseInvalid: boolean): ApplyOutcome[] {
    return order.map((i) => {
      const ctx: TxnContext = { wake: [], released: [], local: false }
      const outcome = this.ingest(entries[i] as SignedEntry, () => validSignature(i), ctx, refuseInvalid)
      this.drain(ctx)
      return { ...outcome, released: ctx.released }
    })
  }

  private ingest (signed: SignedEntry, validSignature: () => boolean, ctx: TxnContext, refuseInvalid: boolean): ApplyOutcome {
    const { id, entry } = signed
    if (this.store.hasEntry(id) || this.store.hasQuarantine(id) || this.store.getPending(entry.author, entry.seq, id)) {
      return { id, status: 'duplicate', released: [] }
    }
    // Before the signature check: a forgery in a non-member's name is refused (stored nowhere), not quarantined.
    const refusal = refusalOf(entry, this.membership)
    if (refusal !== undefined) return { id, status: 'refused', reason: refusal.reason, detail: refusal.detail, released: [] }
    if (!validSignature()) {
      if (refuseInvalid) return { id, status: 'refused', reason: 'invalid-signature', detail: 'signature does not verify for the author', released: [] }
      return this.reject(signed, 'invalid-signature', 'signature does not verify for the author', false, ctx)
    }
    return this.place(signed, ctx)
  }

  /** Puts a signature-checked entry where it belongs: applied, quarantined, or held. */
  private place (signed: SignedEntry, ctx: TxnContext): ApplyOutcome {
    const { id, entry } = signed
    const chain = this.store.getChain(entry.author)
    const head = chain?.seq ?? 0
    if (entry.seq <= head) {
      const holder = this.store.getSlot(entry.author, entry.seq) as string
      const first = this.store.getEntry(holder) ?? this.store.getQuarantine(holder)?.bytes ?? new Uint8Array()
      this.store.putFork(id, { author: entry.author, seq: entry.seq, first, second: signed.bytes })
      return this.reject(signed, 'fork', `slot ${entry.seq} of ${entry.author} already holds ${holder}`, false, ctx)
    }
    if (entry.seq > head + 1) return this.hold(signed, [])
    if (entry.prev !== chain?.head) {
      return this.reject(signed, 'fork', `prev ${String(entry.prev)} is not the author's entry ${head} (${String(chain?.head)})`, false, ctx)
    }
    const unresolved = entry.acks.filter((ack) => !this.store.hasEntry(ack) && !this.store.hasQuarantine(ack))
    if (unresolved.length > 0) return this.hold(signed, unresolved)

    const acknowledged = new Map<string, bigint>()
    for (const ack of entry.acks) {
      for (const [currency, amount] of this.store.getUnacked(entry.author, ack) ?? []) sumInto(acknowledged, currency, amount)
    }
    const chainEntries = chain?.applied ?? 0
    const verdict = judgeEntry(signed, {
      chainEntries,
      creditOf: (currency) => this.store.getCredit(entry.author, currency),
      acknowledged,
      limitOf: (currency, volume, n) => this.limitOf(entry.author, currency, volume, n),
      hooks: this.hooks
    })
    if (!verdict.ok) return this.reject(signed, verdict.reason, verdict.detail, true, ctx)

    this.store.putEntry(id, signed.bytes)
    this.advanceChain(entry, id, chainEntries + 1)
    const credited = new Map<Did, Map<string, bigint>>()
    for (const change of verdict.changes) {
      this.store.putBalance(change.account, change.currency, (this.store.getBalance(change.account, change.currency) ?? 0n) + change.net)
      if (change.net > 0n && change.account !== entry.author) {
        const credits = credited.get(change.account) ?? new Map<string, bigint>()
        credits.set(change.currency, change.net)
        credited.set(change.account, credits)
      }
    }
    for (const account of new Set(entry.deltas.map((d) => d.account))) this.store.putHistory(account, entry.timestamp, id)
    for (const [currency, credit] of verdict.credit) this.store.putCredit(entry.author, currency, credit)
    for (const ack of entry.acks) this.store.removeUnacked(entry.author, ack)
    for (const [account, credits] of credited) this.store.putUnacked(account, id, credits)
    this.resolved(id, entry.author, ctx)
    return { id, status: 'applied', released: [] }
  }

  /** The floor holding `author` back, if its chain is still below it. */
  private floorOf (author: Did): ChainFloor | undefined {
    const floor = this.store.getFloor(author) // usually no floor at all: answered without touching LMDB
    if (floor === undefined) return undefined
    const head = this.store.getChain(author)?.seq ?? 0
    return head >= floor ? undefined : { author, head, floor }
  }

  private advanceChain (entry: JournalEntry, id: string, applied: number): void {
    const floor = this.store.getFloor(entry.author)
    if (floor !== undefined && entry.seq >= floor) this.store.removeFloor(entry.author)
    this.store.putSlot(entry.author, entry.seq, id)
    this.store.putChain(entry.author, { seq: entry.seq, head: id, applied })
  }

  private hold (signed: SignedEntry, awaiting: readonly string[]): ApplyOutcome {
    const { id, entry } = signed
    this.store.putPending(entry.author, entry.seq, id, signed.bytes)
    for (const ack of awaiting) this.store.putWait(ack, entry.author)
    if (!this.heldDecoded.has(id)) {
      if (this.heldDecoded.size >= MAX_HELD_DECODED) this.heldDecoded.delete(this.heldDecoded.keys().next().value as string)
      this.heldDecoded.set(id, signed)
    }
    return { id, status: 'pending', released: [] }
  }

  private reject (signed: SignedEntry, reason: QuarantineReason, detail: string, chained: boolean, ctx: TxnContext): ApplyOutcome {
    const { id, entry } = signed
    if (ctx.local) throw new EntryRejectedError(reason, `entry rejected (${reason}): ${detail}`)
    this.store.putQuarantine({ id, reason, detail, chained, bytes: signed.bytes })
    if (chained) this.advanceChain(entry, id, this.store.getChain(entry.author)?.applied ?? 0)
    this.resolved(id, chained ? entry.author : undefined, ctx)
    return { id, status: 'quarantined', reason, detail, released: [] }
  }

  /** An entry reached its final verdict: its author's next entry and anything acknowledging it may now proceed. */
  private resolved (id: string, author: Did | undefined, ctx: TxnContext): void {
    if (author !== undefined) ctx.wake.push(author)
    ctx.wake.push(...this.store.takeWaiters(id))
  }

  private drain (ctx: TxnContext): void {
    // Each woken author gets its held entries at the next slot (and any stuck at a used slot: forks) placed.
    // Terminates: an author is woken again only after some held entry reached a verdict.
    for (;;) {
      const author = ctx.wake.shift()
      if (author === undefined) break
      if (!this.store.hasAnyPending()) {
        ctx.wake.length = 0
        break
      }
      const chain = this.store.getChain(author)
      const head = chain?.seq ?? 0
      const candidates = [...this.store.pendingAt(author, head), ...this.store.pendingAt(author, head + 1)]
      let progressed = false
      for (const held of candidates) {
        this.store.removePending(held.author, held.seq, held.id)
        const signed = this.heldDecoded.get(held.id) ?? decodeEntry(held.bytes)
        // Judged again at its turn: the membership timeline may have grown since it was held. A refusal
        // drops it (nothing stored) and the chain stays where it is, so the author is not woken again.
        if (refusalOf(signed.entry, this.membership) !== undefined) {
          this.heldDecoded.delete(held.id)
          ctx.released.push(held.id)
          continue
        }
        const outcome = this.place(signed, ctx)
        if (outcome.status !== 'pending') {
          this.heldDecoded.delete(held.id)
          ctx.released.push(held.id)
          progressed = true
        }
      }
      if (progressed) ctx.wake.push(author)
    }
  }

  private limitOf (account: Did, currency: string, volume: bigint, chainEntries: number): bigint {
    return this.store.getOverride(account, currency)?.limit ?? policyCreditLimit(this.policy, this.trustOf(account), volume, chainEntries)
  }
}
