import { type Did, type KeyPair, type MembershipAt, encode } from '@icn/identity'
import { ManualClock, withTempDir } from '@icn/testkit'
import { expect, test } from 'vitest'
import { InvalidArgumentError, InvalidStateError, type Ledger, LedgerError, NotAMemberError, openLedger, refusalOf } from '../src/index.js'
import { assertInvariants, handEntry, member, payment } from './fixtures.js'

const [alice, bob, carol, dave, stranger] = [member(0), member(1), member(2), member(3), member(9)] as [KeyPair, KeyPair, KeyPair, KeyPair, KeyPair]
const T0 = 1_700_000_000_000
const at = (ms: number): string => `${T0 + ms} (${new Date(T0 + ms).toISOString()})`

/**
 * The governance timeline of these tests: alice and bob founders; carol frozen over [T0+100, T0+200);
 * dave removed at T0+300; everyone else (stranger) never a member.
 */
const timeline: MembershipAt = (did, time) => {
  if (did === alice.did || did === bob.did) return 'member'
  if (did === carol.did) return time >= T0 + 100 && time < T0 + 200 ? 'frozen' : 'member'
  if (did === dave.did) return time < T0 + 300 ? 'member' : 'none'
  return 'none'
}

/** Everything a refusal must leave untouched. */
const footprint = (l: Ledger): unknown => ({ count: l.entryCount(), root: l.stateRoot(), heads: l.heads(), pending: l.pending(), quarantine: l.quarantine() })

async function withLedger (fn: (ledger: Ledger, clock: ManualClock, dir: string) => Promise<void>, membership: MembershipAt = timeline): Promise<void> {
  await withTempDir(async (dir) => {
    const clock = new ManualClock(T0)
    const ledger = await openLedger({ path: `${dir}/ledger`, clock, membership })
    try {
      await fn(ledger, clock, dir)
      assertInvariants(ledger)
    } finally {
      await ledger.close()
    }
  })
}

test('a stranger author is refused: locally before signing, from a peer with a refused outcome; nothing is stored', async () => {
  await withLedger(async (ledger, clock) => {
    await ledger.pay(alice, bob.did, 'HOUR', 10n)
    const before = footprint(ledger)
    clock.advance(50)
    const err = await ledger.pay(stranger, alice.did, 'HOUR', 5n).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotAMemberError)
    expect(err).toBeInstanceOf(LedgerError)
    expect(err).toMatchObject({
      name: 'NotAMemberError', code: 'NOT_A_MEMBER', did: stranger.did, status: 'none', at: T0 + 50,
      message: `entry refused: author ${stranger.did} is not a member (status 'none') at the entry's timestamp ${at(50)}`
    })
    expect(footprint(ledger)).toEqual(before)
    const remote = handEntry(stranger, 1, undefined, payment(stranger.did, alice.did, 5n), { timestamp: T0 + 50 })
    expect(await ledger.applyEnvelope(remote.bytes)).toEqual({
      id: remote.id, status: 'refused', reason: 'not-a-member', released: [],
      detail: `author ${stranger.did} is not a member (status 'none') at the entry's timestamp ${at(50)}`
    })
    expect(ledger.entry(remote.id)).toBeUndefined()
    expect(footprint(ledger)).toEqual(before)
    // not remembered as seen: offered again it is judged again (not a duplicate)
    expect((await ledger.applyEnvelope(remote.bytes)).status).toBe('refused')
    // a later entry of the stranger's chain is not held for the gap either
    const second = handEntry(stranger, 2, remote.id, payment(stranger.did, alice.did, 1n), { timestamp: T0 + 60 })
    expect((await ledger.applyEnvelope(second.bytes)).status).toBe('refused')
    expect(footprint(ledger)).toEqual(before)
  })
})

