import { type Did, publicKeyFromDid } from './did.js'
import { DAG_CBOR_CODE, cidOfBytes, decode, encode } from './encoding.js'
import { utf8 } from './bytes.js'
import { EnvelopeError, IdentityError, InvalidSignatureError } from './errors.js'
import { type KeyPair, sign, verify } from './keys.js'
import { checkFields } from './shape.js'

const ENVELOPE_FIELDS = ['domain', 'payload', 'signature', 'signer']

// Canonical DAG-CBOR sorts map keys by length, then bytes, so an envelope map is
// { domain, signer, payload, signature }: its signed body { domain, signer, payload }
// is the same bytes with a 3-entry map header and without the final signature entry.
const SIGNATURE_ENTRY_HEAD = Uint8Array.from([0x69, ...utf8('signature'), 0x58, 0x40])
const SIGNATURE_ENTRY_LENGTH = SIGNATURE_ENTRY_HEAD.length + 64
const MAP_OF_4 = 0xa4
const MAP_OF_3 = 0xa3

/**
 * A payload signed by a DID. `domain` separates protocols (a gossip entry's
 * signature can never be replayed as a ledger entry's); `cid` is the CIDv1 of
 * the canonical encoding of `{ domain, payload, signer }`, the bytes signed.
 */
export interface SignedEnvelope<T = unknown> {
  readonly domain: string
  readonly payload: T
  readonly signer: Did
  readonly signature: Uint8Array
  readonly cid: string
}

/** Canonical bytes that a signature covers. */
export function envelopeSigningBytes (domain: string, payload: unknown, signer: Did): Uint8Array {
  return encode({ domain, payload, signer })
}

/** Signs `payload` under `domain` with `keyPair`. */
export function signEnvelope<T> (domain: string, payload: T, keyPair: KeyPair): SignedEnvelope<T> {
  return signed(domain, payload, keyPair).envelope
}

function signed<T> (domain: string, payload: T, keyPair: KeyPair): { envelope: SignedEnvelope<T>, body: Uint8Array } {
  if (typeof domain !== 'string' || domain.length === 0) throw new EnvelopeError('envelope domain must be a non-empty string')
  const body = envelopeSigningBytes(domain, payload, keyPair.did)
  const envelope = { domain, payload, signer: keyPair.did, signature: sign(body, keyPair), cid: cidOfBytes(body, DAG_CBOR_CODE).toString() }
  return { envelope, body }
}

/** A freshly signed envelope with its wire bytes and signed body, each encoded once. */
export interface SealedEnvelope<T = unknown> {
  readonly envelope: SignedEnvelope<T>
  /** `encodeEnvelope(envelope)`. */
  readonly bytes: Uint8Array
  /** `envelopeSigningBytes(domain, payload, signer)`: what the signature covers. */
  readonly body: Uint8Array
}

/**
 * `signEnvelope` and `encodeEnvelope` in one pass: the payload is encoded once, and the wire bytes are the
 * signed body with a 4-entry map header and the signature entry appended (the canonical layout
 * `envelopeBodyFromBytes` undoes).
 */
export function sealEnvelope<T> (domain: string, payload: T, keyPair: KeyPair): SealedEnvelope<T> {
  const { envelope, body } = signed(domain, payload, keyPair)
  const bytes = new Uint8Array(body.length + SIGNATURE_ENTRY_LENGTH)
  bytes.set(body)
  bytes[0] = MAP_OF_4
  bytes.set(SIGNATURE_ENTRY_HEAD, body.length)
  bytes.set(envelope.signature, body.length + SIGNATURE_ENTRY_HEAD.length)
  return { envelope, bytes, body }
}

/**
 * Checks an envelope: domain (when `expectedDomain` is given), signer DID,
 * CID and signature. Returns the payload; throws `EnvelopeError`,
 * `InvalidDidError` or `InvalidSignatureError`.
 */
