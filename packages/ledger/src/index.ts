/**
 * @packageDocumentation
 * `@icn/ledger`: a mutual-credit, double-entry ledger on LMDB. Members (DIDs)
 * pay each other in shared currencies; every entry is signed, balanced per
 * currency and linked into its author's chain; credit limits come from an
 * injected trust function or a governance override; verdicts do not depend on
 * arrival order (docs/ledger.md). Members only: an entry whose author or
 * accounts are not members at its own timestamp is refused and nothing of it
 * is stored (docs/ledger.md, "Membership").
 */
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { type Clock, EVERYONE_IS_A_MEMBER, type MembershipAt, systemClock } from '@icn/identity'
import { InvalidArgumentError } from './errors.js'
import { type LedgerCheckReport, checkStore, checkStoreAtOpen } from './integrity.js'
import { type ApplyBatchOptions, type ApplyOutcome, type ChainFloor, type ChainRange, type EntryDraft, type EntryRecord, type HistoryPage, LedgerHandle } from './ledger.js'
import { type CreditPolicy, CONSERVATIVE_POLICY, checkPolicy } from './policy.js'
import type { BalanceRow, ChainHead, ValidationHook } from './rules.js'
import { SignatureVerifier } from './verifier.js'
import { LedgerStore, type ForkProof, type LimitOverride, type QuarantineRecord } from './store.js'
import type { Did, KeyPair, SignedEnvelope } from '@icn/identity'
import type { SignedEntry } from './entry.js'

export { LEDGER_DOMAIN, MAX_AMOUNT, MAX_ACKS, MAX_DELTAS } from './constants.js'
export {
  type LedgerErrorCode, LedgerError, MalformedEntryError, AmountOutOfRangeError, InvalidArgumentError,
  EntryRejectedError, NotAMemberError, InvalidStateError, LedgerClosedError, CorruptStoreError, CutNotHeldError
} from './errors.js'
export type { LedgerProblem, LedgerCheckReport } from './integrity.js'
export { type AccountDelta, type JournalEntry, type SignedEntry, decodeEntry, signEntry, hasValidSignature, parseEntry, entryPayload, netChanges } from './entry.js'
export { type CreditPolicy, CONSERVATIVE_POLICY, PERMISSIVE_POLICY, policyCreditLimit, trustToPpm } from './policy.js'
export {
  type QuarantineReason, type HookVerdict, type ValidationHook, type ChainCredit, type NetChange, type JudgeInput, type Verdict,
  type BalanceRow, type ChainHead, type RefusalReason, type Refusal, judgeEntry, checkEntryRules, isSelfPayment, refusalOf, computeStateRoot
} from './rules.js'
export {
  type LedgerCut, type CutHead, type BalanceProof, CUT_PAGE_ROWS, EMPTY_BALANCE_ROOT, decodeLedgerCut, proveBalance, verifyBalanceProof
} from './state.js'
export { LedgerStore, LEDGER_TABLES, type LedgerTable, type StoreReader, type CutView, type RawRow, type ChainRecord, type QuarantineRecord, type ForkProof, type LimitOverride, type PendingRecord } from './store.js'
export { type ApplyBatchOptions, type ApplyOutcome, type ApplyStatus, type ChainFloor, type ChainRange, type EntryDraft, type EntryRecord, type HistoryPage } from './ledger.js'

