/**
 * Stands in for `node:zlib` in the browser build: raw deflate with fflate, and a bounded
 * inflate that stops, like zlib's `maxOutputLength`, once the output would exceed the bound.
 */
import { Inflate, deflateSync } from 'fflate'

// One input step inflates to at most ~1 MiB (deflate's ratio is at most 1032:1), so the bound
// is checked before much more than it is ever held.
const INPUT_STEP = 1024

export function deflateRawSync (data: Uint8Array): Uint8Array {
  return deflateSync(data)
}

export function inflateRawSync (data: Uint8Array, options: { maxOutputLength: number }): Uint8Array {
  const chunks: Uint8Array[] = []
  let total = 0
  let ended = false
  const inflate = new Inflate((chunk, final) => {
    total += chunk.length
    if (total > options.maxOutputLength) throw new RangeError(`inflated output exceeds ${options.maxOutputLength} bytes`)
    chunks.push(chunk)
    if (final) ended = true
  })
  for (let offset = 0; offset < data.length; offset += INPUT_STEP) {
    inflate.push(data.subarray(offset, offset + INPUT_STEP), offset + INPUT_STEP >= data.length)
  }
  if (!ended) throw new RangeError('deflate stream is truncated')
  const out = new Uint8Array(total)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}
