import {
  type Did, type KeyPair, bytesEqual, checkFields, encodeEnvelope, envelopeSigningBytes, isDid, publicKeyFromDid, sha256, signEnvelope, toHex, openEnvelope, verify
} from '@icn/identity'
import { InvalidMessageError } from './errors.js'
import type { SnapshotLeaf } from './merkle.js'

/** Envelope domain of every snapshot message: a signature here is never valid in another protocol. */
export const SNAPSHOT_DOMAIN = 'icn/snapshot/v1'

/** Coordinator → participant: join snapshot `snapshotId`. Also the initiator's marker on that channel. */
export interface InitiateSnapshot {
  readonly type: 'InitiateSnapshot'
  readonly snapshotId: string
  readonly initiator: string
  readonly timestamp: number
  /** Every participant, the initiator included, sorted, unique. */
  readonly participants: readonly string[]
}

/** The initiator's signed `InitiateSnapshot`, carried inside markers so any first marker gives full context. */
export interface SignedInitiation {
  readonly payload: InitiateSnapshot
  readonly signature: Uint8Array
}

/** Sent on every outgoing channel once the sender has recorded its local state. */
export interface Marker {
  readonly type: 'Marker'
  readonly snapshotId: string
  readonly sender: string
  readonly initiation: SignedInitiation
}

/** Participant → coordinator, only after every incoming channel is closed. */
export interface SnapshotAck {
  readonly type: 'SnapshotAck'
  readonly snapshotId: string
  readonly node: string
  readonly stateHash: Uint8Array
  readonly stateSize: number
  readonly channelHash: Uint8Array
  readonly channelSize: number
}

/** Ask a participant for its recorded local and channel state. */
export interface RequestState {
  readonly type: 'RequestState'
  readonly snapshotId: string
  readonly requester: string
}

/** One piece of a compressed state transfer. */
export interface StateChunk {
  readonly type: 'StateChunk'
  readonly snapshotId: string
  readonly sender: string
  readonly chunkIndex: number
  readonly totalChunks: number
  /** Size of the uncompressed payload. */
  readonly totalSize: number
  /** sha-256 of the uncompressed payload. */
  readonly payloadHash: Uint8Array
  readonly data: Uint8Array
}

/** Coordinator → participants: the agreed leaves and Merkle root. */
export interface SnapshotComplete {
  readonly type: 'SnapshotComplete'
  readonly snapshotId: string
  readonly coordinator: string
  readonly globalStateRoot: Uint8Array
  readonly participants: readonly string[]
  readonly leaves: readonly SnapshotLeaf[]
}

/** Ask a participant to recompute the root from the recorded states. */
export interface VerifySnapshot {
  readonly type: 'VerifySnapshot'
  readonly snapshotId: string
  readonly requester: string
  readonly expectedRoot: Uint8Array
}

/** A verifier's answer: the root it recomputed and whether it equals the expected one. */
export interface VerificationResult {
  readonly type: 'VerificationResult'
  readonly snapshotId: string
  readonly verifier: string
  readonly valid: boolean
  readonly computedRoot: Uint8Array
  /** Why it is invalid ('' when valid). */
  readonly reason: string
}

/** A request a peer may refuse (and answer with `RequestRefused`). */
export type RefusableRequest = 'RequestState' | 'VerifySnapshot'

/**
 * Why a peer refused: `RATE_LIMITED` (over its per-(peer, snapshot) budget), `NOT_PARTICIPANT`
 * (the requester is not a participant of the snapshot there), `NO_RECORDED_STATE` (it holds no
 * recorded state for the snapshot: unknown, not yet recorded, failed or pruned).
 */
export type RefusalReason = 'RATE_LIMITED' | 'NOT_PARTICIPANT' | 'NO_RECORDED_STATE'

/**
 * Reply to a `RequestState` or `VerifySnapshot` the refuser will not serve, so the requester
 * fails at once instead of at its timeout. Sent at most once per (requester, snapshot, request)
 * within the refuser's `stateTransferWindow`; silence after that.
 */
