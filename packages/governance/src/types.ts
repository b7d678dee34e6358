import type { Did, SignedEnvelope } from '@icn/identity'

/** A member's role in a charter; a kind rule lists the roles that may raise it. */
export type Role = 'member' | 'steward'
export const ROLES: readonly Role[] = ['member', 'steward']

/** Every proposal kind the package knows; a charter allows a subset. */
export type ProposalKind =
  | 'text'
  | 'charter-amendment'
  | 'membership'
  | 'config-change'
  | 'budget'
  | 'treasury-withdrawal'
  | 'spending-rule'
  | 'ledger-rollback'
  | 'freeze'
  | 'unfreeze'
  | 'veto'
  | 'force-close'

export const PROPOSAL_KINDS: readonly ProposalKind[] = [
  'text', 'charter-amendment', 'membership', 'config-change', 'budget', 'treasury-withdrawal',
  'spending-rule', 'ledger-rollback', 'freeze', 'unfreeze', 'veto', 'force-close'
]

/** How one proposal kind is raised and decided. Shares are basis points (5000 = 50 %). */
export interface KindRule {
  /** Roles that may raise this kind. */
  readonly proposers: readonly Role[]
  /** Share of the electorate that must cast a vote (for, against or abstain). */
  readonly quorumBps: number
  /** Share of for / (for + against) needed; passing also always needs for > against. */
  readonly approvalBps: number
  /** Deliberation before voting opens: the proposer picks within [minMs, maxMs]. */
  readonly deliberation: { readonly defaultMs: number, readonly minMs: number, readonly maxMs: number }
  /** Length of the voting window. */
  readonly votingMs: number
}

/** The rules part of a charter (what a `charter-amendment` replaces). */
export interface CharterRules {
  readonly name: string
  /** Trust score (from the injected `trustOf`) a candidate needs to be proposed as a member, in [0, 1]. */
  readonly minJoinTrust: number
  /** Allowed kinds and their rules; a kind missing here is not allowed. */
  readonly kinds: Readonly<Partial<Record<ProposalKind, KindRule>>>
}

/** A member of a charter. A frozen member can neither propose nor vote. */
export interface Member {
  readonly did: Did
  readonly role: Role
  readonly frozen: boolean
}

/**
 * One version of a domain's charter. Versions are chained by hash
 * (`previous` = `charterHash` of the version before) and every version after
 * the first names the accepted proposal that made it (`amendedBy`).
 */
export interface Charter {
  readonly domain: string
  readonly version: number
  readonly previous: string | null
  readonly amendedBy: string | null
  readonly rules: CharterRules
  /** Sorted by DID, no duplicates. */
  readonly members: readonly Member[]
}

/** Typed payload of each proposal kind. Amounts are bigint decimals in strings. */
export interface KindPayloads {
  'text': { readonly text: string }
  'charter-amendment': { readonly rules: CharterRules }
  /** `name`: the new member's display name (1–64 code points after trimming, no control characters) until they sign a profile. */
  'membership': { readonly action: 'add', readonly member: Did, readonly role: Role, readonly name?: string } | { readonly action: 'remove', readonly member: Did }
  'config-change': { readonly key: string, readonly value: unknown, readonly subject?: Did }
  'budget': { readonly currency: string, readonly amount: string, readonly purpose: string }
  'treasury-withdrawal': { readonly currency: string, readonly amount: string, readonly recipient: Did, readonly purpose: string }
  'spending-rule': { readonly currency: string, readonly limit: string, readonly periodDays: number }
  'ledger-rollback': { readonly to: string, readonly reason: string }
  'freeze': { readonly member: Did }
  'unfreeze': { readonly member: Did }
  'veto': { readonly target: string }
  'force-close': { readonly target: string }
}

/** A kind together with its payload (a discriminated union). */
export type ProposalContent = { [K in ProposalKind]: { readonly kind: K, readonly payload: KindPayloads[K] } }[ProposalKind]

/** What a caller supplies to raise a proposal. */
export type ProposalInput = ProposalContent & {
  readonly title: string
  /** @default '' */
  readonly description?: string
  /** @default the kind rule's `deliberation.defaultMs` */
  readonly deliberationMs?: number
}

/** The signed payload of a proposal envelope; the proposal id is the envelope's CID. */
export type ProposalPayload = ProposalContent & {
  readonly domain: string
  readonly title: string
  readonly description: string
  /** The charter version the proposal is raised under: it fixes the rules and the electorate. */
  readonly charterVersion: number
  readonly createdAt: number
  readonly deliberationMs: number
}

export type VoteChoice = 'for' | 'against' | 'abstain'
export const VOTE_CHOICES: readonly VoteChoice[] = ['for', 'against', 'abstain']

/** The signed payload of a vote envelope. */
export interface VotePayload {
  readonly domain: string
  readonly proposal: string
  readonly choice: VoteChoice
  readonly castAt: number
}

