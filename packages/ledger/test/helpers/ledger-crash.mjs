#!/usr/bin/env node
// Crash-safety helper (SIGKILLed by test/crash.test.ts).
//   run <dir> <seed> <total>  — resumes the deterministic payment sequence of <seed> at the ledger's entry count,
//                               one durable transaction per payment, printing "applied <n>" after each commit
//   check <dir> <seed>        — the reopened ledger must equal the first n payments replayed in a scratch ledger
//                               (same export bytes and state root) and satisfy the invariants, and verifyLedger
//                               must find nothing wrong; prints n
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SeededRng } from '@icn/testkit'
import { openLedger, verifyLedger } from '../../dist/index.js'
import { check, checkInvariants, fixedClock, member } from './common.mjs'

const MEMBERS = [member(0), member(1), member(2), member(3)]
const [mode, dir, seedText, totalText] = process.argv.slice(2)
const seed = Number(seedText)

/** Payment n of the sequence: small amounts between random members, always within limits. */
async function step (ledger, n) {
  const rng = new SeededRng(seed * 100_003 + n)
  const from = rng.int(0, MEMBERS.length - 1)
  const to = (from + rng.int(1, MEMBERS.length - 1)) % MEMBERS.length
  await ledger.pay(MEMBERS[from], MEMBERS[to].did, 'HOUR', BigInt(rng.int(1, 20)))
}

const open = async (path) => {
  let ledger
  ledger = await openLedger({ path, clock: fixedClock(() => 1_700_000_000_000 + ledger.entryCount()) })
  return ledger
}

if (mode === 'run') {
  const ledger = await open(dir)
  for (let n = ledger.entryCount(); n < Number(totalText); n++) {
    await step(ledger, n)
    console.log(`applied ${n + 1}`)
  }
  await ledger.close()
  console.log('done')
} else if (mode === 'check') {
  // Before openLedger (which checks the store itself): a kill mid-commit leaves nothing for either check to find.
  const report = await verifyLedger(dir)
  check(report.ok && report.stateRoot === report.expectedStateRoot, `verifyLedger after a kill: ${JSON.stringify(report.problems.slice(0, 3))}`)
  const ledger = await open(dir)
  check(report.rows.entries === ledger.entryCount() && report.stateRoot === ledger.stateRoot(), 'verifyLedger read the state the ledger opens')
  const n = ledger.entryCount()
  checkInvariants(ledger)
  const scratchDir = mkdtempSync(join(tmpdir(), 'icn-ledger-scratch-'))
  try {
    const scratch = await open(scratchDir)
    for (let i = 0; i < n; i++) await step(scratch, i)
    check(scratch.stateRoot() === ledger.stateRoot(), `state after ${n} entries is not the prefix of length ${n}`)
    const [a, b] = [await scratch.exportState(), await ledger.exportState()]
    check(Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0, `export after ${n} entries differs from the prefix`)
    check(ledger.pending().length === 0 && ledger.quarantine().length === 0, 'no pending or quarantined entries')
    await scratch.close()
  } finally {
    rmSync(scratchDir, { recursive: true, force: true })
  }
  await ledger.close()
  console.log(String(n))
} else {
  console.error('usage: ledger-crash.mjs <run|check> <dir> <seed> [total]')
  process.exit(2)
}
