#!/usr/bin/env node
// Node benchmarks over real processes on loopback (built dist/): prints figures and ratios, asserts nothing.
//   late-joiner catch-up by history sync (ICN_BENCH_CATCHUP payments, default 100,000) against ledger.applyBatch;
//   anchors on the same stack: raw libp2p ping-pong and @libp2p/gossipsub 17 (ICN_BENCH_GOSSIPSUB per peer,
//   default 4,000); the packages' latency floor and throughput ceiling; payment latency A → applied on B,
//   payments/s across 3 processes (ICN_BENCH_PAYMENTS per payer, default 4,000: ~10 s of load, so JIT warm-up
//   does not dominate), B's event-loop delay and every node's disk writes during that load; distributed
//   snapshot time for 3 and 10 nodes (ICN_BENCH_SNAPSHOT_NODES=3,10; empty for none).
// Diagnosis: ICN_BENCH_PROFILE_DIR, ICN_BENCH_NODE_FLAGS, ICN_BENCH_LOG_DIR (bench/cluster.mjs).
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readFileSync, statSync } from 'node:fs'
import { keyPairFromSeed, setVerifiedSignatureCacheSize } from '@icn/identity'
import { openLedger, signEntry } from '@icn/ledger'
import { Agent, request } from 'node:http'
import { initDataDir, readApiToken } from '../dist/index.mjs'
import { cli, connectWhenUp, initCluster, memoryOf, startCluster, until } from './cluster.mjs'

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

/** A key pair from a fixed seed: byte 0 names the bench phase, byte 31 the key (each phase its own DIDs). */
const seededKey = (phase, i) => keyPairFromSeed(Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? phase : j === 31 ? i : 0)))

/**
 * Runs `fn` with the verified-signature cache off, as when every ledger is its own process, then turns the
 * cache back on at its default size.
 */
async function withoutVerifiedSignatureCache (fn) {
  setVerifiedSignatureCacheSize(0)
  try {
    return await fn()
  } finally {
    setVerifiedSignatureCacheSize(4096)
  }
}

/**
 * `count` valid payments by authors taking turns (each extends its own chain; amounts of 1). The entries
 * acknowledge nothing, so an author's spending is bounded by its policy limit: ≤ 6,250 entries per author
 * keep every one applied, hence at least 16 authors and one more per 6,250 payments.
 */
function payments (count) {
  const authors = Array.from({ length: Math.max(16, Math.ceil(count / 6250)) }, (_, i) => seededKey(77, i + 1))
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
    const loop = status.eventLoop
    const rate = count / seconds
    console.log(`late joiner catch-up (history sync), ${count} payments: ${seconds.toFixed(1)} s → ${rate.toFixed(0)} entries/s; ` +
      `ledger.applyBatch in this run ${anchorRate.toFixed(0)} entries/s → ratio ${(100 * rate / anchorRate).toFixed(0)} % (goal ≥ 50 %); ` +
      `joiner ${memoryOf(b.runtime.pid)}, origin ${memoryOf(a.runtime.pid)}; joiner's event-loop stalls max ${loop.maxMs.toFixed(1)} ms, own work max ${loop.own?.maxMs.toFixed(1) ?? 'n/a'} ms`)
    return anchorRate
  } finally {
    await Promise.all(procs.map((p) => new Promise((resolve) => { p.on('exit', resolve); p.kill('SIGTERM') })))
  }
}

/**
 * The packages' own floor for one payment's latency: `ledger.pay` on A's ledger (sign + durable commit) and
 * `ledger.applyEnvelope` of that entry on B's (decode + verify + durable commit), sequential, in this process,
 * without the verified-signature cache (B is another process). Plus one network round trip, that is the
 * least a payment A → applied on B can take with a durable commit on each side.
 */
