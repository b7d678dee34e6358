// The closed network through the Governance handle: network id, membership timeline, change events, names and profiles.
import { type Did, type SignedEnvelope, decode, encode, encodeEnvelope, signEnvelope } from '@icn/identity'
import { ManualClock, withTempDir } from '@icn/testkit'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  type Fixture, advance, alice, bob, carol, key, openFixture, outsider, pass, START, steward, testCharter, WEEK
} from './fixtures.js'
import {
  type MembershipChange, type ProfilePayload, charterHash, CharterMismatchError, CorruptStateError, DAY_MS, ForgedSignatureError,
  InvalidPayloadError, NotAMemberError, networkIdOf, OutsideWindowError, PROFILE_DOMAIN
} from '../src/index.js'

const dave = key(5)
const T2 = START + 2 * WEEK // dave joins
const T3 = T2 + DAY_MS // dave frozen
const T4 = T3 + 2 * WEEK // dave removed

const profile = (signer: typeof alice, name: string, at: number, domain = 'coop:test'): SignedEnvelope<ProfilePayload> =>
  signEnvelope<ProfilePayload>(PROFILE_DOMAIN, { domain, name, at }, signer)

/** Dave joins (named ' Dave D ') at T2 and is frozen at T3; returns the change events seen. */
async function joinAndFreeze (fixture: Fixture): Promise<MembershipChange[]> {
  const seen: MembershipChange[] = []
  fixture.gov.onMembershipChange((c) => seen.push(c))
  await pass(fixture, bob, { kind: 'membership', title: 'Dave joins', payload: { action: 'add', member: dave.did, role: 'member', name: ' Dave D ' } }, [alice, bob, carol])
  await pass(fixture, steward, { kind: 'freeze', title: 'freeze dave', payload: { member: dave.did } }, [steward, alice, bob, carol])
  return seen
}

const sortByDid = <T extends { did: Did }>(list: T[]): T[] => list.sort((a, b) => (a.did < b.did ? -1 : 1))

describe('network id', () => {
  it('is the genesis charter hash, also after the charter changes and after reopening', async () => {
    await withTempDir(async (dir) => {
      const fixture = await openFixture(dir)
      const id = charterHash(testCharter())
      expect(networkIdOf(testCharter())).toBe(id)
      expect(fixture.gov.networkId).toBe(id)
      await joinAndFreeze(fixture)
      expect(fixture.gov.charter().version).toBe(3)
      expect(fixture.gov.networkId).toBe(id)
      await fixture.gov.close()
      const reopened = await openFixture(dir)
      expect(reopened.gov.networkId).toBe(id)
      await reopened.gov.close()
    })
  })
})