test('a payee that is not a member is refused the same way', async () => {
  await withLedger(async (ledger) => {
    const before = footprint(ledger)
    const err = await ledger.pay(alice, stranger.did, 'HOUR', 5n).catch((e: unknown) => e)
    expect(err).toMatchObject({
      name: 'NotAMemberError', did: stranger.did, status: 'none', at: T0,
      message: `entry refused: account ${stranger.did} is not a member (status 'none') at the entry's timestamp ${at(0)}`
    })
    const remote = handEntry(bob, 1, undefined, [...payment(bob.did, alice.did, 3n), ...payment(bob.did, stranger.did, 2n)], { timestamp: T0 + 7 })
    expect(await ledger.applyEnvelope(remote.bytes)).toEqual({
      id: remote.id, status: 'refused', reason: 'not-a-member', released: [],
      detail: `account ${stranger.did} is not a member (status 'none') at the entry's timestamp ${at(7)}`
    })
    expect(footprint(ledger)).toEqual(before)
    expect(ledger.chainHead(alice.did)).toBeUndefined()
  })
})

test('a frozen author is refused for entries dated inside the freeze and accepted for entries dated before it', async () => {
  await withLedger(async (ledger, clock) => {
    const early = handEntry(carol, 1, undefined, payment(carol.did, alice.did, 4n), { timestamp: T0 + 99 })
    const frozen = handEntry(carol, 2, early.id, payment(carol.did, alice.did, 6n), { timestamp: T0 + 150 })
    const thawed = handEntry(carol, 2, early.id, payment(carol.did, alice.did, 8n), { timestamp: T0 + 200 })
    clock.advance(150) // arrival time does not matter: the entry's own timestamp does
    expect((await ledger.applyEnvelope(early.bytes)).status).toBe('applied')
    const before = footprint(ledger)
    expect(await ledger.applyEnvelope(frozen.bytes)).toEqual({
      id: frozen.id, status: 'refused', reason: 'not-a-member', released: [],
      detail: `author ${carol.did} is frozen (status 'frozen') at the entry's timestamp ${at(150)}`
    })
    expect(footprint(ledger)).toEqual(before)
    const local = await ledger.pay(carol, bob.did, 'HOUR', 1n).catch((e: unknown) => e)
    expect(local).toMatchObject({ name: 'NotAMemberError', did: carol.did, status: 'frozen', at: T0 + 150 })
    // paying a frozen member is refused too
    expect(await ledger.pay(alice, carol.did, 'HOUR', 1n).catch((e: unknown) => e)).toMatchObject({ did: carol.did, status: 'frozen' })
    expect(footprint(ledger)).toEqual(before)
    // the slot the refused entry did not use takes the entry dated after the freeze
    expect((await ledger.applyEnvelope(thawed.bytes)).status).toBe('applied')
    expect(ledger.chainHead(carol.did)).toEqual({ author: carol.did, seq: 2, id: thawed.id })
    expect(ledger.balance(carol.did, 'HOUR')).toBe(-12n)
    expect(ledger.balance(alice.did, 'HOUR')).toBe(12n)
  })
})

test('a removed member\'s entries dated before the removal still apply, also on a fresh ledger catching up afterwards', async () => {
  await withLedger(async (ledger, clock, dir) => {
    const paid = await ledger.pay(dave, alice.did, 'HOUR', 20n) // T0: dave is a member
    clock.advance(299)
    const last = await ledger.pay(alice, dave.did, 'HOUR', 5n) // T0+299: still a member
    clock.advance(1)
    expect(await ledger.pay(dave, alice.did, 'HOUR', 1n).catch((e: unknown) => e)).toMatchObject({ did: dave.did, status: 'none', at: T0 + 300 })
    expect(await ledger.pay(alice, dave.did, 'HOUR', 1n).catch((e: unknown) => e)).toMatchObject({ did: dave.did, status: 'none', at: T0 + 300 })
    const after = handEntry(dave, 2, paid.id, payment(dave.did, bob.did, 1n), { timestamp: T0 + 300 })
    expect((await ledger.applyEnvelope(after.bytes)).reason).toBe('not-a-member')
    expect(ledger.balance(dave.did, 'HOUR')).toBe(-15n)

    // history catch-up long after the removal: the fresh ledger already knows it, and judges each entry at its time
    const fresh = await openLedger({ path: `${dir}/fresh`, clock: new ManualClock(T0 + 10_000), membership: timeline })
    try {
      const outcomes = await fresh.applyBatch([paid.bytes, last.bytes, after.bytes], { refuseInvalidSignatures: true })
      expect(outcomes.map((o) => [o.status, o.reason])).toEqual([['applied', undefined], ['applied', undefined], ['refused', 'not-a-member']])
      expect(fresh.stateRoot()).toBe(ledger.stateRoot())
      expect(fresh.balance(dave.did, 'HOUR')).toBe(-15n)
      assertInvariants(fresh)
    } finally {
      await fresh.close()
    }
  })
})