async function packageLatencyFloor (root, n) {
  const [payer, payee] = [1, 2].map((i) => seededKey(91, i))
  const [onA, onB] = await Promise.all(['a', 'b'].map(async (name) => await openLedger({ path: join(root, name) })))
  const pay = []
  const apply = []
  try {
    await withoutVerifiedSignatureCache(async () => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        const record = await onA.pay(payer, payee.did, 'ICN', 1n)
        const t1 = performance.now()
        const outcome = await onB.applyEnvelope(record.bytes)
        apply.push(performance.now() - t1)
        pay.push(t1 - t0)
        if (outcome.status !== 'applied') throw new Error(`floor: entry ${i} was ${outcome.status} on B`)
      }
    })
  } finally {
    await Promise.all([onA.close(), onB.close()])
  }
  return { payP50: percentile(pay.sort((x, y) => x - y), 0.5), applyP50: percentile(apply.sort((x, y) => x - y), 0.5) }
}

/**
 * The packages' ceiling for payments/s with 3 nodes on this machine's cores: the CPU (every thread of this
 * process: main, lmdb's writers, V8's) of what one payment needs of the packages in a 3-node network —
 * `ledger.pay` on its payer's ledger (sign + group commit, 16 in flight as the load's API clients) and
 * `ledger.applyBatch` on each of the two others (decode + verify + commit) — without the verified-signature
 * cache (each node is its own process). Three payers pay round a ring, as in the load, after a warm-up.
 * Three node processes sharing these cores cannot go faster than cores ÷ that CPU, before any HTTP, gossip
 * or network work.
 */
async function packageThroughputCeiling (root, perLedger) {
  const keys = [0, 1, 2].map((i) => seededKey(92, i))
  const ledgers = await Promise.all(keys.map(async (_, i) => await openLedger({ path: join(root, `l${i}`) })))
  // Rounds of 48 payments per payer: applyBatch verifies batches this small inline (the least CPU; from 64 entries
  // it spreads the checks over worker threads, which is faster on the wall clock and costs more CPU).
  const chunk = 48
  const cpuUs = () => { const { user, system } = process.cpuUsage(); return user + system }
  let payUs = 0
  let applyUs = 0
  // The first rounds warm V8 up and are not counted.
  const warmUp = 10 * chunk
  try {
    await withoutVerifiedSignatureCache(async () => {
      for (let done = -warmUp; done < perLedger; done += chunk) {
        const n = done < 0 ? chunk : Math.min(chunk, perLedger - done)
        const counted = done >= 0
        const paying = cpuUs()
        const authored = await Promise.all(ledgers.map(async (ledger, i) => {
          const out = []
          let next = 0
          await Promise.all(Array.from({ length: 16 }, async () => {
            while (next < n) { next++; out.push((await ledger.pay(keys[i], keys[(i + 1) % 3].did, 'ICN', 1n)).bytes) }
          }))
          return out
        }))
        const applying = cpuUs()
        if (counted) payUs += applying - paying
        await Promise.all(ledgers.map(async (ledger, i) => {
          for (const j of [(i + 1) % 3, (i + 2) % 3]) {
            const outcomes = await ledger.applyBatch(authored[j])
            const refused = outcomes.find((o) => o.status !== 'applied')
            if (refused !== undefined) throw new Error(`ceiling: an entry was ${refused.status} (${refused.reason ?? ''})`)
          }
        }))
        if (counted) applyUs += cpuUs() - applying
      }
    })
  } finally {
    await Promise.all(ledgers.map(async (ledger) => { await ledger.close() }))
  }
  const payments = 3 * perLedger
  const cpuMsPerPayment = (payUs + applyUs) / 1000 / payments
  return { cpuMsPerPayment, payMs: payUs / 1000 / payments, applyMs: applyUs / 1000 / (2 * payments), rate: availableParallelism() * 1000 / cpuMsPerPayment }
}

async function cluster (root, count) {
  return await startCluster((await initCluster(root, count)).dirs)
}

const entries = async (api) => (await api.get('/status')).ledger.entries
const anchorScript = fileURLToPath(new URL('./anchor-peer.mjs', import.meta.url))
/** CPU time (user + system) a process has used, in ms: figures that stay meaningful on a shared machine. */
const cpuMs = (pid, tid) => { const f = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10 }
const diskWrites = (pid) => Number(/write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN)
/**
 * Bytes the block device under `path` has been sent (sectors written, /sys/dev/block/<major>:<minor>/stat):
 * what reached the disk, journal included, from every process. `write_bytes` above counts page-cache
 * folios dirtied instead, which on a kernel with large ext4 folios is many times the bytes written.
 */
