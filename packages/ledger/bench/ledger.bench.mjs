#!/usr/bin/env node
// Signed payments applied per second (one durable LMDB transaction each, and batched), next to raw lmdb
// puts of the same bytes and the raw ed25519 verify rate, all measured in this run; prints ratios.
// The machine is shared, so every measure is repeated in interleaved rounds and the median is reported.
// Run after `pnpm build`: `pnpm bench`. Sizes: ICN_BENCH_SINGLE (default 200), ICN_BENCH_BATCHED (default 3000),
// ICN_BENCH_ROUNDS (default 3).
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { cryptoBackend, keyPairFromSeed, sha256, toHex } from '@icn/identity'
import { decode as decodeCborUnchecked } from 'cborg'
import { open } from 'lmdb'
import { openLedger, signEntry } from '../dist/index.js'

const SINGLE = Number(process.env.ICN_BENCH_SINGLE ?? 200)
const BATCHED = Number(process.env.ICN_BENCH_BATCHED ?? 3000)
const ROUNDS = Number(process.env.ICN_BENCH_ROUNDS ?? 3)
const BATCH_SIZE = 500
const keys = (tag) => Array.from({ length: 16 }, (_, i) => keyPairFromSeed(Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? tag : j === 31 ? i + 1 : 0))))
const AUTHORS = keys(99)
const WARM_UP_AUTHORS = keys(98)

/** `count` valid payments: authors take turns, each extending its own chain (no acks, amounts within limits). */
function payments (count, salt, authors = AUTHORS, epoch = 0) {
  const heads = new Map()
  const out = []
  for (let i = 0; i < count; i++) {
    const author = authors[i % authors.length]
    const to = authors[(i + 1 + salt) % authors.length]
    const head = heads.get(author.did)
    const signed = signEntry({
      author: author.did,
      seq: (head?.seq ?? 0) + 1,
      ...(head === undefined ? {} : { prev: head.id }),
      timestamp: 1_700_000_000_000 + epoch * 1_000_000 + i,
      deltas: [{ account: author.did, currency: 'HOUR', debit: 1n }, { account: to.did, currency: 'HOUR', credit: 1n }],
      acks: []
    }, author)
    heads.set(author.did, { seq: (head?.seq ?? 0) + 1, id: signed.id })
    out.push(signed)
  }
  return out
}

const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9
const dirs = []
const tempDir = () => { const d = mkdtempSync(join(tmpdir(), 'icn-ledger-bench-')); dirs.push(d); return d }

/** Batched apply (`applyBatch`, transactions of BATCH_SIZE) with `verifyWorkers` (undefined: the default). */
async function batchedApplyRate (entries, verifyWorkers) {
  const ledger = await openLedger({ path: tempDir(), ...(verifyWorkers === undefined ? {} : { verifyWorkers }) })
  // steady state: a node's ledger is long-lived, so start the verify workers before timing
  await ledger.applyBatch(WARM_UP.map((e) => e.bytes))
  const start = process.hrtime.bigint()
  for (let i = 0; i < entries.length; i += BATCH_SIZE) await ledger.applyBatch(entries.slice(i, i + BATCH_SIZE).map((e) => e.bytes))
  const rate = entries.length / seconds(start)
  if (ledger.entryCount() !== entries.length + WARM_UP.length) throw new Error(`applied ${ledger.entryCount()} of ${entries.length}`)
  await ledger.close()
  return rate
}

/**
 * The three fsync-bound measures, interleaved in chunks of 10 transactions so that they see the
 * same disk conditions (a shared disk's fsync latency drifts by 10× within seconds).
 */
