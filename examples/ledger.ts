// @icn/ledger: a mutual-credit ledger on LMDB; payments, balances that sum to zero, a peer's entry applied.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyPairFromSeed } from '@icn/identity'
import { openLedger } from '@icn/ledger'

const [alice, bob] = [keyPairFromSeed(new Uint8Array(32).fill(1)), keyPairFromSeed(new Uint8Array(32).fill(2))]
const dir = mkdtempSync(join(tmpdir(), 'icn-ledger-'))
const mine = await openLedger({ path: join(dir, 'mine') })
const theirs = await openLedger({ path: join(dir, 'theirs') })
try {
  const paid = await mine.pay(alice, bob.did, 'HOUR', 250n, 'bread')
  await mine.pay(bob, alice.did, 'HOUR', 40n)
  console.log(`alice: ${mine.balance(alice.did, 'HOUR')}, bob: ${mine.balance(bob.did, 'HOUR')}`)
  console.log(`sum of balances: ${mine.balances().reduce((sum, row) => sum + row.balance, 0n)}`)
  // Another node applies the signed entry it received (from gossip, say).
  console.log('peer applies:', (await theirs.applyEnvelope(paid.bytes)).status, 'then:', (await theirs.applyEnvelope(paid.bytes)).status)
  console.log(`peer sees bob: ${theirs.balance(bob.did, 'HOUR')}`)
} finally {
  await mine.close()
  await theirs.close()
  rmSync(dir, { recursive: true, force: true })
}
