// The cut a snapshot records: taken as of the call while writes go on, paged, and restorable over many pages.
import { type Did, decode, keyPairFromSeed, sha256, utf8 } from '@icn/identity'
import { ManualClock, withTempDir } from '@icn/testkit'
import { expect, test } from 'vitest'
import { CUT_PAGE_ROWS, PERMISSIVE_POLICY, decodeLedgerCut, openLedger, proveBalance, verifyBalanceProof } from '../src/index.js'
import { member } from './fixtures.js'

const [alice, bob] = [member(0), member(1)]

test('exportState records every write asked for before the call and none after, while writes go on', async () => {
  await withTempDir(async (dir) => {
    const ledger = await openLedger({ path: dir, clock: new ManualClock() })
    const before = Array.from({ length: 30 }, async (_, i) => await ledger.pay(alice, bob.did, 'HOUR', BigInt(i + 1)))
    const exported = ledger.exportState()
    const after = Array.from({ length: 30 }, async () => await ledger.pay(bob, alice.did, 'HOUR', 1n))
    const [cut] = await Promise.all([exported, ...before, ...after])
    const decoded = decodeLedgerCut(cut as Uint8Array)
    expect(decoded.heads.map((h) => [h.author, h.seq])).toEqual([[alice.did, 30]])
    expect(decoded.balances.map((b) => [b.account, b.balance])).toEqual([[alice.did, -465n], [bob.did, 465n]].sort(([a], [b]) => ((a as string) < (b as string) ? -1 : 1)))
    expect(ledger.chainHead(bob.did)?.seq).toBe(30)
    await ledger.close()
  })
})

test('a cut of more than one page: every page full but the last, proofs over all, restore exact', async () => {
  await withTempDir(async (dir) => {
    const ledger = await openLedger({ path: `${dir}/a`, clock: new ManualClock(), policy: PERMISSIVE_POLICY })
    // 1,100 payees: 17 entries of 63 credits (plus the debit) and one of 29
    const payees = Array.from({ length: 1100 }, (_, i) => keyPairFromSeed(sha256(utf8(`payee ${i}`))).did)
    for (let from = 0; from < payees.length; from += 63) {
      const group = payees.slice(from, from + 63)
      await ledger.createEntry(alice, { deltas: [{ account: alice.did, currency: 'HOUR', debit: BigInt(group.length) }, ...group.map((account) => ({ account, currency: 'HOUR', credit: 1n }))] })
    }
    const cut = await ledger.exportState()
    const raw = decode(cut) as Record<string, Uint8Array[]>
    expect((raw.balances as Uint8Array[]).map((p) => (decode(p) as unknown[]).length)).toEqual([CUT_PAGE_ROWS, 1101 - CUT_PAGE_ROWS])
    const decoded = decodeLedgerCut(cut)
    expect(decoded.balances).toEqual(ledger.balances())
    for (const account of [alice.did, payees[0] as Did, payees[700] as Did, payees[1099] as Did]) {
      const proof = proveBalance(decoded, account, 'HOUR')
      expect(proof.balance).toBe(account === alice.did ? -1100n : 1n)
      expect(proof.leafCount).toBe(1101)
      expect(verifyBalanceProof(proof, decoded.balanceRoot)).toBe(true)
    }
    await ledger.pay(alice, bob.did, 'HOUR', 5n)
    await ledger.restoreState(cut)
    expect(await ledger.exportState()).toEqual(cut)
    expect(ledger.balance(bob.did, 'HOUR')).toBe(0n)
    await ledger.close()
  })
})
