// Snapshot benchmarks: prints figures and ratios (never asserts timings).
//   node bench/snapshot.bench.mjs            (default sizes, well under a minute)
//   ICN_BENCH_LARGE=1 node bench/snapshot.bench.mjs   (adds the 100 MB state run: ~1 GB RAM)
// Runs the built package (dist/): `pnpm --filter @icn/snapshot build` first.
import { createCipheriv, randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { blake3, encode, keyPairFromSeed, setVerifiedSignatureCacheSize, sha256 } from '@icn/identity'
import { ManualClock, SeededRng, SimNetwork, flushMicrotasks } from '@icn/testkit'
import { createSnapshotNode, encodeMessage, merkleRoot } from '../dist/index.js'

// Every simulated participant lives in this one process: without this, a node would reuse the signature checks
// of the nodes before it, which separate node processes cannot.
setVerifiedSignatureCacheSize(0)

const MB = 1024 * 1024
const large = process.env.ICN_BENCH_LARGE === '1'

/** Pseudo-random, really incompressible bytes, deterministic per seed and fast to make (AES-128-CTR keystream). */
function noise (size, seed) {
  const key = sha256(Uint8Array.of(seed & 255, seed >> 8)).subarray(0, 16)
  const cipher = createCipheriv('aes-128-ctr', key, new Uint8Array(16))
  return new Uint8Array(Buffer.concat([cipher.update(new Uint8Array(size)), cipher.final()]))
}

function cluster (size, stateBytes, seed) {
  const clock = new ManualClock()
  const net = new SimNetwork({ seed, clock, defaults: { minDelayMs: 1, maxDelayMs: 1 } })
  const rng = new SeededRng(seed)
  const nodes = []
  for (let i = 0; i < size; i++) {
    const keyPair = keyPairFromSeed(rng.bytes(32))
    const state = stateBytes > 0 ? noise(stateBytes, i) : encode({ balance: 100 + i })
    const provider = { name: 'state', exportState: async () => state, restoreState: async () => {} }
    const snap = createSnapshotNode({ keyPair, transport: net.addNode(keyPair.did), clock, trustOf: () => 1, providers: [provider] },
      { maxSnapshotSize: Math.max(200 * MB, stateBytes * 2) })
    nodes.push({ keyPair, snap })
  }
  return { net, clock, nodes }
}

async function timeSnapshot (size, stateBytes, seed) {
  const c = cluster(size, stateBytes, seed)
  const start = performance.now()
  const cpuStart = process.cpuUsage()
  const simStart = c.clock.now()
  const { snapshotId, outcome } = c.nodes[0].snap.startSnapshot()
  await c.net.runUntilIdle()
  const result = await outcome
  const wallMs = performance.now() - start
  const cpu = process.cpuUsage(cpuStart)
  const cpuMs = (cpu.user + cpu.system) / 1000
  if (result.status !== 'complete') throw new Error(result.reason)
  for (const n of c.nodes) if ((await n.snap.waitForSnapshot(snapshotId)).status !== 'complete') throw new Error('participant did not complete')
  return { c, snapshotId, wallMs, cpuMs, simMs: c.clock.now() - simStart, messages: c.net.stats.delivered }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = (n, d = 1) => n.toFixed(d)

console.log('# @icn/snapshot benchmarks')
console.log(`node ${process.version}, ${large ? 'with' : 'without'} the 100 MB run (ICN_BENCH_LARGE=1 adds it)\n`)

console.log('## snapshot latency vs participants (tiny state; 1 ms simulated links, so all cost is CPU: sign, verify, encode)')
console.log('All N nodes run in this one process, so wall time is the sum of every node\'s work; CPU ms is shown because the machine may be shared.')
console.log('participants | wall ms (median of 3) | CPU ms (median) | simulated ms | messages | CPU ms per message')
const perParticipants = []
for (const size of [3, 10, 50]) {
  const walls = []
  const cpus = []
  let last
  for (let r = 0; r < 3; r++) { last = await timeSnapshot(size, 0, 100 + r); walls.push(last.wallMs); cpus.push(last.cpuMs); for (const n of last.c.nodes) await n.snap.close() }
  const cpu = median(cpus)
  perParticipants.push([size, cpu])
  console.log(`${size} | ${fmt(median(walls))} | ${fmt(cpu)} | ${last.simMs} | ${last.messages} | ${fmt(cpu / last.messages, 3)}`)
}
console.log(`ratio 50 vs 3 participants: ${fmt(perParticipants[2][1] / perParticipants[0][1])}x CPU (messages grow as n²: markers ${49 * 49} vs ${2 * 2})\n`)

console.log('## snapshot latency vs state size (3 participants, incompressible state per node)')
console.log('state per node | snapshot wall ms | snapshot CPU ms | state MB/s through the snapshot | fetch (chunk+deflate+reassemble+hash) ms | fetch MB/s | verify-all ms')
for (const size of large ? [1 * MB, 10 * MB, 100 * MB] : [1 * MB, 10 * MB]) {
  const run = await timeSnapshot(3, size, 7)
  const peer = run.c.nodes[1].keyPair.did
  let t = performance.now()
  const fetched = run.c.nodes[0].snap.fetchState(run.snapshotId, peer)
  await run.c.net.runUntilIdle()
  const got = await fetched
  const fetchMs = performance.now() - t
  if (!got.ok) throw new Error(got.reason)
  t = performance.now()
  const report = run.c.nodes[2].snap.verify(run.snapshotId)
  await run.c.net.runUntilIdle()
  if (!(await report).valid) throw new Error('verification failed')
  const verifyMs = performance.now() - t
  console.log(`${size / MB} MB | ${fmt(run.wallMs)} | ${fmt(run.cpuMs)} | ${fmt((3 * size / MB) / (run.wallMs / 1000))} | ${fmt(fetchMs)} | ${fmt((size / MB) / (fetchMs / 1000))} | ${fmt(verifyMs)}`)
  for (const n of run.c.nodes) await n.snap.close()
  await flushMicrotasks()
}
console.log('')

console.log('## serving one RequestState: first vs repeated (the chunked payload of a snapshot is cached)')
console.log('The whole receive path of the serving node: verify the request, the core (pack, deflate, split — first time only), sign and frame every chunk.')
console.log('state | chunks | first ms | repeat ms (median of 5) | ratio')
{
  const text = (size) => new TextEncoder().encode(Array.from({ length: size / 16 }, (_, i) => `acct${i % 4093}:${(i * 7919) % 100000};`).join('')).subarray(0, size)
  for (const [label, bytes] of [['10 MB text-like (deflates to ~35 %)', text(10 * MB)], ['10 MB random (stored, not deflated)', new Uint8Array(randomBytes(10 * MB))]]) {
    const [server, peer] = [keyPairFromSeed(sha256(Uint8Array.of(1))), keyPairFromSeed(sha256(Uint8Array.of(2)))]
    const record = {
      snapshotId: 'served', node: server.did, initiator: server.did, timestamp: 0, completedAt: 0, participants: [server.did, peer.did].sort(),
      root: new Uint8Array(32), leaves: [], localState: bytes, channelState: encode({ channels: {} })
    }
    let handler
    let chunks = 0
    const transport = { id: server.did, send: () => { chunks++ }, onMessage: (h) => { handler = h; return () => {} }, peers: () => [peer.did] }
    const store = { list: async () => [{ snapshotId: 'served' }], load: async () => record, save: async () => {}, close: async () => {} }
    const node = createSnapshotNode({ keyPair: server, transport, clock: new ManualClock(), trustOf: () => 1, store }, { maxSnapshotSize: 200 * MB, maxStateTransfers: 100 })
    await node.loadStored()
    const wire = encodeMessage({ type: 'RequestState', snapshotId: 'served', requester: peer.did }, peer)
    const times = []
    for (let r = 0; r < 6; r++) {
      const t = performance.now()
      handler(peer.did, wire)
      times.push(performance.now() - t)
    }
    await node.close()
    console.log(`${label} | ${chunks / 6} | ${fmt(times[0])} | ${fmt(median(times.slice(1)))} | ${fmt(times[0] / median(times.slice(1)))}x`)
  }
}
console.log('')

console.log('## root hashing vs raw hashes (same buffers, same run)')
const participants = 8
const perState = 8 * MB
const states = Array.from({ length: participants }, (_, i) => noise(perState, 1000 + i))
const channels = Array.from({ length: participants }, () => encode({ channels: {} }))
const totalMB = (participants * perState) / MB
const dids = Array.from({ length: participants }, (_, i) => keyPairFromSeed(sha256(Uint8Array.of(i))).did)
function rootOfStates () {
  return merkleRoot(states.map((s, i) => ({ did: dids[i], stateHash: sha256(s), stateSize: s.length, channelHash: sha256(channels[i]), channelSize: channels[i].length })))
}
function rate (fn, rounds) {
  fn()
  const t = performance.now()
  for (let r = 0; r < rounds; r++) fn()
  return (totalMB * rounds) / ((performance.now() - t) / 1000)
}
const rootRate = rate(rootOfStates, 5)
const shaRate = rate(() => { for (const s of states) sha256(s) }, 5)
const blakeRate = rate(() => { for (const s of states) blake3(s) }, 1)
console.log(`${participants} participants × ${perState / MB} MB state`)
console.log(`global root (leaf hashes + Merkle tree): ${fmt(rootRate)} MB/s`)
console.log(`raw sha-256 (OpenSSL):                   ${fmt(shaRate)} MB/s`)
console.log(`raw blake3 (noble, pure JS):             ${fmt(blakeRate)} MB/s`)
console.log(`ratio root / sha-256: ${fmt(rootRate / shaRate, 3)}   sha-256 / blake3: ${fmt(shaRate / blakeRate, 2)}`)
