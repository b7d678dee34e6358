import { cidOf, type Did } from '@icn/identity'
import { BPS, DAY_MS, HOUR_MS } from './constants.js'
import { InvalidCharterError } from './errors.js'
import { type Charter, type CharterRules, type KindRule, type Member, type ProposalKind, type Role, PROPOSAL_KINDS, ROLES } from './types.js'
import { checkDid, checkInteger, checkOneOf, checkFields, checkString, isPlainMap } from '@icn/identity'

const fail = (message: string): Error => new InvalidCharterError(message)

const normal = (quorumBps: number, approvalBps: number, proposers: readonly Role[] = ROLES): KindRule => ({
  proposers,
  quorumBps,
  approvalBps,
  deliberation: { defaultMs: 7 * DAY_MS, minMs: DAY_MS, maxMs: 30 * DAY_MS },
  votingMs: 7 * DAY_MS
})

const emergency: KindRule = {
  proposers: ['steward'],
  quorumBps: 6700,
  approvalBps: 7500,
  deliberation: { defaultMs: 0, minMs: 0, maxMs: 0 },
  votingMs: 24 * HOUR_MS
}

/**
 * The cooperative profile's kind rules: quorum 50 % and simple majority,
 * deliberation 7 days (1–30) and a 7-day vote; emergency actions (freeze,
 * unfreeze, veto, force-close) 67 % / 75 % with no deliberation and a 24 h
 * vote, raised by stewards; ledger rollback 75 % / 80 %; treasury budget
 * 50 % / 50 %; withdrawal and spending rule 60 % / 67 %.
 */
export const COOPERATIVE_KIND_RULES: Readonly<Record<ProposalKind, KindRule>> = {
  'text': normal(5000, 5000),
  'charter-amendment': normal(5000, 5000),
  'membership': normal(5000, 5000),
  'config-change': normal(5000, 5000),
  'budget': normal(5000, 5000),
  'treasury-withdrawal': normal(6000, 6700),
  'spending-rule': normal(6000, 6700),
  'ledger-rollback': normal(7500, 8000),
  'freeze': emergency,
  'unfreeze': emergency,
  'veto': emergency,
  'force-close': emergency
}

/** Trust a candidate needs to be proposed as a member, in the cooperative profile. */
export const COOPERATIVE_MIN_JOIN_TRUST = 0.3

/** Options of `cooperativeCharter`. */
export interface CooperativeCharterInit {
  /** The governance domain's id (e.g. `coop:riverside`). */
  readonly domain: string
  /** Founding members; role `member` unless given. */
  readonly members: ReadonlyArray<{ readonly did: Did, readonly role?: Role }>
  /** @default the domain */
  readonly name?: string
  /** @default 0.3 */
  readonly minJoinTrust?: number
  /** Rules replacing the profile's for some kinds; a kind mapped to `null` is not allowed. @default {} */
  readonly kinds?: Readonly<Partial<Record<ProposalKind, KindRule | null>>>
}

/** A genesis (version 1) charter with the cooperative profile's defaults. Throws `InvalidCharterError`. */
export function cooperativeCharter (init: CooperativeCharterInit): Charter {
  const kinds: Partial<Record<ProposalKind, KindRule>> = {}
  for (const kind of PROPOSAL_KINDS) {
    const override = init.kinds?.[kind]
    if (override === null) continue
    kinds[kind] = override ?? COOPERATIVE_KIND_RULES[kind]
  }
  const charter: Charter = {
    domain: init.domain,
    version: 1,
    previous: null,
    amendedBy: null,
    rules: { name: init.name ?? init.domain, minJoinTrust: init.minJoinTrust ?? COOPERATIVE_MIN_JOIN_TRUST, kinds },
    members: sortMembers(init.members.map((m) => ({ did: m.did, role: m.role ?? 'member', frozen: false })))
  }
  validateCharter(charter)
  return charter
}

/** Members sorted by DID (the canonical order a charter stores). */
export function sortMembers (members: readonly Member[]): Member[] {
  return [...members].sort((a, b) => (a.did < b.did ? -1 : a.did > b.did ? 1 : 0))
}

/** The content hash (CID of the canonical DAG-CBOR) of one charter version. */
export function charterHash (charter: Charter): string {
  return cidOf(charter).toString()
}

