/** Machine-readable reason carried by every gossip error. */
export type GossipErrorCode =
  | 'UNKNOWN_TOPIC'
  | 'TOPIC_EXISTS'
  | 'ACCESS_DENIED'
  | 'PAYLOAD_TOO_LARGE'
  | 'INVALID_ARGUMENT'
  | 'VALIDATION_FAILED'
  | 'INVALID_ENTRY'
  | 'INVALID_STATE'
  | 'CLOSED'
  | 'REQUEST_TIMEOUT'

/** Base class of every error thrown by `@icn/gossip`. */
export class GossipError extends Error {
  override readonly name: string = 'GossipError'
  readonly code: GossipErrorCode

  constructor (code: GossipErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** A topic that was never created on this node. */
export class UnknownTopicError extends GossipError {
  override readonly name = 'UnknownTopicError'
  constructor (readonly topic: string) { super('UNKNOWN_TOPIC', `unknown topic '${topic}' (create it first)`) }
}

/** `createTopic` for a name that exists with a different access rule. */
export class TopicExistsError extends GossipError {
  override readonly name = 'TopicExistsError'
  constructor (readonly topic: string) { super('TOPIC_EXISTS', `topic '${topic}' already exists with a different access rule`) }
}

/** The topic's access rule does not admit this author or peer. */
export class AccessDeniedError extends GossipError {
  override readonly name = 'AccessDeniedError'
  constructor (readonly topic: string, readonly who: string) { super('ACCESS_DENIED', `${who} may not use topic '${topic}'`) }
}

/** A payload over the configured size bound. */
export class PayloadTooLargeError extends GossipError {
  override readonly name = 'PayloadTooLargeError'
  constructor (readonly size: number, readonly limit: number) { super('PAYLOAD_TOO_LARGE', `payload of ${size} bytes exceeds ${limit}`) }
}

/** A wrong argument to a public method (type, range, shape). */
export class InvalidArgumentError extends GossipError {
  override readonly name = 'InvalidArgumentError'
  constructor (message: string) { super('INVALID_ARGUMENT', message) }
}

/** A local publish refused by the topic's validator. */
export class EntryValidationError extends GossipError {
  override readonly name = 'EntryValidationError'
  constructor (readonly topic: string, options?: { cause?: unknown }) { super('VALIDATION_FAILED', `payload rejected by the validator of topic '${topic}'`, options) }
}

/** An entry (from the wire, a file or a state blob) that fails a check; `reason` names which. */
export class InvalidEntryError extends GossipError {
  override readonly name = 'InvalidEntryError'
  constructor (readonly reason: string, message: string, options?: { cause?: unknown }) { super('INVALID_ENTRY', message, options) }
}

/** `restoreState` input that is not a valid exported gossip state; nothing was changed. */
export class InvalidStateError extends GossipError {
  override readonly name = 'InvalidStateError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_STATE', message, options) }
}

/** A call on a handle that is closed. */
export class ClosedError extends GossipError {
  override readonly name = 'ClosedError'
  constructor () { super('CLOSED', 'gossip handle is closed') }
}

/** `request` got no reply in time. */
export class RequestTimeoutError extends GossipError {
  override readonly name = 'RequestTimeoutError'
  constructor (readonly peer: string, readonly topic: string, readonly timeoutMs: number) {
    super('REQUEST_TIMEOUT', `no reply from ${peer} on '${topic}' within ${timeoutMs} ms`)
  }
}
