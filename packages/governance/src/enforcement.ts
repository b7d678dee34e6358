import type { Did, MembershipStatus, SignedEnvelope } from '@icn/identity'
import {
  InsufficientTrustError, InvalidPayloadError, InvalidTransitionError, KindNotAllowedError, NotAMemberError,
  NotPermittedError, OutsideWindowError, UnknownProposalError
} from './errors.js'
import { isOpenEnded, transition } from './transitions.js'
import type { ActionPayload, Charter, KindRule, Member, ProfilePayload, ProposalPayload, ProposalRecord, ProposalState, VotePayload } from './types.js'

/** What the enforcement rules may read: the governance state at one instant. */
export interface GovernanceView {
  readonly now: number
  /** How far in the future a signed timestamp may be (clock skew between nodes). */
  readonly maxClockSkewMs: number
  /** The charter in force. */
  readonly charter: Charter
  member(version: number, did: string): Member | undefined
  proposal(id: string): ProposalRecord | undefined
  trustOf(did: Did): number
  /** Status of `did` under the charter version in force at `at` (the membership timeline). */
  membershipAt(did: Did, at: number): MembershipStatus
}

function activeMember (view: GovernanceView, version: number, did: string, doing: string): Member {
  const member = view.member(version, did)
  if (member === undefined) throw new NotAMemberError(`${did} is not a member of charter v${version} and may not ${doing}`)
  if (member.frozen) throw new NotPermittedError(`${did} is frozen and may not ${doing}`)
  return member
}

function notInFuture (view: GovernanceView, at: number, what: string): void {
  if (at > view.now + view.maxClockSkewMs) throw new OutsideWindowError(`${what} ${at} is in the future (now ${view.now})`)
}

/** The kind rule a proposal was raised under. */
export function ruleOf (charter: Charter, payload: Pick<ProposalPayload, 'kind'>): KindRule {
  const rule = charter.rules.kinds[payload.kind]
  if (rule === undefined) throw new KindNotAllowedError(`charter v${charter.version} of '${charter.domain}' does not allow '${payload.kind}' proposals`)
  return rule
}

/**
 * Charter enforcement for a new proposal (its envelope already verified and its
 * payload shape-checked). Throws a typed error when the charter refuses it.
 */
export function checkProposal (view: GovernanceView, envelope: SignedEnvelope<ProposalPayload>): void {
  const p = envelope.payload
  const charter = view.charter
  if (p.domain !== charter.domain) throw new InvalidPayloadError(`proposal is for domain '${p.domain}', not '${charter.domain}'`)
  if (p.charterVersion !== charter.version) throw new InvalidPayloadError(`proposal names charter v${p.charterVersion}; v${charter.version} is in force`)
  const rule = ruleOf(charter, p)
  const proposer = activeMember(view, charter.version, envelope.signer, `raise '${p.kind}' proposals`)
  if (!rule.proposers.includes(proposer.role)) throw new NotPermittedError(`role '${proposer.role}' may not raise '${p.kind}' proposals`)
  const { minMs, maxMs } = rule.deliberation
  if (p.deliberationMs < minMs || p.deliberationMs > maxMs) throw new InvalidPayloadError(`deliberation ${p.deliberationMs} ms is outside [${minMs}, ${maxMs}]`)
  notInFuture(view, p.createdAt, 'createdAt')
  checkKindPreconditions(view, p)
}

/**
 * The proposer's own check before raising a membership proposal: the candidate's trust, from this node's
 * view, reaches the charter's `minJoinTrust`. Only the proposing node asks it: trust views differ between
 * nodes, so a peer's proposal judged by the receiver's view would be accepted on some nodes and refused
 * on others (and the charters would diverge).
 */
export function checkJoinTrust (view: GovernanceView, p: ProposalPayload): void {
  if (p.kind !== 'membership' || p.payload.action !== 'add') return
  const trust = view.trustOf(p.payload.member)
  if (!(trust >= view.charter.rules.minJoinTrust)) {
    throw new InsufficientTrustError(`${p.payload.member} has trust ${trust}, joining needs ${view.charter.rules.minJoinTrust}`)
  }
}

