/**
 * Gossip entries: a signed envelope (domain `icn/gossip/entry/v1`) whose body
 * names the topic, author, vector clock, timestamp and content id
 * (sha-256 of the uncompressed payload), with the payload deflated when that
 * helps. The signature covers the body as sent — the deflated `data` and the
 * declared `size` — so a receiver checks it before inflating anything:
 * `decodeEntry` (shape and bounds) → `verifyEntrySignature` → `inflateEntry`
 * (output bounded by the declared size), which `parseEntry` runs in that order.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import {
  type Did, type KeyPair, type SignedEnvelope, bytesEqual, decodeEnvelope, envelopeBodyFromBytes, isDid,
  publicKeyFromDid, sealEnvelope, sha256, toHex, verify, IdentityError
} from '@icn/identity'
import { DEFAULT_MAX_CLOCK_COMPONENTS, ENTRY_DOMAIN, MAX_CLOCK_COUNTER, MAX_TOPIC_LENGTH } from './constants.js'
import { InvalidEntryError } from './errors.js'
import type { Key } from './reconcile.js'

export type PayloadEncoding = 'raw' | 'deflate-raw'

/** The signed body of an entry. */
export interface EntryBody {
  topic: string
  author: Did
  /** The author's vector clock when it published (DID → counter). */
  clock: Record<string, number>
  timestamp: number
  /** sha-256 of the uncompressed payload. */
  id: Uint8Array
  encoding: PayloadEncoding
  /** Uncompressed payload length in bytes. */
  size: number
  data: Uint8Array
}

/** An entry held by a node: its envelope, wire bytes, sort key and decoded payload. */
export interface StoredEntry {
  readonly key: Key
  readonly idHex: string
  readonly envelope: SignedEnvelope<EntryBody>
  /** `encodeEnvelope(envelope)`: what is sent and saved. */
  readonly bytes: Uint8Array
  /** The bytes the signature covers (`envelopeSigningBytes`), sliced from `bytes`; the envelope's CID is derived from them. */
  readonly signedBody: Uint8Array
  readonly payload: Uint8Array
}

/** What a new entry is made of. */
export interface EntryDraft {
  topic: string
  payload: Uint8Array
  clock: Record<string, number>
  timestamp: number
}

export interface EntryLimits {
  /** Payloads of at least this many bytes are deflated when that makes them smaller. */
  compressThreshold: number
  /** Largest uncompressed payload: a larger declared `size` is refused before inflating. */
  maxPayloadBytes: number
  /** Most components a decoded vector clock may have. @default 1024 */
  maxClockComponents?: number
}

/** Signs a new entry with `keyPair` (the author). */
export function createEntry (keyPair: KeyPair, draft: EntryDraft, limits: EntryLimits): StoredEntry {
  const id = sha256(draft.payload)
  let encoding: PayloadEncoding = 'raw'
  let data = draft.payload
  if (draft.payload.length >= limits.compressThreshold) {
    const deflated = new Uint8Array(deflateRawSync(draft.payload))
    if (deflated.length < draft.payload.length) { encoding = 'deflate-raw'; data = deflated }
  }
  const body: EntryBody = {
    topic: draft.topic, author: keyPair.did, clock: { ...draft.clock }, timestamp: draft.timestamp, id, encoding, size: draft.payload.length, data
  }
  const { envelope, bytes, body: signedBody } = sealEnvelope(ENTRY_DOMAIN, body, keyPair)
  return { key: { ts: body.timestamp, id }, idHex: toHex(id), envelope, bytes, signedBody, payload: Uint8Array.from(draft.payload) }
}

/**
 * Why an entry was refused; `InvalidEntryError.reason` takes one of these. `clock-bound`: its vector clock
 * has more than `maxClockComponents` components or a counter above `MAX_CLOCK_COUNTER`.
 */
export type EntryRejection = 'malformed' | 'decompression' | 'too-large' | 'bad-id' | 'bad-signature' | 'clock-bound'

/** An entry whose envelope and body are checked (shape, bounds) but whose signature and payload are not yet. */
export interface DecodedEntry {
  readonly key: Key
  /** The id the body declares (proved by `inflateEntry`). */
  readonly idHex: string
  readonly envelope: SignedEnvelope<EntryBody>
  readonly bytes: Uint8Array
  readonly signedBody: Uint8Array
  /** False when the clock exceeds the bounds (`clock-bound`); its components are then left unchecked. */
  readonly clockInBounds: boolean
}

function fail (reason: EntryRejection, message: string, cause?: unknown): never {
  throw new InvalidEntryError(reason, message, cause === undefined ? undefined : { cause })
}

/** Checks the body's fields; the clock's bounds are reported (not thrown) so the caller can judge its author. */
function checkBody (value: unknown, maxClockComponents: number): { body: EntryBody, clockInBounds: boolean } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('malformed', 'entry body must be a map')
  const body = value as Record<string, unknown>
  const fields = Object.keys(body).sort().join(',')
  if (fields !== 'author,clock,data,encoding,id,size,timestamp,topic') fail('malformed', `entry body has fields [${fields}]`)
  const { topic, author, clock, timestamp, id, encoding, size, data } = body
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) fail('malformed', 'entry topic must be a non-empty string')
  if (!isDid(author)) fail('malformed', 'entry author must be a DID')
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) fail('malformed', 'entry timestamp must be a non-negative integer')
  if (!(id instanceof Uint8Array) || id.length !== 32) fail('malformed', 'entry id must be 32 bytes')
  if (encoding !== 'raw' && encoding !== 'deflate-raw') fail('malformed', 'entry encoding must be raw or deflate-raw')
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) fail('malformed', 'entry size must be a non-negative integer')
  if (!(data instanceof Uint8Array)) fail('malformed', 'entry data must be bytes')
  if (typeof clock !== 'object' || clock === null || Array.isArray(clock)) fail('malformed', 'entry clock must be a map')
  const components = Object.entries(clock as Record<string, unknown>)
  if (components.length > maxClockComponents) return { body: value as EntryBody, clockInBounds: false }
  let clockInBounds = true
  for (const [who, counter] of components) {
    if (!isDid(who) || typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0) fail('malformed', 'entry clock must map DIDs to counters')
    if (counter > MAX_CLOCK_COUNTER) clockInBounds = false
  }
  return { body: value as EntryBody, clockInBounds }
}

