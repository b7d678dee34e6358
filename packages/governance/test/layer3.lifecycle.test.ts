// Layer 3: shutdown() awaits the scheduler and closes LMDB; a fresh handle in the same process restores exact state and resumes.
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { type EffectRecord, DAY_MS } from '../src/index.js'
import { advance, alice, bob, carol, openFixture, START, steward, WEEK } from './fixtures.js'

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
      await advance(clock, WEEK)
      await first.gov.vote(alice, open, 'for')
      await first.gov.vote(bob, open, 'for')
      const before = {
        charters: first.gov.charterHistory(),
        done: first.gov.proposal(done),
        open: first.gov.proposal(open),
        votes: first.gov.votes(open),
        effects: first.gov.effects(),
        state: await first.gov.exportState()
      }
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
      expect(await second.gov.exportState()).toEqual(before.state)
      expect(clock.pendingTimers).toBe(1)

      const seen: EffectRecord[] = []
      second.gov.onEffect((e) => seen.push(e))
      await advance(clock, WEEK)
      expect(second.gov.proposal(open)?.state).toBe('executed')
      expect(seen).toEqual([{
        seq: 2, proposal: open, at: START + DAY_MS + 2 * WEEK, applied: true,
        effect: { type: 'config-change', key: 'ledger.creditLimit', value: { currency: 'hours', limit: '900' }, subject: bob.did }
      }])
      await second.gov.shutdown()
      expect(clock.pendingTimers).toBe(0)
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
