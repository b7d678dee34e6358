#!/usr/bin/env node
// Layer 4 helper.
//   write <dir>  — applies entries through openLedger (built dist), prints "<stateRoot> <id> <id> …" and exits 0
//   read <dir> <stateRoot> <id>… <cutHash>  — a fresh process opens the store and asserts exact values (the cut
//     it exports hashes to <cutHash>), exit 1 on mismatch
//   rollback <dir> <stateRoot>  — a third process pays once more, restores the cut the writer saved in
//     <dir>.cut and asserts the ledger is back at <stateRoot>
import { readFileSync, writeFileSync } from 'node:fs'
import { encode, decode, sha256, toHex } from '@icn/identity'
import { decodeLedgerCut, openLedger, proveBalance, verifyBalanceProof } from '../../dist/index.js'
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
  const cut = await ledger.exportState()
  writeFileSync(`${dir}.cut`, cut)
  console.log([ledger.stateRoot(), e1.id, e2.id, e3.id, toHex(sha256(cut))].join(' '))
  await ledger.close()
} else if (mode === 'read') {
  const [root, id1, id2, id3, cutHash] = tokens
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
  const cut = await ledger.exportState()
  check(toHex(sha256(cut)) === cutHash, `cut hash ${toHex(sha256(cut))} != ${cutHash}`)
  const decoded = decodeLedgerCut(cut)
  check(JSON.stringify(decoded.heads.map((h) => [h.seq, h.id, h.applied])) === JSON.stringify(ledger.heads().map((h) => [h.seq, h.id, h.seq])), 'cut heads')
  check(decoded.balances.length === 5 && verifyBalanceProof(proveBalance(cut, bob.did, 'HOUR'), decoded.balanceRoot) &&
    proveBalance(cut, bob.did, 'HOUR').balance === 175n, 'balance proof')
  await ledger.close()
  console.log('ok')
} else if (mode === 'rollback') {
  const [root] = tokens
  const ledger = await openLedger({ path: dir, clock })
  const later = await ledger.pay(bob, alice.did, 'HOUR', 5n)
  check(ledger.stateRoot() !== root, 'the later payment changed the state')
  await ledger.restoreState(new Uint8Array(readFileSync(`${dir}.cut`)))
  check(ledger.stateRoot() === root && ledger.entry(later.id) === undefined && ledger.entryCount() === 3, 'rolled back to the cut')
  check(ledger.chainFloors().length === 1 && ledger.chainFloors()[0].floor === 2, 'floor kept for the rolled-back chain')
  checkInvariants(ledger)
  await ledger.close()
  console.log('ok')
} else {
  console.error('usage: ledger-restart.mjs <write|read> <dir> [stateRoot id…]')
  process.exit(2)
}
