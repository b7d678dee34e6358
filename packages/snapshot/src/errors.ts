import type { RefusableRequest, RefusalReason } from './messages.js'
import type { DamagedSnapshot } from './store.js'

/** Machine-readable reason carried by every snapshot error. */
export type SnapshotErrorCode =
  | 'INVALID_CONFIG'
  | 'INSUFFICIENT_PARTICIPANTS'
  | 'INVALID_MESSAGE'
  | 'PROTOCOL_VIOLATION'
  | 'REQUEST_REFUSED'
  | 'SNAPSHOT_TOO_LARGE'
  | 'SNAPSHOT_NOT_FOUND'
  | 'CORRUPT_SNAPSHOT'
  | 'UNKNOWN_PROVIDER'
  | 'CLOSED'

/** Base class of every error thrown by `@icn/snapshot`. */
export class SnapshotError extends Error {
  override readonly name: string = 'SnapshotError'
  readonly code: SnapshotErrorCode

  constructor (code: SnapshotErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** An `Init` option out of range (e.g. a negative timeout). */
export class InvalidConfigError extends SnapshotError {
  override readonly name = 'InvalidConfigError'
  constructor (message: string) { super('INVALID_CONFIG', message) }
}

/** Fewer trusted participants (the initiator included) than `minParticipants`. */
export class InsufficientParticipantsError extends SnapshotError {
  override readonly name = 'InsufficientParticipantsError'
  readonly participants: number
  readonly required: number
  constructor (participants: number, required: number) {
    super('INSUFFICIENT_PARTICIPANTS', `snapshot needs at least ${required} trusted participants, got ${participants}`)
    this.participants = participants
    this.required = required
  }
}

/** Bytes that are not a well-formed, correctly signed snapshot message. */
export class InvalidMessageError extends SnapshotError {
  override readonly name = 'InvalidMessageError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_MESSAGE', message, options) }
}

/** A well-formed message that the protocol forbids here (wrong sender, not a participant, untrusted initiator, …). */
export class ProtocolViolationError extends SnapshotError {
  override readonly name: string = 'ProtocolViolationError'
  constructor (message: string) { super('PROTOCOL_VIOLATION', message) }
}

/**
 * A peer asked for a snapshot's state (or its verification) more than
 * `maxStateTransfers` times within `stateTransferWindow`: refused, answered
 * with at most one `RequestRefused` per window. An honest requester never
 * does this (it keeps what it fetched and retries only after a timeout).
 * The requester sees the refusal as a `RequestRefusedError`.
 */
export class RateLimitedError extends ProtocolViolationError {
  override readonly name = 'RateLimitedError'
  readonly peer: string
  readonly snapshotId: string
  /** When (this node's clock) the peer's next request would be served. */
  readonly retryAt: number
  constructor (peer: string, snapshotId: string, transfers: number, window: number, retryAt: number, request: RefusableRequest = 'RequestState') {
    super(`${request} from ${peer} for ${snapshotId} refused: ${transfers} ${request === 'RequestState' ? 'transfers' : 'verifications'} within ${window} ms, next at ${retryAt}`)
    this.peer = peer
    this.snapshotId = snapshotId
    this.retryAt = retryAt
  }
}

const REFUSED_BECAUSE: Record<RefusalReason, string> = {
  RATE_LIMITED: 'rate limited',
  NOT_PARTICIPANT: 'this node is not a participant there',
  NO_RECORDED_STATE: 'no recorded state there'
}

/**
 * The requester's side of a refusal: `peer` answered this node's
 * `RequestState` or `VerifySnapshot` with a signed `RequestRefused`, so the
 * fetch or verification ended at once rather than at `snapshotTimeout`.
 * (The refuser's side is `RateLimitedError` or `ProtocolViolationError`.)
 */
export class RequestRefusedError extends SnapshotError {
  override readonly name = 'RequestRefusedError'
  /** Who refused. */
  readonly peer: string
  readonly snapshotId: string
  readonly request: RefusableRequest
  readonly reason: RefusalReason
  /** `RATE_LIMITED` only: when (this node's clock) `peer` will serve this node again; undefined otherwise. */
  readonly retryAt: number | undefined
  constructor (peer: string, snapshotId: string, request: RefusableRequest, reason: RefusalReason, retryAt?: number) {
    super('REQUEST_REFUSED', `${request} for ${snapshotId} refused by ${peer}: ${REFUSED_BECAUSE[reason]}${retryAt === undefined ? '' : `, retry at ${retryAt}`}`)
    this.peer = peer
    this.snapshotId = snapshotId
    this.request = request
    this.reason = reason
    this.retryAt = retryAt
  }
}

/** State larger than `maxSnapshotSize` (local state, channel recording or a transfer). */
export class SnapshotTooLargeError extends SnapshotError {
  override readonly name = 'SnapshotTooLargeError'
  constructor (message: string) { super('SNAPSHOT_TOO_LARGE', message) }
}

/** No completed snapshot with this id (in memory or in the store). */
export class SnapshotNotFoundError extends SnapshotError {
  override readonly name = 'SnapshotNotFoundError'
  readonly snapshotId: string
  constructor (snapshotId: string) {
    super('SNAPSHOT_NOT_FOUND', `no completed snapshot ${snapshotId}`)
    this.snapshotId = snapshotId
  }
}

/** A stored snapshot whose files are truncated, tampered with or inconsistent. */
export class CorruptSnapshotError extends SnapshotError {
  override readonly name: string = 'CorruptSnapshotError'
  /** The file found bad. */
  readonly path: string
  /** What is wrong with it (the message without the path). */
  readonly reason: string
  constructor (path: string, reason: string, options?: { cause?: unknown }) {
    super('CORRUPT_SNAPSHOT', `${path}: ${reason}`, options)
    this.path = path
    this.reason = reason
  }
}

/**
 * A stored snapshot found damaged when read after its store opened: its
 * files were moved into the store's `damaged/` folder (`quarantined`), so
 * this read fails and later reads of the id give `SnapshotNotFoundError`.
 * Code `CORRUPT_SNAPSHOT`, like its base class.
 */
export class SnapshotQuarantinedError extends CorruptSnapshotError {
  override readonly name = 'SnapshotQuarantinedError'
  readonly snapshotId: string
  /** The files moved aside, as `SnapshotStore.damaged()` lists them. */
  readonly quarantined: DamagedSnapshot[]
  constructor (snapshotId: string, damage: CorruptSnapshotError, quarantined: DamagedSnapshot[]) {
    super(damage.path, `${damage.reason} (snapshot ${snapshotId} moved aside: ${quarantined.map((d) => d.movedTo).join(', ')})`, { cause: damage })
    this.snapshotId = snapshotId
    this.quarantined = quarantined
  }
}

/** A restore names a state provider this node does not have. */
export class UnknownProviderError extends SnapshotError {
  override readonly name = 'UnknownProviderError'
  constructor (message: string) { super('UNKNOWN_PROVIDER', message) }
}

/** The snapshot node or store was closed. */
export class SnapshotClosedError extends SnapshotError {
  override readonly name = 'SnapshotClosedError'
  constructor (what: 'snapshot node' | 'snapshot store' = 'snapshot node') { super('CLOSED', `${what} is closed`) }
}
