// Layer 3: shutdown() awaits the scheduler and closes LMDB; a fresh handle in the same process restores exact state and resumes.
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { type EffectRecord, type Governance, DAY_MS } from '../src/index.js'
import { advance, alice, bob, carol, key, openFixture, START, steward, WEEK } from './fixtures.js'

const dave = key(5)

/** Membership and name answers worth comparing across handles. */
function membershipView (gov: Governance, times: readonly number[]): unknown {
  return {
    statuses: [steward, alice, bob, carol, dave].map((k) => times.map((t) => gov.membershipAt(k.did, t))),
    isMember: [alice, carol, dave].map((k) => gov.isMember(k.did)),
    names: [...gov.names()],
    profiles: gov.profiles()
  }
}

describe('layer 3: shutdown → new handle in the same process', () => {
  it('restores exact state, leaves no timer behind, and the scheduler resumes closing proposals', async () => {
    await withTempDir(async (dir) => {
      const clock = new ManualClock(START)
      const first = await openFixture(dir, { clock })
      const { proposal: done } = await first.gov.propose(steward, { kind: 'freeze', title: 'freeze carol', payload: { member: carol.did } })
      await first.gov.submit(steward, done)
      for (const k of [steward, alice, bob]) await first.gov.vote(k, done, 'for')
      await advance(clock, DAY_MS)
      const { proposal: open } = await first.gov.propose(alice, { kind: 'config-change', title: 'limit', payload: { key: 'ledger.creditLimit', value: { currency: 'hours', limit: '900' }, subject: bob.did } })
      await first.gov.submit(alice, open)
      const { proposal: join } = await first.gov.propose(bob, { kind: 'membership', title: 'Dave joins', payload: { action: 'add', member: dave.did, role: 'member', name: 'Dave' } })
      await first.gov.submit(bob, join)
      await first.gov.setName(carol, 'Carol (frozen)')
      await advance(clock, WEEK)
      await first.gov.vote(alice, open, 'for')
      await first.gov.vote(bob, open, 'for')
      await first.gov.vote(alice, join, 'for')
      await first.gov.vote(bob, join, 'for')
      await first.gov.setName(alice, 'Alice')
      const joinsAt = START + DAY_MS + 2 * WEEK
      const times = [START, START + DAY_MS - 1, START + DAY_MS, joinsAt - 1, joinsAt]
      const before = {
        charters: first.gov.charterHistory(),
        done: first.gov.proposal(done),
        open: first.gov.proposal(open),
        votes: first.gov.votes(open),
        effects: first.gov.effects(),
        membership: membershipView(first.gov, times),
        state: await first.gov.exportState()
      }
      expect(before.membership).toMatchObject({
        statuses: [times.map(() => 'member'), times.map(() => 'member'), times.map(() => 'member'), ['member', 'member', 'frozen', 'frozen', 'frozen'], times.map(() => 'none')],
        isMember: [true, false, false]
      })
      expect(clock.pendingTimers).toBe(1)
      await first.gov.shutdown()
      expect(clock.pendingTimers).toBe(0)
      await first.gov.shutdown()

      const second = await openFixture(dir, { clock })
      expect(second.gov.charterHistory()).toEqual(before.charters)
      expect(second.gov.charter().version).toBe(2)
      expect(second.gov.members().find((m) => m.did === carol.did)?.frozen).toBe(true)
      expect(second.gov.proposal(done)).toEqual(before.done)
      expect(second.gov.proposal(open)).toEqual(before.open)
      expect(second.gov.proposal(open)?.state).toBe('open')
      expect(second.gov.votes(open)).toEqual(before.votes)
      expect(second.gov.effects()).toEqual(before.effects)
      expect(membershipView(second.gov, times)).toEqual(before.membership)
      expect(second.gov.nameOf(carol.did)).toBe('Carol (frozen)')
      expect(await second.gov.exportState()).toEqual(before.state)
      expect(clock.pendingTimers).toBe(1)

      const seen: EffectRecord[] = []
      second.gov.onEffect((e) => seen.push(e))
      await advance(clock, WEEK)
      expect(second.gov.proposal(open)?.state).toBe('executed')
      expect(second.gov.proposal(join)?.state).toBe('executed')
      // Deadlines at the same time run in id order.
      const executed = ([
        { proposal: open, at: joinsAt, applied: true, effect: { type: 'config-change', key: 'ledger.creditLimit', value: { currency: 'hours', limit: '900' }, subject: bob.did } },
        { proposal: join, at: joinsAt, applied: true, effect: { type: 'member-added', member: dave.did, role: 'member', name: 'Dave' } }
      ] satisfies Array<Omit<EffectRecord, 'seq'>>).sort((a, b) => (a.proposal < b.proposal ? -1 : 1))
      expect(seen).toEqual(executed.map((e, i) => ({ seq: 2 + i, ...e })))
      const after = membershipView(second.gov, times)
      expect(after).toMatchObject({ statuses: [...(before.membership as { statuses: unknown[] }).statuses.slice(0, 4), ['none', 'none', 'none', 'none', 'member']] })
      expect(second.gov.nameOf(dave.did)).toBe('Dave')
      const state = await second.gov.exportState()
      await second.gov.shutdown()
      expect(clock.pendingTimers).toBe(0)

      // The execution the second handle ran is on disk for a third.
      const third = await openFixture(dir, { clock })
      expect(membershipView(third.gov, times)).toEqual(after)
      expect(third.gov.charter().version).toBe(3)
      expect(await third.gov.exportState()).toEqual(state)
      await third.gov.shutdown()
    })
  })

  it('deadlines that passed while closed are caught up when the handle reopens', async () => {
    await withTempDir(async (dir) => {
      const clock = new ManualClock(START)
      const first = await openFixture(dir, { clock })
      const { proposal } = await first.gov.propose(alice, { kind: 'text', title: 't', payload: { text: '' } })
      await first.gov.submit(alice, proposal)
      await first.gov.shutdown()
      clock.advance(3 * WEEK)
      const second = await openFixture(dir, { clock })
      expect(second.gov.proposal(proposal)?.history.map((h) => [h.state, h.at])).toEqual([
        ['draft', START], ['deliberation', START], ['open', START + WEEK], ['no-quorum', START + 2 * WEEK]
      ])
      expect(clock.pendingTimers).toBe(0)
      await second.gov.shutdown()
    })
  })
})
