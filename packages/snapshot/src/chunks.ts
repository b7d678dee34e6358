import { sha256, toHex, utf8 } from '@icn/identity'

/**
 * Content-defined chunking (a gear rolling hash, as in FastCDC): a boundary falls where the hash of the last
 * bytes matches a mask, so an insertion or change moves only the boundaries near it and the chunks around a
 * change are the same bytes as before — consecutive snapshots share every chunk the change did not touch.
 */
export const MIN_CHUNK = 8 * 1024
/** ~32 KiB on average: boundaries where the low 15 bits of the hash are zero. */
const MASK = (1 << 15) - 1
export const MAX_CHUNK = 128 * 1024
/** Bytes scanned between two event-loop turns. */
const STEP_BYTES = 1024 * 1024

let gear: Uint32Array | undefined
/** 256 fixed pseudo-random words (sha-256 of a label), the same on every node and run. */
function gearTable (): Uint32Array {
  if (gear !== undefined) return gear
  gear = new Uint32Array(256)
  for (let i = 0; i < 256; i += 8) {
    const words = sha256(utf8(`icn-snapshot-chunk-gear ${i}`))
    const view = new DataView(words.buffer, words.byteOffset, words.byteLength)
    for (let j = 0; j < 8; j++) gear[i + j] = view.getUint32(j * 4)
  }
  return gear
}

/** One chunk: where it lies in the input, and its sha-256 (hex) — its name in the store. */
export interface Chunk { readonly offset: number, readonly size: number, readonly hash: string }

/** Splits `bytes` into chunks of MIN_CHUNK..MAX_CHUNK bytes (the last may be shorter), pausing every 1 MiB. */
export async function chunkBytes (bytes: Uint8Array, pause: () => Promise<void>): Promise<Chunk[]> {
  const table = gearTable()
  const out: Chunk[] = []
  let start = 0
  let scanned = 0
  while (start < bytes.length) {
    let end = Math.min(bytes.length, start + MAX_CHUNK)
    let h = 0
    for (let i = start + MIN_CHUNK; i < end; i++) {
      h = ((h << 1) + (table[bytes[i] as number] as number)) >>> 0
      if ((h & MASK) === 0) { end = i + 1; break }
    }
    out.push({ offset: start, size: end - start, hash: toHex(sha256(bytes.subarray(start, end))) })
    scanned += end - start
    start = end
    if (scanned >= STEP_BYTES && start < bytes.length) { scanned = 0; await pause() }
  }
  return out
}