export interface RequestRefused {
  readonly type: 'RequestRefused'
  readonly snapshotId: string
  readonly refuser: string
  readonly request: RefusableRequest
  readonly reason: RefusalReason
  /**
   * `RATE_LIMITED`: milliseconds from the refusal until the refuser serves this requester again
   * (relative, so the two nodes' clocks need not agree); otherwise 0.
   */
  readonly retryAfter: number
}

export type SnapshotMessage =
  | InitiateSnapshot | Marker | SnapshotAck | RequestState | StateChunk | SnapshotComplete | VerifySnapshot | VerificationResult | RequestRefused

/** A received message after decoding and signature verification. */
export interface ReceivedMessage {
  readonly message: SnapshotMessage
  readonly signer: string
  /** The envelope signature (for an `InitiateSnapshot`, what markers carry as the signed initiation). */
  readonly signature: Uint8Array
  /** The exact wire bytes, so the frame that carried them can be told apart from application traffic. */
  readonly wire: Uint8Array
}

const MAX_ID_LENGTH = 128
/** Snapshot ids become file names in the store: keep them to a safe alphabet. */
const SNAPSHOT_ID = /^[A-Za-z0-9_-]{1,128}$/
const MAX_PARTICIPANTS = 10_000
const MAX_REASON_LENGTH = 1024
/** The longest delay a timer can hold (2^31 - 1 ms, ~24.8 days): a refuser's window is never longer in practice. */
export const MAX_RETRY_AFTER = 2 ** 31 - 1
const REFUSABLE: readonly string[] = ['RequestState', 'VerifySnapshot'] satisfies RefusableRequest[]
const REFUSAL_REASONS: readonly string[] = ['RATE_LIMITED', 'NOT_PARTICIPANT', 'NO_RECORDED_STATE'] satisfies RefusalReason[]

type Fields = Record<string, unknown>

function fail (what: string): never {
  throw new InvalidMessageError(what)
}

function exactFields (value: unknown, type: string, keys: readonly string[]): Fields {
  return checkFields(value, type, keys, [], (message) => new InvalidMessageError(message))
}

function text (f: Fields, key: string, max = MAX_ID_LENGTH): string {
  const v = f[key]
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(`${key} must be a non-empty string of at most ${max} characters`)
  return v
}

function snapshotIdOf (f: Fields): string {
  const v = f.snapshotId
  if (typeof v !== 'string' || !SNAPSHOT_ID.test(v)) fail('snapshotId must be 1-128 characters of [A-Za-z0-9_-]')
  return v
}

/** True when `id` is an acceptable snapshot id (also a safe file name). */
export function isSnapshotId (id: unknown): id is string {
  return typeof id === 'string' && SNAPSHOT_ID.test(id)
}

function did (f: Fields, key: string): string {
  const v = f[key]
  if (!isDid(v)) fail(`${key} must be a did:icn DID`)
  return v
}

function count (f: Fields, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = f[key]
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(`${key} must be an integer in [${min}, ${max}]`)
  return v
}

function hash (f: Fields, key: string): Uint8Array {
  const v = f[key]
  if (!(v instanceof Uint8Array) || v.length !== 32) fail(`${key} must be 32 bytes`)
  return v
}

function didList (f: Fields, key: string): string[] {
  const v = f[key]
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_PARTICIPANTS) fail(`${key} must be a non-empty list of DIDs`)
  const list = v as unknown[]
  list.forEach((d, i) => {
    if (!isDid(d)) fail(`${key}[${i}] is not a did:icn DID`)
    if (i > 0 && !((list[i - 1] as string) < d)) fail(`${key} must be sorted and unique`)
  })
  return list as string[]
}

function leafOf (value: unknown): SnapshotLeaf {
  const f = exactFields(value, 'leaf', ['did', 'stateHash', 'stateSize', 'channelHash', 'channelSize'])
  return { did: did(f, 'did'), stateHash: hash(f, 'stateHash'), stateSize: count(f, 'stateSize'), channelHash: hash(f, 'channelHash'), channelSize: count(f, 'channelSize') }
}