test('a batch with one refused entry applies the rest, each with its own outcome', async () => {
  await withLedger(async (ledger) => {
    const a1 = handEntry(alice, 1, undefined, payment(alice.did, bob.did, 10n), { timestamp: T0 + 1 })
    const bad = handEntry(stranger, 1, undefined, payment(stranger.did, bob.did, 10n), { timestamp: T0 + 2 })
    const a2 = handEntry(alice, 2, a1.id, payment(alice.did, carol.did, 3n), { timestamp: T0 + 3 })
    const outcomes = await ledger.applyBatch([a2.bytes, bad.bytes, a1.bytes])
    expect(outcomes.map((o) => [o.id, o.status, o.reason])).toEqual([[a2.id, 'applied', undefined], [bad.id, 'refused', 'not-a-member'], [a1.id, 'applied', undefined]])
    expect(ledger.entryCount()).toBe(2)
    expect(ledger.balance(alice.did, 'HOUR')).toBe(-13n)
  })
})

test('an entry refused while this node\'s governance was behind is applied when offered again after it caught up', async () => {
  let admitted = false
  const behind: MembershipAt = (did, time) => (did === stranger.did ? (admitted ? 'member' : 'none') : timeline(did, time))
  await withLedger(async (ledger) => {
    const entry = handEntry(stranger, 1, undefined, payment(stranger.did, alice.did, 7n), { timestamp: T0 + 5 })
    const before = footprint(ledger)
    expect((await ledger.applyEnvelope(entry.bytes)).status).toBe('refused')
    expect(footprint(ledger)).toEqual(before)
    admitted = true // the node learns of the admission (at or before T0+5)
    expect(await ledger.applyEnvelope(entry.bytes)).toEqual({ id: entry.id, status: 'applied', released: [] })
    expect(ledger.entryCount()).toBe(1)
    expect(ledger.balance(alice.did, 'HOUR')).toBe(7n)
  }, behind)
})

test('a held entry is judged by the same rule when it is released, and dropped (nothing stored) if refused', async () => {
  let removedAt = Number.MAX_SAFE_INTEGER
  const moving: MembershipAt = (did, time) => (did === bob.did && time >= removedAt ? 'none' : timeline(did, time))
  await withLedger(async (ledger) => {
    const b1 = handEntry(bob, 1, undefined, payment(bob.did, alice.did, 2n), { timestamp: T0 + 10 })
    const b2 = handEntry(bob, 2, b1.id, payment(bob.did, alice.did, 3n), { timestamp: T0 + 20 })
    expect((await ledger.applyEnvelope(b2.bytes)).status).toBe('pending')
    expect(ledger.pending()).toEqual([b2.id])
    removedAt = T0 + 15 // governance catches up: bob was removed between his two entries
    expect(await ledger.applyEnvelope(b1.bytes)).toEqual({ id: b1.id, status: 'applied', released: [b2.id] })
    expect(ledger.pending()).toEqual([])
    expect(ledger.entry(b2.id)).toBeUndefined()
    expect(ledger.quarantine()).toEqual([])
    expect(ledger.chainHead(bob.did)).toEqual({ author: bob.did, seq: 1, id: b1.id })
    expect(ledger.entryCount()).toBe(1)
    removedAt = Number.MAX_SAFE_INTEGER // that removal is undone (say, it was a later charter version)
    expect((await ledger.applyEnvelope(b2.bytes)).status).toBe('applied')
    expect(ledger.balance(bob.did, 'HOUR')).toBe(-5n)
  }, moving)
})