async function durableRates (entries) {
  const ledger = await openLedger({ path: tempDir() })
  const raw = open({ path: tempDir(), encoding: 'binary' })
  const shaped = open({ path: tempDir(), encoding: 'binary' })
  const minimal = open({ path: tempDir(), encoding: 'binary' })
  const ideal = open({ path: tempDir(), encoding: 'binary' })
  const small = Buffer.from('12345 67890')
  const time = { ledger: 0, raw: 0, shaped: 0, minimal: 0, ideal: 0 }
  const timed = async (name, fn) => { const t = process.hrtime.bigint(); await fn(); time[name] += seconds(t) }
  for (let i = 0; i < entries.length; i += 10) {
    const chunk = entries.slice(i, i + 10)
    await timed('raw', () => { for (const e of chunk) raw.transactionSync(() => raw.putSync(e.id, e.bytes)) })
    await timed('ledger', async () => { for (const e of chunk) await ledger.applyEnvelope(e.bytes) })
    // the least any layout can write under the rule "the entry, every balance and the author's chain head in one transaction"
    await timed('minimal', () => {
      for (const e of chunk) {
        const [from, to] = e.entry.deltas.map((d) => d.account)
        minimal.transactionSync(() => {
          minimal.putSync(`entries ${e.id}`, e.bytes)
          minimal.putSync(`balances ${from} HOUR`, small)
          minimal.putSync(`balances ${to} HOUR`, small)
          minimal.putSync(`chains ${e.entry.author}`, small)
        })
      }
    })
    // An idealised ledger, to show what any implementation could reach: parse the bytes (without the canonical-form
    // check), hash the id, read what the rule needs, write the least it allows. No signature check, no indexes.
    await timed('ideal', () => {
      for (const e of chunk) {
        const { payload } = decodeCborUnchecked(e.bytes)
        const id = toHex(sha256(e.bytes))
        const [from, to] = payload.deltas.map((d) => d.account)
        ideal.transactionSync(() => {
          if (ideal.doesExist(`entries ${id}`)) throw new Error('duplicate')
          const chain = ideal.get(`chains ${payload.author}`)
          const debited = BigInt(ideal.get(`balances ${from} HOUR`)?.toString() ?? '0') - BigInt(payload.deltas[0].debit)
          const credited = BigInt(ideal.get(`balances ${to} HOUR`)?.toString() ?? '0') + BigInt(payload.deltas[1].credit)
          if (payload.seq !== 1 && chain === undefined) throw new Error('gap')
          ideal.putSync(`entries ${id}`, e.bytes)
          ideal.putSync(`balances ${from} HOUR`, Buffer.from(debited.toString()))
          ideal.putSync(`balances ${to} HOUR`, Buffer.from(credited.toString()))
          ideal.putSync(`chains ${payload.author}`, Buffer.from(`${payload.seq} ${id}`))
        })
      }
    })
    await timed('shaped', () => {
      for (const e of chunk) {
        shaped.transactionSync(() => {
          shaped.putSync(`entries ${e.id}`, e.bytes)
          for (const table of ['slots', 'chains', 'balances', 'balances-b', 'credit', 'unacked', 'history', 'history-b']) shaped.putSync(`${table} ${e.entry.author} ${e.id}`, small)
        })
      }
    })
  }
  if (ledger.entryCount() !== entries.length) throw new Error(`applied ${ledger.entryCount()} of ${entries.length}`)
  await Promise.all([ledger.close(), raw.close(), shaped.close(), minimal.close(), ideal.close()])
  const rate = (name) => entries.length / time[name]
  return { applySingle: rate('ledger'), rawDurable: rate('raw'), rawShaped: rate('shaped'), rawMinimal: rate('minimal'), idealSingle: rate('ideal') }
}

/** Raw async lmdb puts of the same bytes, batched by lmdb-js. */
async function rawBatchedPutRate (entries) {
  const db = open({ path: tempDir(), encoding: 'binary' })
  const start = process.hrtime.bigint()
  let last
  for (const e of entries) last = db.put(e.id, e.bytes)
  await last
  const rate = entries.length / seconds(start)
  await db.close()
  return rate
}

function verifyRate (entries) {
  const prepared = entries.map((e) => ({ body: e.body, signature: e.signature, key: [...AUTHORS, ...WARM_UP_AUTHORS].find((a) => a.did === e.entry.author).publicKey }))
  const start = process.hrtime.bigint()
  for (const p of prepared) if (!cryptoBackend.verify(p.signature, p.body, p.key)) throw new Error('bad signature')
  return prepared.length / seconds(start)
}

const WARM_UP = payments(64, 5, WARM_UP_AUTHORS) // other authors: applied before the timed entries
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

