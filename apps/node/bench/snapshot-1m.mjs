#!/usr/bin/env node
// A distributed snapshot of a long ledger history on real processes (prints figures, asserts nothing but that
// the protocol answers as it must): three `icn-node run` processes whose ledgers hold N payments, built quickly
// through @icn/ledger (one ledger, copied to each data directory: the network has converged), take a snapshot
// through the API, verify it with every participant, audit it (every currency must sum to zero), then restore
// it on one node after more payments.
//   node bench/snapshot-1m.mjs                       (N = 20,000: `pnpm bench` stays short)
//   ICN_BENCH_LARGE=1 node bench/snapshot-1m.mjs     (N = 1,000,000)
//   ICN_BENCH_SNAPSHOT_PAYMENTS=200000 node …        (any N)
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { PERMISSIVE_POLICY, openLedger } from '@icn/ledger'
import { dataDirLayout } from '../dist/index.mjs'
import { initCluster, procStatusMiB, startCluster, until } from './cluster.mjs'

const N = Number(process.env.ICN_BENCH_SNAPSHOT_PAYMENTS ?? (process.env.ICN_BENCH_LARGE === '1' ? 1_000_000 : 20_000))
const AFTER = 300 // payments through the API between the snapshot and the restore (100 per node)
const fmt = (n, d = 1) => n.toFixed(d)
const seconds = (ms) => `${fmt(ms / 1000, 2)} s`
const mib = (bytes) => `${fmt(bytes / 1024 / 1024)} MiB`

/** Bytes of the files under `dir` (their sizes, as the cut bench counts them; `find` lists them). */
const dirBytes = (dir) => existsSync(dir)
  ? execFileSync('find', [dir, '-type', 'f', '-printf', '%s\\n'], { encoding: 'utf8' }).split('\n').reduce((n, line) => n + Number(line || 0), 0)
  : 0

/** Times `fn`: its value and the milliseconds it took. */
async function timed (fn) {
  const t0 = performance.now()
  const value = await fn()
  return { value, ms: performance.now() - t0 }
}

/** Payments 0..n-1 among the three members in a ring (member i % 3 pays the next one 1 ICN), 500 queued at a time so they share commits. */
async function buildLedger (path, members, n) {
  const ledger = await openLedger({ path, policy: PERMISSIVE_POLICY })
  try {
    for (let i = 0; i < n; i += 500) {
      const batch = []
      for (let j = i; j < Math.min(n, i + 500); j++) batch.push(ledger.pay(members[j % 3], members[(j + 1) % 3].did, 'ICN', 1n))
      await Promise.all(batch)
    }
    return ledger.stateRoot()
  } finally {
    await ledger.close()
  }
}

const pause = async (ms) => { await new Promise((resolve) => { setTimeout(resolve, ms) }) }

/**
 * Runs `fn` as one phase: every node's event-loop monitor is reset first (`POST /metrics/reset`), and after it
 * the largest stall of each node over the phase is read (`status.eventLoop`: wall clock, and of it own work).
 * A phase calls no `GET /status` itself: status counts the ledger's entries (`entryCount`), which walks every
 * key, so each call stalls a node in proportion to its history (the `GET /status` line measures it).
 */
async function phase (apis, fn) {
  await Promise.all(apis.map(async (api) => await api.post('/metrics/reset')))
  const { value, ms } = await timed(fn)
  const loops = await Promise.all(apis.map(async (api) => (await api.get('/status')).eventLoop))
  const stall = `event-loop stall max ${loops.map((l) => fmt(l.maxMs)).join(' / ')} ms on nodes 0 / 1 / 2 (own work ${loops.map((l) => fmt(l.own?.maxMs ?? NaN)).join(' / ')} ms)`
  return { value, ms, stall }
}

