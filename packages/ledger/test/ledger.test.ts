import { type Did, type KeyPair, decode, encode, encodeEnvelope, envelopeSigningBytes, sha256, toHex } from '@icn/identity'
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, test, vi } from 'vitest'
import {
  AmountOutOfRangeError, CutNotHeldError, EntryRejectedError, InvalidArgumentError, InvalidStateError, type Ledger, LedgerClosedError,
  LedgerStore, MalformedEntryError, PERMISSIVE_POLICY, computeStateRoot, decodeEntry, decodeLedgerCut, openLedger, proveBalance, verifyBalanceProof
} from '../src/index.js'
import { assertInvariants, handEntry, member, payment } from './fixtures.js'

const [alice, bob, carol] = [member(0), member(1), member(2)] as [KeyPair, KeyPair, KeyPair]

async function withLedgers (fn: (a: Ledger, b: Ledger, clock: ManualClock) => Promise<void>, trust = 0): Promise<void> {
  await withTempDir(async (dir) => {
    const clock = new ManualClock()
    const a = await openLedger({ path: `${dir}/a`, clock, trustOf: () => trust })
    const b = await openLedger({ path: `${dir}/b`, clock, trustOf: () => trust })
    try {
      await fn(a, b, clock)
      assertInvariants(a)
      assertInvariants(b)
    } finally {
      await a.close()
      await b.close()
    }
  })
}