try {
  // @icn/identity's verify remembers recently verified signatures, so every measure gets payments never seen before
  let epoch = 0
  const fresh = (count, salt) => payments(count, salt, AUTHORS, ++epoch)
  verifyRate(fresh(50, 0)) // warm up
  const samples = { verify: [], rawDurable: [], rawMinimal: [], idealSingle: [], rawShaped: [], applySingle: [], rawBatched: [], applyBatchedInline: [], applyBatched: [] }
  for (let round = 0; round < ROUNDS; round++) {
    samples.verify.push(verifyRate(fresh(BATCHED, 1)))
    const durable = await durableRates(fresh(SINGLE, 0))
    samples.rawDurable.push(durable.rawDurable)
    samples.rawShaped.push(durable.rawShaped)
    samples.rawMinimal.push(durable.rawMinimal)
    samples.idealSingle.push(durable.idealSingle)
    samples.applySingle.push(durable.applySingle)
    samples.rawBatched.push(await rawBatchedPutRate(fresh(BATCHED, 1)))
    samples.applyBatchedInline.push(await batchedApplyRate(fresh(BATCHED, 1), 0))
    samples.applyBatched.push(await batchedApplyRate(fresh(BATCHED, 1), undefined))
  }
  const rows = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]))
  const f = (x) => Math.round(x).toLocaleString('en-US').padStart(9)
  console.log(`\n@icn/ledger apply rates (median of ${ROUNDS} interleaved rounds; ${SINGLE} single, ${BATCHED} batched in transactions of ${BATCH_SIZE}; ${availableParallelism()} cores)`)
  const workers = Math.min(4, availableParallelism() - 1)
  console.log(`raw ed25519 verify (OpenSSL backend, 1 core)       ${f(rows.verify)} /s`)
  console.log(`raw lmdb durable transaction per put                ${f(rows.rawDurable)} /s`)
  console.log(`raw lmdb durable txn: entry + 2 balances + head     ${f(rows.rawMinimal)} /s   (the least the one-transaction rule allows)`)
  console.log(`idealised ledger: parse + id + 4 writes, no checks  ${f(rows.idealSingle)} /s   (no signature check, no canonical check, no indexes)`)
  console.log(`raw lmdb durable txn of 9 puts (ledger-shaped)      ${f(rows.rawShaped)} /s`)
  console.log(`raw lmdb batched async puts                         ${f(rows.rawBatched)} /s`)
  console.log(`ledger apply, one transaction per payment           ${f(rows.applySingle)} /s`)
  console.log(`ledger apply, batched (default: verifyWorkers ${workers})    ${f(rows.applyBatched)} /s`)
  console.log(`ledger apply, batched (verifyWorkers: 0, inline)    ${f(rows.applyBatchedInline)} /s`)
  const pct = (a, b) => `${(100 * a / b).toFixed(0)} %`
  const ratio = (a, b, goal) => `${pct(a, b)} (goal ≥ ${goal} %: ${100 * a / b >= goal ? 'met' : 'NOT met'})`
  console.log(`one-per-transaction apply / raw durable put:         ${ratio(rows.applySingle, rows.rawDurable, 80)}`)
  console.log(`  ceiling, minimal write set / raw durable put:      ${pct(rows.rawMinimal, rows.rawDurable)}`)
  console.log(`  ceiling, idealised ledger / raw durable put:       ${pct(rows.idealSingle, rows.rawDurable)}`)
  // A caller that awaits each payment cannot verify the next one during this one's commit: even a commit as cheap
  // as one raw put, plus nothing but one signature check, bounds it at 1 / (1/put + 1/verify).
  console.log(`  bound for a serial caller (one put + one verify):  ${pct(1 / (1 / rows.rawDurable + 1 / rows.verify), rows.rawDurable)}`)
  console.log(`  one-per-transaction apply / ledger-shaped txn:     ${pct(rows.applySingle, rows.rawShaped)}`)
  console.log(`batched apply (default) / raw ed25519 verify:        ${ratio(rows.applyBatched, rows.verify, 70)}`)
  console.log(`  batched apply, inline verify / raw verify:         ${pct(rows.applyBatchedInline, rows.verify)}`)
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
}