function initiationOf (f: Fields): InitiateSnapshot {
  const participants = didList(f, 'participants')
  const initiator = did(f, 'initiator')
  if (!participants.includes(initiator)) fail('participants must include the initiator')
  return { type: 'InitiateSnapshot', snapshotId: snapshotIdOf(f), initiator, timestamp: count(f, 'timestamp'), participants }
}

/**
 * Checks a decoded envelope payload field by field; throws `InvalidMessageError`
 * naming the first problem. (`StateChunk`s are not envelopes: see `decodeMessage`.)
 */
export function parseMessage (payload: unknown): SnapshotMessage {
  const type = typeof payload === 'object' && payload !== null ? (payload as Fields).type : undefined
  switch (type) {
    case 'InitiateSnapshot':
      return initiationOf(exactFields(payload, type, ['type', 'snapshotId', 'initiator', 'timestamp', 'participants']))
    case 'Marker': {
      const f = exactFields(payload, type, ['type', 'snapshotId', 'sender', 'initiation'])
      const signed = exactFields(f.initiation, 'initiation', ['payload', 'signature'])
      const signature = signed.signature
      if (!(signature instanceof Uint8Array) || signature.length !== 64) fail('initiation signature must be 64 bytes')
      const inner = signed.payload
      if (typeof inner !== 'object' || inner === null || (inner as Fields).type !== 'InitiateSnapshot') fail('initiation must carry an InitiateSnapshot')
      const initiation = initiationOf(exactFields(inner, 'InitiateSnapshot', ['type', 'snapshotId', 'initiator', 'timestamp', 'participants']))
      const snapshotId = snapshotIdOf(f)
      if (initiation.snapshotId !== snapshotId) fail('marker and its initiation name different snapshots')
      return { type, snapshotId, sender: did(f, 'sender'), initiation: { payload: initiation, signature } }
    }
    case 'SnapshotAck': {
      const f = exactFields(payload, type, ['type', 'snapshotId', 'node', 'stateHash', 'stateSize', 'channelHash', 'channelSize'])
      return { type, snapshotId: snapshotIdOf(f), node: did(f, 'node'), stateHash: hash(f, 'stateHash'), stateSize: count(f, 'stateSize'), channelHash: hash(f, 'channelHash'), channelSize: count(f, 'channelSize') }
    }
    case 'RequestState': {
      const f = exactFields(payload, type, ['type', 'snapshotId', 'requester'])
      return { type, snapshotId: snapshotIdOf(f), requester: did(f, 'requester') }
    }
    case 'StateChunk':
      fail('a StateChunk travels in a chunk frame, not a plain envelope')
    case 'SnapshotComplete': {
      const f = exactFields(payload, type, ['type', 'snapshotId', 'coordinator', 'globalStateRoot', 'participants', 'leaves'])
      const participants = didList(f, 'participants')
      if (!Array.isArray(f.leaves) || f.leaves.length !== participants.length) fail('leaves must be one per participant')
      const leaves = (f.leaves as unknown[]).map(leafOf)
      leaves.forEach((l, i) => { if (l.did !== participants[i]) fail(`leaves[${i}] is not participant ${String(participants[i])}`) })
      return { type, snapshotId: snapshotIdOf(f), coordinator: did(f, 'coordinator'), globalStateRoot: hash(f, 'globalStateRoot'), participants, leaves }
    }
    case 'VerifySnapshot': {
      const f = exactFields(payload, type, ['type', 'snapshotId', 'requester', 'expectedRoot'])
      return { type, snapshotId: snapshotIdOf(f), requester: did(f, 'requester'), expectedRoot: hash(f, 'expectedRoot') }
    }
    case 'VerificationResult': {
      const f = exactFields(payload, type, ['type', 'snapshotId', 'verifier', 'valid', 'computedRoot', 'reason'])
      if (typeof f.valid !== 'boolean') fail('valid must be a boolean')
      const reason = f.reason
      if (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH) fail('reason must be a short string')
      return { type, snapshotId: snapshotIdOf(f), verifier: did(f, 'verifier'), valid: f.valid, computedRoot: hash(f, 'computedRoot'), reason }
    }
    case 'RequestRefused': {
      const f = exactFields(payload, type, ['type', 'snapshotId', 'refuser', 'request', 'reason', 'retryAfter'])
      const request = f.request
      if (typeof request !== 'string' || !REFUSABLE.includes(request)) fail('request must be RequestState or VerifySnapshot')
      const reason = f.reason
      if (typeof reason !== 'string' || !REFUSAL_REASONS.includes(reason)) fail('reason must be RATE_LIMITED, NOT_PARTICIPANT or NO_RECORDED_STATE')
      // A retry time only for a rate limit: 0 elsewhere, so every refusal has one encoding.
      const retryAfter = reason === 'RATE_LIMITED' ? count(f, 'retryAfter', 1, MAX_RETRY_AFTER) : count(f, 'retryAfter', 0, 0)
      return { type, snapshotId: snapshotIdOf(f), refuser: did(f, 'refuser'), request: request as RefusableRequest, reason: reason as RefusalReason, retryAfter }
    }
    default:
      fail(`unknown message type ${String(type).slice(0, 40)}`)
  }
}