/** The ledger service a node uses. */
export interface Ledger {
  /** Directory of the LMDB environment. */
  readonly path: string
  /**
   * Builds the author's next entry (seq, prev, acks, timestamp), signs it and applies it in one transaction. Throws
   * `EntryRejectedError` if a rule fails (nothing written) — reason `fork` while a restore has moved the author's
   * chain below entries this ledger held before, until those entries arrive again. Before signing, throws
   * `NotAMemberError` when the author or an account of the deltas is not `member` at the entry's timestamp
   * (the clock's now), and `InvalidArgumentError` when the entry would change no balance but the author's own;
   * nothing is signed or written then.
   */
  createEntry(keyPair: KeyPair, draft: EntryDraft): Promise<EntryRecord>
  /**
   * A two-delta payment from `keyPair`'s DID to `to`. A payment to oneself or of 0 throws `InvalidArgumentError`;
   * otherwise as `createEntry`.
   */
  pay(keyPair: KeyPair, to: Did, currency: string, amount: bigint, reference?: string): Promise<EntryRecord>
  /**
   * Applies a peer's entry (wire bytes or envelope) in one durable transaction: applied, duplicate, pending,
   * quarantined, or refused (`not-a-member`, `self-payment`: nothing stored, judged again if offered again).
   * Malformed input throws, writing nothing.
   */
  applyEnvelope(input: Uint8Array | SignedEnvelope | SignedEntry): Promise<ApplyOutcome>
  /**
   * Applies many entries (outcomes in input order) in child transactions of at most 128 entries, one
   * per commit, so no batch holds the event loop for longer than one chunk. Writes from concurrent calls
   * (`createEntry`, `applyEnvelope`, `applyBatch`) share durable commits, made off the event loop
   * (group commit); each call's promise resolves once its writes are durable. A refused entry (membership,
   * self-payment) is a per-entry `refused` outcome: the rest of the batch applies.
   */
  applyBatch(inputs: ReadonlyArray<Uint8Array | SignedEnvelope | SignedEntry>, options?: ApplyBatchOptions): Promise<ApplyOutcome[]>
  /** Governance override of `account`'s credit limit in `currency` (from then on). */
  setCreditLimit(account: Did, currency: string, limit: bigint, reference: string): Promise<void>
  /**
   * Authors whose chain a restore moved back below entries this ledger held before (`createEntry` refuses them
   * with `fork` until those entries arrive again).
   */
  chainFloors(): ChainFloor[]
  /**
   * Operator override for a floor that will never lift because no peer holds the lost entries: lets `author` sign
   * at its next slot again. `reference` records who decided it and why. Throws `InvalidArgumentError` when the
   * author is not held back. If the lost entries do turn up later, they are quarantined as forks (with proofs).
   */
  releaseChainFloor(author: Did, reference: string): Promise<ChainFloor>
  /** Adds a charter / policy rule run on every entry at its chain turn; returns its remover. */
  addValidationHook(hook: ValidationHook): () => void
  balance(account: Did, currency: string): bigint
  balances(account?: Did): BalanceRow[]
  creditLimit(account: Did, currency: string): bigint
  overrides(): LimitOverride[]
  /** An applied entry; throws `CorruptStoreError` when its stored bytes no longer hash to `id` (damage: history is not read at open). */
  entry(id: string): EntryRecord | undefined
  /** An account's applied entries by (timestamp, id), paged; `CorruptStoreError` as `entry`. */
  history(account: Did, options?: { limit?: number, after?: string }): HistoryPage
  chainHead(author: Did): ChainHead | undefined
  /** Chain heads by author; `after` an author and at most `limit` of them for a page. */
  heads(page?: { after?: Did, limit?: number }): ChainHead[]
  /**
   * Entries of `author`'s chain from slot `from` on, in seq order, while the slots are filled: at most
   * `limit` (default 500, ≤ 10,000) entries and `maxBytes` (default 1 MiB; at least one entry) — what a
   * peer catching up on this chain fetches. Throws `CorruptStoreError` rather than serve stored bytes that
   * no longer hash to their id.
   */
  chainRange(author: Did, from: number, options?: { limit?: number, maxBytes?: number }): ChainRange
  quarantine(): QuarantineRecord[]
  forks(): ForkProof[]
  pending(): string[]
  entryCount(): number
  /** sha-256 hex over the sorted balances and chain heads. */
  stateRoot(): string
  /**
   * The cut (`decodeLedgerCut`): chain heads, balances and their Merkle root, credit views, unacknowledged
   * credits, held/quarantined entries, fork proofs and overrides, as of the call (after every write asked for
   * before it), read from an LMDB read view in bounded steps. Grows with accounts and chains, not entries.
   */
  exportState(): Promise<Uint8Array>
  /**
   * Rolls back to a cut: chains to its heads (entries above leave; peers send them again), the rest to the
   * recorded records. `InvalidStateError` for bad bytes, `CutNotHeldError` when this ledger lacks the entries
   * below the heads; either way nothing changes.
   */
  restoreState(state: Uint8Array): Promise<void>
  /** What `restoreState` checks before changing anything (`InvalidStateError`, `CutNotHeldError`), without changing anything. */
  checkCut(state: Uint8Array): Promise<void>
  /** Closes the LMDB environment (idempotent); `shutdown` is an alias. */
  close(): Promise<void>
  shutdown(): Promise<void>
}

