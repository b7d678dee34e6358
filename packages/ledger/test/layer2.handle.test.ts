// Layer 2: write through the production Ledger handle, close, reopen the storage adapter, same exact values.
import { encode, decode } from '@icn/identity'
import { ManualClock, withTempDir } from '@icn/testkit'
import { expect, test } from 'vitest'
import { LedgerStore, computeStateRoot, openLedger } from '../src/index.js'
import { handEntry, member, payment } from './fixtures.js'

test('L2: state written via openLedger is what the LMDB adapter reads back', async () => {
  await withTempDir(async (dir) => {
    const [a, b, c] = [member(0), member(1), member(2)]
    const ledger = await openLedger({ path: `${dir}/node`, clock: new ManualClock() })
    const e1 = await ledger.pay(a, b.did, 'HOUR', 120n, 'bread')
    const e2 = await ledger.pay(b, c.did, 'HOUR', 20n)
    const remote = handEntry(c, 1, undefined, payment(c.did, a.did, 5n))
    const forged = encode({ ...(decode(handEntry(c, 2, remote.id, payment(c.did, a.did, 1n)).bytes) as object), signature: new Uint8Array(64) })
    expect((await ledger.applyEnvelope(remote.bytes)).status).toBe('applied')
    const q = await ledger.applyEnvelope(forged)
    await ledger.setCreditLimit(b.did, 'HOUR', 9_000n, 'decision-3')
    const root = ledger.stateRoot()
    await ledger.close()

    const store = LedgerStore.open(`${dir}/node`)
    expect(store.getEntry(e1.id)).toEqual(e1.bytes)
    expect(store.getEntry(e2.id)).toEqual(e2.bytes)
    expect(store.getEntry(remote.id)).toEqual(remote.bytes)
    expect(store.entryCount()).toBe(3)
    expect(store.getBalance(a.did, 'HOUR')).toBe(-115n)
    expect(store.getBalance(b.did, 'HOUR')).toBe(100n)
    expect(store.getBalance(c.did, 'HOUR')).toBe(15n)
    expect(store.balances()).toHaveLength(3)
    expect(store.getChain(a.did)).toEqual({ seq: 1, head: e1.id, applied: 1 })
    expect(store.getChain(b.did)).toEqual({ seq: 1, head: e2.id, applied: 1 })
    expect(store.getChain(c.did)).toEqual({ seq: 1, head: remote.id, applied: 1 })
    expect(store.getCredit(b.did, 'HOUR')).toEqual({ known: 100n, volume: 140n })
    expect(store.quarantine()).toEqual([{ id: q.id, reason: 'invalid-signature', detail: 'signature does not verify for the author', chained: false, bytes: forged }])
    expect(store.overrides()).toEqual([{ account: b.did, currency: 'HOUR', limit: 9_000n, reference: 'decision-3' }])
    expect(store.unackedIds(a.did, 10)).toEqual([remote.id])
    expect(computeStateRoot(store.balances(), store.heads())).toBe(root)
    await store.close()
  })
})