describe('membership timeline through the handle', () => {
  it('join, freeze, remove: statuses by execution time, change events after each commit, names', async () => {
    await withTempDir(async (dir) => {
      const fixture = await openFixture(dir)
      const { gov } = fixture
      const seen = await joinAndFreeze(fixture)
      expect(seen).toEqual([{ did: dave.did, status: 'member', version: 2 }, { did: dave.did, status: 'frozen', version: 3 }])
      expect(gov.effects()[0]?.effect).toEqual({ type: 'member-added', member: dave.did, role: 'member', name: 'Dave D' })
      expect(gov.nameOf(dave.did)).toBe('Dave D')
      expect(gov.isMember(dave.did)).toBe(false)
      expect(gov.isMember(alice.did)).toBe(true)
      // A frozen member may still name themself.
      expect(await gov.setName(dave, 'Dave')).toMatchObject({ type: 'profile', proposal: dave.did, status: 'recorded' })
      expect(gov.nameOf(dave.did)).toBe('Dave')

      await pass(fixture, alice, { kind: 'membership', title: 'Dave leaves', payload: { action: 'remove', member: dave.did } }, [alice, bob])
      expect(seen.at(-1)).toEqual({ did: dave.did, status: 'none', version: 4 })
      expect(gov.charter().version).toBe(4)
      const at = [T2 - 1, T2, T3 - 1, T3, T4 - 1, T4, T4 + WEEK]
      expect(at.map((t) => gov.membershipAt(dave.did, t))).toEqual(['none', 'member', 'member', 'frozen', 'frozen', 'none', 'none'])
      expect(at.map((t) => gov.membershipAt(alice.did, t))).toEqual(at.map(() => 'member'))
      expect(gov.membershipAt(outsider.did, T3)).toBe('none')
      expect(gov.isMember(dave.did)).toBe(false)
      // The name stays after leaving; a new profile now is refused, one signed while a member is judged at its time.
      expect(gov.nameOf(dave.did)).toBe('Dave')
      await expect(gov.setName(dave, 'Gone')).rejects.toBeInstanceOf(NotAMemberError)
      expect((await gov.apply(profile(dave, 'Dave (frozen)', T3 + 1))).status).toBe('recorded')
      expect(gov.nameOf(dave.did)).toBe('Dave (frozen)')
      // The injected function is bound and keeps answering after close.
      const { membershipAt, isMember } = gov
      await gov.close()
      expect(membershipAt(dave.did, T3)).toBe('frozen')
      expect(isMember(alice.did)).toBe(true)
    })
  })

  it('an unsubscribed listener hears nothing; a throwing listener is reported and the others still run', async () => {
    await withTempDir(async (dir) => {
      const errors: unknown[] = []
      const fixture = await openFixture(dir, { components: { onError: (err) => errors.push(err) } })
      const quiet: MembershipChange[] = []
      const off = fixture.gov.onMembershipChange((c) => quiet.push(c))
      off()
      fixture.gov.onMembershipChange(() => { throw new Error('listener failed') })
      const seen = await joinAndFreeze(fixture)
      expect(quiet).toEqual([])
      expect(seen).toHaveLength(2)
      expect(errors.map((e) => (e as Error).message)).toEqual(['listener failed', 'listener failed'])
      await fixture.gov.close()
    })
  })
})