function checkKindPreconditions (view: GovernanceView, p: ProposalPayload): void {
  const version = view.charter.version
  switch (p.kind) {
    case 'membership': {
      const existing = view.member(version, p.payload.member)
      if (p.payload.action === 'remove') {
        if (existing === undefined) throw new InvalidPayloadError(`${p.payload.member} is not a member`)
        return
      }
      if (existing !== undefined) throw new InvalidPayloadError(`${p.payload.member} is already a member`)
      return
    }
    case 'freeze':
    case 'unfreeze': {
      const member = view.member(version, p.payload.member)
      if (member === undefined) throw new InvalidPayloadError(`${p.payload.member} is not a member`)
      if (member.frozen !== (p.kind === 'unfreeze')) throw new InvalidPayloadError(`${p.payload.member} is ${member.frozen ? 'already' : 'not'} frozen`)
      return
    }
    case 'veto':
    case 'force-close': {
      const target = view.proposal(p.payload.target)
      if (target === undefined) throw new UnknownProposalError(`${p.kind} target ${p.payload.target} is unknown`)
      if (!isOpenEnded(target.state)) throw new InvalidTransitionError(`${p.kind} target is already '${target.state}'`)
      return
    }
    default:
  }
}

/** Charter enforcement for a vote on `record`. Throws a typed error when refused. */
export function checkVote (view: GovernanceView, record: ProposalRecord, envelope: SignedEnvelope<VotePayload>): void {
  const v = envelope.payload
  const p = record.envelope.payload
  if (v.domain !== p.domain) throw new InvalidPayloadError(`vote is for domain '${v.domain}', not '${p.domain}'`)
  // Voting is open from opensAt by the clock, whether or not the scheduler has made that move yet: a
  // proposal, its submit and its votes applied together (history from a peer) are judged by the window.
  const opened = record.state === 'open' || (record.state === 'deliberation' && record.opensAt !== null && record.opensAt <= view.now)
  if (!opened || record.opensAt === null || record.closesAt === null) {
    throw new OutsideWindowError(`proposal ${record.id} is '${record.state}', not open for voting`)
  }
  if (v.castAt < record.opensAt || v.castAt >= record.closesAt) {
    throw new OutsideWindowError(`vote cast at ${v.castAt} is outside the window [${record.opensAt}, ${record.closesAt})`)
  }
  notInFuture(view, v.castAt, 'castAt')
  activeMember(view, p.charterVersion, envelope.signer, 'vote')
}

/** Enforcement for a proposer action; returns the state it moves the proposal to. */
export function checkAction (view: GovernanceView, record: ProposalRecord, envelope: SignedEnvelope<ActionPayload>): ProposalState {
  const a = envelope.payload
  const p = record.envelope.payload
  if (a.domain !== p.domain) throw new InvalidPayloadError(`action is for domain '${a.domain}', not '${p.domain}'`)
  if (envelope.signer !== record.envelope.signer) throw new NotPermittedError(`only the proposer may ${a.action} proposal ${record.id}`)
  const to = transition(record.state, a.action)
  if (a.at < p.createdAt) throw new OutsideWindowError(`${a.action} at ${a.at} precedes the proposal (${p.createdAt})`)
  if (record.closesAt !== null && a.at >= record.closesAt) throw new OutsideWindowError(`${a.action} at ${a.at} is after voting closed (${record.closesAt})`)
  notInFuture(view, a.at, `${a.action} time`)
  return to
}

/**
 * Enforcement for a profile: the signer is a member (frozen or not) of the charter
 * version in force at the profile's `at`, which is not in the future. Throws a typed error.
 */
export function checkProfile (view: GovernanceView, envelope: SignedEnvelope<ProfilePayload>): void {
  const p = envelope.payload
  if (p.domain !== view.charter.domain) throw new InvalidPayloadError(`profile is for domain '${p.domain}', not '${view.charter.domain}'`)
  notInFuture(view, p.at, 'profile time')
  if (view.membershipAt(envelope.signer, p.at) === 'none') throw new NotAMemberError(`${envelope.signer} is not a member at ${p.at} and may not set a name`)
}

/** Members who may vote under `charter`: every member not frozen. */
export function electorateOf (charter: Charter): Set<Did> {
  return new Set(charter.members.filter((m) => !m.frozen).map((m) => m.did))
}
