import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { signEnvelope } from '@icn/identity'
import { type EffectRecord, type VotePayload, ACTION_DOMAIN, charterHash, DAY_MS, HOUR_MS, NotAMemberError, PROPOSAL_DOMAIN, VOTE_DOMAIN } from '../src/index.js'
import { advance, alice, bob, carol, key, openFixture, outsider, START, steward, WEEK } from './fixtures.js'

describe('Governance handle: proposal lifecycle', () => {
  it('runs draft → deliberation → open → accepted → executed and emits the config-change effect', async () => {
    await withTempDir(async (dir) => {
      const { gov, clock } = await openFixture(dir)
      const seen: EffectRecord[] = []
      gov.onEffect((e) => seen.push(e))
      const moved: Array<[string, string]> = []
      const stopWatching = gov.onTransition((p) => moved.push([p.id, p.state]))
      const raised = await gov.propose(alice, {
        kind: 'config-change',
        title: 'Raise Bob’s credit limit',
        payload: { key: 'ledger.creditLimit', value: { currency: 'hours', limit: '500' }, subject: bob.did }
      })
      const id = raised.proposal
      expect(raised.status).toBe('recorded')
      expect(gov.proposal(id)?.state).toBe('draft')
      await gov.submit(alice, id)
      expect(gov.proposal(id)).toMatchObject({ state: 'deliberation', submittedAt: START, opensAt: START + WEEK, closesAt: START + 2 * WEEK })
      await advance(clock, WEEK)
      expect(gov.proposal(id)?.state).toBe('open')
      expect(moved).toEqual([[id, 'open']]) // only the clock's moves: propose and submit were the caller's own calls
      await gov.vote(alice, id, 'for')
      await gov.vote(bob, id, 'for')
      await gov.vote(carol, id, 'against')
      expect(gov.tally(id)).toEqual({ electorate: 4, for: 2, against: 1, abstain: 0, quorumReached: true, approved: true, outcome: 'accepted' })
      await advance(clock, WEEK)
      const done = gov.proposal(id)
      expect(done?.state).toBe('executed')
      expect(done?.history.map((h) => [h.state, h.at])).toEqual([
        ['draft', START], ['deliberation', START], ['open', START + WEEK], ['accepted', START + 2 * WEEK], ['executed', START + 2 * WEEK]
      ])
      const expected: EffectRecord = {
        seq: 1, proposal: id, at: START + 2 * WEEK, applied: true,
        effect: { type: 'config-change', key: 'ledger.creditLimit', value: { currency: 'hours', limit: '500' }, subject: bob.did }
      }
      expect(seen).toEqual([expected])
      expect(moved).toEqual([[id, 'open'], [id, 'executed']])
      stopWatching()
      expect(gov.effects()).toEqual([expected])
      expect(gov.effects(1)).toEqual([])
      await gov.close()
    })
  })

  it('replays history: a proposal, its submit and its votes applied together after the window closed reach the same outcome', async () => {
    await withTempDir(async (dir) => {
      const { gov, clock } = await openFixture(`${dir}/origin`)
      const { proposal: id } = await gov.propose(alice, { kind: 'text', title: 'history', payload: { text: 'history' } })
      await gov.submit(alice, id)
      await advance(clock, WEEK)
      await gov.vote(alice, id, 'for')
      await gov.vote(bob, id, 'for')
      await gov.vote(carol, id, 'against')
      await advance(clock, WEEK)
      const origin = gov.proposal(id)
      expect(origin?.state).toBe('accepted') // a text proposal has no effect to execute
      const envelopes = gov.envelopes(id)
      expect(envelopes.map((e) => e.domain)).toEqual([PROPOSAL_DOMAIN, ACTION_DOMAIN, VOTE_DOMAIN, VOTE_DOMAIN, VOTE_DOMAIN])
      expect(envelopes[0]?.cid).toBe(id)
      expect(gov.envelopes('bafy-unknown')).toEqual([])
      // a node joining a day after the vote closed gets the whole history at once
      const late = await openFixture(`${dir}/late`, { clock: new ManualClock(START + 2 * WEEK + DAY_MS) })
      const results = await Promise.all(envelopes.map(async (e) => await late.gov.apply(e)))
      expect(results.map((r) => [r.type, r.status])).toEqual([['proposal', 'recorded'], ['action', 'recorded'], ['vote', 'recorded'], ['vote', 'recorded'], ['vote', 'recorded']])
      await advance(late.clock, 0)
      const replayed = late.gov.proposal(id)
      expect(replayed?.state).toBe('accepted')
      expect(replayed?.result).toEqual(origin?.result)
      expect(replayed?.result).toEqual({ electorate: 4, for: 2, against: 1, abstain: 0, quorumReached: true, approved: true, outcome: 'accepted' })
      expect(replayed?.history.map((h) => [h.state, h.at])).toEqual(origin?.history.map((h) => [h.state, h.at]))
      await late.gov.close()
      await gov.close()
    })
  })

  it('closes as rejected on a tie and as no-quorum below 50 % turnout; text stays accepted', async () => {
    await withTempDir(async (dir) => {
      const { gov, clock } = await openFixture(dir)
      const ids: string[] = []
      for (const title of ['tie', 'quiet', 'motion']) {
        const { proposal } = await gov.propose(alice, { kind: 'text', title, payload: { text: title } })
        await gov.submit(alice, proposal)
        ids.push(proposal)
      }
      const [tie, quiet, motion] = ids as [string, string, string]
      await advance(clock, WEEK)
      await gov.vote(alice, tie, 'for')
      await gov.vote(bob, tie, 'against')
      await gov.vote(carol, quiet, 'for')
      await gov.vote(alice, motion, 'for')
      await gov.vote(steward, motion, 'abstain')
      await advance(clock, WEEK)
      expect(gov.proposal(tie)?.result).toEqual({ electorate: 4, for: 1, against: 1, abstain: 0, quorumReached: true, approved: false, outcome: 'rejected' })
      expect(gov.proposal(quiet)?.result).toEqual({ electorate: 4, for: 1, against: 0, abstain: 0, quorumReached: false, approved: true, outcome: 'no-quorum' })
      expect(gov.proposal(motion)?.result).toEqual({ electorate: 4, for: 1, against: 0, abstain: 1, quorumReached: true, approved: true, outcome: 'accepted' })
      expect(gov.proposals('rejected').map((p) => p.id)).toEqual([tie])
      expect(gov.proposals('no-quorum').map((p) => p.id)).toEqual([quiet])
      expect(gov.proposals('accepted').map((p) => p.id)).toEqual([motion])
      expect(gov.effects()).toEqual([])
      await gov.close()
    })
  })

  it('a changed vote replaces the earlier one; an older vote arriving late is superseded', async () => {
    await withTempDir(async (dir) => {
      const { gov, clock } = await openFixture(dir)
      const { proposal } = await gov.propose(alice, { kind: 'text', title: 't', payload: { text: '' } })
      await gov.submit(alice, proposal)
      await advance(clock, WEEK)
      const first = await gov.vote(bob, proposal, 'for')
      await advance(clock, HOUR_MS)
      const second = await gov.vote(bob, proposal, 'against')
      expect(gov.votes(proposal).map((v) => [v.voter, v.choice, v.castAt])).toEqual([[bob.did, 'against', START + WEEK + HOUR_MS]])
      expect((await gov.apply(first.envelope)).status).toBe('superseded')
      expect((await gov.apply(second.envelope)).status).toBe('duplicate')
      expect(gov.votes(proposal).map((v) => v.cid)).toEqual([second.envelope.cid])
      await gov.close()
    })
  })

  it('membership: adds a trusted candidate as a new charter version', async () => {
    await withTempDir(async (dir) => {
      const { gov, clock } = await openFixture(dir)
      const dave = key(5)
      const { proposal } = await gov.propose(bob, { kind: 'membership', title: 'Dave joins', payload: { action: 'add', member: dave.did, role: 'member' } })
      await gov.submit(bob, proposal)
      await advance(clock, WEEK)
      for (const k of [alice, bob, carol]) await gov.vote(k, proposal, 'for')
      await advance(clock, WEEK)
      const charter = gov.charter()
      expect(charter.version).toBe(2)
      expect(charter.amendedBy).toBe(proposal)
      expect(charter.previous).toBe(charterHash(gov.charterHistory()[0]!))
      expect(gov.members().map((m) => m.did)).toContain(dave.did)
      expect(gov.members()).toHaveLength(5)
      expect(gov.effects()[0]?.effect).toEqual({ type: 'member-added', member: dave.did, role: 'member' })
      // Dave may raise proposals under v2, but not vote on proposals raised under v1.
      await expect(gov.propose(dave, { kind: 'text', title: 'hello', payload: { text: 'hi' } })).resolves.toMatchObject({ status: 'recorded' })
      await gov.close()
    })
  })

  it('emergency: a steward freezes a member after a 24 h vote with no deliberation; the frozen member can no longer vote', async () => {
    await withTempDir(async (dir) => {
      const { gov, clock } = await openFixture(dir)
      const { proposal } = await gov.propose(steward, { kind: 'freeze', title: 'freeze carol', payload: { member: carol.did } })
      await gov.submit(steward, proposal)
      expect(gov.proposal(proposal)).toMatchObject({ state: 'open', opensAt: START, closesAt: START + DAY_MS })
      for (const k of [steward, alice, bob]) await gov.vote(k, proposal, 'for')
      await advance(clock, DAY_MS)
      expect(gov.proposal(proposal)?.state).toBe('executed')
      expect(gov.members().find((m) => m.did === carol.did)?.frozen).toBe(true)
      const { proposal: next } = await gov.propose(alice, { kind: 'text', title: 'after', payload: { text: '' } })
      await gov.submit(alice, next)
      await advance(clock, WEEK)
      await expect(gov.vote(carol, next, 'for')).rejects.toMatchObject({ code: 'NOT_PERMITTED' })
      expect(gov.proposal(next)?.tally.electorate).toBe(3)
      await gov.close()
    })
  })

  it('veto: an accepted veto moves its target to vetoed; cancel moves a proposal to cancelled', async () => {
    await withTempDir(async (dir) => {
      const { gov, clock } = await openFixture(dir)
      const { proposal: target } = await gov.propose(alice, { kind: 'budget', title: 'buy', payload: { currency: 'hours', amount: '100', purpose: 'tools' } })
      await gov.submit(alice, target)
      const { proposal: veto } = await gov.propose(steward, { kind: 'veto', title: 'no', payload: { target } })
      await gov.submit(steward, veto)
      for (const k of [steward, bob, carol]) await gov.vote(k, veto, 'for')
      await advance(clock, DAY_MS)
      expect(gov.proposal(veto)?.state).toBe('executed')
      expect(gov.proposal(target)?.state).toBe('vetoed')
      expect(gov.proposal(target)?.history.at(-1)).toEqual({ state: 'vetoed', at: START + DAY_MS, cause: veto })
      expect(gov.effects().map((e) => [e.effect, e.applied])).toEqual([[{ type: 'proposal-vetoed', target }, true]])
      const { proposal: other } = await gov.propose(bob, { kind: 'text', title: 'x', payload: { text: '' } })
      await gov.cancel(bob, other)
      expect(gov.proposal(other)?.state).toBe('cancelled')
      await expect(gov.submit(bob, other)).rejects.toMatchObject({ code: 'INVALID_TRANSITION' })
      await advance(clock, 3 * WEEK)
      expect(gov.proposal(target)?.state).toBe('vetoed')
      await gov.close()
    })
  })

  it('a concurrent burst shares one commit: the later of two votes by one member wins, a refused one rejects alone', async () => {
    await withTempDir(async (dir) => {
      const { gov, clock } = await openFixture(dir)
      const { proposal } = await gov.propose(alice, { kind: 'text', title: 'burst', payload: { text: '' } })
      await gov.submit(alice, proposal)
      await advance(clock, WEEK + HOUR_MS)
      const vote = (k: typeof alice, choice: VotePayload['choice'], castAt: number) =>
        signEnvelope<VotePayload>(VOTE_DOMAIN, { domain: 'coop:test', proposal, choice, castAt }, k)
      const opensAt = START + WEEK
      const burst = [vote(bob, 'against', opensAt + 2), vote(alice, 'for', opensAt), vote(bob, 'for', opensAt + 1), vote(outsider, 'for', opensAt), vote(carol, 'abstain', opensAt)]
      const settled = await Promise.allSettled(burst.map(async (env) => await gov.apply(env)))
      expect(settled.map((s) => (s.status === 'fulfilled' ? s.value.status : (s.reason as Error).name))).toEqual(['recorded', 'recorded', 'superseded', 'NotAMemberError', 'recorded'])
      expect((settled[3] as PromiseRejectedResult).reason).toBeInstanceOf(NotAMemberError)
      expect(gov.votes(proposal).map((v) => [v.voter, v.choice]).sort()).toEqual([[alice.did, 'for'], [bob.did, 'against'], [carol.did, 'abstain']].sort())
      expect(gov.tally(proposal)).toMatchObject({ for: 1, against: 1, abstain: 1 })
      await gov.close()
    })
  })

  it('a local payload that cannot be encoded is refused as InvalidPayloadError', async () => {
    await withTempDir(async (dir) => {
      const { gov } = await openFixture(dir)
      await expect(gov.propose(alice, { kind: 'config-change', title: 'nan', payload: { key: 'x', value: Number.NaN } }))
        .rejects.toMatchObject({ name: 'InvalidPayloadError', code: 'INVALID_PAYLOAD' })
      expect(gov.proposals()).toEqual([])
      await gov.close()
    })
  })
})
