import { withTempDir, ManualClock } from '@icn/testkit'
import { expect, test } from 'vitest'
import { openLedger } from '../src/index.js'
import { member, assertInvariants } from './fixtures.js'

test('smoke', async () => {
  await withTempDir(async (dir) => {
    const a = member(0); const b = member(1)
    const ledger = await openLedger({ path: dir, clock: new ManualClock() })
    const e1 = await ledger.pay(a, b.did, 'HOUR', 100n)
    const e2 = await ledger.pay(b, a.did, 'HOUR', 30n)
    expect(ledger.balance(a.did, 'HOUR')).toBe(-70n)
    expect(e2.entry.acks).toEqual([e1.id])
    assertInvariants(ledger)
    console.log(ledger.stateRoot(), ledger.creditLimit(a.did, 'HOUR'), ledger.creditLimit(b.did, 'HOUR'))
    await ledger.close()
  })
})