/** Injected dependencies. */
export interface LedgerComponents {
  /** @default systemClock */
  clock?: Clock
  /** Trust of a member in [0, 1] (the node binds the viewer to itself). @default () => 0 */
  trustOf?: (did: string) => number
  /**
   * The network's membership timeline (the node binds it to governance): an entry is refused unless its author
   * and every account in its deltas are `member` at the entry's own timestamp. Must be deterministic for
   * verdicts to agree across nodes. @default EVERYONE_IS_A_MEMBER
   */
  membership?: MembershipAt
}

/** Configuration. */
export interface LedgerInit {
  /** Directory of the LMDB environment (created if missing). */
  path: string
  /** Credit-limit policy. @default CONSERVATIVE_POLICY */
  policy?: CreditPolicy
  /** Validation hooks (charter rules) installed from the start. @default [] */
  hooks?: readonly ValidationHook[]
  /**
   * Worker threads that verify the signatures of large `applyBatch` calls while the calling thread
   * decodes and applies the batch (0 = verify inline). Started on the first batch of ≥ 64 entries;
   * stopped by `close()`. One fewer than the machine's cores, at most 4 (docs/ledger.md has figures).
   * @default min(4, availableParallelism() − 1)
   */
  verifyWorkers?: number
}

/**
 * Opens (or creates) the ledger stored in `init.path`. Before it answers, the tables it judges and
 * answers from are read and checked (docs/ledger.md, "Damage"): a store that does not check out throws
 * `CorruptStoreError` (naming the table and key) and the ledger does not open. Cost grows with accounts,
 * chains and held entries, not with history.
 */
export async function openLedger (init: LedgerInit & LedgerComponents): Promise<Ledger> {
  if (typeof init?.path !== 'string' || init.path.length === 0) throw new InvalidArgumentError('openLedger needs a path')
  let policy: CreditPolicy
  try {
    policy = checkPolicy(init.policy ?? CONSERVATIVE_POLICY)
  } catch (cause) {
    throw new InvalidArgumentError((cause as Error).message, { cause })
  }
  if (init.membership !== undefined && typeof init.membership !== 'function') throw new InvalidArgumentError('membership must be a function (did, at) => status')
  const verifyWorkers = init.verifyWorkers ?? Math.min(4, availableParallelism() - 1)
  if (!Number.isSafeInteger(verifyWorkers) || verifyWorkers < 0 || verifyWorkers > 64) throw new InvalidArgumentError('verifyWorkers must be an integer in 0..64')
  const store = LedgerStore.open(init.path)
  try {
    await checkStoreAtOpen(store)
    // Counted once here, at open, so that no later status read walks the entries table.
    store.entryCount()
  } catch (err) {
    await store.close()
    throw err
  }
  return new LedgerHandle({
    store,
    clock: init.clock ?? systemClock,
    trustOf: init.trustOf ?? (() => 0),
    policy,
    hooks: init.hooks ?? [],
    verifier: new SignatureVerifier(verifyWorkers),
    membership: init.membership ?? EVERYONE_IS_A_MEMBER
  })
}

/** Options of `verifyLedger`. */
export interface VerifyLedgerOptions {
  /** Problems listed in the report at most (all are counted in `problemCount`). @default 1000 */
  maxProblems?: number
}

/**
 * Verifies everything in the ledger store at `path`, read-only and in one read transaction (a running
 * node may keep writing): what `openLedger` checks, plus every stored entry (bytes hash to its id, it
 * decodes, its signature verifies, applied entries keep the entry rules), every chain (slots 1…head,
 * linked by prev, no gap), and the balances, credit views, unacknowledged credits, chain records,
 * history and state root recomputed from the applied entries against the stored ones. Lists each
 * problem (table, key, what). Throws `InvalidArgumentError` when `path` holds no ledger store.
 * Cost grows with history: ~0.4 ms per entry measured, signatures checked on this thread (docs/ledger.md, "Damage").
 */
export async function verifyLedger (path: string, options: VerifyLedgerOptions = {}): Promise<LedgerCheckReport> {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('verifyLedger needs a path')
  const maxProblems = options.maxProblems ?? 1000
  if (!Number.isSafeInteger(maxProblems) || maxProblems < 0) throw new InvalidArgumentError('maxProblems must be a non-negative integer')
  if (!existsSync(join(path, 'data.mdb'))) throw new InvalidArgumentError(`no ledger store at ${path} (no data.mdb)`)
  const store = LedgerStore.open(path, { readOnly: true })
  try {
    return await checkStore(store, maxProblems)
  } finally {
    await store.close()
  }
}
