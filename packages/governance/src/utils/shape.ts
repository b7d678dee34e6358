import { isDid, type Did } from '@icn/identity'

/** Builds the typed error a validator throws (each validator names its own error class). */
export type Fail = (message: string) => Error

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}

/** Asserts a plain object whose keys are all in `required` or `optional`, and every `required` key present. */
export function checkRecord (value: unknown, what: string, required: readonly string[], optional: readonly string[], fail: Fail): Record<string, unknown> {
  if (!isRecord(value)) throw fail(`${what} must be a map`)
  for (const key of required) {
    if (!(key in value) || value[key] === undefined) throw fail(`${what} lacks '${key}'`)
  }
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) throw fail(`${what} has unknown field '${key}'`)
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

/** A non-negative bigint in decimal, no leading zeros (how amounts travel). */
export function checkDecimal (value: unknown, what: string, fail: Fail): string {
  if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(value)) throw fail(`${what} must be a non-negative decimal integer string`)
  return value
}

export function checkOneOf<T extends string> (value: unknown, allowed: readonly T[], what: string, fail: Fail): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw fail(`${what} must be one of ${allowed.join(', ')}`)
  return value as T
}
