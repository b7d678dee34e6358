// The compact cut: snapshot cost against ledger history (prints figures and the goals; never asserts).
//   node bench/cut.bench.mjs                    (10,000 and 100,000 payments)
//   ICN_BENCH_LARGE=1 node bench/cut.bench.mjs  (adds 1,000,000 payments: ~25 minutes to build here)
//   ICN_BENCH_CUT_LEVELS=10000 node …           (chosen levels)
// Run with --expose-gc (as `pnpm bench` does) so the history's garbage is collected before each snapshot.
// Three snapshot nodes over a simulated network, each recording a real @icn/ledger (LMDB) through its
// exportState and storing completed snapshots in its own chunked store. The three nodes hold identical
// ledgers (the network has converged), so here they share one LMDB store, each exporting it on its own.
// Runs the built packages (dist/).
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { keyPairFromSeed, setVerifiedSignatureCacheSize, sha256, utf8 } from '@icn/identity'
import { PERMISSIVE_POLICY, decodeLedgerCut, openLedger } from '@icn/ledger'
import { ManualClock, SimNetwork } from '@icn/testkit'
import { createSnapshotNode, openSnapshotStore } from '../dist/index.js'

setVerifiedSignatureCacheSize(0)
const large = process.env.ICN_BENCH_LARGE === '1'
const LEVELS = process.env.ICN_BENCH_CUT_LEVELS?.split(',').map(Number) ?? (large ? [10_000, 100_000, 1_000_000] : [10_000, 100_000])
const members = [0, 1, 2].map((i) => keyPairFromSeed(sha256(utf8(`cut bench member ${i}`))))
const nextTurn = () => new Promise((resolve) => { setImmediate(resolve) })
const fmt = (n, d = 1) => n.toFixed(d)

/** Payments n..to-1 (member n % 3 pays the next one 1 unit), queued 500 at a time so they share commits. */
async function pay (ledger, from, to) {
  for (let n = from; n < to; n += 500) {
    const batch = []
    for (let i = n; i < Math.min(to, n + 500); i++) batch.push(ledger.pay(members[i % 3], members[(i + 1) % 3].did, 'HOUR', 1n))
    await Promise.all(batch)
  }
}

function dirBytes (dir) {
  if (!existsSync(dir)) return 0
  let total = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size
  }
  return total
}

/**
 * The event loop's longest stall while running: a 1 ms timer chain records each tick's wall-clock gap and the
 * process's CPU time over it. A gap is the loop's own work only as far as CPU was used meanwhile (on a loaded
 * machine the process also waits for a core), so `ownMs` = the largest min(gap, CPU over the gap) − 1 ms.
 * (CPU time counts every thread of the process, LMDB's and libuv's too: an upper bound.)
 */
function stallProbe () {
  let last = performance.now()
  let lastCpu = process.cpuUsage()
  let gapMs = 0
  let ownMs = 0
  let timer
  const tick = () => {
    const now = performance.now()
    const cpu = process.cpuUsage(lastCpu)
    const gap = now - last - 1
    gapMs = Math.max(gapMs, gap)
    ownMs = Math.max(ownMs, Math.min(gap, (cpu.user + cpu.system) / 1000 - 1))
    last = now
    lastCpu = process.cpuUsage()
    timer = setTimeout(tick, 1)
  }
  timer = setTimeout(tick, 1)
  return { stop: () => { clearTimeout(timer); return { gapMs, ownMs: Math.max(0, ownMs) } } }
}

/** Takes one snapshot from node 0; returns wall ms, the max event-loop delay seen meanwhile, and bytes each store grew by. */
async function snapshot (nodes, net) {
  const before = nodes.map((n) => dirBytes(n.storeDir))
  // The garbage of building the history is collected first: a major GC pause is not the snapshot's own work.
  globalThis.gc?.()
  const probe = stallProbe()
  const start = performance.now()
  const { snapshotId, outcome } = nodes[0].snap.startSnapshot()
  let result
  outcome.then((r) => { result = r })
  while (result === undefined) { await net.runUntilIdle(); await nextTurn() }
  for (const n of nodes) {
    let done
    n.snap.waitForSnapshot(snapshotId).then((r) => { done = r })
    while (done === undefined) { await net.runUntilIdle(); await nextTurn() }
    if (done.status !== 'complete') throw new Error(`participant: ${done.reason}`)
  }
  const wallMs = performance.now() - start
  const { gapMs, ownMs } = probe.stop()
  if (result.status !== 'complete') throw new Error(result.reason)
  return { snapshotId, wallMs, stallMs: gapMs, ownMs, stored: nodes.map((n, i) => dirBytes(n.storeDir) - before[i]) }
}

