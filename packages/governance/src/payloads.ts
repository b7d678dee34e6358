import { encode } from '@icn/identity'
import { validateRules } from './charter.js'
import { MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH, MAX_TITLE_LENGTH } from './constants.js'
import { InvalidPayloadError } from './errors.js'
import {
  type ActionPayload, type KindPayloads, type ProfilePayload, type ProposalKind, type ProposalPayload, type VotePayload,
  PROPOSAL_KINDS, ROLES, VOTE_CHOICES
} from './types.js'
import { checkDecimal, checkDid, checkInteger, checkOneOf, checkFields, checkString } from '@icn/identity'

const fail = (message: string): Error => new InvalidPayloadError(message)

/** A proposal id: the CID string of a proposal envelope. */
function checkId (value: unknown, what: string): string {
  if (typeof value !== 'string' || !/^b[a-z2-7]{20,120}$/.test(value)) throw fail(`${what} must be a proposal id (CID)`)
  return value
}

/**
 * A member's display name as shown: `value` trimmed, 1–64 Unicode code points, no control
 * characters. Throws `InvalidPayloadError`.
 */
export function parseName (value: unknown, what = 'name'): string {
  if (typeof value !== 'string') throw fail(`${what} must be a string`)
  const name = value.trim()
  const length = [...name].length
  if (length < 1 || length > MAX_NAME_LENGTH) throw fail(`${what} must be 1 to ${MAX_NAME_LENGTH} characters after trimming`)
  if (/\p{Cc}/u.test(name)) throw fail(`${what} must not contain control characters`)
  return name
}

const currency = (value: unknown): string => checkString(value, 'currency', fail, { min: 1, max: 32 })

/** Config keys whose value shape governance checks because another subsystem consumes them (interfaces §7). */
const KNOWN_CONFIG: Readonly<Record<string, (value: unknown, subject: unknown) => void>> = {
  'ledger.creditLimit': (value, subject) => {
    const v = checkFields(value, "'ledger.creditLimit' value", ['currency', 'limit'], [], fail)
    currency(v.currency)
    checkDecimal(v.limit, 'credit limit', fail)
    checkDid(subject, "'ledger.creditLimit' subject", fail)
  }
}

/** Shape checks of each kind's payload. */
const KIND_VALIDATORS: { readonly [K in ProposalKind]: (value: unknown) => KindPayloads[K] } = {
  'text': (value) => {
    const p = checkFields(value, 'text payload', ['text'], [], fail)
    checkString(p.text, 'text', fail, { max: MAX_DESCRIPTION_LENGTH })
    return value as KindPayloads['text']
  },
  'charter-amendment': (value) => {
    const p = checkFields(value, 'charter-amendment payload', ['rules'], [], fail)
    validateRules(p.rules)
    return value as KindPayloads['charter-amendment']
  },
  'membership': (value) => {
    const p = checkFields(value, 'membership payload', ['action', 'member'], ['role', 'name'], fail)
    const action = checkOneOf(p.action, ['add', 'remove'] as const, 'membership action', fail)
    checkDid(p.member, 'membership member', fail)
    if (action === 'add') {
      checkOneOf(p.role, ROLES, 'membership role', fail)
      if (p.name !== undefined) parseName(p.name, 'member name')
    } else if (p.role !== undefined || p.name !== undefined) {
      throw fail('a membership removal has no role nor name')
    }
    return value as KindPayloads['membership']
  },
  'config-change': (value) => {
    const p = checkFields(value, 'config-change payload', ['key', 'value'], ['subject'], fail)
    const key = checkString(p.key, 'config key', fail, { min: 1, max: 200 })
    if (p.subject !== undefined) checkDid(p.subject, 'config subject', fail)
    try {
      encode(p.value)
    } catch {
      throw fail('config value must be canonically encodable')
    }
    KNOWN_CONFIG[key]?.(p.value, p.subject)
    return value as KindPayloads['config-change']
  },
  'budget': (value) => {
    const p = checkFields(value, 'budget payload', ['currency', 'amount', 'purpose'], [], fail)
    currency(p.currency)
    checkDecimal(p.amount, 'amount', fail)
    checkString(p.purpose, 'purpose', fail)
    return value as KindPayloads['budget']
  },
  'treasury-withdrawal': (value) => {
    const p = checkFields(value, 'treasury-withdrawal payload', ['currency', 'amount', 'recipient', 'purpose'], [], fail)
    currency(p.currency)
    checkDecimal(p.amount, 'amount', fail)
    checkDid(p.recipient, 'recipient', fail)
    checkString(p.purpose, 'purpose', fail)
    return value as KindPayloads['treasury-withdrawal']
  },
  'spending-rule': (value) => {
    const p = checkFields(value, 'spending-rule payload', ['currency', 'limit', 'periodDays'], [], fail)
    currency(p.currency)
    checkDecimal(p.limit, 'limit', fail)
    checkInteger(p.periodDays, 'periodDays', fail, 1, 3660)
    return value as KindPayloads['spending-rule']
  },
  'ledger-rollback': (value) => {
    const p = checkFields(value, 'ledger-rollback payload', ['to', 'reason'], [], fail)
    checkString(p.to, 'rollback target', fail, { min: 1, max: 200 })
    checkString(p.reason, 'reason', fail)
    return value as KindPayloads['ledger-rollback']
  },
  'freeze': (value) => {
    checkDid(checkFields(value, 'freeze payload', ['member'], [], fail).member, 'member', fail)
    return value as KindPayloads['freeze']
  },
  'unfreeze': (value) => {
    checkDid(checkFields(value, 'unfreeze payload', ['member'], [], fail).member, 'member', fail)
    return value as KindPayloads['unfreeze']
  },
  'veto': (value) => {
    checkId(checkFields(value, 'veto payload', ['target'], [], fail).target, 'veto target')
    return value as KindPayloads['veto']
  },
  'force-close': (value) => {
    checkId(checkFields(value, 'force-close payload', ['target'], [], fail).target, 'force-close target')
    return value as KindPayloads['force-close']
  }
}