/**
 * Decodes entry wire bytes and checks the envelope domain and every body field and bound, without
 * verifying the signature or inflating. Throws `InvalidEntryError` (`malformed`).
 */
export function decodeEntry (bytes: Uint8Array, limits: Pick<EntryLimits, 'maxClockComponents'>): DecodedEntry {
  let envelope: SignedEnvelope
  try {
    envelope = decodeEnvelope(bytes)
  } catch (cause) {
    if (cause instanceof IdentityError) fail('malformed', `entry envelope: ${cause.message}`, cause)
    throw cause
  }
  if (envelope.domain !== ENTRY_DOMAIN) fail('malformed', `entry domain '${envelope.domain}' is not '${ENTRY_DOMAIN}'`)
  const { body, clockInBounds } = checkBody(envelope.payload, limits.maxClockComponents ?? DEFAULT_MAX_CLOCK_COMPONENTS)
  return { key: { ts: body.timestamp, id: body.id }, idHex: toHex(body.id), envelope: envelope as SignedEnvelope<EntryBody>, bytes, signedBody: envelopeBodyFromBytes(bytes), clockInBounds }
}

/** Throws `InvalidEntryError` (`clock-bound`) for a clock over the bounds. */
export function checkEntryClock (entry: DecodedEntry, limits: Pick<EntryLimits, 'maxClockComponents'>): void {
  if (!entry.clockInBounds) {
    fail('clock-bound', `entry clock exceeds ${limits.maxClockComponents ?? DEFAULT_MAX_CLOCK_COMPONENTS} components or a counter of ${MAX_CLOCK_COUNTER}`)
  }
}

/**
 * The payload of a decoded entry: a declared `size` over `maxPayloadBytes` is refused before inflating,
 * inflation stops once its output exceeds the declared size (zlib `maxOutputLength`), and the result
 * must be exactly `size` bytes whose sha-256 is the id. Throws `InvalidEntryError`
 * (`too-large`, `decompression`, `bad-id`).
 */
export function inflateEntry (entry: DecodedEntry, limits: Pick<EntryLimits, 'maxPayloadBytes'>): StoredEntry {
  const body = entry.envelope.payload
  if (body.size > limits.maxPayloadBytes) fail('too-large', `payload of ${body.size} bytes exceeds ${limits.maxPayloadBytes}`)
  let payload = body.data
  if (body.encoding === 'deflate-raw') {
    try {
      // zlib refuses a maxOutputLength of 0; an empty payload is then caught by the size check below.
      payload = new Uint8Array(inflateRawSync(body.data, { maxOutputLength: Math.max(1, body.size) }))
    } catch (cause) {
      fail('decompression', `payload does not inflate within its declared ${body.size} bytes`, cause)
    }
  }
  if (payload.length !== body.size) fail('bad-id', `payload is ${payload.length} bytes, entry says ${body.size}`)
  if (!bytesEqual(sha256(payload), body.id)) fail('bad-id', 'entry id is not the sha-256 of its payload')
  const { key, idHex, envelope, bytes, signedBody } = entry
  return { key, idHex, envelope, bytes, signedBody, payload }
}

/**
 * Decodes and checks entry wire bytes in the order the receive path needs: shape, then — only if
 * `verifySignature` — signer = author and the signature, then the clock's bounds, then bounded
 * inflate and the id (sha-256 of the uncompressed payload). Nothing is inflated before the signature
 * is checked. Throws `InvalidEntryError` with a `reason`.
 */
export function parseEntry (bytes: Uint8Array, limits: EntryLimits, verifySignature = true): StoredEntry {
  const decoded = decodeEntry(bytes, limits)
  if (verifySignature) verifyEntrySignature(decoded)
  checkEntryClock(decoded, limits)
  return inflateEntry(decoded, limits)
}

/**
 * Checks that the envelope signer is the author and that the signature holds over `signedBody` (the bytes
 * the envelope's CID was derived from when it was decoded or made, so neither is computed again here).
 * The signed body holds the payload as sent (deflated or not) and its declared size, so this needs no inflate.
 */
export function verifyEntrySignature (entry: Pick<DecodedEntry, 'envelope' | 'signedBody'>): void {
  if (entry.envelope.signer !== entry.envelope.payload.author) fail('bad-signature', 'entry signer is not its author')
  let valid: boolean
  try {
    valid = verify(entry.envelope.signature, entry.signedBody, publicKeyFromDid(entry.envelope.signer))
  } catch (cause) {
    if (cause instanceof IdentityError) fail('bad-signature', `entry signature: ${cause.message}`, cause)
    throw cause
  }
  if (!valid) fail('bad-signature', `entry signature: signature by ${entry.envelope.signer} does not verify`)
}
