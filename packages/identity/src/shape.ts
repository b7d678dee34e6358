import { isDid, type Did } from './did.js'

/**
 * Shape checks for decoded canonical values (wire messages, stored records).
 * Each package passes its own `fail`, so refusals carry that package's typed error.
 */
export type Fail = (message: string) => Error

/** A plain map: not null, not an array, not bytes. */
export function isPlainMap (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}

/** Asserts a plain map whose keys are all in `required` or `optional`, with every `required` key present. */
export function checkFields (value: unknown, what: string, required: readonly string[], optional: readonly string[], fail: Fail): Record<string, unknown> {
  if (!isPlainMap(value)) throw fail(`${what} must be a map`)
  const keys = Object.keys(value)
  const missing = required.some((key) => value[key] === undefined)
  const unknown = keys.some((key) => !required.includes(key) && !optional.includes(key))
  if (missing || unknown) {
    const optionalNote = optional.length > 0 ? ` (optional ${[...optional].sort().join(',')})` : ''
    throw fail(`${what} has fields [${keys.sort().join(',')}], expected [${[...required].sort().join(',')}]${optionalNote}`)
  }
  return value
}

export function checkString (value: unknown, what: string, fail: Fail, { min = 0, max = 1_000 } = {}): string {
  if (typeof value !== 'string' || value.length < min || value.length > max) throw fail(`${what} must be a string of ${min}-${max} characters`)
  return value
}

export function checkInteger (value: unknown, what: string, fail: Fail, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw fail(`${what} must be an integer in [${min}, ${max}]`)
  return value
}

export function checkDid (value: unknown, what: string, fail: Fail): Did {
  if (!isDid(value)) throw fail(`${what} must be a did:icn DID`)
  return value
}

/** A non-negative integer in decimal with no leading zeros (how bigint amounts travel as text). */
export function checkDecimal (value: unknown, what: string, fail: Fail): string {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(value)) throw fail(`${what} must be a non-negative decimal integer string`)
  return value
}

export function checkOneOf<T extends string> (value: unknown, allowed: readonly T[], what: string, fail: Fail): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw fail(`${what} must be one of ${allowed.join(', ')}`)
  return value as T
}