export function verifyEnvelope<T> (envelope: SignedEnvelope<T>, expectedDomain?: string): T {
  if (expectedDomain !== undefined && envelope.domain !== expectedDomain) {
    throw new EnvelopeError(`envelope domain '${String(envelope.domain)}' is not '${expectedDomain}'`)
  }
  const publicKey = publicKeyFromDid(envelope.signer)
  const body = envelopeSigningBytes(envelope.domain, envelope.payload, envelope.signer)
  if (cidOfBytes(body, DAG_CBOR_CODE).toString() !== envelope.cid) throw new EnvelopeError(`envelope CID ${String(envelope.cid)} does not match its body`)
  if (!verify(envelope.signature, body, publicKey)) throw new InvalidSignatureError(`signature by ${envelope.signer} does not verify`)
  return envelope.payload
}

/** True when `verifyEnvelope` would succeed; never throws. */
export function isValidEnvelope (envelope: SignedEnvelope, expectedDomain?: string): boolean {
  try {
    verifyEnvelope(envelope, expectedDomain)
    return true
  } catch (err) {
    if (err instanceof IdentityError) return false
    throw err
  }
}

/** Canonical wire bytes of an envelope (the CID is derived, so not sent). */
export function encodeEnvelope (envelope: SignedEnvelope): Uint8Array {
  return encode({ domain: envelope.domain, payload: envelope.payload, signer: envelope.signer, signature: envelope.signature })
}

/**
 * The signed body (`envelopeSigningBytes`) of canonical envelope wire bytes,
 * sliced out instead of re-encoded. Throws `EnvelopeError` if the bytes do not
 * have the canonical envelope layout.
 */
export function envelopeBodyFromBytes (bytes: Uint8Array): Uint8Array {
  const tail = bytes.length - SIGNATURE_ENTRY_LENGTH
  if (bytes[0] !== MAP_OF_4 || tail < 1 || !SIGNATURE_ENTRY_HEAD.every((b, i) => bytes[tail + i] === b)) {
    throw new EnvelopeError('bytes do not have the canonical envelope layout')
  }
  const body = new Uint8Array(tail)
  body.set(bytes.subarray(0, tail))
  body[0] = MAP_OF_3
  return body
}

/**
 * Parses wire bytes into an envelope and derives its CID from the signed body.
 * Checks shape and canonical form, not the signature: call `verifyEnvelope` for that.
 */
export function decodeEnvelope (bytes: Uint8Array): SignedEnvelope {
  return decodeWithBody(bytes).envelope
}

/**
 * `decodeEnvelope` then `verifyEnvelope` in one pass: the signature is checked
 * over the body sliced from the canonical wire bytes, which decoding already
 * proved equal to its re-encoding, so nothing is encoded twice. Throws like the
 * two do (`EnvelopeError`, `InvalidDidError`, `InvalidSignatureError`).
 */
export function openEnvelope (bytes: Uint8Array, expectedDomain: string): SignedEnvelope {
  const { envelope, body } = decodeWithBody(bytes)
  if (envelope.domain !== expectedDomain) throw new EnvelopeError(`envelope domain '${envelope.domain}' is not '${expectedDomain}'`)
  if (!verify(envelope.signature, body, publicKeyFromDid(envelope.signer))) throw new InvalidSignatureError(`signature by ${envelope.signer} does not verify`)
  return envelope
}

function decodeWithBody (bytes: Uint8Array): { envelope: SignedEnvelope, body: Uint8Array } {
  let value: unknown
  try {
    value = decode(bytes)
  } catch (cause) {
    throw new EnvelopeError(`envelope bytes are not canonical DAG-CBOR: ${(cause as Error).message}`, { cause })
  }
  const { domain, payload, signer, signature } = checkFields(value, 'envelope', ENVELOPE_FIELDS, [], (message) => new EnvelopeError(message))
  if (typeof domain !== 'string' || domain.length === 0) throw new EnvelopeError('envelope domain must be a non-empty string')
  if (typeof signer !== 'string') throw new EnvelopeError('envelope signer must be a string')
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw new EnvelopeError('envelope signature must be 64 bytes')
  publicKeyFromDid(signer)
  const body = envelopeBodyFromBytes(bytes)
  return { envelope: { domain, payload, signer: signer as Did, signature, cid: cidOfBytes(body, DAG_CBOR_CODE).toString() }, body }
}
