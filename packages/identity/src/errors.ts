/** Machine-readable reason carried by every identity error. */
export type IdentityErrorCode =
  | 'INVALID_DID'
  | 'INVALID_KEY'
  | 'INVALID_SIGNATURE'
  | 'ENCODING'
  | 'NON_CANONICAL'
  | 'INVALID_ENVELOPE'
  | 'CORRUPT_FILE'

/** Base class of every error thrown by `@icn/identity`. */
export class IdentityError extends Error {
  override readonly name: string = 'IdentityError'
  readonly code: IdentityErrorCode

  constructor (code: IdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** A DID string that is not a well-formed `did:icn:` / `did:key:` ed25519 DID. */
export class InvalidDidError extends IdentityError {
  override readonly name = 'InvalidDidError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_DID', message, options) }
}

/** Key material of the wrong length, or a public key that is not a valid curve point. */
export class InvalidKeyError extends IdentityError {
  override readonly name = 'InvalidKeyError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_KEY', message, options) }
}

/** A signature that does not verify against the claimed signer. */
export class InvalidSignatureError extends IdentityError {
  override readonly name = 'InvalidSignatureError'
  constructor (message: string) { super('INVALID_SIGNATURE', message) }
}

/** A value that cannot be encoded canonically, or bytes that are not valid DAG-CBOR. */
export class EncodingError extends IdentityError {
  override readonly name = 'EncodingError'
  constructor (message: string, options?: { cause?: unknown }) { super('ENCODING', message, options) }
}

/** Valid CBOR that is not in canonical (deterministic DAG-CBOR) form. */
export class NonCanonicalError extends IdentityError {
  override readonly name = 'NonCanonicalError'
  constructor (message: string) { super('NON_CANONICAL', message) }
}

/** An envelope with a bad shape, a CID that does not match its body, or the wrong domain. */
export class EnvelopeError extends IdentityError {
  override readonly name = 'EnvelopeError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_ENVELOPE', message, options) }
}

/** A snapshot file whose header, length or checksum does not match its body. */
export class CorruptFileError extends IdentityError {
  override readonly name = 'CorruptFileError'
  readonly path: string
  constructor (path: string, message: string, options?: { cause?: unknown }) {
    super('CORRUPT_FILE', `${path}: ${message}`, options)
    this.path = path
  }
}
