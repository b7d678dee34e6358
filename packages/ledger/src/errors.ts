import type { Did, MembershipStatus } from '@icn/identity'
import type { QuarantineReason } from './rules.js'
import type { LedgerTable } from './store.js'

/** Machine-readable reason carried by every ledger error. */
export type LedgerErrorCode =
  | 'MALFORMED_ENTRY'
  | 'AMOUNT_OUT_OF_RANGE'
  | 'INVALID_ARGUMENT'
  | 'ENTRY_REJECTED'
  | 'NOT_A_MEMBER'
  | 'INVALID_STATE'
  | 'LEDGER_CLOSED'
  | 'CORRUPT_STORE'
  | 'CUT_NOT_HELD'

/** Base class of every error thrown by `@icn/ledger`. */
export class LedgerError extends Error {
  override readonly name: string = 'LedgerError'
  readonly code: LedgerErrorCode

  constructor (code: LedgerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** Bytes or values that are not a well-formed signed journal entry (wrong shape, types, domain or encoding). */
export class MalformedEntryError extends LedgerError {
  override readonly name = 'MalformedEntryError'
  constructor (message: string, options?: { cause?: unknown }) { super('MALFORMED_ENTRY', message, options) }
}

/** An amount or limit that is not an integer in [0, MAX_AMOUNT]. */
export class AmountOutOfRangeError extends LedgerError {
  override readonly name = 'AmountOutOfRangeError'
  constructor (message: string) { super('AMOUNT_OUT_OF_RANGE', message) }
}

/** A wrong argument to a ledger method (bad DID, currency, limit, page size…). */
export class InvalidArgumentError extends LedgerError {
  override readonly name = 'InvalidArgumentError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_ARGUMENT', message, options) }
}

/**
 * A locally created entry that fails a ledger rule (unbalanced, over the credit
 * limit, rejected by a hook…). Nothing is written and no chain slot is used.
 */
export class EntryRejectedError extends LedgerError {
  override readonly name = 'EntryRejectedError'
  readonly reason: QuarantineReason
  constructor (reason: QuarantineReason, message: string) {
    super('ENTRY_REJECTED', message)
    this.reason = reason
  }
}

/**
 * A locally created entry whose author, or an account in its deltas, is not a member (status `frozen` or
 * `none`) at the entry's timestamp. Thrown before anything is signed: nothing is written, no chain slot used.
 * (A peer's entry refused for the same reason is answered `refused` with reason `not-a-member`.)
 */
export class NotAMemberError extends LedgerError {
  override readonly name = 'NotAMemberError'
  /** The DID that is not a member. */
  readonly did: Did
  /** Its status at `at`. */
  readonly status: Exclude<MembershipStatus, 'member'>
  /** The entry's timestamp (ms), the time membership is judged at. */
  readonly at: number
  constructor (did: Did, status: Exclude<MembershipStatus, 'member'>, at: number, message: string) {
    super('NOT_A_MEMBER', message)
    this.did = did
    this.status = status
    this.at = at
  }
}

/** Exported state bytes that do not decode or do not describe a consistent ledger. */
export class InvalidStateError extends LedgerError {
  override readonly name = 'InvalidStateError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_STATE', message, options) }
}

/**
 * `restoreState` of a cut whose chain heads this ledger does not hold (it never received those entries, or
 * holds another entry at that slot): a cut restores by rolling chains back, so the entries below its heads
 * must be here. Nothing was changed; fetch the chains (history sync) and restore again.
 */
export class CutNotHeldError extends LedgerError {
  override readonly name = 'CutNotHeldError'
  /** Each recorded head not held: author, recorded seq, and the seq this ledger's chain is at. */
  readonly missing: ReadonlyArray<{ readonly author: Did, readonly seq: number, readonly held: number }>
  constructor (missing: ReadonlyArray<{ author: Did, seq: number, held: number }>) {
    const shown = missing.slice(0, 3).map((m) => `${m.author} entry ${m.seq} (holds ${m.held})`).join(', ')
    super('CUT_NOT_HELD', `this ledger does not hold the cut's chain heads: ${shown}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}; ` +
      'fetch those chains from a peer (history sync) and restore again')
    this.missing = missing
  }
}

/** A call on a ledger handle after `close()`. */
export class LedgerClosedError extends LedgerError {
  override readonly name = 'LedgerClosedError'
  constructor () { super('LEDGER_CLOSED', 'ledger is closed') }
}

/**
 * The ledger's LMDB store holds something the ledger did not write (a damaged disk or file): a record
 * that does not decode or is not well-formed, or tables that contradict each other. `openLedger` throws
 * it and does not open; `verifyLedger` lists every such problem.
 */
export class CorruptStoreError extends LedgerError {
  override readonly name = 'CorruptStoreError'
  /** The table holding the damaged record (`store` for a key outside every table or an LMDB read error). */
  readonly table: LedgerTable | 'store'
  /** The damaged record's key within its table (as read, damage included). */
  readonly key: string
  constructor (path: string, table: LedgerTable | 'store', key: string, problem: string, options?: { cause?: unknown }) {
    super('CORRUPT_STORE', `ledger store ${path}/data.mdb is damaged: ${table} ${showKey(key)}: ${problem}`, options)
    this.table = table
    this.key = key
  }
}

/** A key as it can be shown on one line: quoted, control and non-ASCII characters escaped, at most 200 characters. */
export function showKey (key: string): string {
  const escaped = JSON.stringify(key).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return escaped.length > 200 ? `${escaped.slice(0, 197)}…"` : escaped
}
