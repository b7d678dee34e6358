#!/usr/bin/env node
// Scale bench (issue 24): ICN_BENCH_SCALE_NODES node processes (default 50) of one cooperative on loopback,
// each configured with ONE bootstrap address (a random earlier node's; node 0 none). Prints, beside the goals:
//   time until every node holds every member's address record, until every node holds its degree of
//   connections, and the mesh it formed (peers per node);
//   time for one entry (a trust attestation) to reach every node, p50/p99 over ICN_BENCH_SCALE_ENTRIES entries
//   (default 20);
//   duplicates per useful delivery (gossip `duplicates` / `accepted`, summed over nodes), for the first 5 entries
//   (the push tree still forming) and for the rest;
//   idle CPU per node over ICN_BENCH_SCALE_IDLE_MS (default 60 s) from /proc, starting ICN_BENCH_SCALE_SETTLE_MS
//   (default 0) after the last entry, and RSS per node.
// Fixed listen ports from ICN_BENCH_SCALE_PORT (default 27000: below Linux's ephemeral range, which outbound
// connections use). Prints figures only, asserts nothing. Uses built dist/ (pnpm build first).
import { spawn } from 'node:child_process'
import { openSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { keyPairFromSeed } from '@icn/identity'
import { SeededRng } from '@icn/testkit'
import { peerIdOfDid } from '@icn/transport'
import { connectApi, initDataDir, waitUntil, writeCharterFile } from '../dist/index.mjs'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const count = Number(process.env.ICN_BENCH_SCALE_NODES ?? 50)
const entries = Number(process.env.ICN_BENCH_SCALE_ENTRIES ?? 20)
if (entries > count * (count - 1)) throw new Error(`bench: ${count} nodes have ${count * (count - 1)} (author, subject) pairs, fewer than ICN_BENCH_SCALE_ENTRIES=${entries}`)
const FORMING = 5
const idleMs = Number(process.env.ICN_BENCH_SCALE_IDLE_MS ?? 60_000)
const basePort = Number(process.env.ICN_BENCH_SCALE_PORT ?? 27_000)
const ticksPerSecond = 100 // USER_HZ on Linux
const percentile = (values, p) => { const s = [...values].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }
const median = (values) => percentile(values, 0.5)
const fmt = (n, digits = 1) => n.toFixed(digits)

/** The node's API once it has written node.json; retried every 200 ms (nothing to long-poll before). */
async function connectWhenUp (dir, proc, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const api = await connectApi(dir).catch(() => undefined)
    if (api !== undefined) return api
    if (proc.exitCode !== null) throw new Error(`bench: node ${dir} exited with ${proc.exitCode}`)
    if (Date.now() > deadline) throw new Error(`bench: no node API for ${dir}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** utime + stime (clock ticks) and RSS (KiB) of a process, from /proc. */
async function usage (pid) {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ')
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return { ticks: Number(stat[11]) + Number(stat[12]), rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) }
}

const root = await mkdtemp(join(tmpdir(), 'icn-scale-'))
const procs = []
let stopping = false
try {
  const keys = Array.from({ length: count }, (_, i) => keyPairFromSeed(Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? 0x5c : j === 30 ? i >> 8 : j === 31 ? i & 0xff : 0))))
  const addrOf = (i) => `/ip4/127.0.0.1/tcp/${basePort + i}/p2p/${peerIdOfDid(keys[i].did)}`
  const rng = new SeededRng(24)
  const dirs = keys.map((_, i) => join(root, `n${i}`))
  for (let i = 0; i < count; i++) {
    await initDataDir(dirs[i], keys[i])
    const bootstrap = i === 0 ? [] : [addrOf(rng.int(0, i - 1))]
    // Every node reaches every other from 127.0.0.1: libp2p's per-host limit (5 new inbound connections a second)
    // would be shared by the whole network, which no real deployment of separate sites sees.
    await writeFile(join(dirs[i], 'config.json'), JSON.stringify({ listen: [`/ip4/127.0.0.1/tcp/${basePort + i}`], peers: bootstrap, logLevel: 'warn', maxInboundPerHostPerSecond: 1000 }))
    await writeCharterFile(dirs[i], { domain: 'coop:scale', members: keys.map((k, j) => ({ did: k.did, role: j === 0 ? 'steward' : 'member' })) })
  }

  const started = performance.now()
  // Each node's stderr (warnings, a crash) goes to <root>/n<i>.err, shown if the node exits.
  for (const [i, dir] of dirs.entries()) procs.push(spawn(process.execPath, [...(process.env.ICN_BENCH_SCALE_NODE_FLAGS ?? '').split(' ').filter((f) => f !== ''), cli, 'run', '--data-dir', dir], { stdio: ['ignore', 'ignore', openSync(join(root, `n${i}.err`), 'w')] }))
  for (const [i, proc] of procs.entries()) {
    proc.once('exit', (code, signal) => {
      if (stopping) return
      void readFile(join(root, `n${i}.err`), 'utf8').then((err) => { console.error(`bench: node ${i} exited (${code ?? signal}):\n${err.split('\n').slice(-15).join('\n')}`) })
    })
  }
  const apis = []
  for (let i = 0; i < count; i++) apis.push(await connectWhenUp(dirs[i], procs[i]))
  const readyS = (performance.now() - started) / 1000
  console.log(`  … all ${count} APIs up after ${fmt(readyS)} s`)

  // Every node holds every member's record: polled once a second (50 long-polls would each wake on every change).
  // A loaded node's API may drop a request (ECONNRESET): asked again up to 5 times, unless the node exited.
  const statusOf = async (api, i) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await api.get('/status')
      } catch (err) {
        if (attempt >= 5 || procs[i].exitCode !== null) throw err
        await new Promise((resolve) => setTimeout(resolve, 1000))
      }
    }
  }
  const statuses = async () => await Promise.all(apis.map(statusOf))
  let knownS
  let all
  let lastReport = performance.now()
  const deadline = performance.now() + Number(process.env.ICN_BENCH_SCALE_DISCOVERY_MS ?? 300_000)
  for (;;) {
    all = await statuses()
    const records = all.map((s) => s.discovery.records)
    if (records.every((n) => n === count)) { knownS = (performance.now() - started) / 1000; break }
    if (performance.now() - lastReport >= Number(process.env.ICN_BENCH_SCALE_REPORT_MS ?? 30_000)) {
      lastReport = performance.now()
      console.log(`  … ${fmt((lastReport - started) / 1000, 0)} s: records per node min ${Math.min(...records)}, median ${median(records)}; peers per node min ${Math.min(...all.map((s) => s.peers))}, median ${median(all.map((s) => s.peers))}${process.env.ICN_BENCH_SCALE_REPORT_MS === undefined ? '' : `; records ${records.join(',')}`}`)
    }
    if (performance.now() > deadline) throw new Error(`bench: not every node holds every record ${fmt(readyS, 0)} s + ICN_BENCH_SCALE_DISCOVERY_MS after spawn: records ${records.join(',')}; peers ${all.map((s) => s.peers).join(',')}`)
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  // The mesh formed: every node holds its degree of connections (or everyone), so the entries below do not
  // run while links still come and go.
  const degree = Math.min(8, count - 1)
  let meshS
  for (;;) {
    if (all.every((s) => s.peers >= degree)) { meshS = (performance.now() - started) / 1000; break }
    if (performance.now() > deadline) throw new Error(`bench: the mesh did not form: peers ${all.map((s) => s.peers).join(',')}`)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    all = await statuses()
  }
  const peers = all.map((s) => s.peers)

  // One entry at a time, each from another node; each node's arrival through its own change feed.
  const before = await statuses()
  const entriesStart = await Promise.all(apis.map((api) => usage(api.runtime.pid)))
  const entriesT0 = performance.now()
  const latencies = []
  let formed
  for (let e = 0; e < entries; e++) {
    if (e === FORMING) formed = await statuses()
    // Every entry a new (author, subject) pair: a repeated pair supersedes the attestation and adds none.
    const author = apis[e % count]
    const subject = apis[(e + 1 + (Math.floor(e / count) % (count - 1))) % count]
    const want = e + 1
    const t0 = performance.now()
    const arrivals = apis.map(async (api, i) => {
      // The long-poll too may be dropped by a loaded node (ECONNRESET): asked again unless the node exited.
      for (let attempt = 0; ; attempt++) {
        try {
          await waitUntil([api], async () => ((await api.get('/status')).trust.attestations >= want ? true : undefined), Date.now() + 120_000)
          return performance.now() - t0
        } catch (err) {
          if (attempt >= 5 || procs[i].exitCode !== null) throw err
        }
      }
    })
    await author.post('/trust', { subject: subject.runtime.did, score: 0.9, graph: 'technical' })
    latencies.push(...await Promise.all(arrivals))
  }
  const entriesEnd = await Promise.all(apis.map((api) => usage(api.runtime.pid)))
  const entriesS = (performance.now() - entriesT0) / 1000
  const after = await statuses()
  // CPU each node spent while the entries ran (this bench's own /status and /wait probes included), per entry:
  // with every node busy at once, the machine's floor for one entry to reach all is count × that / 2 cores.
  const perEntryMs = entriesEnd.map((u, i) => 1000 * (u.ticks - entriesStart[i].ticks) / ticksPerSecond / entries)
  const sum = (list, f) => list.reduce((n, s) => n + f(s), 0)
  const delta = (from, to, f) => sum(to, f) - sum(from, f)
  const ratio = (from, to) => {
    const accepted = delta(from, to, (s) => s.gossip.accepted)
    const duplicates = delta(from, to, (s) => s.gossip.duplicates)
    return `${duplicates} / ${accepted} = ${fmt(accepted === 0 ? 0 : duplicates / accepted, 2)}`
  }

  // Optionally let the back-offs (anti-entropy 2 → 30 s, history sync 30 s → 5 min) run out first.
  const settleMs = Number(process.env.ICN_BENCH_SCALE_SETTLE_MS ?? 0)
  if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs))
  const pids = apis.map((api) => api.runtime.pid)
  const u0 = await Promise.all(pids.map(usage))
  const t0 = performance.now()
  await new Promise((resolve) => setTimeout(resolve, idleMs))
  const seconds = (performance.now() - t0) / 1000
  const u1 = await Promise.all(pids.map(usage))
  const cpu = u1.map((u, i) => 100 * (u.ticks - u0[i].ticks) / ticksPerSecond / seconds)
  const rss = u1.map((u) => u.rssKiB / 1024)

  console.log(`scale bench: ${count} node processes on this machine (${process.env.ICN_BENCH_NOTE ?? 'shared 2 cores'}), one bootstrap address each`)
  console.log(`  all started (API up): ${fmt(readyS)} s; every node holds every member's record: ${fmt(knownS)} s after spawn, ${fmt(knownS - readyS)} s after the last API was up (goal: all connected ≤ 15 s)`)
  console.log(`  every node connected to ${degree} members: ${fmt(meshS)} s after spawn, ${fmt(meshS - readyS)} s after the last API was up`)
  console.log(`  mesh: peers per node min ${Math.min(...peers)}, median ${median(peers)}, max ${Math.max(...peers)} (degree 8; full mesh would be ${count - 1})`)
  console.log(`  one entry to all ${count} nodes (${entries} entries, ${latencies.length} arrivals): p50 ${fmt(median(latencies), 0)} ms, p99 ${fmt(percentile(latencies, 0.99), 0)} ms (goal ≤ 2,000 ms)`)
  // Everything the nodes did while the entries ran (this bench's probes and their periodic work included): the
  // share of the machine's 2 cores they kept busy says whether delivery waited for the machine.
  const coresBusy = perEntryMs.reduce((sum, ms) => sum + ms, 0) * entries / 1000 / entriesS
  console.log(`  CPU while the ${entries} entries ran (${fmt(entriesS, 1)} s): the ${count} nodes kept ${fmt(coresBusy, 2)} of 2 cores busy; per node per entry median ${fmt(median(perEntryMs), 1)} ms, max ${fmt(Math.max(...perEntryMs), 1)} ms (probes and periodic work included)`)
  console.log(`  duplicates per useful delivery: first ${Math.min(FORMING, entries)} entries ${ratio(before, formed ?? after)}${formed === undefined ? '' : `; the other ${entries - FORMING} ${ratio(formed, after)}`} (goal ≤ 1)`)
  console.log(`  idle CPU per node over ${fmt(seconds, 0)} s${settleMs > 0 ? `, from ${fmt(settleMs / 1000, 0)} s after the last entry` : ', from the last entry'}: median ${fmt(median(cpu), 2)} %, max ${fmt(Math.max(...cpu), 2)} % of a core (goal ≤ 0.5 %)`)
  console.log(`  RSS per node: median ${fmt(median(rss), 0)} MiB, max ${fmt(Math.max(...rss), 0)} MiB`)
} finally {
  stopping = true
  for (const proc of procs) proc.kill('SIGTERM')
  await Promise.all(procs.map(async (proc) => { if (proc.exitCode === null) await new Promise((resolve) => proc.once('exit', resolve)) }))
  await rm(root, { recursive: true, force: true })
}