describe('local entries', () => {
  test('payments move exact balances, chain, acks and ids', async () => {
    await withLedgers(async (ledger, _b, clock) => {
      const e1 = await ledger.pay(alice, bob.did, 'HOUR', 100n, 'coffee')
      clock.advance(10)
      const e2 = await ledger.pay(bob, alice.did, 'HOUR', 30n)
      expect(e1.id).toBe(toHex(sha256(e1.bytes)))
      // the signed body sliced out of the wire bytes is exactly what signEnvelope signed
      const wire = decode(e1.bytes) as { domain: string, payload: unknown, signer: string }
      expect(decodeEntry(e1.bytes).body).toEqual(envelopeSigningBytes(wire.domain, wire.payload, wire.signer as never))
      expect(e1.entry).toEqual({
        author: alice.did, seq: 1, timestamp: 1_700_000_000_000, reference: 'coffee', acks: [],
        deltas: [{ account: alice.did, currency: 'HOUR', debit: 100n }, { account: bob.did, currency: 'HOUR', credit: 100n }]
      })
      expect(e2.entry.seq).toBe(1)
      expect(e2.entry.acks).toEqual([e1.id])
      expect(e2.entry.timestamp).toBe(1_700_000_000_010)
      const e3 = await ledger.pay(alice, carol.did, 'HOUR', 5n)
      expect(e3.entry).toMatchObject({ seq: 2, prev: e1.id, acks: [e2.id] })
      expect(ledger.balance(alice.did, 'HOUR')).toBe(-75n)
      expect(ledger.balance(bob.did, 'HOUR')).toBe(70n)
      expect(ledger.balance(carol.did, 'HOUR')).toBe(5n)
      expect(ledger.balance(carol.did, 'OTHER')).toBe(0n)
      expect(ledger.chainHead(alice.did)).toEqual({ author: alice.did, seq: 2, id: e3.id })
      expect(ledger.entry(e2.id)?.bytes).toEqual(e2.bytes)
      expect(ledger.entryCount()).toBe(3)
    })
  })

  test('an entry over the credit limit is rejected and nothing is written', async () => {
    await withLedgers(async (ledger) => {
      // conservative policy, zero trust, first entry: 10,000 × 25 % ramp = 2,500
      expect(ledger.creditLimit(alice.did, 'HOUR')).toBe(2500n)
      const root = ledger.stateRoot()
      const err = await ledger.pay(alice, bob.did, 'HOUR', 2501n).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(EntryRejectedError)
      expect((err as EntryRejectedError).reason).toBe('exceeds-credit-limit')
      expect(ledger.stateRoot()).toBe(root)
      expect(ledger.chainHead(alice.did)).toBeUndefined()
      expect(ledger.quarantine()).toEqual([])
      await ledger.pay(alice, bob.did, 'HOUR', 2500n)
      expect(ledger.balance(alice.did, 'HOUR')).toBe(-2500n)
      // The root is kept between writes and moves with the next one: always what the stored state gives.
      const paid = ledger.stateRoot()
      expect(paid).not.toBe(root)
      expect(paid).toBe(computeStateRoot(ledger.balances(), ledger.heads()))
      expect(ledger.stateRoot()).toBe(paid)
    })
  })

  test('acknowledged credits raise what the author may spend', async () => {
    await withLedgers(async (ledger) => {
      await ledger.pay(alice, bob.did, 'HOUR', 2000n)
      // bob: known 0 + acked 2000, volume 2000 → limit (10,000 + 100) × 25 % = 2,525
      await expect(ledger.pay(bob, carol.did, 'HOUR', 4526n)).rejects.toThrow(EntryRejectedError)
      const paid = await ledger.pay(bob, carol.did, 'HOUR', 4525n)
      expect(paid.entry.acks).toHaveLength(1)
      expect(ledger.balance(bob.did, 'HOUR')).toBe(-2525n)
    })
  })

  test('trust and history raise the limit; the ramp grows with the chain', async () => {
    await withLedgers(async (ledger) => {
      expect(ledger.creditLimit(alice.did, 'HOUR')).toBe(2875n) // (10,000 + 10,000 × 0.5 × 0.3) × 25 %
      for (let i = 0; i < 10; i++) await ledger.pay(alice, bob.did, 'HOUR', 10n)
      expect(ledger.creditLimit(alice.did, 'HOUR')).toBe(11_505n) // fully ramped: 10,000 + 1,500 + 100 × 0.05
    }, 0.5)
  })

  test('governance override replaces the policy limit', async () => {
    await withLedgers(async (ledger) => {
      await ledger.setCreditLimit(alice.did, 'HOUR', 50_000n, 'proposal-7')
      expect(ledger.creditLimit(alice.did, 'HOUR')).toBe(50_000n)
      expect(ledger.overrides()).toEqual([{ account: alice.did, currency: 'HOUR', limit: 50_000n, reference: 'proposal-7' }])
      await ledger.pay(alice, bob.did, 'HOUR', 50_000n)
      expect(ledger.balance(alice.did, 'HOUR')).toBe(-50_000n)
      await expect(ledger.setCreditLimit(alice.did, 'HOUR', -1n, 'x')).rejects.toThrow(InvalidArgumentError)
      await expect(ledger.setCreditLimit(alice.did, 'HOUR', 1n << 63n, 'x')).rejects.toThrow(InvalidArgumentError)
      await expect(ledger.setCreditLimit(alice.did, 'HOUR', 5n, '')).rejects.toThrow(InvalidArgumentError)
      await expect(ledger.setCreditLimit('did:icn:nope' as never, 'HOUR', 5n, 'x')).rejects.toThrow(InvalidArgumentError)
    })
  })

  test('validation hooks reject local and remote entries with a typed reason', async () => {
    await withLedgers(async (source, target) => {
      const remove = target.addValidationHook((entry) => entry.reference === 'weapons'
        ? { ok: false, reason: 'charter-violation', detail: 'charter §3 forbids weapons' }
        : { ok: true })
      const entry = await source.pay(alice, bob.did, 'HOUR', 10n, 'weapons')
      const outcome = await target.applyEnvelope(entry.bytes)
      expect(outcome).toEqual({ id: entry.id, status: 'quarantined', reason: 'charter-violation', detail: 'charter §3 forbids weapons', released: [] })
      expect(target.chainHead(alice.did)).toEqual({ author: alice.did, seq: 1, id: entry.id })
      const local = await target.pay(bob, alice.did, 'HOUR', 1n, 'weapons').catch((e: unknown) => e)
      expect((local as EntryRejectedError).reason).toBe('charter-violation')
      remove()
      expect((await target.pay(bob, alice.did, 'HOUR', 1n, 'weapons')).entry.seq).toBe(1)
      target.addValidationHook(() => { throw new Error('charter store offline') })
      const next = await source.pay(alice, bob.did, 'HOUR', 1n)
      expect(await target.applyEnvelope(next.bytes)).toEqual({ id: next.id, status: 'quarantined', reason: 'rejected-by-hook', detail: 'hook threw: charter store offline', released: [] })
    })
  })

  test('bad arguments are typed errors and write nothing', async () => {
    await withLedgers(async (ledger) => {
      await expect(ledger.pay(alice, bob.did, 'HOUR', -1n)).rejects.toThrow(AmountOutOfRangeError)
      await expect(ledger.pay(alice, bob.did, 'HOUR', 1n << 63n)).rejects.toThrow(AmountOutOfRangeError)
      await expect(ledger.pay(alice, bob.did, 'HOUR', 1.5 as unknown as bigint)).rejects.toThrow(AmountOutOfRangeError)
      await expect(ledger.pay(alice, bob.did, 'HOUR', '5' as unknown as bigint)).rejects.toThrow(MalformedEntryError)
      await expect(ledger.pay(alice, bob.did, 'bad currency', 1n)).rejects.toThrow(InvalidArgumentError)
      await expect(ledger.pay(alice, 'someone' as never, 'HOUR', 1n)).rejects.toThrow(InvalidArgumentError)
      await expect(ledger.createEntry(alice, { deltas: [] })).rejects.toThrow(MalformedEntryError)
      expect(() => ledger.history(alice.did, { limit: 0 })).toThrow(InvalidArgumentError)
      expect(() => ledger.history(alice.did, { after: 'x' })).toThrow(InvalidArgumentError)
      expect(ledger.entryCount()).toBe(0)
      expect(ledger.heads()).toEqual([])
    })
  })
})

