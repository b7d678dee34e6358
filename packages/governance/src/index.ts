/**
 * @packageDocumentation
 * Governance for ICN domains (cooperatives, federations): versioned charters,
 * signed proposals and votes, deterministic tallies and a deadline scheduler on
 * LMDB. Accepted actionable proposals execute as typed, durable effect events.
 *
 * Pure core: charter validation (`charter.ts`), the transition table
 * (`transitions.ts`), tallies (`tally.ts`), enforcement (`enforcement.ts`),
 * execution (`execution.ts`), the membership timeline (`membership.ts`) and
 * names (`names.ts`); the LMDB store and the handle wrap them.
 */
import type { Clock, Did, IsMember, KeyPair, MembershipAt, SignedEnvelope } from '@icn/identity'
import { charterHash } from './charter.js'
import { GovernanceHandle } from './governance.js'
import type { MembershipChange } from './membership.js'
import type {
  ActionPayload, ApplyResult, Charter, EffectRecord, Member, ProfilePayload, Proposal, ProposalInput, ProposalPayload, ProposalState,
  ProposalWithTally, TallyResult, VoteChoice, VotePayload, VoteRecord
} from './types.js'

export * from './types.js'
export * from './errors.js'
export { ACTION_DOMAIN, PROFILE_DOMAIN, PROPOSAL_DOMAIN, VOTE_DOMAIN, STATE_FORMAT, BPS, DAY_MS, HOUR_MS, MAX_NAME_LENGTH } from './constants.js'
export {
  cooperativeCharter, type CooperativeCharterInit, COOPERATIVE_KIND_RULES, COOPERATIVE_MIN_JOIN_TRUST,
  charterHash, validateCharter, validateRules
} from './charter.js'
export { TRANSITIONS, ACTIONABLE_KINDS, type TransitionRule, type TransitionTrigger, findTransition, isOpenEnded } from './transitions.js'
export { type Ballot, tally, latestBallots, supersedes } from './tally.js'
export { type GovernanceView, checkJoinTrust, checkProposal, checkVote, checkAction, checkProfile, electorateOf } from './enforcement.js'
export { type Execution, execute } from './execution.js'
export { parseProposalPayload, parseVotePayload, parseActionPayload, parseProfilePayload, parseName } from './payloads.js'
export { type MembershipChange, type Membership, MembershipTimeline, buildMembership, executedAt, grantedName } from './membership.js'
export { NameBook, profileSupersedes } from './names.js'
export { GovernanceStore, type StoreContents } from './store.js'

/** Receives each effect once, after the transaction that executed it committed. */
export type EffectListener = (effect: EffectRecord) => void

/** Receives each proposal the clock moved (voting opened, closed, executed, or closed by another proposal's execution), after the transaction committed. */
export type TransitionListener = (proposal: Proposal) => void

/** Receives each DID whose status under the charter in force changed (see `Governance.onMembershipChange`). */
export type MembershipListener = (change: MembershipChange) => void

/** The network id of a closed network: `charterHash` of its genesis (version 1) charter. Pure. */
export function networkIdOf (genesis: Charter): string {
  return charterHash(genesis)
}

/** Injected dependencies. */
export interface GovernanceComponents {
  /** @default systemClock */
  readonly clock?: Clock
  /** Trust score of a DID in [0, 1], from this node's view (checked when a member is proposed). @default () => 1 */
  readonly trustOf?: (did: string) => number
  /** Errors from effect listeners and the scheduler. @default console.error */
  readonly onError?: (err: unknown) => void
}

/** Configuration. */
export interface GovernanceInit {
  /** Directory of the LMDB environment (one per domain). */
  readonly path: string
  /** The genesis (version 1) charter: required when the store is empty, checked against it otherwise. */
  readonly charter?: Charter
  /** How far ahead of this node's clock a signed timestamp may be. @default 60000 */
  readonly maxClockSkewMs?: number
  /**
   * Open with the deadline scheduler held: no proposal opens or closes by the clock until
   * `releaseDeadlines()`. A node that was down while a vote closed holds it until it has caught up with
   * a peer, so votes cast in time that it has not received yet are counted like everywhere else.
   * @default false
   */
  readonly holdDeadlines?: boolean
}

/**
 * The governance service a node uses. Every envelope, local or from gossip,
 * goes through the same validation; a refused one throws a typed
 * `GovernanceError` and stores nothing.
 */
export interface Governance {
  /** The domain the charter governs. */
  readonly domain: string
  /** The network id: `charterHash(charterAt(1))` (= `networkIdOf(genesis)`); fixed for the store's life. */
  readonly networkId: string

  /** The charter in force. */
  charter(): Charter
  /** One charter version, if it exists. */
  charterAt(version: number): Charter | undefined
  /** Every charter version, oldest first. */
  charterHistory(): Charter[]
  /** Members of the charter in force, sorted by DID. */
  members(): readonly Member[]

