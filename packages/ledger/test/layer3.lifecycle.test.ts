// Layer 3: shutdown() a handle, open a fresh handle on the same path in the same process, exact state.
import { ManualClock, withTempDir } from '@icn/testkit'
import { expect, test } from 'vitest'
import { openLedger } from '../src/index.js'
import { handEntry, member, payment } from './fixtures.js'

test('L3: a new handle after shutdown restores exact state and keeps working', async () => {
  await withTempDir(async (dir) => {
    const [a, b] = [member(0), member(1)]
    const clock = new ManualClock()
    const first = await openLedger({ path: dir, clock })
    const e1 = await first.pay(a, b.did, 'HOUR', 300n)
    const held = handEntry(b, 3, 'bafyreimissingmissing', payment(b.did, a.did, 1n))
    await first.applyEnvelope(held.bytes)
    await first.setCreditLimit(a.did, 'HOUR', 4_000n, 'decision-1')
    const root = first.stateRoot()
    const exported = await first.exportState()
    await first.shutdown()

    const second = await openLedger({ path: dir, clock })
    expect(second.stateRoot()).toBe(root)
    expect(await second.exportState()).toEqual(exported)
    expect(second.balance(a.did, 'HOUR')).toBe(-300n)
    expect(second.balance(b.did, 'HOUR')).toBe(300n)
    expect(second.chainHead(a.did)).toEqual({ author: a.did, seq: 1, id: e1.id })
    expect(second.entry(e1.id)?.bytes).toEqual(e1.bytes)
    expect(second.pending()).toEqual([held.id])
    expect(second.creditLimit(a.did, 'HOUR')).toBe(4_000n)
    // work resumes on the restored state: the chain continues and b's next entry acknowledges e1
    const e2 = await second.pay(a, b.did, 'HOUR', 3_700n)
    expect(e2.entry).toMatchObject({ seq: 2, prev: e1.id })
    const e3 = await second.pay(b, a.did, 'HOUR', 1n)
    expect(e3.entry.acks).toEqual([e1.id, e2.id].sort())
    await second.shutdown()

    const third = await openLedger({ path: dir, clock })
    expect(third.balance(a.did, 'HOUR')).toBe(-3_999n)
    await third.close()
  })
})