/**
 * The signed payload of a profile envelope: a member sets their own display name.
 * Per signer, the greatest `(at, cid)` wins, whatever the order of arrival.
 */
export interface ProfilePayload {
  readonly domain: string
  /** 1–64 code points after trimming (the trimmed form is shown), no control characters. */
  readonly name: string
  readonly at: number
}

/** Proposer actions on their own proposal. */
export type ProposalAction = 'submit' | 'cancel'

/** The signed payload of an action envelope. */
export interface ActionPayload {
  readonly domain: string
  readonly action: ProposalAction
  readonly proposal: string
  readonly at: number
}

export type ProposalState =
  | 'draft' | 'deliberation' | 'open'
  | 'accepted' | 'rejected' | 'no-quorum'
  | 'cancelled' | 'vetoed' | 'force-closed'
  | 'executed'

/** One step in a proposal's history; `cause` is an action CID, `'scheduler'`, or the closing proposal's id. */
export interface Transition {
  readonly state: ProposalState
  readonly at: number
  readonly cause: string
}

/** Result of counting a proposal's votes. */
export interface TallyResult {
  readonly electorate: number
  readonly for: number
  readonly against: number
  readonly abstain: number
  readonly quorumReached: boolean
  readonly approved: boolean
  readonly outcome: 'accepted' | 'rejected' | 'no-quorum'
}

/** A proposal as stored: the signed envelope plus its lifecycle. */
export interface ProposalRecord {
  readonly id: string
  readonly envelope: SignedEnvelope<ProposalPayload>
  readonly state: ProposalState
  readonly submittedAt: number | null
  readonly opensAt: number | null
  readonly closesAt: number | null
  readonly history: readonly Transition[]
  /** Signed proposer actions applied to this proposal (submit, cancel). */
  readonly actions: ReadonlyArray<SignedEnvelope<ActionPayload>>
  /** The final tally, set when voting closes. */
  readonly result: TallyResult | null
}

/** A member's current (latest) vote on a proposal. */
export interface VoteRecord {
  readonly proposal: string
  readonly voter: Did
  readonly choice: VoteChoice
  readonly castAt: number
  readonly cid: string
  readonly envelope: SignedEnvelope<VotePayload>
}

/** What executing an accepted actionable proposal does, for other subsystems to act on. */
export type GovernanceEffect =
  | { readonly type: 'charter-amended', readonly version: number, readonly hash: string }
  | { readonly type: 'member-added', readonly member: Did, readonly role: Role, readonly name?: string }
  | { readonly type: 'member-removed', readonly member: Did }
  | { readonly type: 'member-frozen', readonly member: Did }
  | { readonly type: 'member-unfrozen', readonly member: Did }
  | { readonly type: 'config-change', readonly key: string, readonly value: unknown, readonly subject?: Did }
  | { readonly type: 'budget', readonly currency: string, readonly amount: string, readonly purpose: string }
  | { readonly type: 'treasury-withdrawal', readonly currency: string, readonly amount: string, readonly recipient: Did, readonly purpose: string }
  | { readonly type: 'spending-rule', readonly currency: string, readonly limit: string, readonly periodDays: number }
  | { readonly type: 'ledger-rollback', readonly to: string, readonly reason: string }
  | { readonly type: 'proposal-vetoed', readonly target: string }
  | { readonly type: 'proposal-force-closed', readonly target: string }

/**
 * A durable record of one execution. `applied` is false when the effect no
 * longer fitted the state at execution time (e.g. adding a member who joined
 * meanwhile, vetoing a proposal already closed); the proposal still executes.
 */
export interface EffectRecord {
  readonly seq: number
  readonly proposal: string
  readonly at: number
  readonly applied: boolean
  readonly effect: GovernanceEffect
}

/** A proposal as queries return it: its signed content flattened, plus its lifecycle. */
export type Proposal = ProposalPayload & {
  readonly id: string
  readonly proposer: Did
  readonly state: ProposalState
  readonly submittedAt: number | null
  readonly opensAt: number | null
  readonly closesAt: number | null
  readonly history: readonly Transition[]
  readonly result: TallyResult | null
  readonly envelope: SignedEnvelope<ProposalPayload>
}

/** A proposal with its tally: the final one once closed, the live count before. */
export type ProposalWithTally = Proposal & { readonly tally: TallyResult }

/** What happened to an applied envelope. `superseded`: a valid vote (or profile) older than the one stored (nothing stored). */
export type ApplyStatus = 'recorded' | 'duplicate' | 'superseded'

/** The outcome of applying one envelope (local or from gossip). */
export interface ApplyResult<T = unknown> {
  readonly envelope: SignedEnvelope<T>
  readonly type: 'proposal' | 'vote' | 'action' | 'profile'
  /** The proposal the envelope is (or acts on); for a `profile`, the signer's DID (the record it changes). */
  readonly proposal: string
  readonly status: ApplyStatus
}