/** What a chunk frame's envelope signs: every `StateChunk` field except `data`, plus `dataHash` = sha-256(data). */
interface ChunkHeader extends Omit<StateChunk, 'data'> {
  readonly dataHash: Uint8Array
}

function parseChunkHeader (payload: unknown): ChunkHeader {
  const f = exactFields(payload, 'StateChunk header', ['type', 'snapshotId', 'sender', 'chunkIndex', 'totalChunks', 'totalSize', 'payloadHash', 'dataHash'])
  if (f.type !== 'StateChunk') fail('chunk frame must carry a StateChunk header')
  const totalChunks = count(f, 'totalChunks', 1)
  return {
    type: 'StateChunk', snapshotId: snapshotIdOf(f), sender: did(f, 'sender'), chunkIndex: count(f, 'chunkIndex', 0, totalChunks - 1), totalChunks,
    totalSize: count(f, 'totalSize'), payloadHash: hash(f, 'payloadHash'), dataHash: hash(f, 'dataHash')
  }
}

/** First byte of a chunk frame (a plain envelope, a CBOR map, never starts with 0x00). */
const CHUNK_FRAME = 0x00
const CHUNK_FRAME_PREFIX = 5

/**
 * A `StateChunk` on the wire: 0x00, the header envelope's length (u32 big
 * endian), the signed header envelope, then the raw chunk bytes. Signing the
 * data's hash instead of the data keeps a 1 MiB chunk from being encoded,
 * hashed and signed several times over by the envelope code.
 */
function encodeChunkFrame (chunk: StateChunk, keyPair: KeyPair): Uint8Array {
  const { data, ...fields } = chunk
  const header: ChunkHeader = { ...fields, dataHash: sha256(data) }
  const envelope = encodeEnvelope(signEnvelope(SNAPSHOT_DOMAIN, header, keyPair))
  const frame = new Uint8Array(CHUNK_FRAME_PREFIX + envelope.length + data.length)
  frame[0] = CHUNK_FRAME
  new DataView(frame.buffer).setUint32(1, envelope.length)
  frame.set(envelope, CHUNK_FRAME_PREFIX)
  frame.set(data, CHUNK_FRAME_PREFIX + envelope.length)
  return frame
}

/** Decodes and verifies a snapshot-domain envelope and parses its payload; any failure is an `InvalidMessageError`. */
function openSigned<T> (bytes: Uint8Array, parse: (payload: unknown) => T, what: string): { value: T, signer: string, signature: Uint8Array } {
  try {
    const envelope = openEnvelope(bytes, SNAPSHOT_DOMAIN)
    return { value: parse(envelope.payload), signer: envelope.signer, signature: envelope.signature }
  } catch (cause) {
    if (cause instanceof InvalidMessageError) throw cause
    throw new InvalidMessageError(`not a valid ${what}: ${(cause as Error).message}`, { cause })
  }
}