const root = mkdtempSync(join(tmpdir(), 'icn-cut-bench-'))
try {
  const ledger = await openLedger({ path: join(root, 'ledger'), policy: PERMISSIVE_POLICY })
  console.log('# the compact cut: snapshot cost against history (3 nodes, ledger recorded as a cut, chunked snapshot store)')
  console.log(`node ${process.version}; levels ${LEVELS.join(', ')}${large ? '' : ' (ICN_BENCH_LARGE=1 adds 1,000,000)'}\n`)
  console.log('payments | build s | cut bytes | cut export ms (max event-loop delay) | snapshot ms 1st / 2nd | longest event-loop stall ms (of it own work) | bytes stored per node: 1st snapshot | 2nd (after 1,000 more payments) | 2nd / 1st')
  const rows = []
  let built = 0
  for (const level of LEVELS) {
    const t0 = performance.now()
    await pay(ledger, built, level)
    built = level
    const buildS = (performance.now() - t0) / 1000
    const clock = new ManualClock()
    const net = new SimNetwork({ seed: level % 9973, clock, defaults: { minDelayMs: 1, maxDelayMs: 1 } })
    const nodes = []
    for (const [i, keyPair] of members.entries()) {
      const storeDir = join(root, `store-${level}-${i}`)
      const store = await openSnapshotStore({ path: storeDir })
      const provider = { name: 'ledger', exportState: async () => await ledger.exportState(), restoreState: async (s) => { await ledger.restoreState(s) } }
      const snap = createSnapshotNode({ keyPair, transport: net.addNode(keyPair.did), clock, trustOf: () => 1, providers: [provider], store })
      nodes.push({ snap, store, storeDir })
    }
    globalThis.gc?.()
    const exportProbe = stallProbe()
    const e0 = performance.now()
    const cut = await ledger.exportState()
    const exportMs = performance.now() - e0
    await new Promise((resolve) => { setTimeout(resolve, 2) })
    const exportStallMs = exportProbe.stop().gapMs
    const decoded = decodeLedgerCut(cut)
    if (decoded.heads.reduce((n, h) => n + h.seq, 0) !== level) throw new Error('cut heads do not add up to the history')
    const first = await snapshot(nodes, net)
    await pay(ledger, built, built + 1000)
    built += 1000
    const second = await snapshot(nodes, net)
    const row = { level, buildS, cutBytes: cut.length, exportMs, exportStallMs, first, second }
    rows.push(row)
    const ratio = second.stored[0] / first.stored[0]
    console.log(`${level.toLocaleString('en')} | ${fmt(buildS)} | ${cut.length} | ${fmt(exportMs)} (${fmt(exportStallMs)}) | ${fmt(first.wallMs)} / ${fmt(second.wallMs)} | ${fmt(Math.max(first.stallMs, second.stallMs))} (${fmt(Math.max(first.ownMs, second.ownMs))}) | ${first.stored.join(', ')} | ${second.stored.join(', ')} | ${fmt(ratio, 2)}`)
    for (const n of nodes) { await n.snap.close(); await n.store.close() }
  }
  await ledger.close()
  const [low, high] = [rows[0], rows[rows.length - 1]]
  console.log('')
  console.log(`goal: snapshot time at ${high.level.toLocaleString('en')} ≤ 2× time at ${low.level.toLocaleString('en')}: ${fmt(high.first.wallMs)} vs ${fmt(low.first.wallMs)} ms → ${fmt(high.first.wallMs / low.first.wallMs, 2)}×`)
  const stall = Math.max(...rows.flatMap((r) => [r.first.stallMs, r.second.stallMs]))
  const own = Math.max(...rows.flatMap((r) => [r.first.ownMs, r.second.ownMs]))
  console.log(`goal: event-loop stall ≤ 20 ms: recording the cut ${fmt(Math.max(...rows.map((r) => r.exportStallMs)))} ms; a whole snapshot (three nodes' protocol work and their stores in one process) ${fmt(stall)} ms, of which own work (CPU used over the gap) ≤ ${fmt(own)} ms`)
  console.log(`goal: no size limit reached: the largest cut is ${Math.max(...rows.map((r) => r.cutBytes))} bytes (maxSnapshotSize 100 MiB)`)
  console.log(`goal: 2nd snapshot ≤ 1 % of the 1st + what changed: with 3 accounts the whole cut (${low.cutBytes} bytes, one chunk) is what changed, so each snapshot stores one new chunk plus its metadata`)
} finally {
  rmSync(root, { recursive: true, force: true })
}