describe('profiles', () => {
  it('the latest (at, cid) wins whatever the arrival order; older is superseded, the same is a duplicate', async () => {
    await withTempDir(async (dir) => {
      const a = await openFixture(join(dir, 'a'))
      const b = await openFixture(join(dir, 'b'))
      const local = await a.gov.setName(alice, '  Alice  ')
      expect(local).toMatchObject({ type: 'profile', proposal: alice.did, status: 'recorded' })
      expect(local.envelope.payload).toEqual({ domain: 'coop:test', name: 'Alice', at: START })
      const older = profile(alice, 'Old Alice', START - 1000)
      const tieA = profile(alice, 'Alice A', START + 10)
      const tieB = profile(alice, 'Alice B', START + 10)
      const winner = tieA.cid > tieB.cid ? tieA : tieB
      expect((await a.gov.apply(local.envelope)).status).toBe('duplicate')
      expect((await a.gov.apply(older)).status).toBe('superseded')
      expect(a.gov.nameOf(alice.did)).toBe('Alice')
      for (const e of [tieA, tieB]) await a.gov.apply(e)
      for (const e of [winner === tieA ? tieB : tieA, older, winner, local.envelope, older]) await b.gov.apply(e)
      expect(a.gov.nameOf(alice.did)).toBe(winner.payload.name)
      expect(b.gov.nameOf(alice.did)).toBe(winner.payload.name)
      expect(b.gov.profiles()).toEqual([winner])
      expect(a.gov.profiles()).toEqual([winner])
      expect(await b.gov.exportState()).toEqual(await a.gov.exportState())
      await Promise.all([a.gov.close(), b.gov.close()])
    })
  })

  it('a concurrent burst of one signer\'s profiles keeps the latest', async () => {
    await withTempDir(async (dir) => {
      const { gov } = await openFixture(dir)
      const burst = [profile(bob, 'B3', START - 1), profile(bob, 'B1', START - 3), profile(bob, 'B2', START - 2)]
      const statuses = await Promise.all(burst.map(async (e) => (await gov.apply(e)).status))
      expect(statuses).toEqual(['recorded', 'superseded', 'superseded'])
      expect(gov.nameOf(bob.did)).toBe('B3')
      expect(gov.profiles()).toEqual([burst[0]])
      await gov.close()
    })
  })

  it('check, applyBytes, names(); refuses non-members, future times, bad names, other domains and forgeries', async () => {
    await withTempDir(async (dir) => {
      const { gov } = await openFixture(dir)
      await gov.setName(bob, 'Bob')
      const carolName = profile(carol, '😀'.repeat(64), START)
      expect(gov.check(carolName)).toMatchObject({ type: 'profile', status: 'recorded' })
      expect(gov.nameOf(carol.did)).toBeUndefined()
      expect((await gov.applyBytes(encodeEnvelope(carolName))).status).toBe('recorded')
      expect(gov.nameOf(carol.did)).toBe('😀'.repeat(64))
      expect([...gov.names()]).toEqual([[bob.did, 'Bob'], [carol.did, '😀'.repeat(64)]].sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1)))
      expect(gov.nameOf(alice.did)).toBeUndefined()

      await expect(gov.setName(outsider, 'Mallory')).rejects.toBeInstanceOf(NotAMemberError)
      expect((await gov.apply(profile(alice, 'Soon', START + 60_000))).status).toBe('recorded')
      await expect(gov.apply(profile(alice, 'Later', START + 60_001))).rejects.toBeInstanceOf(OutsideWindowError)
      for (const name of ['', '   ', 'a'.repeat(65), 'a\u0007b', 'line\nbreak', 'tab\there']) {
        await expect(gov.setName(alice, name), JSON.stringify(name)).rejects.toBeInstanceOf(InvalidPayloadError)
      }
      await expect(gov.setName(alice, 42 as unknown as string)).rejects.toBeInstanceOf(InvalidPayloadError)
      await expect(gov.apply(profile(alice, 'Elsewhere', START, 'coop:other'))).rejects.toBeInstanceOf(InvalidPayloadError)
      const good = profile(alice, 'Alice', START + 1)
      const signature = Uint8Array.from(good.signature)
      signature[0] = (signature[0] as number) ^ 1
      await expect(gov.apply({ ...good, signature })).rejects.toBeInstanceOf(ForgedSignatureError)
      await expect(gov.propose(bob, { kind: 'membership', title: 'x', payload: { action: 'add', member: dave.did, role: 'member', name: ' ' } }))
        .rejects.toBeInstanceOf(InvalidPayloadError)
      await expect(gov.propose(bob, { kind: 'membership', title: 'x', payload: { action: 'remove', member: carol.did, name: 'Carol' } as never }))
        .rejects.toBeInstanceOf(InvalidPayloadError)
      expect(gov.nameOf(alice.did)).toBe('Soon')
      expect(gov.proposals()).toEqual([])
      await gov.close()
    })
  })
})

