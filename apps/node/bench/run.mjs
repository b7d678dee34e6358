#!/usr/bin/env node
// Node benchmarks over real processes on loopback (built dist/): prints figures, asserts nothing.
//   payments/s end to end across 3 processes, payment gossip latency node-to-node (p50/p99),
//   distributed snapshot time for 3 and 10 nodes (ICN_BENCH_SNAPSHOT_NODES=3,10).
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readFileSync } from 'node:fs'
import { keyPairFromSeed } from '@icn/identity'
import { openLedger, signEntry } from '@icn/ledger'
import { connectApi, initDataDir, waitUntil } from '../dist/index.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

/** A node's API is not up yet: nothing to long-poll, so retry every 100 ms (bounded). */
async function connectWhenUp (dir, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const api = await connectApi(dir).catch(() => undefined)
    if (api !== undefined) return api
    if (Date.now() > deadline) throw new Error(`bench: no node API for ${dir}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Re-runs `probe` whenever the change feed (`GET /wait`) of one of `apis` moves, until it returns a value. */
async function until (apis, probe, timeoutMs = 60_000) {
  const value = await waitUntil(apis, probe, Date.now() + timeoutMs)
  if (value === undefined) throw new Error('bench: timed out')
  return value
}

/** `count` valid payments by 16 authors taking turns (each extends its own chain; amounts of 1, within credit limits). */
function payments (count) {
  const authors = Array.from({ length: 16 }, (_, i) => keyPairFromSeed(Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? 77 : j === 31 ? i + 1 : 0))))
  const heads = new Map()
  const out = []
  for (let i = 0; i < count; i++) {
    const author = authors[i % authors.length]
    const to = authors[(i + 1) % authors.length]
    const head = heads.get(author.did)
    const signed = signEntry({
      author: author.did,
      seq: (head?.seq ?? 0) + 1,
      ...(head === undefined ? {} : { prev: head.id }),
      timestamp: 1_700_000_000_000 + i,
      deltas: [{ account: author.did, currency: 'ICN', debit: 1n }, { account: to.did, currency: 'ICN', credit: 1n }],
      acks: []
    }, author)
    heads.set(author.did, { seq: (head?.seq ?? 0) + 1, id: signed.id })
    out.push(signed.bytes)
  }
  return out
}

const procStatusMiB = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024
/** Peak RSS, and the resident anonymous memory (heap, buffers) apart from LMDB's mapped file pages (RssFile), now. */
const memoryOf = (pid) => `peak RSS ${procStatusMiB(pid, 'VmHWM').toFixed(0)} MiB (now: anonymous ${procStatusMiB(pid, 'RssAnon').toFixed(0)} MiB, mapped files ${procStatusMiB(pid, 'RssFile').toFixed(0)} MiB)`

/**
 * Late joiner: an origin node whose ledger holds `count` payments (applied with `ledger.applyBatch` in this
 * process first: the same-run anchor), then a fresh node connects and catches up by history sync.
 */
async function lateJoiner (root, count) {
  const origin = join(root, 'origin')
  const joiner = join(root, 'joiner')
  await initDataDir(origin)
  await initDataDir(joiner)
  const journal = payments(count)
  const ledger = await openLedger({ path: join(origin, 'ledger') })
  const t0 = performance.now()
  for (let i = 0; i < journal.length; i += 2000) await ledger.applyBatch(journal.slice(i, i + 2000))
  const anchorRate = count / ((performance.now() - t0) / 1000)
  const root0 = ledger.stateRoot()
  if (ledger.entryCount() !== count) throw new Error(`origin holds ${ledger.entryCount()} of ${count}`)
  await ledger.close()
  const procs = [origin, joiner].map((dir) => spawn(process.execPath, [cli, 'run', '--data-dir', dir, '--log-level', 'warn'], { stdio: 'ignore' }))
  try {
    const [a, b] = [await connectWhenUp(origin), await connectWhenUp(joiner)]
    const started = performance.now()
    await b.post('/peers', { multiaddr: a.runtime.multiaddrs[0] })
    await until([b], async () => (await entries(b)) === count ? true : undefined, 600_000)
    const seconds = (performance.now() - started) / 1000
    const status = await b.get('/status')
    if (status.ledger.stateRoot !== root0) throw new Error('joiner reached a different ledger root')
    const rate = count / seconds
    console.log(`late joiner catch-up (history sync), ${count} payments: ${seconds.toFixed(1)} s → ${rate.toFixed(0)} entries/s; ` +
      `ledger.applyBatch in this run ${anchorRate.toFixed(0)} entries/s → ratio ${(100 * rate / anchorRate).toFixed(0)} % (goal ≥ 50 %); ` +
      `joiner ${memoryOf(b.runtime.pid)}, origin ${memoryOf(a.runtime.pid)}`)
  } finally {
    await Promise.all(procs.map((p) => new Promise((resolve) => { p.on('exit', resolve); p.kill('SIGTERM') })))
  }
}

async function cluster (root, count) {
  const procs = []
  const apis = []
  for (let i = 0; i < count; i++) {
    const dir = join(root, `n${i}`)
    await initDataDir(dir)
    await writeFile(join(dir, 'config.json'), JSON.stringify({ snapshotTimeoutMs: 30_000, logLevel: 'warn' }))
    procs.push(spawn(process.execPath, [cli, 'run', '--data-dir', dir, '--log-level', 'warn'], { stdio: 'ignore' }))
  }
  for (let i = 0; i < count; i++) apis.push(await connectWhenUp(join(root, `n${i}`)))
  for (let i = 0; i < count; i++) for (let j = 0; j < i; j++) await apis[i].post('/peers', { multiaddr: apis[j].runtime.multiaddrs[0] })
  for (const api of apis) await until([api], async () => (await api.get('/peers')).length === count - 1 ? true : undefined)
  await Promise.all(apis.map(async (api, i) => {
    for (let j = 0; j < count; j++) {
      if (j === i) continue
      for (const graph of ['technical', 'economic']) await api.post('/trust', { subject: apis[j].runtime.did, score: 0.9, graph })
    }
  }))
  const want = count * (count - 1) * 2
  for (const api of apis) await until([api], async () => (await api.get('/status')).trust.attestations === want ? true : undefined)
  return {
    apis,
    stop: async () => {
      await Promise.all(procs.map((p) => new Promise((resolve) => { p.on('exit', resolve); p.kill('SIGTERM') })))
    }
  }
}

const entries = async (api) => (await api.get('/status')).ledger.entries
const root = await mkdtemp(join(tmpdir(), 'icn-bench-'))
try {
  console.log('# @icn/node benchmarks (real node processes on 127.0.0.1)\n')
  const catchUp = Number(process.env.ICN_BENCH_CATCHUP ?? 100_000)
  if (catchUp > 0) await lateJoiner(join(root, 'late'), catchUp)
  const three = await cluster(join(root, 'three'), 3)
  const [a, b, c] = three.apis

  // Gossip latency: a payment posted on A until it is applied on B (B's change feed answers a long-poll).
  const latencies = []
  for (let i = 0; i < 40; i++) {
    const before = await entries(b)
    const started = performance.now()
    await a.post('/pay', { to: b.runtime.did, amount: '1' })
    await until([b], async () => (await entries(b)) > before ? true : undefined, 10_000)
    latencies.push(performance.now() - started)
  }
  latencies.sort((x, y) => x - y)
  console.log(`payment latency A→B (API post → applied on B), 40 payments: p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms`)

  // Throughput: 300 payments from three payers (8 in flight each) until all three nodes applied all.
  const base = await entries(c)
  const perPayer = 100
  const started = performance.now()
  await Promise.all([[a, b], [b, c], [c, a]].map(async ([from, to]) => {
    let next = 0
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < perPayer) { next++; await from.post('/pay', { to: to.runtime.did, amount: '1' }) }
    }))
  }))
  const posted = performance.now() - started
  await until(three.apis, async () => (await Promise.all(three.apis.map(entries))).every((n) => n === base + 3 * perPayer) ? true : undefined)
  const total = performance.now() - started
  console.log(`payments end to end, 3 processes: ${3 * perPayer} payments posted in ${posted.toFixed(0)} ms, applied on all 3 nodes after ${total.toFixed(0)} ms → ${(3 * perPayer / (total / 1000)).toFixed(0)} payments/s`)

  const sizes = (process.env.ICN_BENCH_SNAPSHOT_NODES ?? '3,10').split(',').map(Number)
  for (const size of sizes) {
    const net = size === 3 ? three : await cluster(join(root, `s${size}`), size)
    const times = []
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now()
      const snap = await net.apis[0].post('/snapshots')
      times.push(performance.now() - t0)
      if (snap.participants.length !== size) throw new Error(`snapshot had ${snap.participants.length} participants`)
    }
    times.sort((x, y) => x - y)
    console.log(`distributed snapshot, ${size} nodes (API post → complete at the initiator), 3 runs: median ${times[1].toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times[2].toFixed(0)} ms`)
    if (net !== three) await net.stop()
  }
  await three.stop()
} finally {
  await rm(root, { recursive: true, force: true })
}
