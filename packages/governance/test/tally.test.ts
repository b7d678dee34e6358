import type { Did } from '@icn/identity'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Ballot, type VoteChoice, COOPERATIVE_KIND_RULES, latestBallots, supersedes, tally } from '../src/index.js'
import { key } from './fixtures.js'

const voters: Did[] = [1, 2, 3, 4, 5, 6].map((i) => key(i).did)
const ballot = (voter: number, choice: VoteChoice, castAt = 0, cid = `b${voter}`): Ballot => ({ voter: voters[voter] as Did, choice, castAt, cid })
const everyone = new Set(voters)

describe('tally', () => {
  it('emergency rule 67 % / 75 %: exactly 75 % approval passes, 4 of 6 voting reaches quorum only at ≥ 67 %', () => {
    const rule = COOPERATIVE_KIND_RULES.veto
    expect(tally([ballot(0, 'for'), ballot(1, 'for'), ballot(2, 'for'), ballot(3, 'against')], everyone, rule))
      .toEqual({ electorate: 6, for: 3, against: 1, abstain: 0, quorumReached: false, approved: true, outcome: 'no-quorum' })
    expect(tally([ballot(0, 'for'), ballot(1, 'for'), ballot(2, 'for'), ballot(3, 'against'), ballot(4, 'abstain')], everyone, rule))
      .toEqual({ electorate: 6, for: 3, against: 1, abstain: 1, quorumReached: true, approved: true, outcome: 'accepted' })
    expect(tally([ballot(0, 'for'), ballot(1, 'for'), ballot(3, 'against'), ballot(4, 'abstain'), ballot(5, 'abstain')], everyone, rule).outcome).toBe('rejected')
  })

  it('ledger rollback needs 80 %: 4-1 passes, 3-1 does not', () => {
    const rule = COOPERATIVE_KIND_RULES['ledger-rollback']
    const five = new Set(voters.slice(0, 5))
    expect(tally([ballot(0, 'for'), ballot(1, 'for'), ballot(2, 'for'), ballot(3, 'for'), ballot(4, 'against')], five, rule).outcome).toBe('accepted')
    expect(tally([ballot(0, 'for'), ballot(1, 'for'), ballot(2, 'for'), ballot(3, 'against')], new Set(voters.slice(0, 4)), rule).outcome).toBe('rejected')
  })

  it('simple majority: a tie fails, abstentions count toward quorum only, non-electorate ballots are ignored', () => {
    const rule = COOPERATIVE_KIND_RULES.text
    const four = new Set(voters.slice(0, 4))
    expect(tally([ballot(0, 'for'), ballot(1, 'against')], four, rule)).toEqual({ electorate: 4, for: 1, against: 1, abstain: 0, quorumReached: true, approved: false, outcome: 'rejected' })
    expect(tally([ballot(0, 'for'), ballot(1, 'abstain'), ballot(5, 'against')], four, rule)).toEqual({ electorate: 4, for: 1, against: 0, abstain: 1, quorumReached: true, approved: true, outcome: 'accepted' })
    expect(tally([ballot(0, 'abstain')], four, rule).outcome).toBe('no-quorum')
    expect(tally([], new Set(), rule)).toEqual({ electorate: 0, for: 0, against: 0, abstain: 0, quorumReached: false, approved: false, outcome: 'no-quorum' })
  })

  it('a voter’s latest ballot counts; equal times are broken by the greater CID', () => {
    expect(supersedes({ castAt: 2, cid: 'a' }, { castAt: 1, cid: 'z' })).toBe(true)
    expect(supersedes({ castAt: 1, cid: 'b' }, { castAt: 1, cid: 'a' })).toBe(true)
    expect(supersedes({ castAt: 1, cid: 'a' }, { castAt: 1, cid: 'a' })).toBe(false)
    const latest = latestBallots([ballot(0, 'for', 5, 'bx'), ballot(0, 'against', 5, 'by'), ballot(0, 'abstain', 4, 'bz')])
    expect([...latest.values()]).toEqual([ballot(0, 'against', 5, 'by')])
  })

  it('property: any arrival order of any ballots gives the same tally', () => {
    const arbBallot = fc.record({
      voter: fc.integer({ min: 0, max: 5 }),
      choice: fc.constantFrom<VoteChoice>('for', 'against', 'abstain'),
      castAt: fc.integer({ min: 0, max: 3 }),
      salt: fc.constantFrom('x', 'y', 'z')
    // A CID is a hash of the vote's content: equal CIDs mean equal ballots. Salt and choice make ties at one castAt.
    }).map((b) => ballot(b.voter, b.choice, b.castAt, `b${b.salt}${b.choice}${b.castAt}${b.voter}`))
    const arbRule = fc.record({ quorumBps: fc.integer({ min: 1, max: 10_000 }), approvalBps: fc.integer({ min: 0, max: 10_000 }) })
    fc.assert(fc.property(fc.array(arbBallot, { maxLength: 30 }), arbRule, fc.infiniteStream(fc.nat()), (ballots, rule, seeds) => {
      const expected = tally(ballots, everyone, rule)
      const shuffled = [...ballots]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = (seeds.next().value as number) % (i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j] as Ballot, shuffled[i] as Ballot]
      }
      expect(tally(shuffled, everyone, rule)).toEqual(expected)
      expect(tally([...ballots].reverse(), everyone, rule)).toEqual(expected)
      // Keeping only the latest per voter as votes arrive (what the store does) loses nothing the tally needs.
      const kept = new Map<Did, Ballot>()
      for (const b of shuffled) {
        const current = kept.get(b.voter)
        if (current === undefined || supersedes(b, current)) kept.set(b.voter, b)
      }
      expect(tally(kept.values(), everyone, rule)).toEqual(expected)
    }), { numRuns: 300 })
  })
})
