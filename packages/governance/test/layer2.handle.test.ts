// Layer 2: writes through the production handle (`openGovernance`) persist what Layer 1 reads back through the adapter.
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { buildMembership, charterHash, GovernanceStore } from '../src/index.js'
import { advance, alice, bob, carol, key, openFixture, START, steward, testCharter, WEEK } from './fixtures.js'

describe('layer 2: the Governance handle persists exact state', () => {
  it('proposals, votes, charter versions, effects and profiles written by the handle read back from the store', async () => {
    await withTempDir(async (dir) => {
      const dave = key(5)
      const { gov, clock } = await openFixture(dir)
      const { proposal: id, envelope } = await gov.propose(alice, {
        kind: 'membership', title: 'Dave joins', description: 'trusted neighbour', payload: { action: 'add', member: dave.did, role: 'member', name: 'Dave' }
      })
      const aliceName = await gov.setName(alice, 'Alice')
      const submit = await gov.submit(alice, id)
      await advance(clock, WEEK)
      const votes = [await gov.vote(alice, id, 'for'), await gov.vote(bob, id, 'for'), await gov.vote(carol, id, 'abstain')]
      const { proposal: pending } = await gov.propose(steward, { kind: 'text', title: 'still a draft', payload: { text: 'later' } })
      await advance(clock, WEEK)
      const daveName = await gov.setName(dave, 'David')
      await gov.close()

      const store = GovernanceStore.open(dir)
      const v1 = testCharter()
      expect(store.charters()).toEqual([
        v1,
        { ...v1, version: 2, previous: charterHash(v1), amendedBy: id, members: [...v1.members, { did: dave.did, role: 'member', frozen: false }].sort((a, b) => (a.did < b.did ? -1 : 1)) }
      ])
      const record = store.proposal(id)
      expect(record).toEqual({
        id,
        envelope,
        state: 'executed',
        submittedAt: START,
        opensAt: START + WEEK,
        closesAt: START + 2 * WEEK,
        history: [
          { state: 'draft', at: START, cause: id },
          { state: 'deliberation', at: START, cause: submit.envelope.cid },
          { state: 'open', at: START + WEEK, cause: 'scheduler' },
          { state: 'accepted', at: START + 2 * WEEK, cause: 'scheduler' },
          { state: 'executed', at: START + 2 * WEEK, cause: 'scheduler' }
        ],
        actions: [submit.envelope],
        result: { electorate: 4, for: 2, against: 0, abstain: 1, quorumReached: true, approved: true, outcome: 'accepted' }
      })
      expect(store.votes(id).map((v) => [v.voter, v.choice, v.castAt, v.cid])).toEqual(
        votes.map((v) => [v.envelope.signer, v.envelope.payload.choice, START + WEEK, v.envelope.cid]).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1))
      )
      expect(store.proposalIds('draft')).toEqual([pending])
      expect(store.proposalIds('executed')).toEqual([id])
      expect(store.effects()).toEqual([{ seq: 1, proposal: id, at: START + 2 * WEEK, applied: true, effect: { type: 'member-added', member: dave.did, role: 'member', name: 'Dave' } }])
      expect(store.profiles()).toEqual([aliceName.envelope, daveName.envelope].sort((a, b) => (a.signer < b.signer ? -1 : 1)))
      expect(store.profile(dave.did)?.payload).toEqual({ domain: 'coop:test', name: 'David', at: START + 2 * WEEK })
      // The persisted records alone give the timeline and names the handle answered with.
      const { timeline, names } = buildMembership(store.charters(), (p) => store.proposal(p), store.profiles())
      expect([START + 2 * WEEK - 1, START + 2 * WEEK].map((t) => timeline.statusAt(dave.did, t))).toEqual(['none', 'member'])
      expect([...names.names()]).toEqual([[alice.did, 'Alice'], [dave.did, 'David']].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)))
      await store.close()
    })
  })
})
