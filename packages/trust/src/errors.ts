import type { MembershipStatus } from '@icn/identity'

/** Machine-readable reason carried by every trust error. */
export type TrustErrorCode =
  | 'INVALID_ATTESTATION'
  | 'INVALID_SCORE'
  | 'SELF_TRUST'
  | 'UNKNOWN_GRAPH'
  | 'BAD_SIGNATURE'
  | 'INVALID_ARGUMENT'
  | 'INVALID_STATE'
  | 'CORRUPT_STORE'
  | 'CLOSED'
  | 'NOT_MEMBER'

/** Base class of every error thrown by `@icn/trust`. */
export class TrustError extends Error {
  override readonly name: string = 'TrustError'
  readonly code: TrustErrorCode

  constructor (code: TrustErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** An attestation with a wrong shape, domain, DID or timestamp. */
export class InvalidAttestationError extends TrustError {
  override readonly name = 'InvalidAttestationError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_ATTESTATION', message, options) }
}

/** A score that is not a number in [0, 1] (NaN included). */
export class InvalidScoreError extends TrustError {
  override readonly name = 'InvalidScoreError'
  constructor (message: string) { super('INVALID_SCORE', message) }
}

/** An edge from a DID to itself. */
export class SelfTrustError extends TrustError {
  override readonly name = 'SelfTrustError'
  constructor (message: string) { super('SELF_TRUST', message) }
}

/** A graph name other than `social`, `economic` or `technical`. */
export class UnknownGraphError extends TrustError {
  override readonly name = 'UnknownGraphError'
  constructor (message: string) { super('UNKNOWN_GRAPH', message) }
}

/** An attestation whose signature or content id does not verify against its source. */
export class BadSignatureError extends TrustError {
  override readonly name = 'BadSignatureError'
  constructor (message: string, options?: { cause?: unknown }) { super('BAD_SIGNATURE', message, options) }
}

/** A query or option with a wrong value (threshold outside [0, 1], depth < 1, …). */
export class InvalidArgumentError extends TrustError {
  override readonly name = 'InvalidArgumentError'
  constructor (message: string) { super('INVALID_ARGUMENT', message) }
}

/** `restoreState` bytes that are not a valid exported trust state; nothing was changed. */
export class InvalidStateError extends TrustError {
  override readonly name = 'InvalidStateError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_STATE', message, options) }
}

/** A stored record that cannot be decoded: the LMDB environment holds something this package did not write. */
export class CorruptStoreError extends TrustError {
  override readonly name = 'CorruptStoreError'
  constructor (message: string, options?: { cause?: unknown }) { super('CORRUPT_STORE', message, options) }
}

/** A call on a handle or store after `close()`. */
export class ClosedError extends TrustError {
  override readonly name = 'ClosedError'
  constructor (message = 'trust graph is closed') { super('CLOSED', message) }
}

/**
 * An attestation whose source (the signer) was not a `member` at the
 * attestation's own signed `createdAt`; nothing was stored, so the same
 * attestation is judged again if offered after this node's governance caught up.
 */
export class NotMemberError extends TrustError {
  override readonly name = 'NotMemberError'
  /** The signer refused. */
  readonly did: string
  /** Its status at `at`: `frozen` or `none`. */
  readonly status: MembershipStatus
  /** The attestation's `createdAt` (ms), the time membership was judged at. */
  readonly at: number

  constructor (did: string, status: MembershipStatus, at: number) {
    // A valid createdAt may lie beyond Date's range: then only the ms are shown.
    const date = new Date(at)
    const when = Number.isNaN(date.getTime()) ? '' : ` (${date.toISOString()})`
    super('NOT_MEMBER', `attestation source ${did} is '${status}', not a member, at ${at}${when}`)
    this.did = did
    this.status = status
    this.at = at
  }
}
