import type { Did } from './did.js'

/**
 * Where a DID stands in a network's membership: a `member` may act, a `frozen`
 * member's new actions are refused, `none` is not (or no longer, or not yet) a member.
 */
export type MembershipStatus = 'member' | 'frozen' | 'none'

/**
 * Membership at a point in time (ms since the epoch): the status of `did` under the
 * charter version in force at `at`. Deterministic: every node that holds the same
 * governance history answers the same, which is what lets the ledger and the trust
 * graph give the same verdict on an entry whatever the order of arrival.
 */
export type MembershipAt = (did: Did, at: number) => MembershipStatus

/** "Is this DID a member, not frozen, now?": the question transport and gossip ask of a peer. */
export type IsMember = (did: Did) => boolean

/** Everyone is a member: the default of a library used without governance. */
export const EVERYONE_IS_A_MEMBER: MembershipAt = () => 'member'