test('a payment to oneself is refused on both paths and cannot grow the credit limit', async () => {
  await withLedger(async (ledger) => {
    const limit = ledger.creditLimit(alice.did, 'HOUR')
    expect(limit).toBe(2500n) // 10,000 × 25 % ramp
    const before = footprint(ledger)
    const self = await ledger.pay(alice, alice.did, 'HOUR', 5n).catch((e: unknown) => e)
    expect(self).toBeInstanceOf(InvalidArgumentError)
    expect((self as Error).message).toBe(`a payment to oneself moves nothing and is refused (payer and payee are both ${alice.did})`)
    expect(((await ledger.pay(alice, bob.did, 'HOUR', 0n).catch((e: unknown) => e)) as Error).message).toBe('a payment of 0 moves nothing and is refused')
    const drafted = await ledger.createEntry(alice, { deltas: [...payment(alice.did, alice.did, 5n), { account: bob.did, currency: 'HOUR', credit: 0n }] }).catch((e: unknown) => e)
    expect(drafted).toBeInstanceOf(InvalidArgumentError)
    expect((drafted as Error).message).toBe(`entry changes no balance but its author's own (${alice.did}): a payment to oneself is refused`)
    // from a peer: ten self-payments would have ramped alice's limit to 10,000; each is refused, nothing stored
    let prev: string | undefined
    for (let seq = 1; seq <= 10; seq++) {
      const remote = handEntry(alice, seq, prev, payment(alice.did, alice.did, 100n), { timestamp: T0 + seq })
      prev = remote.id
      expect(await ledger.applyEnvelope(remote.bytes)).toEqual({
        id: remote.id, status: 'refused', reason: 'self-payment', released: [],
        detail: `entry changes no balance but its author's own (${alice.did}): a payment to oneself is refused`
      })
    }
    expect(footprint(ledger)).toEqual(before)
    expect(ledger.creditLimit(alice.did, 'HOUR')).toBe(2500n)
  }, () => 'member')
})

test('restoreState refuses the former whole-ledger state (entries in it): a cut carries no applied entries', async () => {
  await withLedger(async (ledger) => {
    const self = handEntry(alice, 1, undefined, payment(alice.did, alice.did, 5n))
    const state = encode({ format: 'icn-ledger-state', version: 1, entries: [self.bytes], quarantine: [], pending: [], forks: [], overrides: [] })
    const err = await ledger.restoreState(state).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidStateError)
    expect((err as Error).message).toBe('cut format must be icn-ledger-cut version 1')
    expect(ledger.entryCount()).toBe(0)
  })
})

test('membership that throws refuses (judged again later); a non-function membership is an InvalidArgumentError', async () => {
  const entry = handEntry(alice, 1, undefined, payment(alice.did, bob.did, 1n), { timestamp: T0 })
  expect(refusalOf(entry.entry, () => { throw new Error('governance store closed') })).toEqual({
    reason: 'not-a-member', did: alice.did, status: 'none', at: T0,
    detail: `author ${alice.did} is not a member (status 'none') at the entry's timestamp ${at(0)}; the membership check threw: governance store closed`
  })
  expect(refusalOf(entry.entry, timeline)).toBeUndefined()
  await withTempDir(async (dir) => {
    await expect(openLedger({ path: dir, membership: 'everyone' as unknown as MembershipAt })).rejects.toThrow(InvalidArgumentError)
  })
})

test('by default everyone is a member', async () => {
  await withTempDir(async (dir) => {
    const ledger = await openLedger({ path: dir, clock: new ManualClock(T0) })
    try {
      const paid = await ledger.pay(stranger, dave.did as Did, 'HOUR', 5n)
      expect(paid.entry.seq).toBe(1)
      expect(ledger.balance(dave.did, 'HOUR')).toBe(5n)
    } finally {
      await ledger.close()
    }
  })
})
