// The pure membership timeline and name book: statuses by time, ties, changes, names.
import { signEnvelope } from '@icn/identity'
import { describe, expect, it } from 'vitest'
import { type Charter, type Member, type ProfilePayload, charterHash, MembershipTimeline, NameBook, PROFILE_DOMAIN } from '../src/index.js'
import { alice, bob, carol, key, steward, testCharter } from './fixtures.js'

const dave = key(5)
const T = 1_700_000_000_000

/** The next version of `charter` with `members` (sorted here). */
function next (charter: Charter, members: readonly Member[]): Charter {
  return {
    ...charter,
    version: charter.version + 1,
    previous: charterHash(charter),
    amendedBy: `bafyreiproposal${charter.version}`,
    members: [...members].sort((a, b) => (a.did < b.did ? -1 : 1))
  }
}

const without = (charter: Charter, did: string): Member[] => charter.members.filter((m) => m.did !== did)
const withFrozen = (charter: Charter, did: string, frozen: boolean): Member[] => charter.members.map((m) => (m.did === did ? { ...m, frozen } : m))

describe('MembershipTimeline', () => {
  it('a member added at T is none at T-1 and member from T; removed at T2 is none from T2', () => {
    const v1 = testCharter()
    const v2 = next(v1, [...v1.members, { did: dave.did, role: 'member', frozen: false }])
    const v3 = next(v2, without(v2, dave.did))
    const timeline = new MembershipTimeline(v1)
    expect(timeline.append(v2, T)).toEqual([{ did: dave.did, status: 'member', version: 2 }])
    expect(timeline.append(v3, T + 1000)).toEqual([{ did: dave.did, status: 'none', version: 3 }])
    expect([T - 1, T, T + 999, T + 1000, T + 5000].map((at) => timeline.statusAt(dave.did, at))).toEqual(['none', 'member', 'member', 'none', 'none'])
    expect(timeline.statusAt(alice.did, Number.NEGATIVE_INFINITY)).toBe('member')
    expect(timeline.statusAt(alice.did, T + 5000)).toBe('member')
    expect(timeline.statusAt(key(99).did, T)).toBe('none')
    expect(timeline.statusAt(alice.did, Number.NaN)).toBe('none')
    expect([T - 1, T, T + 1000].map((at) => timeline.versionAt(at))).toEqual([1, 2, 3])
    expect([1, 2, 3, 4].map((v) => timeline.effectiveAt(v))).toEqual([Number.NEGATIVE_INFINITY, T, T + 1000, undefined])
    expect(timeline.version).toBe(3)
    expect(timeline.status(dave.did)).toBe('none')
  })

  it('freeze and unfreeze: frozen between the two executions, member before and after', () => {
    const v1 = testCharter()
    const v2 = next(v1, withFrozen(v1, carol.did, true))
    const v3 = next(v2, withFrozen(v2, carol.did, false))
    const timeline = MembershipTimeline.fromHistory([v1, v2, v3], (c) => (c.version === 2 ? T : T + 86_400_000))
    expect([T - 1, T, T + 86_399_999, T + 86_400_000].map((at) => timeline.statusAt(carol.did, at))).toEqual(['member', 'frozen', 'frozen', 'member'])
    expect(timeline.status(carol.did)).toBe('member')
  })

  it('two versions taking effect at the same ms: the later version wins', () => {
    const v1 = testCharter()
    const v2 = next(v1, withFrozen(v1, bob.did, true))
    const v3 = next(v2, without(v2, bob.did))
    const timeline = MembershipTimeline.fromHistory([v1, v2, v3], () => T)
    expect(timeline.statusAt(bob.did, T - 1)).toBe('member')
    expect(timeline.statusAt(bob.did, T)).toBe('none')
    expect(timeline.versionAt(T)).toBe(3)
  })

  it('a version executed before its predecessor takes effect with the predecessor (a version holds every earlier change)', () => {
    const v1 = testCharter()
    const v2 = next(v1, [...v1.members, { did: dave.did, role: 'member', frozen: false }])
    const v3 = next(v2, withFrozen(v2, alice.did, true))
    const timeline = MembershipTimeline.fromHistory([v1, v2, v3], (c) => (c.version === 2 ? T : T - 500))
    expect(timeline.effectiveAt(3)).toBe(T)
    expect(timeline.statusAt(alice.did, T - 500)).toBe('member')
    expect(timeline.statusAt(alice.did, T)).toBe('frozen')
  })

  it('changesSince lists each DID whose current status differs, sorted, with the latest version', () => {
    const v1 = testCharter()
    const v2 = next(v1, [...withFrozen(v1, carol.did, true), { did: dave.did, role: 'member', frozen: false }])
    const v3 = next(v2, without(v2, steward.did))
    const before = MembershipTimeline.fromHistory([v1], () => T)
    const after = MembershipTimeline.fromHistory([v1, v2, v3], () => T)
    expect(after.changesSince(before)).toEqual([
      { did: carol.did, status: 'frozen', version: 3 },
      { did: dave.did, status: 'member', version: 3 },
      { did: steward.did, status: 'none', version: 3 }
    ].sort((a, b) => (a.did < b.did ? -1 : 1)))
    expect(after.changesSince(after)).toEqual([])
  })

  it('refuses a version out of order', () => {
    const v1 = testCharter()
    const timeline = new MembershipTimeline(v1)
    expect(() => timeline.append(v1, T)).toThrow(RangeError)
    expect(() => new MembershipTimeline(next(v1, v1.members))).toThrow(RangeError)
  })
})

describe('NameBook', () => {
  const profile = (name: string, at: number, signer = alice): ReturnType<typeof signEnvelope<ProfilePayload>> =>
    signEnvelope<ProfilePayload>(PROFILE_DOMAIN, { domain: 'coop:test', name, at }, signer)

  it('the latest profile by (at, cid) wins whatever the order', () => {
    const a = profile('Alice', T)
    const b = profile('Alicia', T + 1)
    const c = profile('Ali', T + 1)
    const [low, high] = [b, c].sort((x, y) => (x.cid < y.cid ? -1 : 1)) as [typeof b, typeof c]
    for (const order of [[a, b, c], [c, b, a], [b, a, c]]) {
      const book = new NameBook()
      for (const envelope of order) book.setProfile(envelope)
      expect(book.nameOf(alice.did)).toBe(high.payload.name)
      expect(book.profile(alice.did)).toBe(high)
    }
    const book = new NameBook()
    expect(book.setProfile(high)).toBe(true)
    expect(book.setProfile(low)).toBe(false)
    expect(book.setProfile(a)).toBe(false)
  })

  it('a granted name holds until a later profile; names() lists every named DID in DID order', () => {
    const book = new NameBook()
    book.grant(dave.did, 'Dave', T)
    book.grant(bob.did, 'Bob', T)
    expect(book.nameOf(dave.did)).toBe('Dave')
    book.setProfile(profile('  Old Dave ', T - 1, dave))
    expect(book.nameOf(dave.did)).toBe('Dave')
    book.setProfile(profile(' David ', T, dave))
    expect(book.nameOf(dave.did)).toBe('David')
    expect(book.nameOf(carol.did)).toBeUndefined()
    expect([...book.names()]).toEqual([[bob.did, 'Bob'], [dave.did, 'David']].sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1)))
    expect(book.profiles().map((p) => p.payload.name)).toEqual([' David '])
  })
})