function decodeChunkFrame (wire: Uint8Array): ReceivedMessage {
  if (wire.length < CHUNK_FRAME_PREFIX) fail('chunk frame is truncated')
  const headerLength = new DataView(wire.buffer, wire.byteOffset, wire.byteLength).getUint32(1)
  if (CHUNK_FRAME_PREFIX + headerLength > wire.length) fail('chunk frame header runs past the end')
  const { value: header, signer, signature } = openSigned(wire.subarray(CHUNK_FRAME_PREFIX, CHUNK_FRAME_PREFIX + headerLength), parseChunkHeader, 'chunk header envelope')
  const data = Uint8Array.from(wire.subarray(CHUNK_FRAME_PREFIX + headerLength))
  if (!bytesEqual(sha256(data), header.dataHash)) fail('chunk data does not match its signed hash')
  const { dataHash: _dataHash, ...fields } = header
  const message: StateChunk = { ...fields, data }
  if (message.sender !== signer) fail(`StateChunk claims author ${message.sender} but is signed by ${signer}`)
  return { message, signer, signature, wire }
}

/** The DID a message claims as its author; must equal the envelope signer. */
export function claimedAuthor (message: SnapshotMessage): string {
  switch (message.type) {
    case 'InitiateSnapshot': return message.initiator
    case 'Marker': return message.sender
    case 'SnapshotAck': return message.node
    case 'RequestState': return message.requester
    case 'StateChunk': return message.sender
    case 'SnapshotComplete': return message.coordinator
    case 'VerifySnapshot': return message.requester
    case 'VerificationResult': return message.verifier
    case 'RequestRefused': return message.refuser
  }
}

/**
 * Signs `message` with `keyPair` (domain `SNAPSHOT_DOMAIN`) and returns its
 * wire bytes: the canonical envelope, or for a `StateChunk` a chunk frame.
 */
export function encodeMessage (message: SnapshotMessage, keyPair: KeyPair): Uint8Array {
  if (message.type === 'StateChunk') return encodeChunkFrame(message, keyPair)
  return encodeEnvelope(signEnvelope(SNAPSHOT_DOMAIN, message, keyPair))
}

/** The signed initiation carried by markers. */
export function signInitiation (initiation: InitiateSnapshot, keyPair: KeyPair): SignedInitiation {
  return { payload: initiation, signature: signEnvelope(SNAPSHOT_DOMAIN, initiation, keyPair).signature }
}

// Every participant receives the same signed initiation in up to n-1 markers:
// remember the (signed bytes, signature) pairs that verified, keyed by both.
const VERIFIED_INITIATIONS_LIMIT = 256
const verifiedInitiations = new Set<string>()

function initiationVerifies ({ payload, signature }: SignedInitiation): boolean {
  const body = envelopeSigningBytes(SNAPSHOT_DOMAIN, payload, payload.initiator as Did)
  const key = `${toHex(sha256(body))}:${toHex(signature)}`
  if (verifiedInitiations.has(key)) return true
  if (!verify(signature, body, publicKeyFromDid(payload.initiator))) return false
  if (verifiedInitiations.size >= VERIFIED_INITIATIONS_LIMIT) verifiedInitiations.delete(verifiedInitiations.values().next().value as string)
  verifiedInitiations.add(key)
  return true
}

/**
 * Decodes wire bytes: canonical envelope, snapshot domain, valid signature,
 * well-formed payload, and the payload's author field equal to the signer
 * (for markers, the embedded initiation's signature too; for chunk frames,
 * the data's hash against the signed header). Throws `InvalidMessageError`.
 */
export function decodeMessage (wire: Uint8Array): ReceivedMessage {
  if (wire[0] === CHUNK_FRAME) return decodeChunkFrame(wire)
  const { value: message, signer, signature } = openSigned(wire, parseMessage, 'snapshot envelope')
  if (claimedAuthor(message) !== signer) throw new InvalidMessageError(`${message.type} claims author ${claimedAuthor(message)} but is signed by ${signer}`)
  if (message.type === 'Marker' && !initiationVerifies(message.initiation)) throw new InvalidMessageError('marker carries an initiation whose signature does not verify')
  return { message, signer, signature, wire }
}