  /**
   * Status of `did` under the charter version in force at `at` (ms): version 1 from −∞, version
   * v ≥ 2 from the execution time (`closesAt`) of the proposal that made it; at the same ms the
   * later version wins. 'member', 'frozen' (a member, frozen) or 'none'. In memory, O(log n),
   * bound (pass `gov.membershipAt` as is); keeps answering the last state after `close()`.
   */
  readonly membershipAt: MembershipAt
  /** Member and not frozen under the charter in force now. Bound, in memory, answers after `close()` like `membershipAt`. */
  readonly isMember: IsMember
  /**
   * Subscribes to membership changes: one call per DID whose status under the charter in force
   * changed, with the version that changed it, after the transaction that executed the membership,
   * freeze or unfreeze committed (after its `onEffect` calls); after `restoreState`, one per DID whose
   * status differs from before, with the restored latest version. Returns the unsubscribe function.
   */
  onMembershipChange(listener: MembershipListener): () => void
  /**
   * The member's display name: from their latest signed profile, or from the `name` of the
   * membership addition that admitted them, whichever is later (same ms: the profile). Names stay
   * after a member leaves.
   */
  nameOf(did: Did): string | undefined
  /** Every named DID and its name, in DID order (a fresh map each call). */
  names(): ReadonlyMap<Did, string>
  /**
   * Each DID's current profile envelope, sorted by signer DID: what a peer catching up applies
   * (after the proposals' `envelopes`, so it knows who was a member when each was signed).
   */
  profiles(): Array<SignedEnvelope<ProfilePayload>>

  /** Signs and records a proposal (state `draft`) under the charter in force. */
  propose(keyPair: KeyPair, input: ProposalInput): Promise<ApplyResult<ProposalPayload>>
  /** The proposer submits a draft: deliberation starts now, then voting opens and closes on schedule. */
  submit(keyPair: KeyPair, proposal: string): Promise<ApplyResult<ActionPayload>>
  /** The proposer withdraws a proposal that has not closed. */
  cancel(keyPair: KeyPair, proposal: string): Promise<ApplyResult<ActionPayload>>
  /** Signs and records a vote (replacing the member's earlier vote on it). */
  vote(keyPair: KeyPair, proposal: string, choice: VoteChoice): Promise<ApplyResult<VotePayload>>
  /**
   * Signs (trimmed, at the clock's now) and records the signer's own display name. The signer must
   * be a member, frozen or not, at that time (`NotAMemberError`); the name 1–64 code points, no
   * control characters (`InvalidPayloadError`). `result.proposal` is the signer's DID.
   */
  setName(keyPair: KeyPair, name: string): Promise<ApplyResult<ProfilePayload>>

  /** Applies a proposal, vote, action or profile envelope (e.g. from gossip). */
  apply(envelope: SignedEnvelope): Promise<ApplyResult>
  /** Decodes wire bytes (`encodeEnvelope`) and applies them. */
  applyBytes(bytes: Uint8Array): Promise<ApplyResult>
  /** Validates without storing (a gossip topic validator); throws what `apply` would. */
  check(envelope: SignedEnvelope): ApplyResult

  /** A proposal with its tally (live while open, final once closed). */
  proposal(id: string): ProposalWithTally | undefined
  /** Proposals in one state, or all, by id. */
  proposals(state?: ProposalState): Proposal[]
  /** Each member's latest vote on a proposal, by voter. */
  votes(proposal: string): VoteRecord[]
  /**
   * The signed envelopes behind a proposal, in the order they apply: the proposal, its proposer's
   * actions, each member's current vote (by voter); `[]` for an unknown id. Applied together on another
   * node (in one turn, e.g. `Promise.all` of `apply`), they reproduce the proposal — also after its
   * window closed: a vote is judged by the window, not by when it arrives (what a peer catching up
   * fetches).
   */
  envelopes(proposal: string): SignedEnvelope[]
  /** The tally of a proposal; throws `UnknownProposalError`. */
  tally(proposal: string): TallyResult
  /** Executed effects with `seq > after` (the durable outbox: replay after a restart). */
  effects(after?: number): EffectRecord[]
  /** Subscribes to effects as they execute; returns the unsubscribe function. */
  onEffect(listener: EffectListener): () => void
  /**
   * Subscribes to the scheduler's clock-driven transitions (submissions and votes are the caller's own
   * calls, so they need no event); returns the unsubscribe function.
   */
  onTransition(listener: TransitionListener): () => void

  /** Canonical DAG-CBOR of the whole state; equal state gives equal bytes. */
  exportState(): Promise<Uint8Array>
  /**
   * Validates `state` fully (`CorruptStateError`, nothing changed; `CharterMismatchError` for another
   * network's state), then replaces everything in one transaction and rebuilds the membership timeline.
   */
  restoreState(state: Uint8Array): Promise<void>

  /** True while opened with `holdDeadlines` and not released: clock-driven transitions wait. */
  readonly deadlinesHeld: boolean
  /** Starts the held scheduler, which first runs every transition due meanwhile. Idempotent. */
  releaseDeadlines(): void

  /** Stops the scheduler (awaiting it) and closes LMDB. Idempotent. */
  close(): Promise<void>
  /** Alias of `close()`. */
  shutdown(): Promise<void>
}

/**
 * Opens (creating if needed) the governance store at `init.path` and starts
 * its scheduler (unless `holdDeadlines`), which first catches up deadlines that passed while closed.
 */
export async function openGovernance (components: GovernanceComponents, init: GovernanceInit): Promise<Governance> {
  return await GovernanceHandle.open(components, init)
}
