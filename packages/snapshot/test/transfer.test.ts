import { sha256, toHex } from '@icn/identity'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ChunkAssembler, InvalidMessageError, SnapshotTooLargeError, type StateChunk, chunkPayload, effectiveLevel, packState, unpackState
} from '../src/index.js'
import { keyPairs } from './support/cluster.js'

const sender = keyPairs(1, 3)[0]!.did
const limits = { maxSnapshotSize: 64 * 1024, chunkSize: 1024 }

function chunksOf (payload: Uint8Array, chunkSize = limits.chunkSize, level = 1): StateChunk[] {
  const { totalSize, payloadHash, chunks } = chunkPayload(payload, chunkSize, level)
  return chunks.map((data, chunkIndex) => ({ type: 'StateChunk', snapshotId: 's', sender, chunkIndex, totalChunks: chunks.length, totalSize, payloadHash, data }))
}

function reassemble (chunks: StateChunk[]): Uint8Array | undefined {
  const assembler = new ChunkAssembler(chunks[0]!, limits)
  let out: Uint8Array | undefined
  for (const c of chunks) out = assembler.add(c) ?? out
  return out
}

describe('chunked, compressed state transfer', () => {
  it('round-trips any payload in any chunk order, duplicates ignored', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 20_000 }), fc.integer(), (bytes, seed) => {
      const chunks = chunksOf(bytes)
      const shuffled = [...chunks].sort((p, q) => ((p.chunkIndex * 7919 + seed) % 13) - ((q.chunkIndex * 7919 + seed) % 13))
      const withDup = [...shuffled.slice(0, 1), ...shuffled]
      expect(toHex(reassemble(withDup)!)).toBe(toHex(bytes))
    }), { numRuns: 60 })
  })

  it('compresses: 64 KiB of repetitive state travels in one chunk', () => {
    const payload = new Uint8Array(60_000).fill(7)
    const chunks = chunksOf(payload)
    expect(chunks.length).toBe(1)
    expect(chunks[0]!.data.length).toBeLessThan(1024)
    expect(chunks[0]!.totalSize).toBe(60_000)
  })

  it('stores incompressible payloads instead of deflating them (sampled), and still round-trips them', () => {
    const noise = new Uint8Array(200_000)
    for (let i = 0; i < noise.length; i += 32) noise.set(sha256(Uint8Array.of(i & 255, i >> 8, i >> 16)), i)
    expect(effectiveLevel(noise, 1)).toBe(0)
    expect(effectiveLevel(new Uint8Array(200_000).fill(3), 1)).toBe(1)
    const chunks = chunksOf(noise, 64 * 1024)
    expect(chunks.length).toBe(4)
    const assembler = new ChunkAssembler(chunks[0]!, { maxSnapshotSize: 1 << 20, chunkSize: 64 * 1024 })
    expect(toHex(chunks.map((c) => assembler.add(c)).find((p) => p !== undefined)!)).toBe(toHex(noise))
  })

  it('refuses an over-size transfer as soon as it is announced', () => {
    const chunks = chunksOf(new Uint8Array(70_000))
    expect(() => new ChunkAssembler(chunks[0]!, limits)).toThrow(SnapshotTooLargeError)
  })

  it('refuses a payload that does not match its hash, inconsistent chunks, oversized chunks and inflation bombs', () => {
    const payload = sha256(Uint8Array.of(1))
    const [good] = chunksOf(payload)
    expect(() => reassemble([{ ...good!, payloadHash: sha256(Uint8Array.of(2)) }])).toThrow('reassembled transfer does not match its hash')
    const two = chunksOf(new Uint8Array(3000).map((_, i) => (i * 2654435761) >>> 24), 1024, 0)
    expect(two.length).toBeGreaterThan(1)
    const assembler = new ChunkAssembler(two[0]!, limits)
    expect(() => assembler.add({ ...two[1]!, totalSize: two[1]!.totalSize + 1 })).toThrow(InvalidMessageError)
    expect(() => new ChunkAssembler(two[0]!, limits).add({ ...two[0]!, data: new Uint8Array(1025) })).toThrow('exceeds chunkSize')
    // A few compressed bytes that inflate far beyond the announced size.
    const bomb = chunksOf(new Uint8Array(5000))[0]!
    expect(() => reassemble([{ ...bomb, totalSize: 100 }])).toThrow(InvalidMessageError)
  })

  it('packs and unpacks participant state; anything else is refused', () => {
    const state = { localState: Uint8Array.of(1, 2), channelState: Uint8Array.of(3) }
    expect(unpackState(packState(state))).toEqual(state)
    expect(() => unpackState(Uint8Array.of(0xa0))).toThrow(InvalidMessageError)
    expect(() => unpackState(Uint8Array.of(0xff))).toThrow(InvalidMessageError)
  })
})
