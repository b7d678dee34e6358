import { base64 } from 'multiformats/bases/base64'
import { EncodingError } from './errors.js'

// JSON cannot carry bytes or bigints; they travel as one-key tagged objects.
const BYTES_TAG = '$bytes'
const BIGINT_TAG = '$bigint'

/**
 * JSON text of a value that may contain `Uint8Array` (as `{"$bytes": base64}`)
 * and `bigint` (as `{"$bigint": "123"}`). Map keys keep insertion order.
 */
export function toJson (value: unknown, space?: number): string {
  return JSON.stringify(value, function replacer (this: unknown, key: string, v: unknown) {
    const raw = (this as Record<string, unknown>)[key]
    if (raw instanceof Uint8Array) return { [BYTES_TAG]: base64.baseEncode(raw) }
    if (typeof raw === 'bigint') return { [BIGINT_TAG]: raw.toString() }
    if (typeof v === 'number' && !Number.isFinite(v)) throw new EncodingError(`cannot write non-finite number at '${key}' as JSON`)
    return v
  }, space)
}

/** Parses text written by `toJson`, restoring bytes and bigints. */
export function fromJson (text: string): unknown {
  try {
    return JSON.parse(text, (_key, v: unknown) => {
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        const keys = Object.keys(v)
        if (keys.length === 1) {
          const record = v as Record<string, unknown>
          if (typeof record[BYTES_TAG] === 'string') return base64.baseDecode(record[BYTES_TAG])
          if (typeof record[BIGINT_TAG] === 'string') return BigInt(record[BIGINT_TAG])
        }
      }
      return v
    })
  } catch (cause) {
    throw new EncodingError(`invalid JSON: ${(cause as Error).message}`, { cause })
  }
}
