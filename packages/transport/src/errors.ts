/** Machine-readable reason carried by every transport error. */
export type TransportErrorCode = 'FRAME_TOO_LARGE' | 'TRANSPORT_CLOSED' | 'INVALID_ADDRESS_RECORD'

/** Base class of the errors `@icn/transport` throws. */
export class TransportError extends Error {
  override readonly name: string = 'TransportError'
  readonly code: TransportErrorCode
  constructor (code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** A frame larger than the transport's `maxFrameBytes`. */
export class FrameTooLargeError extends TransportError {
  override readonly name = 'FrameTooLargeError'
  constructor (size: number, limit: number) { super('FRAME_TOO_LARGE', `frame of ${size} bytes exceeds the ${limit}-byte limit`) }
}

/** The transport was used after `close()`. */
export class TransportClosedError extends TransportError {
  override readonly name = 'TransportClosedError'
  constructor () { super('TRANSPORT_CLOSED', 'transport is closed') }
}

/** An address record that is not signed by its member, not canonical, or names addresses that are not the signer's. */
export class AddressRecordError extends TransportError {
  override readonly name = 'AddressRecordError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_ADDRESS_RECORD', message, options) }
}
