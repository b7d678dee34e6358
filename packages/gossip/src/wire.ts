/**
 * Wire messages between gossip peers: canonical DAG-CBOR maps tagged by `t`.
 * `decodeMessage` checks every field and bound and throws `WireError` (never
 * anything else) for bytes that are not a well-formed message.
 */
import { IdentityError, checkFields, decode, encode } from '@icn/identity'
import { MAX_ANNOUNCED_TOPICS, MAX_PEER_ID_LENGTH, MAX_PUSH_ALSO, MAX_TOPIC_LENGTH, MAX_WIRE_IDS, MAX_WIRE_RANGES } from './constants.js'
import { FINGERPRINT_BYTES, type Key, type Range, type RangeMode } from './reconcile.js'

/**
 * Eagerly pushed entries (entry envelope bytes). `also`: other peers the sender pushed every one of these
 * entries to, so the receiver does not relay them there (absent when none).
 */
export interface PushMessage { t: 'push', entries: Uint8Array[], also?: string[] }
/** Reply to a `want`: the requested entries this side holds. */
export interface EntriesMessage { t: 'entries', topic: string, re: Uint8Array, entries: Uint8Array[] }
/** One round of range-based reconciliation for a topic. */
export interface SyncMessage { t: 'sync', topic: string, nonce: Uint8Array, at: number, round: number, lower: Key, ranges: Range[] }
/** A page of entry ids to pull. */
export interface WantMessage { t: 'want', topic: string, nonce: Uint8Array, ids: Uint8Array[] }
/** The topics the sender carries. */
export interface TopicsMessage { t: 'topics', topics: string[] }
/** Ids of entries the sender holds, told instead of pushing them (a lazy link of the push tree). */
export interface HaveMessage { t: 'have', topic: string, ids: Uint8Array[] }
/** Push the topic's entries to me eagerly again, and send me these (announced, still missing) now. */
export interface GraftMessage { t: 'graft', topic: string, ids: Uint8Array[] }
/** Stop pushing the topic's entries to me: ids (`have`) are enough. */
export interface PruneMessage { t: 'prune', topic: string }
/** A point-to-point message; `re` names the request it answers. */
export interface DirectMessage { t: 'direct', topic: string, id: number, re?: number, payload: Uint8Array }

export type WireMessage = PushMessage | EntriesMessage | SyncMessage | WantMessage | TopicsMessage | DirectMessage | HaveMessage | GraftMessage | PruneMessage

/** Bytes that are not a well-formed wire message. */
export class WireError extends Error {
  override readonly name = 'WireError'
}

const MODES: readonly RangeMode[] = ['skip', 'fp', 'ids', 'offer']

function encodeKey (key: Key): [number, Uint8Array] { return [key.ts, key.id] }

function encodeRange (range: Range): unknown[] {
  const upper = range.upper === null ? [null, null] : encodeKey(range.upper)
  const data = range.mode === 'fp' ? range.fingerprint : range.mode === 'ids' || range.mode === 'offer' ? range.ids : null
  return [MODES.indexOf(range.mode), ...upper, data ?? null]
}

/** Canonical bytes of a message. */
export function encodeMessage (message: WireMessage): Uint8Array {
  if (message.t === 'sync') {
    return encode({ ...message, lower: encodeKey(message.lower), ranges: message.ranges.map(encodeRange) })
  }
  return encode(message)
}

function fail (message: string): never { throw new WireError(message) }

function record (value: unknown, fields: string): Record<string, unknown> {
  return checkFields(value, 'message', fields.split(','), [], (message) => new WireError(message))
}

function topicName (value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TOPIC_LENGTH) fail('topic must be a non-empty string')
  return value
}

function peerId (value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_PEER_ID_LENGTH) fail('peer id must be a non-empty string')
  return value
}

function bytes (value: unknown, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array) || (length !== undefined && value.length !== length)) fail(`expected ${length ?? 'some'} bytes`)
  return value
}

function list (value: unknown, max: number): unknown[] {
  if (!Array.isArray(value) || value.length > max) fail(`expected a list of at most ${max}`)
  return value
}

