// Two nodes fed the same signed envelopes, in different orders and with duplicates, reach identical state.
import { type Did, signEnvelope } from '@icn/identity'
import { ManualClock, SeededRng, withTempDir } from '@icn/testkit'
import fc from 'fast-check'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type GovernanceError, type VoteChoice, type VotePayload, COOPERATIVE_KIND_RULES, HOUR_MS, latestBallots, openGovernance, tally, VOTE_DOMAIN } from '../src/index.js'
import { advance, alice, bob, carol, openFixture, START, steward, testCharter, WEEK } from './fixtures.js'

const members = [steward, alice, bob, carol]

describe('replication', () => {
  it('property: any arrival order of the same votes gives the same tally, outcome and exported bytes on every node', async () => {
    const arbVotes = fc.array(fc.record({
      voter: fc.integer({ min: 0, max: 3 }),
      choice: fc.constantFrom<VoteChoice>('for', 'against', 'abstain'),
      offset: fc.integer({ min: 0, max: 5 })
    }), { minLength: 1, maxLength: 14 })
    await fc.assert(fc.asyncProperty(arbVotes, fc.integer({ min: 1, max: 1_000_000 }), async (votes, seed) => {
      await withTempDir(async (dir) => {
        const a = await openFixture(join(dir, 'a'), { clock: new ManualClock(START) })
        const b = await openFixture(join(dir, 'b'), { clock: new ManualClock(START) })
        const raised = await a.gov.propose(alice, { kind: 'budget', title: 'tools', payload: { currency: 'hours', amount: '40', purpose: 'tools' } })
        const submitted = await a.gov.submit(alice, raised.proposal)
        // Node b learns the proposal by gossip, possibly twice.
        expect((await b.gov.apply(raised.envelope)).status).toBe('recorded')
        expect((await b.gov.apply(submitted.envelope)).status).toBe('recorded')
        expect((await b.gov.apply(raised.envelope)).status).toBe('duplicate')
        await Promise.all([advance(a.clock, WEEK + HOUR_MS), advance(b.clock, WEEK + HOUR_MS)])
        const opensAt = START + WEEK
        const envelopes = votes.map((v) => signEnvelope<VotePayload>(VOTE_DOMAIN, {
          domain: 'coop:test', proposal: raised.proposal, choice: v.choice, castAt: opensAt + v.offset
        }, members[v.voter]!))
        for (const env of envelopes) await a.gov.apply(env)
        const rng = new SeededRng(seed)
        for (const env of rng.shuffle([...envelopes, ...envelopes.slice(0, rng.int(0, envelopes.length))])) await b.gov.apply(env)

        const expected = tally(
          [...latestBallots(envelopes.map((e) => ({ voter: e.signer as Did, choice: e.payload.choice, castAt: e.payload.castAt, cid: e.cid }))).values()],
          new Set(members.map((k) => k.did)), COOPERATIVE_KIND_RULES.budget)
        expect(a.gov.tally(raised.proposal)).toEqual(expected)
        expect(b.gov.tally(raised.proposal)).toEqual(expected)
        expect(b.gov.votes(raised.proposal)).toEqual(a.gov.votes(raised.proposal))
        await Promise.all([advance(a.clock, WEEK), advance(b.clock, WEEK)])
        expect(b.gov.proposal(raised.proposal)?.state).toBe(expected.outcome === 'accepted' ? 'executed' : expected.outcome)
        expect(b.gov.effects()).toEqual(a.gov.effects())
        expect(await b.gov.exportState()).toEqual(await a.gov.exportState())
        await Promise.all([a.gov.close(), b.gov.close()])
      })
    }), { numRuns: 8 })
  })

  it('a replica that was closed while a vote ended holds its deadlines until it has the votes, then reaches the same outcome; without the hold it closes short', async () => {
    await withTempDir(async (dir) => {
      const clock = new ManualClock(START)
      const a = await openFixture(join(dir, 'a'), { clock })
      const raised = await a.gov.propose(alice, { kind: 'budget', title: 'tools', payload: { currency: 'hours', amount: '40', purpose: 'tools' } })
      const submitted = await a.gov.submit(alice, raised.proposal)
      // Replicas b (will hold) and c (will not) hear of the proposal, then go down before the vote.
      for (const name of ['b', 'c']) {
        const replica = await openFixture(join(dir, name), { clock })
        for (const envelope of [raised.envelope, submitted.envelope]) expect((await replica.gov.apply(envelope)).status).toBe('recorded')
        await replica.gov.close()
      }
      await advance(clock, WEEK + HOUR_MS)
      const votes = []
      for (const voter of [steward, alice, bob]) votes.push((await a.gov.vote(voter, raised.proposal, 'for')).envelope)
      await advance(clock, WEEK)
      expect(a.gov.proposal(raised.proposal)?.state).toBe('executed')
      expect(a.gov.tally(raised.proposal)).toMatchObject({ for: 3, against: 0, outcome: 'accepted' })

      // b comes back after the close: held, the proposal has not even moved to open (the clock moves nothing),
      // and the votes cast within its window are taken.
      const b = await openGovernance({ clock, trustOf: () => 0.5 }, { path: join(dir, 'b'), charter: testCharter(), holdDeadlines: true })
      await advance(clock, 0)
      expect(b.deadlinesHeld).toBe(true)
      expect(b.proposal(raised.proposal)?.state).toBe('deliberation')
      for (const envelope of votes) expect((await b.apply(envelope)).status).toBe('recorded')
      b.releaseDeadlines()
      await advance(clock, 0)
      expect(b.deadlinesHeld).toBe(false)
      expect(b.proposal(raised.proposal)?.state).toBe('executed')
      expect(b.tally(raised.proposal)).toEqual(a.gov.tally(raised.proposal))
      expect(b.effects()).toEqual(a.gov.effects())
      expect(await b.exportState()).toEqual(await a.gov.exportState())

      // c comes back without the hold: its scheduler closes the vote at once with none of the votes, and the
      // votes that arrive afterwards are refused as outside the window: c disagrees with a for good.
      const c = await openGovernance({ clock, trustOf: () => 0.5 }, { path: join(dir, 'c'), charter: testCharter() })
      await advance(clock, 0)
      expect(c.deadlinesHeld).toBe(false)
      expect(c.proposal(raised.proposal)?.state).toBe('no-quorum')
      const late = await c.apply(votes[0]!).then(() => undefined, (err: unknown) => err)
      expect((late as GovernanceError).code).toBe('OUTSIDE_WINDOW')
      await Promise.all([a.gov.close(), b.close(), c.close()])
    })
  })
})
