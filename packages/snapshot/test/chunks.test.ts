import { SeededRng } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { MAX_CHUNK, MIN_CHUNK, chunkBytes } from '../src/chunks.js'

const noPause = async (): Promise<void> => {}

describe('content-defined chunking of state blobs', () => {
  it('chunks cover the bytes in order, within the size bounds, the same every time; pauses every MiB', async () => {
    const bytes = new SeededRng(5).bytes(3 * 1024 * 1024)
    let pauses = 0
    const chunks = await chunkBytes(bytes, async () => { pauses++ })
    expect(chunks.reduce((at, c) => { expect(c.offset).toBe(at); return at + c.size }, 0)).toBe(bytes.length)
    for (const c of chunks.slice(0, -1)) expect(c.size >= MIN_CHUNK && c.size <= MAX_CHUNK).toBe(true)
    expect(await chunkBytes(bytes, noPause)).toEqual(chunks)
    expect(pauses).toBe(2)
    expect(await chunkBytes(new Uint8Array(0), noPause)).toEqual([])
    expect((await chunkBytes(new Uint8Array(100), noPause)).map((c) => c.size)).toEqual([100])
  })

  it('a change in the middle changes only the chunks around it, even when it shifts everything after it', async () => {
    const bytes = new SeededRng(6).bytes(2 * 1024 * 1024)
    const before = new Set((await chunkBytes(bytes, noPause)).map((c) => c.hash))
    const edited = new Uint8Array(bytes.length + 7)
    edited.set(bytes.subarray(0, 1_000_000), 0)
    edited.set(Uint8Array.of(1, 2, 3, 4, 5, 6, 7), 1_000_000)
    edited.set(bytes.subarray(1_000_000), 1_000_007)
    const after = await chunkBytes(edited, noPause)
    const changed = after.filter((c) => !before.has(c.hash))
    expect(changed.length).toBeGreaterThanOrEqual(1)
    expect(changed.length).toBeLessThanOrEqual(2)
  })
})