function count (value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail('expected a non-negative integer')
  return value
}

function key (value: unknown): Key {
  const [ts, id, ...rest] = list(value, 2)
  if (rest.length > 0 || id === undefined) fail('key must be [timestamp, id]')
  const idBytes = bytes(id)
  if (idBytes.length > 32) fail('key id is longer than 32 bytes')
  return { ts: count(ts), id: idBytes }
}

function ids (value: unknown): Uint8Array[] {
  return list(value, MAX_WIRE_IDS).map((id) => bytes(id, 32))
}

function range (value: unknown): Range {
  const parts = list(value, 4)
  if (parts.length !== 4) fail('range must be [mode, upperTs, upperId, data]')
  const [modeIndex, ts, id, data] = parts
  const mode = MODES[count(modeIndex)]
  if (mode === undefined) fail('unknown range mode')
  const upper = ts === null && id === null ? null : key([ts, id])
  switch (mode) {
    case 'skip': if (data !== null) fail('skip range carries no data'); return { upper, mode }
    case 'fp': return { upper, mode, fingerprint: bytes(data, FINGERPRINT_BYTES) }
    case 'ids': case 'offer': return { upper, mode, ids: ids(data) }
  }
}

function nonce (value: unknown): Uint8Array {
  const n = bytes(value)
  if (n.length < 8 || n.length > 32) fail('nonce must be 8-32 bytes')
  return n
}

/** Parses wire bytes; throws `WireError` for anything malformed. */
export function decodeMessage (data: Uint8Array): WireMessage {
  let value: unknown
  try {
    value = decode(data)
  } catch (cause) {
    if (cause instanceof IdentityError) fail(`not canonical DAG-CBOR: ${cause.message}`)
    throw cause
  }
  const tag = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).t : undefined
  switch (tag) {
    case 'push': {
      const hasAlso = typeof value === 'object' && value !== null && 'also' in value
      const m = record(value, hasAlso ? 'also,entries,t' : 'entries,t')
      const message: PushMessage = { t: 'push', entries: list(m.entries, MAX_WIRE_IDS).map((e) => bytes(e)) }
      if (hasAlso) {
        const also = list(m.also, MAX_PUSH_ALSO).map(peerId)
        if (also.length === 0) fail('push also must name at least one peer when present')
        message.also = also
      }
      return message
    }
    case 'entries': {
      const m = record(value, 'entries,re,t,topic')
      return { t: 'entries', topic: topicName(m.topic), re: nonce(m.re), entries: list(m.entries, MAX_WIRE_IDS).map((e) => bytes(e)) }
    }
    case 'sync': {
      const m = record(value, 'at,lower,nonce,ranges,round,t,topic')
      return {
        t: 'sync', topic: topicName(m.topic), nonce: nonce(m.nonce), at: count(m.at), round: count(m.round),
        lower: key(m.lower), ranges: list(m.ranges, MAX_WIRE_RANGES).map(range)
      }
    }
    case 'want': {
      const m = record(value, 'ids,nonce,t,topic')
      return { t: 'want', topic: topicName(m.topic), nonce: nonce(m.nonce), ids: ids(m.ids) }
    }
    case 'have': case 'graft': {
      const m = record(value, 'ids,t,topic')
      return { t: tag, topic: topicName(m.topic), ids: ids(m.ids) }
    }
    case 'prune': {
      const m = record(value, 't,topic')
      return { t: 'prune', topic: topicName(m.topic) }
    }
    case 'topics': {
      const m = record(value, 't,topics')
      return { t: 'topics', topics: list(m.topics, MAX_ANNOUNCED_TOPICS).map(topicName) }
    }
    case 'direct': {
      const hasRe = typeof value === 'object' && value !== null && 're' in value
      const m = record(value, hasRe ? 'id,payload,re,t,topic' : 'id,payload,t,topic')
      const message: DirectMessage = { t: 'direct', topic: topicName(m.topic), id: count(m.id), payload: bytes(m.payload) }
      if (hasRe) message.re = count(m.re)
      return message
    }
    default:
      return fail(`unknown message type ${String(tag)}`)
  }
}
