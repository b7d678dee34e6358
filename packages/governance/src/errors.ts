/** Machine-readable reason carried by every governance error. */
export type GovernanceErrorCode =
  | 'INVALID_CHARTER'
  | 'CHARTER_MISMATCH'
  | 'INVALID_ENVELOPE'
  | 'FORGED_SIGNATURE'
  | 'INVALID_PAYLOAD'
  | 'NOT_A_MEMBER'
  | 'NOT_PERMITTED'
  | 'KIND_NOT_ALLOWED'
  | 'INSUFFICIENT_TRUST'
  | 'OUTSIDE_WINDOW'
  | 'INVALID_TRANSITION'
  | 'UNKNOWN_PROPOSAL'
  | 'CORRUPT_STATE'
  | 'CLOSED'

/** Base class of every error thrown by `@icn/governance`. */
export class GovernanceError extends Error {
  override readonly name: string = 'GovernanceError'
  readonly code: GovernanceErrorCode

  constructor (code: GovernanceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** A charter (or charter rules in an amendment) that breaks the charter rules. */
export class InvalidCharterError extends GovernanceError {
  override readonly name = 'InvalidCharterError'
  constructor (message: string) { super('INVALID_CHARTER', message) }
}

/** The genesis charter passed at open (or of a state given to `restoreState`) differs from the store's: another network. */
export class CharterMismatchError extends GovernanceError {
  override readonly name = 'CharterMismatchError'
  constructor (message: string) { super('CHARTER_MISMATCH', message) }
}

/** An envelope with a bad shape, a wrong envelope domain or a CID that does not match its body. */
export class InvalidEnvelopeError extends GovernanceError {
  override readonly name = 'InvalidEnvelopeError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_ENVELOPE', message, options) }
}

/** An envelope whose signature does not verify against its claimed signer. */
export class ForgedSignatureError extends GovernanceError {
  override readonly name = 'ForgedSignatureError'
  constructor (message: string, options?: { cause?: unknown }) { super('FORGED_SIGNATURE', message, options) }
}

/** A proposal, vote or action payload that is malformed or refers to something that does not fit. */
export class InvalidPayloadError extends GovernanceError {
  override readonly name = 'InvalidPayloadError'
  constructor (message: string) { super('INVALID_PAYLOAD', message) }
}

/** The signer is not an (active) member of the charter the action falls under. */
export class NotAMemberError extends GovernanceError {
  override readonly name = 'NotAMemberError'
  constructor (message: string) { super('NOT_A_MEMBER', message) }
}

/** The signer is a member but may not do this (role, frozen, not the proposer). */
export class NotPermittedError extends GovernanceError {
  override readonly name = 'NotPermittedError'
  constructor (message: string) { super('NOT_PERMITTED', message) }
}

/** The charter does not allow this proposal kind. */
export class KindNotAllowedError extends GovernanceError {
  override readonly name = 'KindNotAllowedError'
  constructor (message: string) { super('KIND_NOT_ALLOWED', message) }
}

/** A membership candidate whose trust score is below the charter's joining threshold. */
export class InsufficientTrustError extends GovernanceError {
  override readonly name = 'InsufficientTrustError'
  constructor (message: string) { super('INSUFFICIENT_TRUST', message) }
}

/** A vote (or action) timestamped outside the window in which it is allowed. */
export class OutsideWindowError extends GovernanceError {
  override readonly name = 'OutsideWindowError'
  constructor (message: string) { super('OUTSIDE_WINDOW', message) }
}

/** An action that the proposal's current state does not allow (see the transition table). */
export class InvalidTransitionError extends GovernanceError {
  override readonly name = 'InvalidTransitionError'
  constructor (message: string) { super('INVALID_TRANSITION', message) }
}

/** A proposal id that the store does not hold. */
export class UnknownProposalError extends GovernanceError {
  override readonly name = 'UnknownProposalError'
  constructor (message: string) { super('UNKNOWN_PROPOSAL', message) }
}

/** Stored or restored state that does not decode or does not hold together. */
export class CorruptStateError extends GovernanceError {
  override readonly name = 'CorruptStateError'
  constructor (message: string, options?: { cause?: unknown }) { super('CORRUPT_STATE', message, options) }
}

/** The handle was closed. */
export class GovernanceClosedError extends GovernanceError {
  override readonly name = 'GovernanceClosedError'
  constructor () { super('CLOSED', 'governance handle is closed') }
}
