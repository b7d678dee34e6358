/** Topic access rules and their checks. */
import { InvalidArgumentError } from './errors.js'

/**
 * Who may author entries on, and exchange, a topic: anyone; anyone whose
 * trust score (through the injected `trustOf`) is at least `minTrust`; or
 * the listed participants only.
 */
export type AccessRule =
  | { readonly kind: 'public' }
  | { readonly kind: 'min-trust', /** @default 0.7 */ readonly minTrust?: number }
  | { readonly kind: 'participants', readonly participants: readonly string[] }

/** The default minimum trust score of a `min-trust` topic. */
export const DEFAULT_MIN_TRUST = 0.7

/** Validates and normalises a rule (participants sorted and deduplicated); throws `InvalidArgumentError`. */
export function normaliseAccessRule (value: unknown): AccessRule {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError('access rule must be an object')
  const rule = value as Record<string, unknown>
  switch (rule.kind) {
    case 'public': return { kind: 'public' }
    case 'min-trust': {
      const minTrust = rule.minTrust ?? DEFAULT_MIN_TRUST
      if (typeof minTrust !== 'number' || !(minTrust >= 0 && minTrust <= 1)) throw new InvalidArgumentError('minTrust must be a number in [0, 1]')
      return { kind: 'min-trust', minTrust }
    }
    case 'participants': {
      const list = rule.participants
      if (!Array.isArray(list) || list.some((p) => typeof p !== 'string' || p.length === 0)) throw new InvalidArgumentError('participants must be a list of peer ids')
      return { kind: 'participants', participants: [...new Set(list as string[])].sort() }
    }
    default: throw new InvalidArgumentError(`unknown access rule kind ${String(rule.kind)}`)
  }
}

/** Whether `who` (a DID / peer id) is admitted by `rule`. A throwing or out-of-range `trustOf` admits no one. */
export function admits (rule: AccessRule, who: string, trustOf: (did: string) => number): boolean {
  switch (rule.kind) {
    case 'public': return true
    case 'participants': return rule.participants.includes(who)
    case 'min-trust': {
      let score: number
      try { score = trustOf(who) } catch { return false }
      return typeof score === 'number' && score >= (rule.minTrust ?? DEFAULT_MIN_TRUST) && score <= 1
    }
  }
}

export function sameAccessRule (a: AccessRule, b: AccessRule): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
