import type { Did } from '@icn/identity'
import { BPS } from './constants.js'
import type { KindRule, TallyResult, VoteChoice } from './types.js'

/** The tally-relevant part of a vote. */
export interface Ballot {
  readonly voter: Did
  readonly choice: VoteChoice
  readonly castAt: number
  /** The vote envelope's CID: breaks ties between two votes cast at the same millisecond. */
  readonly cid: string
}

/** True when `a` supersedes `b`: later `castAt`, or the same time and the greater CID. */
export function supersedes (a: Pick<Ballot, 'castAt' | 'cid'>, b: Pick<Ballot, 'castAt' | 'cid'>): boolean {
  return a.castAt > b.castAt || (a.castAt === b.castAt && a.cid > b.cid)
}

/** Each voter's latest ballot. A maximum under a total order, so arrival order does not matter. */
export function latestBallots (ballots: Iterable<Ballot>): Map<Did, Ballot> {
  const latest = new Map<Did, Ballot>()
  for (const ballot of ballots) {
    const current = latest.get(ballot.voter)
    if (current === undefined || supersedes(ballot, current)) latest.set(ballot.voter, ballot)
  }
  return latest
}

/**
 * Counts the latest ballot of each member of `electorate` (others are ignored).
 * Quorum: (for + against + abstain) / electorate ≥ quorumBps. Approval:
 * for / (for + against) ≥ approvalBps and for > against. Integer arithmetic
 * only, so every node computes the same result from the same ballots.
 */
export function tally (ballots: Iterable<Ballot>, electorate: ReadonlySet<Did>, rule: Pick<KindRule, 'quorumBps' | 'approvalBps'>): TallyResult {
  const counts = { for: 0, against: 0, abstain: 0 }
  for (const ballot of latestBallots(ballots).values()) {
    if (electorate.has(ballot.voter)) counts[ballot.choice]++
  }
  const cast = counts.for + counts.against + counts.abstain
  const quorumReached = electorate.size > 0 && cast * BPS >= rule.quorumBps * electorate.size
  const decided = counts.for + counts.against
  const approved = counts.for > counts.against && counts.for * BPS >= rule.approvalBps * decided
  return {
    electorate: electorate.size,
    ...counts,
    quorumReached,
    approved,
    outcome: !quorumReached ? 'no-quorum' : approved ? 'accepted' : 'rejected'
  }
}
