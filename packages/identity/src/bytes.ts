import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'

/** Lower-case hex of `bytes`. */
export function toHex (bytes: Uint8Array): string {
  return bytesToHex(bytes)
}

/** Bytes of a hex string; throws on odd length or non-hex characters. */
export function fromHex (hex: string): Uint8Array {
  return hexToBytes(hex)
}

/** Constant-shape byte equality (not constant time; never use for secrets). */
export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Lexicographic order of byte strings, for deterministic sorting. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number)
    if (d !== 0) return d
  }
  return a.length - b.length
}

/** One buffer holding every part in order. */
export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const p of parts) { out.set(p, offset); offset += p.length }
  return out
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** UTF-8 bytes of a string. */
export function utf8 (text: string): Uint8Array {
  return encoder.encode(text)
}

/** String from UTF-8 bytes; throws on invalid UTF-8. */
export function fromUtf8 (bytes: Uint8Array): string {
  return decoder.decode(bytes)
}
