#!/usr/bin/env node
// Layer 4 helper.
//   write <dir>  — applies entries through openLedger (built dist), prints "<stateRoot> <id> <id> …" and exits 0
//   read <dir> <stateRoot> <id>…  — a fresh process opens the store and asserts exact values, exit 1 on mismatch
import { encode, decode } from '@icn/identity'
import { openLedger } from '../../dist/index.js'
import { check, checkInvariants, fixedClock, member } from './common.mjs'

const [mode, dir, ...tokens] = process.argv.slice(2)
const [alice, bob, carol] = [member(0), member(1), member(2)]
const clock = fixedClock(() => 1_700_000_000_000)

if (mode === 'write') {
  const ledger = await openLedger({ path: dir, clock })
  const e1 = await ledger.pay(alice, bob.did, 'HOUR', 250n, 'layer4')
  const e2 = await ledger.pay(bob, carol.did, 'HOUR', 75n)
  const e3 = await ledger.pay(carol, alice.did, 'SEED', 9n)
  const forged = encode({ ...decode(e1.bytes), signature: new Uint8Array(64).fill(9) })
  await ledger.applyEnvelope(forged)
  await ledger.setCreditLimit(carol.did, 'SEED', 12_345n, 'decision-4')
  console.log([ledger.stateRoot(), e1.id, e2.id, e3.id].join(' '))
  await ledger.close()
} else if (mode === 'read') {
  const [root, id1, id2, id3] = tokens
  const ledger = await openLedger({ path: dir, clock })
  check(ledger.stateRoot() === root, `state root ${ledger.stateRoot()} != ${root}`)
  check(ledger.entryCount() === 3, `entry count ${ledger.entryCount()}`)
  check(ledger.balance(alice.did, 'HOUR') === -250n, 'alice HOUR')
  check(ledger.balance(bob.did, 'HOUR') === 175n, 'bob HOUR')
  check(ledger.balance(carol.did, 'HOUR') === 75n, 'carol HOUR')
  check(ledger.balance(carol.did, 'SEED') === -9n && ledger.balance(alice.did, 'SEED') === 9n, 'SEED balances')
  check(ledger.chainHead(alice.did)?.id === id1 && ledger.chainHead(bob.did)?.id === id2 && ledger.chainHead(carol.did)?.id === id3, 'chain heads')
  check(ledger.entry(id1)?.entry.reference === 'layer4' && ledger.entry(id2)?.entry.acks[0] === id1, 'entry contents')
  const quarantine = ledger.quarantine()
  check(quarantine.length === 1 && quarantine[0].reason === 'invalid-signature' && quarantine[0].chained === false, 'quarantine')
  check(ledger.creditLimit(carol.did, 'SEED') === 12_345n, 'override')
  checkInvariants(ledger)
  await ledger.close()
  console.log('ok')
} else {
  console.error('usage: ledger-restart.mjs <write|read> <dir> [stateRoot id…]')
  process.exit(2)
}