function deviceWrites (path) {
  const dev = statSync(path).dev
  const major = (dev >> 8) & 0xfff
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
  try {
    return 512 * Number(readFileSync(`/sys/dev/block/${major}:${minor}/stat`, 'utf8').trim().split(/\s+/)[6])
  } catch {
    return NaN
  }
}

/** A same-stack anchor process (anchor-peer.mjs): JSON lines in both directions. */
function anchorProcess (args) {
  const proc = spawn(process.execPath, [anchorScript, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = []
  const waiting = []
  let buffer = ''
  proc.stdout.setEncoding('utf8').on('data', (chunk) => {
    buffer += chunk
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = JSON.parse(buffer.slice(0, i))
      buffer = buffer.slice(i + 1)
      const w = waiting.shift()
      if (w === undefined) lines.push(line)
      else w(line)
    }
  })
  return {
    next: async () => lines.length > 0 ? lines.shift() : await new Promise((resolve) => { waiting.push(resolve) }),
    send: (value) => { proc.stdin.write(JSON.stringify(value) + '\n') },
    stop: async () => { proc.stdin.end(); await new Promise((resolve) => { if (proc.exitCode !== null) resolve(); else proc.on('exit', resolve) }) }
  }
}

/** Raw libp2p stream ping-pong between two processes: 64 B, sequential. */
async function pingPong (n) {
  const server = anchorProcess(['ping'])
  const { addr } = await server.next()
  const client = anchorProcess(['ping-client', addr, String(n)])
  const { pingMs } = await client.next()
  await client.stop()
  await server.stop()
  return pingMs.sort((x, y) => x - y)
}

/** @libp2p/gossipsub 17 on the same stack, 3 processes, each publishing `perPeer` signed 200 B messages. */
async function gossipsubDeliveries (perPeer) {
  const peers = [0, 1, 2].map(() => anchorProcess(['gossipsub', String(perPeer)]))
  const addrs = []
  for (const p of peers) addrs.push((await p.next()).addr)
  peers.forEach((p, i) => { p.send({ peers: addrs.slice(0, i), subscribers: 2 }) })
  for (const p of peers) await p.next()
  for (const p of peers) p.send({ go: 2 * perPeer })
  const done = []
  for (const p of peers) done.push(await p.next())
  for (const p of peers) p.send({ stop: true })
  await Promise.all(peers.map(async (p) => { await p.stop() }))
  const seconds = Math.max(...done.map((d) => d.done)) / 1000
  return { deliveries: done.reduce((n, d) => n + d.received, 0), seconds }
}

/**
 * API calls through node:http with kept-alive sockets: the load generator and the latency probe share the
 * 2 cores with the nodes, and fetch (undici) costs ~0.8 ms of CPU per request, this ~0.2 ms.
 */
function httpClient (api, token) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  return async (method, path, value) => await new Promise((resolve, reject) => {
    const body = value === undefined ? undefined : JSON.stringify(value)
    const headers = { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) }
    const req = request({ agent, host: '127.0.0.1', port: api.runtime.apiPort, path, method, headers }, (res) => {
      const chunks = []
      res.on('data', (chunk) => { chunks.push(chunk) })
      res.on('end', () => {
        if (res.statusCode === 200) resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
        else reject(new Error(`${method} ${path} answered ${res.statusCode}`))
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const root = await mkdtemp(join(tmpdir(), 'icn-bench-'))
try {
  console.log('# @icn/node benchmarks (real node processes on 127.0.0.1)\n')
  const catchUp = Number(process.env.ICN_BENCH_CATCHUP ?? 100_000)
  const applyBatchRate = await lateJoiner(join(root, 'late'), catchUp)

  const ping = await pingPong(1000)
  const pingP50 = percentile(ping, 0.5)
  console.log(`anchor: raw libp2p stream ping-pong (64 B, 2 processes), 1000 round trips: p50 ${pingP50.toFixed(3)} ms, p99 ${percentile(ping, 0.99).toFixed(3)} ms`)
  const perPeer = Number(process.env.ICN_BENCH_GOSSIPSUB ?? 4000)
  const gs = await gossipsubDeliveries(perPeer)
  const gsDeliveries = gs.deliveries / gs.seconds
  console.log(`anchor: @libp2p/gossipsub 17, 3 processes × ${perPeer} signed 200 B messages: ${gs.deliveries} deliveries in ${gs.seconds.toFixed(2)} s → ${gsDeliveries.toFixed(0)} deliveries/s (${(gsDeliveries / 2).toFixed(0)} messages/s at 2 delivered copies each)`)

  const floor = await packageLatencyFloor(join(root, 'floor'), 200)
  const floorMs = floor.payP50 + floor.applyP50 + pingP50
  console.log(`anchor: the packages' floor of one payment A → applied on B, 200 sequential in one process: ledger.pay p50 ${floor.payP50.toFixed(2)} ms + ledger.applyEnvelope p50 ${floor.applyP50.toFixed(2)} ms (each a durable commit) + one ping-pong = ${floorMs.toFixed(2)} ms = ${(floorMs / pingP50).toFixed(1)}× ping-pong`)

  const ceiling = await packageThroughputCeiling(join(root, 'ceiling'), 2016)
  console.log(`anchor: the packages' ceiling for 3 nodes on ${availableParallelism()} cores: ledger.pay once + ledger.applyBatch twice per payment (3 ledgers paying round a ring in one process, 6,048 payments, batches of 48) cost ${ceiling.payMs.toFixed(3)} + 2 × ${ceiling.applyMs.toFixed(3)} = ${ceiling.cpuMsPerPayment.toFixed(3)} ms of CPU (all threads) → at most ${ceiling.rate.toFixed(0)} payments/s = ${(100 * ceiling.rate / applyBatchRate).toFixed(0)} % of ledger.applyBatch before any HTTP, gossip or network work`)

  const three = await cluster(join(root, 'three'), 3)
  const [a, b, c] = three.apis

  // Latency: B's long-poll is open before A's payment is posted; it answers when B has applied it (node:http clients).
  const [callA, callB] = await Promise.all([a, b].map(async (api, i) => httpClient(api, await readApiToken(join(root, 'three', `n${i}`)))))
  const latencies = []
  const answered = []
  for (let i = 0; i < 200; i++) {
    const { version } = await callB('GET', '/status')
    const waiting = callB('GET', `/wait?since=${version}`)
    const started = performance.now()
    await callA('POST', '/pay', { to: b.runtime.did, amount: '1' })
    answered.push(performance.now() - started)
    await waiting
    latencies.push(performance.now() - started)
  }
  latencies.sort((x, y) => x - y)
  answered.sort((x, y) => x - y)
  const latencyP50 = percentile(latencies, 0.5)
  console.log(`payment latency A → applied on B (POST /pay on A until B's change feed answers), 200 payments: p50 ${latencyP50.toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms → p50 ${(latencyP50 / pingP50).toFixed(1)}× ping-pong (goal ≤ 4×), ${(latencyP50 / floorMs).toFixed(1)}× the packages' floor; A's 200 (durable on A) came after p50 ${percentile(answered, 0.5).toFixed(2)} ms`)

  // Throughput: three payers, `inFlight` concurrent API clients each, until all three nodes applied all.
  // The probe waited for B only: C may still be applying its last payment, so start from a count all three hold.
  const base = await until(three.apis, async () => {
    const counts = await Promise.all(three.apis.map(entries))
    return counts.every((n) => n === counts[0]) ? counts[0] : undefined
  })
  const perPayer = Number(process.env.ICN_BENCH_PAYMENTS ?? 4000)
  const inFlight = 16
  const pids = three.apis.map((api) => api.runtime.pid)
  const written = pids.map(diskWrites)
  const deviceWritten = deviceWrites(root)
  const cpu = pids.map((pid) => cpuMs(pid))
  const mainCpu = pids.map((pid) => cpuMs(pid, pid))
  const benchCpu = process.cpuUsage()
  await b.post('/metrics/reset')
  const pays = await Promise.all(three.apis.map(async (api, i) => {
    const call = httpClient(api, await readApiToken(join(root, 'three', `n${i}`)))
    return async (to) => { await call('POST', '/pay', { to, amount: '1' }) }
  }))
  const started = performance.now()
  await Promise.all([[0, b], [1, c], [2, a]].map(async ([from, to]) => {
    let next = 0
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < perPayer) { next++; await pays[from](to.runtime.did) }
    }))
  }))
  const posted = performance.now() - started
  await until(three.apis, async () => (await Promise.all(three.apis.map(entries))).every((n) => n === base + 3 * perPayer) ? true : undefined)
  const total = performance.now() - started
  const loop = (await b.get('/status')).eventLoop
  const bytes = pids.map((pid, i) => diskWrites(pid) - written[i])
  const deviceBytes = deviceWrites(root) - deviceWritten
  const cpuPerPayment = pids.map((pid, i) => (cpuMs(pid) - cpu[i]) / (3 * perPayer))
  const mainCpuPerPayment = pids.map((pid, i) => (cpuMs(pid, pid) - mainCpu[i]) / (3 * perPayer))
  const clientCpu = process.cpuUsage(benchCpu)
  const rate = 3 * perPayer / (total / 1000)
  console.log(`payments end to end, 3 processes (${inFlight} API clients per payer): ${3 * perPayer} payments posted in ${posted.toFixed(0)} ms, applied on all 3 nodes after ${total.toFixed(0)} ms → ${rate.toFixed(0)} payments/s`)
  console.log(`  = ${(100 * rate / applyBatchRate).toFixed(1)} % of ledger.applyBatch in this run (goal ≥ 40 %), ${(100 * rate / ceiling.rate).toFixed(0)} % of the packages' ceiling; ${(rate / (gsDeliveries / 2)).toFixed(2)}× gossipsub's messages/s (goal ≥ 1)`)
  console.log(`  event-loop delay on B (a payer and a receiver) during the load: p99 ${loop.p99Ms.toFixed(1)} ms, max ${loop.maxMs.toFixed(1)} ms (goal max ≤ 20 ms); ` +
    `less the time it waited for a CPU (its own work): p99 ${loop.own?.p99Ms.toFixed(1) ?? 'n/a'} ms, max ${loop.own?.maxMs.toFixed(1) ?? 'n/a'} ms; ` +
    `B's main thread ran ${loop.runMs === undefined ? 'n/a' : (100 * loop.runMs / total).toFixed(0)} % of the load's wall time and waited on the run queue ${loop.runQueueWaitMs === undefined ? 'n/a' : (100 * loop.runQueueWaitMs / total).toFixed(0)} %`)
  console.log(`  CPU per payment: ${cpuPerPayment.map((ms) => ms.toFixed(2)).join(' / ')} ms on A / B / C (all three nodes ${cpuPerPayment.reduce((x, y) => x + y, 0).toFixed(2)} ms; their main threads ${mainCpuPerPayment.map((ms) => ms.toFixed(2)).join(' / ')}, the rest is V8's and lmdb's threads), the API clients ${((clientCpu.user + clientCpu.system) / 1000 / (3 * perPayer)).toFixed(2)} ms`)
  console.log(`  disk writes per payment: ${(deviceBytes / (3 * perPayer) / 1024).toFixed(1)} KB reached the disk for all three nodes together (the block device's sectors written); ` +
    `page-cache bytes dirtied (/proc/<pid>/io write_bytes) ${bytes.map((n) => (n / (3 * perPayer) / 1024).toFixed(1)).join(' / ')} KB on A / B / C`)

  const sizes = (process.env.ICN_BENCH_SNAPSHOT_NODES ?? '3,10').split(',').filter((n) => n !== '').map(Number)
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
