import { decode, encode } from '@icn/identity'
import { ManualClock, withTempDir } from '@icn/testkit'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  CharterMismatchError, CorruptStateError, cooperativeCharter, GovernanceClosedError, InvalidCharterError, openGovernance
} from '../src/index.js'
import { advance, alice, bob, carol, openFixture, START, WEEK } from './fixtures.js'

async function populated (dir: string, clock: ManualClock): Promise<{ gov: Awaited<ReturnType<typeof openFixture>>['gov'], open: string, done: string }> {
  const { gov } = await openFixture(dir, { clock })
  const done = (await gov.propose(alice, { kind: 'config-change', title: 'x', payload: { key: 'ui.theme', value: ['dark', 2] } })).proposal
  await gov.submit(alice, done)
  await advance(clock, WEEK)
  for (const k of [alice, bob, carol]) await gov.vote(k, done, 'for')
  const open = (await gov.propose(bob, { kind: 'text', title: 'later', payload: { text: 'y' } })).proposal
  await gov.submit(bob, open)
  await advance(clock, WEEK)
  await gov.vote(carol, open, 'for')
  await gov.vote(bob, open, 'for')
  return { gov, open, done }
}

describe('exportState / restoreState', () => {
  it('restores the exact state into another store; its scheduler then closes the restored open proposal', async () => {
    await withTempDir(async (dir) => {
      const clock = new ManualClock(START)
      const { gov: source, open, done } = await populated(join(dir, 'src'), clock)
      const bytes = await source.exportState()
      expect(decode(bytes)).toMatchObject({ format: 'icn-governance-state/v2', profiles: [] })
      const { gov: target } = await openFixture(join(dir, 'dst'), { clock })
      await target.restoreState(bytes)
      expect(await target.exportState()).toEqual(bytes)
      expect(target.proposal(done)).toEqual(source.proposal(done))
      expect(target.proposal(open)).toEqual(source.proposal(open))
      expect(target.effects()).toEqual([{ seq: 1, proposal: done, at: START + 2 * WEEK, applied: true, effect: { type: 'config-change', key: 'ui.theme', value: ['dark', 2] } }])
      await advance(clock, WEEK)
      expect(target.proposal(open)?.state).toBe('accepted')
      expect(source.proposal(open)?.state).toBe('accepted')
      expect(await target.exportState()).toEqual(await source.exportState())
      await Promise.all([source.close(), target.close()])
    })
  })

  it('refuses corrupt or tampered state with CorruptStateError and changes nothing', async () => {
    await withTempDir(async (dir) => {
      const clock = new ManualClock(START)
      const { gov, open } = await populated(dir, clock)
      const good = await gov.exportState()
      const doc = decode(good) as { votes: Array<Record<string, unknown>>, charters: Array<Record<string, unknown>>, proposals: Array<Record<string, unknown>> }
      const tampered = (change: (d: typeof doc) => void): Uint8Array => {
        const copy = decode(good) as typeof doc
        change(copy)
        return encode(copy)
      }
      const forgedVote = (d: typeof doc): void => {
        const env = decode(d.votes[0]!.envelope as Uint8Array) as Record<string, unknown>
        const signature = Uint8Array.from(env.signature as Uint8Array)
        signature[0] = (signature[0] as number) ^ 1
        d.votes[0]!.envelope = encode({ ...env, signature })
      }
      const cases: Array<[string, Uint8Array]> = [
        ['not CBOR', new Uint8Array([0xff, 0x00, 0x13])],
        ['truncated', good.subarray(0, good.length - 9)],
        ['wrong format', tampered((d) => { (d as unknown as Record<string, unknown>).format = 'other/v9' })],
        ['forged vote signature', tampered(forgedVote)],
        ['vote for unknown proposal', tampered((d) => { d.proposals = d.proposals.filter((p) => p.id !== open) })],
        ['changed vote choice', tampered((d) => { d.votes[0]!.choice = d.votes[0]!.choice === 'for' ? 'against' : 'for' })],
        ['broken charter chain', tampered((d) => { d.charters = [] })],
        ['unknown state', tampered((d) => { d.proposals[0]!.state = 'limbo' })]
      ]
      for (const [what, bytes] of cases) {
        await expect(gov.restoreState(bytes), what).rejects.toBeInstanceOf(CorruptStateError)
        expect(await gov.exportState(), what).toEqual(good)
      }
      await gov.close()
    })
  })
})

describe('opening and closing', () => {
  it('needs a genesis charter for an empty store and refuses a different one later', async () => {
    await withTempDir(async (dir) => {
      await expect(openGovernance({}, { path: dir })).rejects.toBeInstanceOf(InvalidCharterError)
      const { gov } = await openFixture(dir)
      await gov.close()
      const other = cooperativeCharter({ domain: 'coop:other', members: [{ did: alice.did }] })
      await expect(openGovernance({}, { path: dir, charter: other })).rejects.toBeInstanceOf(CharterMismatchError)
      const reopened = await openGovernance({}, { path: dir })
      expect(reopened.domain).toBe('coop:test')
      await reopened.close()
    })
  })

  it('close is idempotent and every later call throws GovernanceClosedError', async () => {
    await withTempDir(async (dir) => {
      const { gov } = await openFixture(dir)
      await Promise.all([gov.close(), gov.shutdown()])
      await gov.close()
      expect(() => gov.charter()).toThrow(GovernanceClosedError)
      expect(() => gov.proposals()).toThrow(GovernanceClosedError)
      await expect(gov.vote(alice, 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', 'for')).rejects.toBeInstanceOf(GovernanceClosedError)
      await expect(gov.exportState()).rejects.toBeInstanceOf(GovernanceClosedError)
    })
  })
})