const root = mkdtempSync(join(tmpdir(), 'icn-snapshot-1m-'))
let cluster
try {
  console.log(`# a distributed snapshot of ${N.toLocaleString('en')} payments on 3 real node processes (node ${process.version})\n`)
  const { dirs, keys: members } = await initCluster(root, 3, { snapshotTimeoutMs: 600_000, logLevel: 'warn' })
  const build = await timed(async () => await buildLedger(dataDirLayout(dirs[0]).ledger, members, N))
  for (const dir of dirs.slice(1)) cpSync(dataDirLayout(dirs[0]).ledger, dataDirLayout(dir).ledger, { recursive: true })
  const ledgerBytes = dirBytes(dataDirLayout(dirs[0]).ledger)
  console.log(`build: ${N.toLocaleString('en')} payments through @icn/ledger in ${seconds(build.ms)} (${fmt(N / (build.ms / 1000), 0)} payments/s), ledger ${mib(ledgerBytes)} per node`)

  const start = await timed(async () => await startCluster(dirs, { upTimeoutMs: 600_000 }))
  cluster = start.value
  const apis = cluster.apis
  const status = await Promise.all(apis.map(async (api) => await api.get('/status')))
  if (!status.every((s) => s.ledger.entries === N && s.ledger.stateRoot === build.value)) throw new Error(`bench: nodes hold ${status.map((s) => s.ledger.entries).join(', ')} entries`)
  console.log(`start: 3 processes up, connected and trusting each other in ${seconds(start.ms)}; each holds ${N.toLocaleString('en')} entries (the built state root)`)

  const snapshotDirs = dirs.map((dir) => dataDirLayout(dir).snapshots)
  const stored0 = snapshotDirs.map(dirBytes)
  // The nodes' own background work (history sync, gossip anti-entropy, status reads) with no snapshot: the baseline.
  const idle = await phase(apis, async () => { await pause(5000) })
  console.log(`idle 5 s before the snapshot: ${idle.stall}`)
  const statusCall = await phase(apis, async () => { await Promise.all(apis.map(async (api) => await api.get('/status'))); await pause(200) })
  console.log(`one GET /status on each node (it counts ${N.toLocaleString('en')} ledger entries): ${statusCall.stall}`)
  /** Takes a snapshot from node 0 and waits until every participant lists it (polling `GET /snapshots`, not the change feed: see `phase`). */
  const snapshot = async () => {
    const taken = await apis[0].post('/snapshots')
    for (;;) {
      const listed = await Promise.all(apis.map(async (api) => (await api.get('/snapshots')).some((s) => s.snapshotId === taken.snapshotId)))
      if (listed.every(Boolean)) return taken
      await pause(20)
    }
  }
  const taken = await phase(apis, snapshot)
  const id = taken.value.snapshotId
  const stored1 = snapshotDirs.map((dir, i) => dirBytes(dir) - stored0[i])
  console.log(`snapshot: POST /snapshots on node 0 completed and listed by every participant in ${seconds(taken.ms)} with ${taken.value.participants.length} participants; bytes stored per node ${stored1.join(', ')}; ${taken.stall}`)

  const verified = await phase(apis, async () => await apis[1].post(`/snapshots/${id}/verify`))
  console.log(`verify: node 1 and every participant recomputed the root in ${seconds(verified.ms)}: ${verified.value.valid ? 'valid' : 'NOT valid'} (${verified.value.results.filter((r) => r.valid).length} of ${verified.value.results.length}); ${verified.stall}`)
  const audit = await phase(apis, async () => await apis[2].get(`/snapshots/${id}/audit`))
  const currencies = audit.value.currencies.map((c) => `${c.currency} recorded ${c.recorded} + in flight ${c.inFlight} = ${c.total}`).join('; ') || 'no non-zero balance'
  console.log(`audit: node 2 in ${seconds(audit.ms)}: complete ${audit.value.complete}, balanced ${audit.value.balanced} (${currencies})${audit.value.notes.length === 0 ? '' : `; notes: ${audit.value.notes.join('; ')}`}; ${audit.stall}`)
  if (!verified.value.valid || !audit.value.balanced) throw new Error('bench: the snapshot did not verify or its audit does not sum to zero')

  // More payments, then a second snapshot (what it stores beside the first) and a restore of the first on node 1.
  await Promise.all(apis.map(async (api, i) => { for (let k = 0; k < AFTER / 3; k++) await api.post('/pay', { to: apis[(i + 1) % 3].runtime.did, amount: '1' }) }))
  await until(apis, async () => (await Promise.all(apis.map(async (api) => (await api.get('/status')).ledger.entries))).every((n) => n === N + AFTER) ? true : undefined)
  const second = await phase(apis, snapshot)
  const stored2 = snapshotDirs.map((dir, i) => dirBytes(dir) - stored0[i] - stored1[i])
  console.log(`second snapshot after ${AFTER} more payments: ${seconds(second.ms)}; bytes stored per node ${stored2.join(', ')} (${fmt(100 * stored2[0] / stored1[0], 0)} % of the first); ${second.stall}`)

  const restored = await phase(apis, async () => await apis[1].post(`/snapshots/${id}/restore`))
  const r = restored.value
  console.log(`restore: node 1 back to the first snapshot in ${seconds(restored.ms)}: ${r.restored.join(', ')}; read back ${r.verified ? 'exactly as recorded' : 'DIFFERENT from the record'}; ledger entries ${r.before.ledger.entries} → ${r.after.ledger.entries}; ${restored.stall}`)
  const caughtUp = await timed(async () => await until([apis[1]], async () => (await apis[1].get('/status')).ledger.entries === N + AFTER ? true : undefined, 600_000))
  console.log(`  the ${AFTER} newer entries came back from its peers in ${seconds(caughtUp.ms)} (watched through GET /status: no stall figure)`)
  console.log(`memory: ${apis.map((api, i) => `node ${i} peak RSS ${fmt(procStatusMiB(api.runtime.pid, 'VmHWM'), 0)} MiB (now ${fmt(procStatusMiB(api.runtime.pid, 'VmRSS'), 0)} MiB, of it mapped files ${fmt(procStatusMiB(api.runtime.pid, 'RssFile'), 0)} MiB)`).join('; ')}`)
  if (!r.verified) throw new Error('bench: the restore did not read back as recorded')
} finally {
  await cluster?.stop()
  rmSync(root, { recursive: true, force: true })
}
