// Dissemination on a bounded mesh (simulated network, run the build first): N nodes, each linked to at least
// `degree` others (as the node's transport keeps a degree, not everyone), entries published from random nodes.
// Prints, per size: time until an entry is everywhere (p50 / p99, simulated ms), duplicates per useful delivery
// (gossip `duplicates` / `accepted`), ids grafted, and frames sent per entry. ICN_BENCH_DISSEMINATION_SIZES
// (default "20,50"), ICN_BENCH_DISSEMINATION_ENTRIES (default 200), ICN_BENCH_SEED (default 7). Asserts nothing.
import { keyPairFromSeed, setVerifiedSignatureCacheSize, utf8 } from '@icn/identity'
import { SeededRng, SimNetwork } from '@icn/testkit'
import { createGossip } from '../dist/index.js'

setVerifiedSignatureCacheSize(0)

const TOPIC = 'bench:topic'
const DEGREE = 8
const sizes = (process.env.ICN_BENCH_DISSEMINATION_SIZES ?? '20,50').split(',').map(Number)
const entries = Number(process.env.ICN_BENCH_DISSEMINATION_ENTRIES ?? 200)
const key = (i) => { const s = new Uint8Array(32); new DataView(s.buffer).setUint32(0, i + 1); return keyPairFromSeed(s) }
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

async function run (size, seed) {
  const network = new SimNetwork({ seed, defaults: { minDelayMs: 2, maxDelayMs: 10 } })
  const rng = new SeededRng(seed)
  const keys = Array.from({ length: size }, (_, i) => key(i))
  const endpoints = keys.map((k) => network.addNode(k.did))
  network.connectMesh(DEGREE)
  const firstSeen = new Map()
  const nodes = []
  for (let i = 0; i < size; i++) {
    const r = rng.fork()
    const node = await createGossip({ transport: endpoints[i], clock: network.clock, keyPair: keys[i], random: () => r.float() }, {})
    node.createTopic(TOPIC)
    node.subscribe(TOPIC, (entry) => { firstSeen.get(entry.id)?.push(network.clock.now()) })
    nodes.push(node)
  }
  await network.runFor(3000)
  const before = { sent: network.stats.sent, ...totals(nodes) }
  const spread = []
  const published = []
  for (let n = 0; n < entries; n++) {
    const at = network.clock.now()
    const entry = await nodes[rng.int(0, size - 1)].publish(TOPIC, utf8(`entry-${n}-`.padEnd(200, 'x')))
    firstSeen.set(entry.id, [])
    published.push({ id: entry.id, at })
    await network.runFor(50)
  }
  await network.runFor(5000)
  for (const { id, at } of published) {
    const seen = firstSeen.get(id)
    spread.push(seen.length === size - 1 ? Math.max(...seen) - at : Infinity)
  }
  const after = { sent: network.stats.sent, ...totals(nodes) }
  for (const node of nodes) await node.close()
  spread.sort((a, b) => a - b)
  const accepted = after.accepted - before.accepted
  const duplicates = after.duplicates - before.duplicates
  return {
    p50: percentile(spread, 0.5), p99: percentile(spread, 0.99), missing: spread.filter((t) => t === Infinity).length,
    duplicates, accepted, grafted: after.grafted - before.grafted, frames: (after.sent - before.sent) / entries
  }
}

function totals (nodes) {
  let accepted = 0; let duplicates = 0; let grafted = 0
  for (const node of nodes) { const s = node.stats(); accepted += s.accepted; duplicates += s.duplicates; grafted += s.idsGrafted }
  return { accepted, duplicates, grafted }
}

for (const size of sizes) {
  const r = await run(size, Number(process.env.ICN_BENCH_SEED ?? 7))
  console.log(`dissemination, ${size} nodes of degree ≥ ${DEGREE}, ${entries} entries 50 ms apart (simulated links 2–10 ms):`)
  console.log(`  entry everywhere p50 / p99: ${r.p50} / ${r.p99} ms simulated${r.missing > 0 ? ` (${r.missing} never everywhere within 5 s)` : ''}`)
  console.log(`  duplicates per useful delivery: ${r.duplicates} / ${r.accepted} = ${(r.duplicates / r.accepted).toFixed(2)} (goal ≤ 1)`)
  console.log(`  ids asked for after a lazy announcement (graft): ${r.grafted}`)
  console.log(`  frames sent per entry: ${r.frames.toFixed(1)} (all kinds, anti-entropy included)`)
}