describe('restoreState rebuilds the timeline and names', () => {
  it('restores exact answers and reports every DID whose status changed', async () => {
    await withTempDir(async (dir) => {
      const clock = new ManualClock(START)
      const empty = await (await openFixture(join(dir, 'empty'), { clock })).gov
      const genesisOnly = await empty.exportState()
      await empty.close()
      const source = await openFixture(join(dir, 'src'), { clock })
      await joinAndFreeze(source)
      await source.gov.setName(alice, 'Alice')
      await source.gov.setName(dave, 'Dave')
      const bytes = await source.gov.exportState()
      expect((decode(bytes) as { profiles: unknown[] }).profiles).toHaveLength(2)

      const target = await openFixture(join(dir, 'dst'), { clock })
      const seen: MembershipChange[] = []
      target.gov.onMembershipChange((c) => seen.push(c))
      await target.gov.restoreState(bytes)
      expect(seen).toEqual([{ did: dave.did, status: 'frozen', version: 3 }])
      const times = [START, T2 - 1, T2, T3 - 1, T3, T3 + WEEK]
      for (const did of [dave.did, alice.did, carol.did, outsider.did]) {
        expect(times.map((t) => target.gov.membershipAt(did, t)), did).toEqual(times.map((t) => source.gov.membershipAt(did, t)))
      }
      expect(times.map((t) => target.gov.membershipAt(dave.did, t))).toEqual(['none', 'none', 'member', 'member', 'frozen', 'frozen'])
      expect(target.gov.names()).toEqual(source.gov.names())
      expect(target.gov.nameOf(dave.did)).toBe('Dave')
      expect(target.gov.profiles()).toEqual(source.gov.profiles())
      expect(await target.gov.exportState()).toEqual(bytes)

      // Back to the genesis: dave is no longer a member and nobody has a name.
      await target.gov.restoreState(genesisOnly)
      expect(seen.at(-1)).toEqual({ did: dave.did, status: 'none', version: 1 })
      expect(target.gov.membershipAt(dave.did, T3)).toBe('none')
      expect(target.gov.names()).toEqual(new Map())

      // A v1 document (before profiles) restores with none; the granted name remains.
      const v1 = decode(bytes) as Record<string, unknown>
      delete v1.profiles
      v1.format = 'icn-governance-state/v1'
      await target.gov.restoreState(encode(v1))
      expect(target.gov.profiles()).toEqual([])
      expect([...target.gov.names()]).toEqual([[dave.did, 'Dave D']])
      await Promise.all([source.gov.close(), target.gov.close()])
    })
  })

  it('refuses another network\'s state, bad profiles and unexecuted amending proposals, changing nothing', async () => {
    await withTempDir(async (dir) => {
      const clock = new ManualClock(START)
      const fixture = await openFixture(join(dir, 'a'), { clock })
      const { gov } = fixture
      await pass(fixture, bob, { kind: 'membership', title: 'Dave joins', payload: { action: 'add', member: dave.did, role: 'member' } }, [alice, bob, carol])
      await gov.setName(alice, 'Alice')
      await gov.setName(bob, 'Bob')
      const { proposal: draft } = await gov.propose(carol, { kind: 'text', title: 'draft', payload: { text: '' } })
      const good = await gov.exportState()
      type Doc = { format: string, profiles?: Uint8Array[], charters: Array<Record<string, unknown>> }
      const tampered = (change: (d: Doc) => void): Uint8Array => {
        const copy = decode(good) as Doc
        change(copy)
        return encode(copy)
      }
      const forged = (d: Doc): void => {
        const env = decode(d.profiles![0]!) as Record<string, unknown>
        const signature = Uint8Array.from(env.signature as Uint8Array)
        signature[0] = (signature[0] as number) ^ 1
        d.profiles![0] = encode({ ...env, signature })
      }
      const cases: Array<[string, Uint8Array]> = [
        ['v2 without profiles', tampered((d) => { delete d.profiles })],
        ['v1 with profiles', tampered((d) => { d.format = 'icn-governance-state/v1' })],
        ['profiles not a list', tampered((d) => { (d as Record<string, unknown>).profiles = 'Alice' })],
        ['forged profile', tampered(forged)],
        ['unsorted profiles', tampered((d) => { d.profiles!.reverse() })],
        ['duplicate profile', tampered((d) => { d.profiles!.push(d.profiles![1]!) })],
        ['profile by a non-member', tampered((d) => { d.profiles = [encodeEnvelope(profile(outsider, 'Mallory', START))] })],
        ['profile by a member before joining', tampered((d) => { d.profiles = [encodeEnvelope(profile(dave, 'Early Dave', T2 - 1))] })],
        ['profile of another domain', tampered((d) => { d.profiles = [encodeEnvelope(profile(alice, 'Alice', START, 'coop:other'))] })],
        ['amended by a proposal never executed', tampered((d) => { d.charters[1]!.amendedBy = draft })]
      ]
      for (const [what, bytes] of cases) {
        await expect(gov.restoreState(bytes), what).rejects.toBeInstanceOf(CorruptStateError)
        expect(await gov.exportState(), what).toEqual(good)
      }
      const other = await openFixture(join(dir, 'b'), { clock, charter: testCharter('coop:other') })
      await expect(gov.restoreState(await other.gov.exportState())).rejects.toBeInstanceOf(CharterMismatchError)
      expect(await gov.exportState()).toEqual(good)
      expect(gov.membershipAt(dave.did, T2)).toBe('member')
      expect(sortByDid([...gov.names()].map(([did, name]) => ({ did, name })))).toEqual(sortByDid([{ did: alice.did, name: 'Alice' }, { did: bob.did, name: 'Bob' }]))
      await Promise.all([gov.close(), other.gov.close()])
    })
  })
})
