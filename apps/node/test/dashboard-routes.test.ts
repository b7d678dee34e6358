// The figures behind the dashboard overview's pictures (`GET /ledger/balance-history`, `GET /ledger/payments-per-day`),
// computed from a real ledger whose entries are stamped on chosen days by a manual clock.
import { join } from 'node:path'
import { generateKeyPair } from '@icn/identity'
import { PERMISSIVE_POLICY, openLedger } from '@icn/ledger'
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { balanceHistory, paymentsPerDay } from '../src/routes.js'

const DAY_MS = 86_400_000
// 2026-03-01 00:00 UTC, then a few hours into the day so every entry sits well inside its day.
const MARCH_1 = Date.UTC(2026, 2, 1)

describe('the overview pictures\' figures', () => {
  it('end-of-day balances per currency over the window, anchored at the balance now; entries per day across every account', async () => {
    await withTempDir(async (dir) => {
      const clock = new ManualClock(MARCH_1 + 10 * 3600_000)
      const ledger = await openLedger({ path: join(dir, 'ledger'), clock, trustOf: () => 1, policy: PERMISSIVE_POLICY, verifyWorkers: 0 })
      try {
        const [me, bob, carol] = [generateKeyPair(), generateKeyPair(), generateKeyPair()]
        const onDay = (day: number): void => { clock.advance(MARCH_1 + day * DAY_MS + 10 * 3600_000 - clock.now()) }
        await ledger.pay(me, bob.did, 'ICN', 50n) // Mar 1: before the window
        onDay(2)
        await ledger.pay(me, bob.did, 'ICN', 20n) // Mar 3
        await ledger.pay(bob, me.did, 'ICN', 5n)
        onDay(4)
        await ledger.pay(me, carol.did, 'EUR', 7n) // Mar 5
        await ledger.pay(bob, carol.did, 'ICN', 1n) // not this node's account
        onDay(5)
        await ledger.pay(carol, me.did, 'ICN', 100n) // Mar 6, today

        // A 5-day window: Mar 2 … Mar 6.
        expect(await balanceHistory(ledger, me.did, 5, clock.now())).toEqual({
          account: me.did,
          days: ['2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06'],
          balances: {
            EUR: ['0', '0', '0', '-7', '-7'],
            ICN: ['-50', '-65', '-65', '-65', '35']
          }
        })
        expect(ledger.balance(me.did, 'ICN')).toBe(35n) // the last day is the balance now
        expect(await paymentsPerDay(ledger, 5, clock.now())).toEqual({
          days: [
            { day: '2026-03-02', payments: 0 },
            { day: '2026-03-03', payments: 2 },
            { day: '2026-03-04', payments: 0 },
            { day: '2026-03-05', payments: 2 },
            { day: '2026-03-06', payments: 1 }
          ]
        })
        // A window reaching back over the first payment, and a one-day window.
        expect((await paymentsPerDay(ledger, 6, clock.now())).days.map((d) => d.payments)).toEqual([1, 0, 2, 0, 2, 1])
        expect((await balanceHistory(ledger, me.did, 6, clock.now())).balances.ICN).toEqual(['-50', '-50', '-65', '-65', '-65', '35'])
        expect(await balanceHistory(ledger, me.did, 1, clock.now())).toEqual({ account: me.did, days: ['2026-03-06'], balances: { EUR: ['-7'], ICN: ['35'] } })
        // An account with no entries: no currencies; a day with no entries anywhere counts zero.
        const stranger = generateKeyPair().did
        expect(await balanceHistory(ledger, stranger, 2, clock.now())).toEqual({ account: stranger, days: ['2026-03-05', '2026-03-06'], balances: {} })
        // More entries than one history page (read in steps, yielding between them): every one counted once.
        for (let i = 0; i < 120; i++) await ledger.pay(carol, me.did, 'ICN', 1n)
        expect((await balanceHistory(ledger, me.did, 5, clock.now())).balances.ICN).toEqual(['-50', '-65', '-65', '-65', '155'])
        expect((await paymentsPerDay(ledger, 5, clock.now())).days.map((d) => d.payments)).toEqual([0, 2, 0, 2, 121])
        onDay(6)
        expect(await paymentsPerDay(ledger, 1, clock.now())).toEqual({ days: [{ day: '2026-03-07', payments: 0 }] })
      } finally {
        await ledger.close()
      }
    })
  })
})