function validateKindRule (value: unknown, kind: string): KindRule {
  const what = `rule for '${kind}'`
  const rule = checkFields(value, what, ['proposers', 'quorumBps', 'approvalBps', 'deliberation', 'votingMs'], [], fail)
  if (!Array.isArray(rule.proposers) || rule.proposers.length === 0) throw fail(`${what}: proposers must be a non-empty list`)
  const proposers = rule.proposers.map((r) => checkOneOf(r, ROLES, `${what}: proposer role`, fail))
  if (new Set(proposers).size !== proposers.length) throw fail(`${what}: proposers repeat a role`)
  checkInteger(rule.quorumBps, `${what}: quorumBps`, fail, 1, BPS)
  checkInteger(rule.approvalBps, `${what}: approvalBps`, fail, 0, BPS)
  const d = checkFields(rule.deliberation, `${what}: deliberation`, ['defaultMs', 'minMs', 'maxMs'], [], fail)
  const minMs = checkInteger(d.minMs, `${what}: deliberation.minMs`, fail)
  const maxMs = checkInteger(d.maxMs, `${what}: deliberation.maxMs`, fail)
  const defaultMs = checkInteger(d.defaultMs, `${what}: deliberation.defaultMs`, fail)
  if (!(minMs <= defaultMs && defaultMs <= maxMs)) throw fail(`${what}: deliberation needs minMs <= defaultMs <= maxMs`)
  checkInteger(rule.votingMs, `${what}: votingMs`, fail, 1)
  return value as KindRule
}

/** Checks charter rules (used for genesis charters and for amendments). Throws `InvalidCharterError`. */
export function validateRules (value: unknown): CharterRules {
  const rules = checkFields(value, 'charter rules', ['name', 'minJoinTrust', 'kinds'], [], fail)
  checkString(rules.name, 'charter name', fail, { min: 1, max: 200 })
  if (typeof rules.minJoinTrust !== 'number' || !(rules.minJoinTrust >= 0 && rules.minJoinTrust <= 1)) throw fail('minJoinTrust must be a number in [0, 1]')
  if (!isPlainMap(rules.kinds)) throw fail('kinds must be a map')
  for (const [kind, rule] of Object.entries(rules.kinds)) {
    checkOneOf(kind, PROPOSAL_KINDS, 'kind', fail)
    validateKindRule(rule, kind)
  }
  return value as CharterRules
}

/**
 * Checks a whole charter version: shape, rules, sorted unique members. Throws
 * `InvalidCharterError`. `verifyDids: false` checks member DIDs by form only
 * (the store re-reading charters it validated on write: a full check decodes
 * every member's key, which dominates for large domains).
 */
export function validateCharter (value: unknown, { verifyDids = true } = {}): Charter {
  const charter = checkFields(value, 'charter', ['domain', 'version', 'previous', 'amendedBy', 'rules', 'members'], [], fail)
  checkString(charter.domain, 'charter domain', fail, { min: 1, max: 200 })
  const version = checkInteger(charter.version, 'charter version', fail, 1)
  if (version === 1 ? charter.previous !== null || charter.amendedBy !== null : typeof charter.previous !== 'string' || typeof charter.amendedBy !== 'string') {
    throw fail('version 1 has no previous hash nor amending proposal; later versions have both')
  }
  validateRules(charter.rules)
  if (!Array.isArray(charter.members)) throw fail('members must be a list')
  let last = ''
  for (const entry of charter.members) {
    const member = checkFields(entry, 'member', ['did', 'role', 'frozen'], [], fail)
    const did = verifyDids ? checkDid(member.did, 'member did', fail) : checkString(member.did, 'member did', fail, { min: 10, max: 100 })
    if (!did.startsWith('did:icn:z')) throw fail('member did must be a did:icn DID')
    checkOneOf(member.role, ROLES, 'member role', fail)
    if (typeof member.frozen !== 'boolean') throw fail('member frozen must be a boolean')
    if (did <= last) throw fail('members must be sorted by DID without duplicates')
    last = did
  }
  return value as Charter
}

/** The next charter version after `current`, changed by accepted proposal `proposalId`. */
export function nextCharter (current: Charter, proposalId: string, change: { rules?: CharterRules, members?: readonly Member[] }): Charter {
  return {
    domain: current.domain,
    version: current.version + 1,
    previous: charterHash(current),
    amendedBy: proposalId,
    rules: change.rules ?? current.rules,
    members: change.members === undefined ? current.members : sortMembers(change.members)
  }
}