/** Shape of a proposal envelope's payload. Throws `InvalidPayloadError` (or `InvalidCharterError` for amendment rules). */
export function parseProposalPayload (value: unknown): ProposalPayload {
  const p = checkFields(value, 'proposal', ['domain', 'kind', 'title', 'description', 'payload', 'charterVersion', 'createdAt', 'deliberationMs'], [], fail)
  checkString(p.domain, 'domain', fail, { min: 1, max: 200 })
  const kind = checkOneOf(p.kind, PROPOSAL_KINDS, 'kind', fail)
  checkString(p.title, 'title', fail, { min: 1, max: MAX_TITLE_LENGTH })
  checkString(p.description, 'description', fail, { max: MAX_DESCRIPTION_LENGTH })
  checkInteger(p.charterVersion, 'charterVersion', fail, 1)
  checkInteger(p.createdAt, 'createdAt', fail)
  checkInteger(p.deliberationMs, 'deliberationMs', fail)
  KIND_VALIDATORS[kind](p.payload)
  return value as ProposalPayload
}

/** Shape of a vote envelope's payload. Throws `InvalidPayloadError`. */
export function parseVotePayload (value: unknown): VotePayload {
  const p = checkFields(value, 'vote', ['domain', 'proposal', 'choice', 'castAt'], [], fail)
  checkString(p.domain, 'domain', fail, { min: 1, max: 200 })
  checkId(p.proposal, 'vote proposal')
  checkOneOf(p.choice, VOTE_CHOICES, 'choice', fail)
  checkInteger(p.castAt, 'castAt', fail)
  return value as VotePayload
}

/** Shape of an action envelope's payload. Throws `InvalidPayloadError`. */
export function parseActionPayload (value: unknown): ActionPayload {
  const p = checkFields(value, 'action', ['domain', 'action', 'proposal', 'at'], [], fail)
  checkString(p.domain, 'domain', fail, { min: 1, max: 200 })
  checkOneOf(p.action, ['submit', 'cancel'] as const, 'action', fail)
  checkId(p.proposal, 'action proposal')
  checkInteger(p.at, 'at', fail)
  return value as ActionPayload
}

/** Shape of a profile envelope's payload. Throws `InvalidPayloadError`. */
export function parseProfilePayload (value: unknown): ProfilePayload {
  const p = checkFields(value, 'profile', ['domain', 'name', 'at'], [], fail)
  checkString(p.domain, 'domain', fail, { min: 1, max: 200 })
  parseName(p.name)
  checkInteger(p.at, 'at', fail)
  return value as ProfilePayload
}