describe('remote entries', () => {
  test('applied once, duplicates ignored, gaps held then released in order', async () => {
    await withLedgers(async (source, target) => {
      const e1 = await source.pay(alice, bob.did, 'HOUR', 10n)
      const e2 = await source.pay(alice, bob.did, 'HOUR', 20n)
      const e3 = await source.pay(alice, carol.did, 'HOUR', 30n)
      expect(await target.applyEnvelope(e3.bytes)).toEqual({ id: e3.id, status: 'pending', released: [] })
      expect(await target.applyEnvelope(e2.bytes)).toEqual({ id: e2.id, status: 'pending', released: [] })
      expect(await target.applyEnvelope(e2.bytes)).toEqual({ id: e2.id, status: 'duplicate', released: [] })
      expect(target.pending().sort()).toEqual([e2.id, e3.id].sort())
      expect(await target.applyEnvelope(e1.bytes)).toEqual({ id: e1.id, status: 'applied', released: [e2.id, e3.id] })
      expect(await target.applyEnvelope(e1.bytes)).toEqual({ id: e1.id, status: 'duplicate', released: [] })
      expect(target.pending()).toEqual([])
      expect(target.balance(alice.did, 'HOUR')).toBe(-60n)
      expect(target.stateRoot()).toBe(source.stateRoot())
    })
  })

  test('an entry waits for the entries it acknowledges', async () => {
    await withLedgers(async (source, target) => {
      const e1 = await source.pay(alice, bob.did, 'HOUR', 10n)
      const e2 = await source.pay(bob, carol.did, 'HOUR', 3n)
      expect(e2.entry.acks).toEqual([e1.id])
      expect((await target.applyEnvelope(e2.bytes)).status).toBe('pending')
      expect(await target.applyEnvelope(e1.bytes)).toEqual({ id: e1.id, status: 'applied', released: [e2.id] })
      expect(target.stateRoot()).toBe(source.stateRoot())
    })
  })

  test('a bad signature is quarantined without using the chain slot', async () => {
    await withLedgers(async (source, target) => {
      const e1 = await source.pay(alice, bob.did, 'HOUR', 10n)
      const forged = { ...decodeEnvelopeOf(e1.bytes), signature: new Uint8Array(64).fill(3) }
      const forgedBytes = encode(forged)
      const outcome = await target.applyEnvelope(forgedBytes)
      expect(outcome.status).toBe('quarantined')
      expect(outcome.reason).toBe('invalid-signature')
      expect(target.chainHead(alice.did)).toBeUndefined()
      expect((await target.applyEnvelope(e1.bytes)).status).toBe('applied')
      expect(target.quarantine().map((q) => [q.id, q.reason, q.chained])).toEqual([[outcome.id, 'invalid-signature', false]])
      expect(target.quarantine()[0]?.bytes).toEqual(forgedBytes)
    })
  })

  test('unbalanced and unauthorized entries are quarantined at their chain turn', async () => {
    await withLedgers(async (_source, target) => {
      const unbalanced = handEntry(alice, 1, undefined, [{ account: alice.did, currency: 'HOUR', debit: 5n }, { account: bob.did, currency: 'HOUR', credit: 6n }])
      const stealing = handEntry(alice, 2, unbalanced.id, payment(bob.did, alice.did, 5n))
      const fine = handEntry(alice, 3, stealing.id, payment(alice.did, bob.did, 5n))
      expect((await target.applyEnvelope(unbalanced.bytes)).reason).toBe('unbalanced')
      expect((await target.applyEnvelope(stealing.bytes)).reason).toBe('unauthorized')
      expect((await target.applyEnvelope(fine.bytes)).status).toBe('applied')
      expect(target.chainHead(alice.did)).toEqual({ author: alice.did, seq: 3, id: fine.id })
      expect(target.quarantine().map((q) => [q.reason, q.chained]).sort()).toEqual([['unauthorized', true], ['unbalanced', true]])
      expect(target.balance(bob.did, 'HOUR')).toBe(5n)
      expect(target.creditLimit(alice.did, 'HOUR')).toBe(3250n) // one applied entry in the ramp
    })
  })

  test('over-limit remote entries are quarantined deterministically', async () => {
    await withTempDir(async (dir) => {
      const generous = await openLedger({ path: `${dir}/g`, policy: PERMISSIVE_POLICY })
      const strict = await openLedger({ path: `${dir}/s` })
      const big = await generous.pay(alice, bob.did, 'HOUR', 20_000n)
      const after = await generous.pay(alice, bob.did, 'HOUR', 1n)
      expect((await strict.applyEnvelope(big.bytes)).reason).toBe('exceeds-credit-limit')
      expect((await strict.applyEnvelope(after.bytes)).status).toBe('applied')
      expect(strict.balance(bob.did, 'HOUR')).toBe(1n)
      assertInvariants(strict)
      await generous.close()
      await strict.close()
    })
  })

  test('a fork is detected with a proof holding both signed entries', async () => {
    await withLedgers(async (_source, target) => {
      const one = handEntry(alice, 1, undefined, payment(alice.did, bob.did, 5n))
      const other = handEntry(alice, 1, undefined, payment(alice.did, carol.did, 5n))
      const next = handEntry(alice, 2, other.id, payment(alice.did, carol.did, 1n))
      expect((await target.applyEnvelope(one.bytes)).status).toBe('applied')
      expect((await target.applyEnvelope(other.bytes)).reason).toBe('fork')
      expect((await target.applyEnvelope(next.bytes)).reason).toBe('fork')
      expect(target.forks()).toEqual([{ author: alice.did, seq: 1, first: one.bytes, second: other.bytes }])
      expect(target.balance(carol.did, 'HOUR')).toBe(0n)
    })
  })

  test('malformed input throws a typed error and writes nothing', async () => {
    await withLedgers(async (source, target) => {
      const good = await source.pay(alice, bob.did, 'HOUR', 10n)
      const envelope = decodeEnvelopeOf(good.bytes)
      const withPayload = (payload: unknown): Uint8Array => encode({ ...envelope, payload })
      const payload = envelope.payload as Record<string, unknown>
      const deltas = payload.deltas as Array<Record<string, unknown>>
      const cases: Array<[Uint8Array, new (...args: never[]) => Error]> = [
        [Uint8Array.of(1, 2, 3), MalformedEntryError],
        [encode({ ...envelope, domain: 'icn/other' }), MalformedEntryError],
        [withPayload({ ...payload, seq: 0 }), MalformedEntryError],
        [withPayload({ ...payload, extra: 1 }), MalformedEntryError],
        [withPayload({ ...payload, deltas: [{ ...deltas[0], debit: (1n << 63n) }, deltas[1]] }), AmountOutOfRangeError],
        [withPayload({ ...payload, deltas: [{ ...deltas[0], debit: -1 }, deltas[1]] }), AmountOutOfRangeError],
        [withPayload({ ...payload, deltas: [{ ...deltas[0], debit: 'ten' }, deltas[1]] }), MalformedEntryError],
        [withPayload({ ...payload, author: bob.did }), MalformedEntryError]
      ]
      for (const [bytes, type] of cases) {
        await expect(target.applyEnvelope(bytes)).rejects.toThrow(type)
        await expect(target.applyBatch([good.bytes, bytes])).rejects.toThrow(type)
      }
      expect(target.entryCount()).toBe(0)
      expect(target.quarantine()).toEqual([])
      expect(target.pending()).toEqual([])
    })
  })

  test('a batch within one chunk applies in one transaction with per-entry outcomes', async () => {
    await withLedgers(async (source, target) => {
      const e1 = await source.pay(alice, bob.did, 'HOUR', 10n)
      const e2 = await source.pay(bob, alice.did, 'HOUR', 4n)
      const outcomes = await target.applyBatch([e2.bytes, e1.bytes, e1.bytes])
      // e2 acknowledges e1; same timestamp, so the author order decides which is applied first
      const e2First = bob.did < alice.did
      expect(outcomes.map((o) => o.status)).toEqual([e2First ? 'pending' : 'applied', 'applied', 'duplicate'])
      expect(outcomes[1]?.released).toEqual(e2First ? [e2.id] : [])
      expect(target.stateRoot()).toBe(source.stateRoot())
    })
  })

  test('a batch is applied in (timestamp, author, seq) order: an entry after the ones it acknowledges, nothing held', async () => {
    await withLedgers(async (source, target, clock) => {
      const chain = await backAndForth(source, clock, 5, [10n, 3n])
      // reversed input: applied one at a time it would hold 9 of the 10 entries as pending
      const reversed = [...chain].reverse()
      const outcomes = await target.applyBatch(reversed)
      expect(outcomes.map((o) => o.status)).toEqual(reversed.map(() => 'applied'))
      expect(outcomes.map((o) => o.id)).toEqual(reversed.map((b) => decodeEntry(b).id))
      expect(outcomes.every((o) => o.released.length === 0)).toBe(true)
      expect(target.pending()).toEqual([])
      expect(target.stateRoot()).toBe(source.stateRoot())
    })
  })

  test('a batch larger than a chunk commits 128 entries at a time, in order, and answers in input order', async () => {
    await withLedgers(async (source, target, clock) => {
      const chain = await backAndForth(source, clock, 150, [1n, 1n])
      const reversed = [...chain].reverse()
      // What the ledger shows between macrotasks while the batch is in flight: whole chunks only.
      const seen = new Set<number>()
      let done = false
      const watch = (): void => { if (done) return; seen.add(target.entryCount()); setImmediate(watch) }
      watch()
      const transactions = vi.spyOn(LedgerStore.prototype, 'transactionAsync')
      const outcomes = await target.applyBatch(reversed).finally(() => { done = true })
      const commits = transactions.mock.calls.length
      transactions.mockRestore()
      // One child transaction per chunk of 128: 300 entries take three.
      expect(commits).toBe(3)
      expect(outcomes.map((o) => o.status)).toEqual(reversed.map(() => 'applied'))
      expect(outcomes.map((o) => o.id)).toEqual(reversed.map((b) => decodeEntry(b).id))
      expect([...seen].filter((n) => ![0, 128, 256, 300].includes(n))).toEqual([])
      expect(target.entryCount()).toBe(300)
      expect(target.pending()).toEqual([])
      expect(target.stateRoot()).toBe(source.stateRoot())
    })
  })

  test('refuseInvalidSignatures: a forged entry is answered refused and nothing of it is written', async () => {
    await withLedgers(async (source, target) => {
      const e1 = await source.pay(alice, bob.did, 'HOUR', 10n)
      const forged = encode({ ...(decode(e1.bytes) as Record<string, unknown>), signature: new Uint8Array(64).fill(7) })
      const forgedId = decodeEntry(forged).id
      const outcomes = await target.applyBatch([forged], { refuseInvalidSignatures: true })
      expect(outcomes).toEqual([{ id: forgedId, status: 'refused', reason: 'invalid-signature', detail: 'signature does not verify for the author', released: [] }])
      expect(target.quarantine()).toEqual([])
      expect(target.entryCount()).toBe(0)
      // the genuine entry still applies afterwards
      expect((await target.applyBatch([e1.bytes], { refuseInvalidSignatures: true }))[0]?.status).toBe('applied')
    })
  })

  test('concurrent writes share commits (group commit) and keep each chain contiguous', async () => {
    await withLedgers(async (ledger) => {
      await ledger.setCreditLimit(alice.did, 'HOUR', 1_000_000n, 'test')
      const records = await Promise.all(Array.from({ length: 50 }, async (_, i) => await ledger.pay(alice, bob.did, 'HOUR', BigInt(i + 1))))
      expect(records.map((r) => r.entry.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
      expect(records.slice(1).map((r) => r.entry.prev)).toEqual(records.slice(0, -1).map((r) => r.id))
      expect(ledger.balance(bob.did, 'HOUR')).toBe(1275n)
      // a refused local entry among concurrent ones rolls back alone
      const [ok, refused] = await Promise.allSettled([ledger.pay(bob, carol.did, 'HOUR', 5n), ledger.pay(carol, bob.did, 'HOUR', 1_000_000n)])
      expect(ok.status).toBe('fulfilled')
      expect(refused.status === 'rejected' && refused.reason instanceof EntryRejectedError).toBe(true)
      expect(ledger.chainHead(carol.did)).toBeUndefined()
      expect(ledger.balance(carol.did, 'HOUR')).toBe(5n)
    })
  })
})

describe('serving history', () => {
  test('chainRange serves an author\'s chain from a slot, bounded by limit and bytes; heads page by author', async () => {
    await withLedgers(async (source, target, clock) => {
      await source.setCreditLimit(alice.did, 'HOUR', 1_000_000n, 'test')
      const mine: Uint8Array[] = []
      for (let i = 0; i < 7; i++) mine.push((await source.pay(alice, bob.did, 'HOUR', 1n)).bytes)
      clock.advance(1)
      const theirs = await source.pay(bob, carol.did, 'HOUR', 2n)
      expect(source.chainRange(alice.did, 1)).toEqual({ author: alice.did, from: 1, entries: mine })
      expect(source.chainRange(alice.did, 3, { limit: 2 })).toEqual({ author: alice.did, from: 3, entries: mine.slice(2, 4) })
      expect(source.chainRange(alice.did, 2, { maxBytes: (mine[1] as Uint8Array).length * 2 + 1 }).entries).toEqual(mine.slice(1, 3))
      // at least one entry even when it alone exceeds maxBytes; nothing past the head
      expect(source.chainRange(alice.did, 7, { maxBytes: 1 }).entries).toEqual([mine[6]])
      expect(source.chainRange(alice.did, 8).entries).toEqual([])
      expect(source.chainRange(bob.did, 1).entries).toEqual([theirs.bytes])
      expect(() => source.chainRange(alice.did, 0)).toThrow(InvalidArgumentError)
      expect(() => source.chainRange(alice.did, 1, { limit: 10_001 })).toThrow(InvalidArgumentError)
      const heads = source.heads()
      expect(heads.map((h) => h.author)).toEqual([alice.did, bob.did].sort())
      expect(source.heads({ limit: 1 })).toEqual([heads[0]])
      expect(source.heads({ after: heads[0]?.author, limit: 5 })).toEqual([heads[1]])
      expect(source.heads({ after: heads[1]?.author })).toEqual([])
      // a peer replaying both chains in one batch reaches the same state
      await target.setCreditLimit(alice.did, 'HOUR', 1_000_000n, 'test')
      const outcomes = await target.applyBatch([...source.chainRange(bob.did, 1).entries, ...source.chainRange(alice.did, 1).entries], { refuseInvalidSignatures: true })
      expect(outcomes.map((o) => o.status)).toEqual(Array.from({ length: 8 }, () => 'applied'))
      expect(target.stateRoot()).toBe(source.stateRoot())
    })
  })

  test('a large batch verified on a worker thread gives the same verdicts', async () => {
    await withTempDir(async (dir) => {
      const source = await openLedger({ path: `${dir}/source` })
      await source.setCreditLimit(alice.did, 'HOUR', 1_000_000n, 'bench')
      const entries: Uint8Array[] = []
      for (let i = 0; i < 80; i++) entries.push((await source.pay(alice, bob.did, 'HOUR', BigInt(i + 1))).bytes)
      const forged = encode({ ...decodeEnvelopeOf(entries[79] as Uint8Array), signature: new Uint8Array(64).fill(1) })
      const parallel = await openLedger({ path: `${dir}/parallel`, verifyWorkers: 1 })
      await parallel.setCreditLimit(alice.did, 'HOUR', 1_000_000n, 'bench')
      // a malformed entry late in the batch, while earlier chunks are already on the worker: nothing is written
      await expect(parallel.applyBatch([...entries.slice(0, 70), Uint8Array.of(1, 2, 3), ...entries.slice(70)])).rejects.toThrow(MalformedEntryError)
      expect(parallel.entryCount()).toBe(0)
      const outcomes = await parallel.applyBatch([forged, ...entries])
      expect(outcomes[0]?.reason).toBe('invalid-signature')
      expect(outcomes.slice(1).every((o) => o.status === 'applied')).toBe(true)
      expect(parallel.stateRoot()).toBe(source.stateRoot())
      // leading chunks of duplicates (never verified), then new entries claimed past them
      const more: Uint8Array[] = []
      for (let i = 0; i < 40; i++) more.push((await source.pay(alice, bob.did, 'HOUR', 1n)).bytes)
      const again = await parallel.applyBatch([...entries, ...more])
      expect(again.map((o) => o.status)).toEqual([...entries.map(() => 'duplicate'), ...more.map(() => 'applied')])
      expect(parallel.stateRoot()).toBe(source.stateRoot())
      await parallel.close()
      await source.close()
      await expect(openLedger({ path: `${dir}/x`, verifyWorkers: -1 })).rejects.toThrow(InvalidArgumentError)
    })
  })
})

describe('queries and state', () => {
  test('history pages through an account by timestamp', async () => {
    await withLedgers(async (ledger, _b, clock) => {
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        clock.advance(1000)
        ids.push((await ledger.pay(alice, bob.did, 'HOUR', BigInt(i + 1))).id)
      }
      const first = ledger.history(bob.did, { limit: 2 })
      expect(first.entries.map((e) => e.id)).toEqual(ids.slice(0, 2))
      const second = ledger.history(bob.did, { limit: 2, after: first.next })
      expect(second.entries.map((e) => e.id)).toEqual(ids.slice(2, 4))
      const third = ledger.history(bob.did, { limit: 2, after: second.next })
      expect(third).toEqual({ entries: [ledger.entry(ids[4] as string)] })
      expect(ledger.history(carol.did)).toEqual({ entries: [] })
    })
  })

  test('export → restore rolls a ledger holding the same chains back to the cut, byte for byte', async () => {
    await withLedgers(async (source, target) => {
      await source.setCreditLimit(carol.did, 'HOUR', 9n, 'decision-1')
      const e1 = await source.pay(alice, bob.did, 'HOUR', 10n)
      const e2 = await source.pay(bob, carol.did, 'HOUR', 4n)
      const fork = handEntry(alice, 1, undefined, payment(alice.did, carol.did, 5n))
      await source.applyEnvelope(fork.bytes)
      const gap = handEntry(carol, 3, 'bafyreigapgapgapgapgap', payment(carol.did, alice.did, 1n))
      await source.applyEnvelope(gap.bytes)
      const waiting = handEntry(carol, 1, undefined, payment(carol.did, alice.did, 1n), { acks: ['bafyreinotyetseen'] })
      await source.applyEnvelope(waiting.bytes)
      const state = await source.exportState()
      // the target received the same entries from peers, then went on: the restore takes it back
      await target.applyBatch([e1.bytes, e2.bytes, fork.bytes, gap.bytes, waiting.bytes])
      const later = await target.pay(alice, bob.did, 'HOUR', 2n)
      await target.setCreditLimit(alice.did, 'HOUR', 1n, 'decision-2')
      await target.restoreState(state)
      expect(await target.exportState()).toEqual(state)
      expect(target.stateRoot()).toBe(source.stateRoot())
      expect(target.balances()).toEqual(source.balances())
      expect(target.heads()).toEqual(source.heads())
      expect(target.quarantine()).toEqual(source.quarantine())
      expect(target.forks()).toEqual(source.forks())
      expect(target.pending().sort()).toEqual([gap.id, waiting.id].sort())
      expect(target.overrides()).toEqual(source.overrides())
      expect(target.entry(e1.id)?.bytes).toEqual(e1.bytes)
      expect(target.entry(later.id)).toBeUndefined()
      expect(target.entryCount()).toBe(2)
      expect(target.history(bob.did).entries.map((e) => e.id).sort()).toEqual([e1.id, e2.id].sort())
      expect(target.chainFloors()).toEqual([{ author: alice.did, head: 1, floor: 2 }])
      expect(target.creditLimit(bob.did, 'HOUR')).toBe(source.creditLimit(bob.did, 'HOUR'))
      // the restored ledger keeps working: bob's next entry links to his restored chain, and the entry
      // rolled back comes back as a peer resends it
      const next = await target.pay(bob, alice.did, 'HOUR', 1n)
      expect(next.entry.prev).toBe(source.chainHead(bob.did)?.id)
      expect((await target.applyEnvelope(later.bytes)).status).toBe('applied')
      expect(target.chainFloors()).toEqual([])
    })
  })

  test('the cut holds heads, balances and a balance root, not entries; each balance has a proof', async () => {
    await withLedgers(async (ledger) => {
      const cuts: number[] = []
      for (let round = 1; round <= 3; round++) {
        for (let i = 0; i < 20; i++) {
          await ledger.pay(alice, bob.did, 'HOUR', 3n)
          await ledger.pay(bob, carol.did, 'HOUR', 2n)
          await ledger.pay(carol, alice.did, 'HOUR', 1n)
        }
        cuts.push((await ledger.exportState()).length)
      }
      // 60, 120, 180 entries: the cut's size does not follow them (seqs and balances may take a byte or a digit more; each author's
      // next entry acknowledges what it was paid, so unacknowledged credits stay one per payee)
      expect(Math.max(...cuts) - Math.min(...cuts)).toBeLessThanOrEqual(16)
      const bytes = await ledger.exportState()
      const cut = decodeLedgerCut(bytes)
      expect(cut.heads).toEqual(ledger.heads().map((h) => ({ ...h, applied: h.seq })))
      expect(cut.balances).toEqual(ledger.balances())
      expect(cut.balances.map((b) => [b.account, b.balance])).toEqual(
        [[alice.did, -120n], [bob.did, 60n], [carol.did, 60n]].sort(([a], [b]) => ((a as string) < (b as string) ? -1 : 1)))
      expect(cut.pending).toEqual([])
      for (const b of cut.balances) {
        const proof = proveBalance(bytes, b.account, b.currency)
        expect(proof).toMatchObject({ account: b.account, currency: 'HOUR', balance: b.balance, leafCount: 3, root: cut.balanceRoot })
        expect(verifyBalanceProof(proof, cut.balanceRoot)).toBe(true)
        expect(verifyBalanceProof({ ...proof, balance: proof.balance + 1n }, cut.balanceRoot)).toBe(false)
        expect(verifyBalanceProof(proof, new Uint8Array(32))).toBe(false)
      }
      expect(() => proveBalance(cut, alice.did, 'EUR')).toThrow(new InvalidArgumentError(`the cut holds no EUR balance of ${alice.did}`))
    })
  })

  test('restore refuses bad state with a typed error and changes nothing', async () => {
    await withLedgers(async (source, target) => {
      await source.pay(alice, bob.did, 'HOUR', 10n)
      const waiting = handEntry(carol, 1, undefined, payment(carol.did, alice.did, 1n), { acks: ['bafyreinotyetseen'] })
      await source.applyEnvelope(waiting.bytes)
      await target.pay(carol, alice.did, 'HOUR', 2n)
      const before = await target.exportState()
      const good = await source.exportState()
      const state = decode(good) as Record<string, unknown>
      const page = decode((state.balances as Uint8Array[])[0] as Uint8Array) as string[][]
      const tampered = page.map((row) => (row[0] === bob.did ? [row[0], row[1], '11'] : row))
      const envelope = decodeEnvelopeOf(waiting.bytes)
      const bad: Array<[unknown, string]> = [
        [Uint8Array.of(0xff), 'cut is not canonical DAG-CBOR'],
        [encode({ ...state, version: 2 }), 'cut format must be icn-ledger-cut version 1'],
        [encode({ format: 'icn-ledger-state', version: 1, entries: [], quarantine: [], pending: [], forks: [], overrides: [] }), 'cut format must be icn-ledger-cut version 1'],
        [encode({ ...state, extra: 1 }), 'cut must have exactly the fields'],
        [encode({ ...state, balanceRoot: new Uint8Array(32) }), 'balanceRoot does not recompute from the balances'],
        [encode({ ...state, balances: [encode(tampered)] }), 'balanceRoot does not recompute from the balances'],
        [encode({ ...state, balances: [encode([...page].reverse())] }), 'is out of order or repeated'],
        [encode({ ...state, pending: [encode({ ...envelope, signature: new Uint8Array(64) })] }), 'signature does not verify'],
        [encode({ ...state, quarantine: [{ reason: 'bogus', detail: '', chained: false, bytes: waiting.bytes }] }), 'must have a known reason'],
        [encode({ ...state, overrides: [{ account: alice.did, currency: 'HOUR', limit: '-1', reference: 'x' }] }), 'needs a limit in'],
        ['not bytes', 'cut must be bytes']
      ]
      for (const [bytes, message] of bad) {
        const err = await target.restoreState(bytes as Uint8Array).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(InvalidStateError)
        expect((err as Error).message).toContain(message)
      }
      // a well-formed cut of chains this ledger does not hold: typed, exact, nothing changed (checkCut says so first)
      await expect(target.checkCut(good)).rejects.toThrow(CutNotHeldError)
      await expect(target.checkCut(Uint8Array.of(0xff))).rejects.toThrow(InvalidStateError)
      await expect(source.checkCut(good)).resolves.toBeUndefined()
      const err = await target.restoreState(good).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(CutNotHeldError)
      expect((err as CutNotHeldError).missing).toEqual([{ author: alice.did, seq: 1, held: 0 }])
      expect((err as Error).message).toBe(`this ledger does not hold the cut's chain heads: ${alice.did} entry 1 (holds 0); fetch those chains from a peer (history sync) and restore again`)
      expect(await target.exportState()).toEqual(before)
    })
  })

  test('after a restore moved its chain back, an author cannot fork it; its own later entries bring it back', async () => {
    await withTempDir(async (dir) => {
      const ledger = await openLedger({ path: `${dir}/a`, clock: new ManualClock() })
      await ledger.pay(alice, bob.did, 'HOUR', 1n)
      const snapshot = await ledger.exportState()
      const later = [await ledger.pay(alice, bob.did, 'HOUR', 2n), await ledger.pay(alice, bob.did, 'HOUR', 3n)]
      await ledger.restoreState(snapshot)
      expect(ledger.chainHead(alice.did)?.seq).toBe(1)
      const refused = ledger.pay(alice, bob.did, 'HOUR', 4n)
      await expect(refused).rejects.toThrow(EntryRejectedError)
      await expect(refused).rejects.toThrow(`this ledger held ${alice.did}'s entry 3 before a restore moved the chain back to 1: ` +
        'a new entry now would fork the chain; wait until entries up to 3 arrive again')
      expect(ledger.entryCount()).toBe(1)
      expect(ledger.chainFloors()).toEqual([{ author: alice.did, head: 1, floor: 3 }])
      await ledger.pay(bob, alice.did, 'HOUR', 1n) // other authors are not held back
      // the floor survives a restart, and the entries coming back (as peers resend them) lift it
      await ledger.close()
      const reopened = await openLedger({ path: `${dir}/a`, clock: new ManualClock() })
      await expect(reopened.pay(alice, bob.did, 'HOUR', 4n)).rejects.toThrow(EntryRejectedError)
      expect((await reopened.applyBatch(later.map((e) => e.bytes))).map((o) => o.status)).toEqual(['applied', 'applied'])
      expect(reopened.chainFloors()).toEqual([])
      const next = await reopened.pay(alice, bob.did, 'HOUR', 4n)
      expect(next.entry.seq).toBe(4)
      expect(next.entry.prev).toBe(later[1]?.id)
      await reopened.close()
    })
  })

  test('an operator can release a floor whose entries are lost; if they turn up later they are forks', async () => {
    await withTempDir(async (dir) => {
      const ledger = await openLedger({ path: `${dir}/a`, clock: new ManualClock() })
      const first = await ledger.pay(alice, bob.did, 'HOUR', 1n)
      const snapshot = await ledger.exportState()
      const lost = [await ledger.pay(alice, bob.did, 'HOUR', 2n), await ledger.pay(alice, bob.did, 'HOUR', 3n)]
      await ledger.restoreState(snapshot)
      // wrong arguments and authors that are not held back are typed errors that change nothing
      await expect(ledger.releaseChainFloor(alice.did, '')).rejects.toThrow(new InvalidArgumentError('releasing a chain floor needs a reference (who decided it and why)'))
      await expect(ledger.releaseChainFloor('did:icn:nope' as Did, 'x')).rejects.toThrow(InvalidArgumentError)
      await expect(ledger.releaseChainFloor(bob.did, 'ops ticket 7')).rejects.toThrow(new InvalidArgumentError(`${bob.did}'s chain is not held back by a restore floor`))
      expect(ledger.chainFloors()).toEqual([{ author: alice.did, head: 1, floor: 3 }])

      expect(await ledger.releaseChainFloor(alice.did, 'ops ticket 7: entries 2-3 lost with the old disk')).toEqual({ author: alice.did, head: 1, floor: 3 })
      expect(ledger.chainFloors()).toEqual([])
      await expect(ledger.releaseChainFloor(alice.did, 'again')).rejects.toThrow(InvalidArgumentError)
      const resumed = await ledger.pay(alice, bob.did, 'HOUR', 5n)
      expect(resumed.entry.seq).toBe(2)
      expect(resumed.entry.prev).toBe(first.id)
      // the release survives a restart
      await ledger.close()
      const reopened = await openLedger({ path: `${dir}/a`, clock: new ManualClock() })
      expect(reopened.chainFloors()).toEqual([])
      // the lost entries reappear: seq 2 conflicts with the new entry 2, seq 3 does not follow it
      const outcomes = await reopened.applyBatch(lost.map((e) => e.bytes))
      expect(outcomes.map((o) => [o.status, o.reason])).toEqual([['quarantined', 'fork'], ['quarantined', 'fork']])
      expect(reopened.forks()).toEqual([{ author: alice.did, seq: 2, first: resumed.bytes, second: lost[0]?.bytes }])
      expect(reopened.balance(bob.did, 'HOUR')).toBe(6n)
      expect(reopened.chainHead(alice.did)).toEqual({ author: alice.did, seq: 2, id: resumed.id })
      await reopened.close()
    })
  })

  test('a closed ledger refuses calls; close is idempotent', async () => {
    await withTempDir(async (dir) => {
      const ledger = await openLedger({ path: dir })
      await ledger.close()
      await ledger.shutdown()
      expect(() => ledger.balance(alice.did, 'HOUR')).toThrow(LedgerClosedError)
      await expect(ledger.pay(alice, bob.did, 'HOUR', 1n)).rejects.toThrow(LedgerClosedError)
      await expect(ledger.exportState()).rejects.toThrow(LedgerClosedError)
    })
  })
})

/** `rounds` × (alice pays bob, bob pays alice), 1 ms apart: each payment acknowledges the one before it. */
async function backAndForth (source: Ledger, clock: ManualClock, rounds: number, [toBob, toAlice]: [bigint, bigint]): Promise<Uint8Array[]> {
  const chain: Uint8Array[] = []
  for (let i = 0; i < rounds; i++) {
    chain.push((await source.pay(alice, bob.did, 'HOUR', toBob)).bytes)
    clock.advance(1)
    chain.push((await source.pay(bob, alice.did, 'HOUR', toAlice)).bytes)
    clock.advance(1)
  }
  return chain
}

function decodeEnvelopeOf (bytes: Uint8Array): { domain: string, payload: unknown, signer: string, signature: Uint8Array } {
  const value = decode(bytes) as { domain: string, payload: unknown, signer: string, signature: Uint8Array }
  expect(encodeEnvelope({ ...value, cid: '' } as never)).toEqual(bytes)
  return value
}

describe('decoded once', () => {
  test('a SignedEntry from decodeEntry is frozen and comes back from decodeEntry as it is; applyEnvelope takes it', async () => {
    await withLedgers(async (source, target) => {
      const e1 = await source.pay(alice, bob.did, 'HOUR', 10n)
      const decoded = decodeEntry(e1.bytes)
      expect(decodeEntry(decoded)).toBe(decoded)
      expect(Object.isFrozen(decoded) && Object.isFrozen(decoded.entry) && Object.isFrozen(decoded.entry.deltas) && Object.isFrozen(decoded.entry.deltas[0])).toBe(true)
      // a look-alike object is decoded from its fields, not trusted
      const lookalike = { ...decoded }
      expect(() => decodeEntry(lookalike as never)).toThrow(MalformedEntryError)
      expect(await target.applyEnvelope(decoded)).toEqual({ id: e1.id, status: 'applied', released: [] })
      expect(target.stateRoot()).toBe(source.stateRoot())
    })
  })
})
