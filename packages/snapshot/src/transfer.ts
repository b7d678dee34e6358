import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { bytesEqual, decode, encode, sha256 } from '@icn/identity'
import { InvalidMessageError, SnapshotTooLargeError } from './errors.js'
import type { StateChunk } from './messages.js'

/** What one participant recorded in one snapshot. */
export interface ParticipantState {
  /** DAG-CBOR `{ providers: { [name]: bytes } }`: every state provider's `exportState()`. */
  readonly localState: Uint8Array
  /** DAG-CBOR `{ channels: { [peerDid]: [bytes, …] } }`: messages recorded on each incoming channel. */
  readonly channelState: Uint8Array
}

/** The payload of a state transfer: both states in one canonical map. */
export function packState (state: ParticipantState): Uint8Array {
  return encode({ localState: state.localState, channelState: state.channelState })
}

/** Inverse of `packState`; throws `InvalidMessageError` on anything else. */
export function unpackState (payload: Uint8Array): ParticipantState {
  let value: unknown
  try {
    value = decode(payload)
  } catch (cause) {
    throw new InvalidMessageError('state transfer payload is not canonical DAG-CBOR', { cause })
  }
  const record = value as Record<string, unknown>
  if (typeof value !== 'object' || value === null || Object.keys(record).sort().join(',') !== 'channelState,localState' ||
    !(record.localState instanceof Uint8Array) || !(record.channelState instanceof Uint8Array)) {
    throw new InvalidMessageError('state transfer payload must be { localState: bytes, channelState: bytes }')
  }
  return { localState: record.localState, channelState: record.channelState }
}

/** The chunk fields of one transfer, before each chunk is wrapped in a signed `StateChunk`. */
export interface ChunkedPayload {
  readonly totalSize: number
  readonly payloadHash: Uint8Array
  readonly chunks: Uint8Array[]
}

const SAMPLE_SIZE = 64 * 1024

/**
 * The deflate level to use: `level`, unless a 64 KiB sample barely compresses
 * (under 10% saved), in which case 0 (stored blocks) — deflating
 * incompressible data costs ~100 ms/MB here and saves nothing.
 */
export function effectiveLevel (payload: Uint8Array, level: number): number {
  if (level === 0 || payload.length <= SAMPLE_SIZE) return level
  const sample = payload.subarray(0, SAMPLE_SIZE)
  return deflateRawSync(sample, { level }).length > 0.9 * sample.length ? 0 : level
}

/** Compresses (raw deflate) and splits a payload into chunks of at most `chunkSize` bytes. */
export function chunkPayload (payload: Uint8Array, chunkSize: number, level: number): ChunkedPayload {
  const compressed = deflateRawSync(payload, { level: effectiveLevel(payload, level) })
  const chunks: Uint8Array[] = []
  for (let offset = 0; offset < compressed.length || chunks.length === 0; offset += chunkSize) {
    chunks.push(new Uint8Array(compressed.buffer, compressed.byteOffset + offset, Math.min(chunkSize, compressed.length - offset)))
  }
  return { totalSize: payload.length, payloadHash: sha256(payload), chunks }
}

/** Limits a receiver enforces on a transfer. */
export interface TransferLimits {
  readonly maxSnapshotSize: number
  readonly chunkSize: number
}

/** Largest compressed size deflate can produce for `size` input bytes (stored blocks: 5 bytes per 16 KiB, plus slack). */
export function maxCompressedSize (size: number): number {
  return size + 5 * Math.ceil(size / 16_384) + 64
}

/**
 * Reassembles one transfer (one snapshot, one sender). The first chunk fixes
 * total/size/hash; every later chunk must agree. Over-size transfers are
 * refused as soon as a chunk announces them.
 */
export class ChunkAssembler {
  private readonly parts: Array<Uint8Array | undefined>
  private received = 0
  private compressedBytes = 0
  readonly totalChunks: number
  readonly totalSize: number
  readonly payloadHash: Uint8Array

  constructor (first: StateChunk, private readonly limits: TransferLimits) {
    if (first.totalSize > limits.maxSnapshotSize) throw new SnapshotTooLargeError(`transfer of ${first.totalSize} bytes exceeds maxSnapshotSize ${limits.maxSnapshotSize}`)
    const maxChunks = Math.max(1, Math.ceil(maxCompressedSize(first.totalSize) / limits.chunkSize))
    if (first.totalChunks > maxChunks) throw new InvalidMessageError(`transfer announces ${first.totalChunks} chunks, at most ${maxChunks} fit ${first.totalSize} bytes`)
    this.totalChunks = first.totalChunks
    this.totalSize = first.totalSize
    this.payloadHash = first.payloadHash
    this.parts = new Array<Uint8Array | undefined>(first.totalChunks)
  }

  /** Adds a chunk; returns the verified payload once the last one arrives. Duplicates are ignored. */
  add (chunk: StateChunk): Uint8Array | undefined {
    if (chunk.totalChunks !== this.totalChunks || chunk.totalSize !== this.totalSize || !bytesEqual(chunk.payloadHash, this.payloadHash)) {
      throw new InvalidMessageError(`chunk ${chunk.chunkIndex} disagrees with the transfer's total, size or hash`)
    }
    if (chunk.data.length > this.limits.chunkSize) throw new InvalidMessageError(`chunk of ${chunk.data.length} bytes exceeds chunkSize ${this.limits.chunkSize}`)
    if (this.parts[chunk.chunkIndex] !== undefined) return undefined
    this.compressedBytes += chunk.data.length
    if (this.compressedBytes > maxCompressedSize(this.totalSize)) throw new SnapshotTooLargeError(`compressed transfer exceeds ${maxCompressedSize(this.totalSize)} bytes for ${this.totalSize} announced`)
    this.parts[chunk.chunkIndex] = chunk.data
    this.received++
    if (this.received < this.totalChunks) return undefined
    const compressed = Buffer.concat(this.parts as Uint8Array[])
    let payload: Uint8Array
    try {
      payload = inflateRawSync(compressed, { maxOutputLength: Math.max(1, this.totalSize) })
    } catch (cause) {
      throw new InvalidMessageError('transfer does not inflate to its announced size', { cause })
    }
    if (payload.length !== this.totalSize) throw new InvalidMessageError(`transfer inflated to ${payload.length} bytes, announced ${this.totalSize}`)
    if (!bytesEqual(sha256(payload), this.payloadHash)) throw new InvalidMessageError('reassembled transfer does not match its hash')
    return new Uint8Array(payload.buffer, payload.byteOffset, payload.length)
  }
}
