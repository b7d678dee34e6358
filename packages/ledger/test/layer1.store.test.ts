// Layer 1: write through the LMDB storage adapter, close, reopen the adapter, read back exact values.
import { withTempDir } from '@icn/testkit'
import { expect, test } from 'vitest'
import { LedgerStore } from '../src/index.js'
import { handEntry, member, payment } from './fixtures.js'

test('L1: every table written through LedgerStore survives close and reopen', async () => {
  await withTempDir(async (dir) => {
    const [a, b] = [member(0), member(1)]
    const e1 = handEntry(a, 1, undefined, payment(a.did, b.did, 42n))
    const e2 = handEntry(a, 2, e1.id, payment(a.did, b.did, 8n))
    const bad = handEntry(b, 1, undefined, payment(b.did, a.did, 1n))
    const held = handEntry(b, 3, 'bafyreiheldheldheld', payment(b.did, a.did, 2n))
    const store = LedgerStore.open(dir)
    store.transaction(() => {
      store.putEntry(e1.id, e1.bytes)
      store.putEntry(e2.id, e2.bytes)
      store.putSlot(a.did, 1, e1.id)
      store.putSlot(a.did, 2, e2.id)
      store.putChain(a.did, { seq: 2, head: e2.id, applied: 2 })
      store.putBalance(a.did, 'HOUR', -50n)
      store.putBalance(b.did, 'HOUR', 50n)
      store.putBalance(b.did, 'BIG', (1n << 70n))
      store.putCredit(a.did, 'HOUR', { known: -50n, volume: 50n })
      store.putUnacked(b.did, e1.id, new Map([['HOUR', 42n]]))
      store.putHistory(b.did, 1_700_000_000_001, e1.id)
      store.putHistory(b.did, 1_700_000_000_002, e2.id)
      store.putQuarantine({ id: bad.id, reason: 'exceeds-credit-limit', detail: 'HOUR: 0 + (-1) < −0', chained: true, bytes: bad.bytes })
      store.putPending(b.did, 3, held.id, held.bytes)
      store.putWait('bafyreiawaited', b.did)
      store.putFork(e2.id, { author: a.did, seq: 1, first: e1.bytes, second: e2.bytes })
      store.putOverride({ account: a.did, currency: 'HOUR', limit: 777n, reference: 'decision-9' })
      store.putFloor(b.did, 12)
    })
    await store.close()

    const reopened = LedgerStore.open(dir)
    expect(reopened.getEntry(e1.id)).toEqual(e1.bytes)
    expect(reopened.getEntry(e2.id)).toEqual(e2.bytes)
    expect(reopened.entryCount()).toBe(2)
    expect(reopened.getSlot(a.did, 2)).toBe(e2.id)
    expect(reopened.getChain(a.did)).toEqual({ seq: 2, head: e2.id, applied: 2 })
    expect(reopened.heads()).toEqual([{ author: a.did, seq: 2, id: e2.id }])
    expect(reopened.getBalance(a.did, 'HOUR')).toBe(-50n)
    expect(reopened.balances(b.did)).toEqual([
      { account: b.did, currency: 'BIG', balance: 1n << 70n },
      { account: b.did, currency: 'HOUR', balance: 50n }
    ])
    expect(reopened.getCredit(a.did, 'HOUR')).toEqual({ known: -50n, volume: 50n })
    expect(reopened.getCredit(b.did, 'HOUR')).toEqual({ known: 0n, volume: 0n })
    expect(reopened.unackedIds(b.did, 10)).toEqual([e1.id])
    expect(reopened.getUnacked(b.did, e1.id)).toEqual(new Map([['HOUR', 42n]]))
    expect(reopened.historyPage(b.did, undefined, 10)).toEqual([
      { timestamp: 1_700_000_000_001, id: e1.id }, { timestamp: 1_700_000_000_002, id: e2.id }
    ])
    expect(reopened.quarantine()).toEqual([{ id: bad.id, reason: 'exceeds-credit-limit', detail: 'HOUR: 0 + (-1) < −0', chained: true, bytes: bad.bytes }])
    expect(reopened.pending()).toEqual([{ author: b.did, seq: 3, id: held.id, bytes: held.bytes }])
    expect(reopened.takeWaiters('bafyreiawaited')).toEqual([b.did])
    expect(reopened.forks()).toEqual([{ author: a.did, seq: 1, first: e1.bytes, second: e2.bytes }])
    expect(reopened.overrides()).toEqual([{ account: a.did, currency: 'HOUR', limit: 777n, reference: 'decision-9' }])
    expect(reopened.getFloor(b.did)).toBe(12)
    expect(reopened.getFloor(a.did)).toBeUndefined()
    expect(reopened.floors()).toEqual([{ author: b.did, seq: 12 }])
    await reopened.close()
  })
})

test('L1: a transaction that throws writes nothing', async () => {
  await withTempDir(async (dir) => {
    const a = member(0)
    const store = LedgerStore.open(dir)
    expect(() => store.transaction(() => {
      store.putBalance(a.did, 'HOUR', 5n)
      throw new Error('abort')
    })).toThrow('abort')
    await store.close()
    const reopened = LedgerStore.open(dir)
    expect(reopened.getBalance(a.did, 'HOUR')).toBeUndefined()
    await reopened.close()
  })
})

test('L1: entryCount is kept by puts and removals, and counted again after a rolled-back transaction', async () => {
  await withTempDir(async (dir) => {
    const [a, b] = [member(0), member(1)]
    const e1 = handEntry(a, 1, undefined, payment(a.did, b.did, 1n))
    const e2 = handEntry(a, 2, e1.id, payment(a.did, b.did, 2n))
    const e3 = handEntry(a, 3, e2.id, payment(a.did, b.did, 3n))
    const store = LedgerStore.open(dir)
    expect(store.entryCount()).toBe(0)
    store.transaction(() => { store.putEntry(e1.id, e1.bytes); store.putEntry(e2.id, e2.bytes); store.putEntry(e2.id, e2.bytes) })
    expect(store.entryCount()).toBe(2)
    // A put then a throw: the transaction rolls back, and so does the count.
    expect(() => store.transaction(() => { store.putEntry(e3.id, e3.bytes); throw new Error('abort') })).toThrow('abort')
    expect(store.entryCount()).toBe(2)
    await store.transactionAsync(() => { store.removeEntry(e1.id); store.removeEntry('bafyreinotheld') })
    expect(store.entryCount()).toBe(1)
    await store.close()
    const reopened = LedgerStore.open(dir)
    expect(reopened.entryCount()).toBe(1)
    await reopened.close()
  })
})
