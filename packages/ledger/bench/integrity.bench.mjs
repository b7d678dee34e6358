#!/usr/bin/env node
// Cost of the store checks on a large ledger: openLedger (which checks the derived tables: grows with accounts
// and chains) and verifyLedger (everything: grows with history), next to opening the bare LMDB store.
// Run after `pnpm build`: `node bench/integrity.bench.mjs`. Sizes: ICN_BENCH_ACCOUNTS (default 10000),
// ICN_BENCH_ENTRIES (default 100000), ICN_BENCH_ROUNDS (default 3; medians reported).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyPairFromSeed } from '@icn/identity'
import { LedgerStore, openLedger, signEntry, verifyLedger } from '../dist/index.js'

const ACCOUNTS = Number(process.env.ICN_BENCH_ACCOUNTS ?? 10_000)
const ENTRIES = Number(process.env.ICN_BENCH_ENTRIES ?? 100_000)
const ROUNDS = Number(process.env.ICN_BENCH_ROUNDS ?? 3)
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

// Members and payments as nodes make them: each author's next entry acknowledges the credits it received
// since its last one (at most 256), as `createEntry` does, so unacknowledged credits stay a working set.
let t = process.hrtime.bigint()
const members = Array.from({ length: ACCOUNTS }, (_, i) => keyPairFromSeed(Uint8Array.from({ length: 32 }, (_, j) => (j < 4 ? (i >> (8 * j)) & 255 : j === 31 ? 77 : 0))))
let rng = 12345
const next = () => { rng = (rng * 1103515245 + 12345) % 2 ** 31; return rng }
const heads = new Map()
const unacked = new Map()
const entries = []
for (let i = 0; i < ENTRIES; i++) {
  const author = members[i % ACCOUNTS]
  const to = members[(i % ACCOUNTS + 1 + next() % (ACCOUNTS - 1)) % ACCOUNTS]
  const head = heads.get(author.did)
  const acks = (unacked.get(author.did) ?? []).slice(0, 256)
  unacked.set(author.did, (unacked.get(author.did) ?? []).slice(256))
  const signed = signEntry({
    author: author.did,
    seq: (head?.seq ?? 0) + 1,
    ...(head === undefined ? {} : { prev: head.id }),
    timestamp: 1_700_000_000_000 + i,
    deltas: [{ account: author.did, currency: 'HOUR', debit: 1n }, { account: to.did, currency: 'HOUR', credit: 1n }],
    acks
  }, author)
  heads.set(author.did, { seq: (head?.seq ?? 0) + 1, id: signed.id })
  unacked.set(to.did, [...(unacked.get(to.did) ?? []), signed.id])
  entries.push(signed.bytes)
}
console.log(`signed ${ENTRIES} entries of ${ACCOUNTS} members in ${seconds(t).toFixed(1)} s`)

const dir = mkdtempSync(join(tmpdir(), 'icn-ledger-integrity-'))
try {
  t = process.hrtime.bigint()
  const ledger = await openLedger({ path: dir })
  for (let i = 0; i < entries.length; i += 2000) {
    const outcomes = await ledger.applyBatch(entries.slice(i, i + 2000))
    const bad = outcomes.find((o) => o.status !== 'applied')
    if (bad !== undefined) throw new Error(`entry ${bad.id}: ${bad.status} ${bad.reason ?? ''} ${bad.detail ?? ''}`)
  }
  const root = ledger.stateRoot()
  const rows = { balances: ledger.balances().length, chains: ledger.heads().length, entries: ledger.entryCount() }
  await ledger.close()
  console.log(`applied in ${seconds(t).toFixed(1)} s: ${rows.entries} entries, ${rows.chains} chains, ${rows.balances} balance rows`)

  const bare = []
  const opens = []
  const verifies = []
  let report
  for (let r = 0; r < ROUNDS; r++) {
    t = process.hrtime.bigint()
    const store = LedgerStore.open(dir)
    store.heads({ limit: 1 })
    await store.close()
    bare.push(seconds(t))
    t = process.hrtime.bigint()
    const opened = await openLedger({ path: dir, verifyWorkers: 0 })
    opens.push(seconds(t))
    if (opened.stateRoot() !== root) throw new Error('state root changed')
    await opened.close()
    t = process.hrtime.bigint()
    report = await verifyLedger(dir)
    verifies.push(seconds(t))
    if (!report.ok || report.stateRoot !== root) throw new Error(`verifyLedger: ${JSON.stringify(report.problems.slice(0, 3))}`)
  }
  const ms = (s) => `${(s * 1000).toFixed(0)} ms`
  console.log(`rows read by the open check: ${['chains', 'balances', 'credit', 'unacked', 'pending', 'waits', 'overrides', 'floors'].map((k) => `${k} ${report.rows[k]}`).join(', ')}`)
  console.log(`bare LMDB open: ${ms(median(bare))}`)
  console.log(`openLedger (with the open check): ${ms(median(opens))} — ${((median(opens) - median(bare)) * 1e6 / ACCOUNTS).toFixed(0)} µs per account`)
  console.log(`verifyLedger: ${ms(median(verifies))} — ${(median(verifies) * 1e6 / ENTRIES).toFixed(0)} µs per entry (${report.signatures} signatures)`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
