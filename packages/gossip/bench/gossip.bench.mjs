// Gossip benchmarks on the simulated network (run the build first: `pnpm bench`).
// Prints: publish → deliver throughput on 2 and 20 nodes, reconciliation digest
// size vs entry count, and time to converge after a partition heals.
import { performance } from 'node:perf_hooks'
import { deflateRawSync } from 'node:zlib'
import { encodeEnvelope, keyPairFromSeed, setVerifiedSignatureCacheSize, sha256, signEnvelope, utf8 } from '@icn/identity'
import { SeededRng, SimNetwork } from '@icn/testkit'
import { ManualClock } from '@icn/testkit'
import { ENTRY_DOMAIN, MIN_KEY, createEntry, createGossip, encodeMessage, openingRanges, reconcile } from '../dist/index.js'

// Every simulated node lives in this one process: without this, a node would reuse the signature checks of
// the nodes before it, which separate node processes cannot.
setVerifiedSignatureCacheSize(0)

const TOPIC = 'bench:topic'
const key = (i) => { const s = new Uint8Array(32); new DataView(s.buffer).setUint32(0, i + 1); return keyPairFromSeed(s) }

async function cluster (size, seed, init = {}) {
  const network = new SimNetwork({ seed })
  const rng = new SeededRng(seed)
  const keys = Array.from({ length: size }, (_, i) => key(i))
  const endpoints = keys.map((k) => network.addNode(k.did))
  const delivered = keys.map(() => 0)
  const nodes = []
  for (let i = 0; i < size; i++) {
    const r = rng.fork()
    const node = await createGossip({ transport: endpoints[i], clock: network.clock, keyPair: keys[i], random: () => r.float() }, init)
    node.createTopic(TOPIC)
    node.subscribe(TOPIC, () => { delivered[i]++ })
    nodes.push(node)
  }
  await network.runFor(50)
  return { network, rng, nodes, delivered, close: async () => { for (const n of nodes) await n.close() } }
}

const allHave = (nodes, count) => nodes.every((n) => n.topics()[0].entries === count)

async function throughput (size, entries) {
  const c = await cluster(size, 1)
  const start = performance.now()
  for (let i = 0; i < entries; i++) {
    await c.nodes[size === 2 ? 0 : c.rng.int(0, size - 1)].publish(TOPIC, utf8(`payload ${i} `.padEnd(200, '.')))
    if (i % 20 === 19) await c.network.runFor(5)
  }
  while (!allHave(c.nodes, entries)) await c.network.runFor(100)
  const ms = performance.now() - start
  const deliveries = c.delivered.reduce((a, b) => a + b, 0)
  await c.close()
  return { nodes: size, entries, ms, perSecond: entries / (ms / 1000), deliveriesPerSecond: deliveries / (ms / 1000) }
}

function digestSize (count, differences) {
  const items = (n, offset) => Array.from({ length: n }, (_, i) => ({ key: { ts: 1_700_000_000_000 + (i % 1000), id: sha256(utf8(`e${i + offset}`)) } }))
  const sort = (xs) => xs.sort((a, b) => a.key.ts - b.key.ts || Buffer.compare(Buffer.from(a.key.id), Buffer.from(b.key.id)))
  const shared = items(count, 0)
  const a = sort([...shared, ...items(differences, 10_000_000)])
  const b = sort([...shared])
  const options = { branching: 16, idThreshold: 32, maxRanges: 128 }
  let ranges = openingRanges(a, MIN_KEY)
  let bytes = 0
  let rounds = 0
  let turn = 1
  let found = 0
  while (ranges.length > 0) {
    bytes += encodeMessage({ t: 'sync', topic: TOPIC, nonce: new Uint8Array(16), at: 0, round: rounds, lower: MIN_KEY, ranges }).length
    rounds++
    const step = reconcile(turn === 1 ? b : a, MIN_KEY, ranges, options)
    found += step.need.length
    ranges = step.reply
    turn = 1 - turn
  }
  return { count, differences, rounds, bytes, found }
}

async function partitionHeal (size, perSide) {
  const c = await cluster(size, 7)
  c.network.evenSplit()
  const half = Math.ceil(size / 2)
  for (let i = 0; i < perSide; i++) {
    await c.nodes[c.rng.int(0, half - 1)].publish(TOPIC, utf8(`left ${i}`))
    await c.nodes[c.rng.int(half, size - 1)].publish(TOPIC, utf8(`right ${i}`))
    if (i % 20 === 19) await c.network.runFor(5)
  }
  await c.network.runFor(3000)
  const syncBytesBefore = c.nodes.reduce((n, g) => n + g.stats().syncBytesSent, 0)
  c.network.heal()
  const simStart = c.network.clock.now()
  const start = performance.now()
  while (!allHave(c.nodes, 2 * perSide)) await c.network.runFor(100)
  const result = {
    nodes: size,
    missingPerNode: perSide,
    simulatedMs: c.network.clock.now() - simStart,
    wallMs: performance.now() - start,
    syncBytes: c.nodes.reduce((n, g) => n + g.stats().syncBytesSent, 0) - syncBytesBefore
  }
  await c.close()
  return result
}

/** The receive path alone (no network): new entries (full checks + store) and duplicates, per second. */
async function receivePath (count) {
  const [a, b] = [key(0), key(1)]
  let handler
  const transport = { id: a.did, send: () => {}, onMessage: (h) => { handler = h; return () => {} }, peers: () => [] }
  const gossip = await createGossip({ transport, clock: new ManualClock(), keyPair: a })
  gossip.createTopic(TOPIC)
  const limits = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }
  const frames = Array.from({ length: count }, (_, i) => encodeMessage({
    t: 'push', entries: [createEntry(b, { topic: TOPIC, payload: utf8(`p ${i}`.padEnd(200, '.')), clock: { [b.did]: i + 1 }, timestamp: 1_700_000_000_000 + i }, limits).bytes]
  }))
  const rate = async (fn) => { const t = performance.now(); for (let i = 0; i < count; i++) await fn(i); return count / ((performance.now() - t) / 1000) }
  const accepted = await rate((i) => handler(b.did, frames[i]))
  const duplicates = await rate((i) => handler(b.did, frames[i]))
  const published = await rate((i) => gossip.publish(TOPIC, utf8(`q ${i}`.padEnd(200, '.'))))
  await gossip.close()
  return { accepted, duplicates, published }
}

/**
 * A hostile member's push frames of 56 deflate bombs (64 MiB of zeros deflated, about 64 KiB each) on a node
 * with the node app's 4 MiB frames: badly signed, signed declaring 100 bytes, signed declaring 10 MiB.
 */
async function bombFrames () {
  const [a, m] = [key(0), key(1)]
  let handler
  const transport = { id: a.did, send: () => {}, onMessage: (h) => { handler = h; return () => {} }, peers: () => [m.did] }
  const clock = new ManualClock()
  const data = new Uint8Array(deflateRawSync(new Uint8Array(64 * 1024 * 1024)))
  const rows = []
  for (const [kind, size, bad] of [['bad signature', 100, true], ['signed, declares 100 B', 100, false], ['signed, declares 10 MiB', 10 * 1024 * 1024, false]]) {
    const gossip = await createGossip({ transport, clock, keyPair: a }, { maxFrameBytes: 4 * 1024 * 1024, antiEntropyIntervalMs: 1e9 })
    gossip.createTopic(TOPIC)
    const entries = Array.from({ length: 56 }, (_, n) => {
      const id = sha256(utf8(`bomb ${n}`))
      const envelope = signEnvelope(ENTRY_DOMAIN, { topic: TOPIC, author: m.did, clock: { [m.did]: 1 }, timestamp: clock.now(), id, encoding: 'deflate-raw', size, data }, m)
      const signature = Uint8Array.from(envelope.signature)
      if (bad) signature[0] ^= 1
      return encodeEnvelope({ ...envelope, signature })
    })
    const frame = encodeMessage({ t: 'push', entries })
    const t = performance.now()
    await handler(m.did, frame)
    const ms = performance.now() - t
    const stats = gossip.stats()
    rows.push({ frame: kind, 'frame MiB': fmt(frame.length / 1024 / 1024, 1), ms: fmt(ms, 1), inflates: stats.inflated, 'bytes allowed': fmt(stats.inflatedBytes), refusals: Object.values(stats.rejected).reduce((x, y) => x + y, 0), misbehaviour: gossip.misbehaviour(m.did) })
    await gossip.close()
  }
  return rows
}

const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

console.log('\n## one node, receive path only (200-byte payloads)')
const rx = await receivePath(2000)
console.table([{ 'publish/s (sign+store)': fmt(rx.published), 'new entries accepted/s (verify+store)': fmt(rx.accepted), 'duplicates dropped/s': fmt(rx.duplicates) }])

console.log('\n## hostile frames: 56 deflate bombs each (4 MiB frames)')
console.table(await bombFrames())

console.log('\n## publish → deliver (simulated network, wall clock)')
const t2 = await throughput(2, 1000)
const t20 = await throughput(20, 200)
console.table([t2, t20].map((r) => ({ nodes: r.nodes, entries: r.entries, 'wall ms': fmt(r.ms), 'entries/s (fully delivered)': fmt(r.perSecond), 'deliveries/s': fmt(r.deliveriesPerSecond) })))
console.log(`ratio entries/s 2 nodes : 20 nodes = ${fmt(t2.perSecond / t20.perSecond, 1)} : 1`)

console.log('\n## reconciliation digest size vs entry count (bytes of all sync messages until done)')
const digests = []
for (const count of [100, 1000, 10_000, 50_000]) for (const d of [0, 1, 10, 100]) digests.push(digestSize(count, d))
console.table(digests.map((r) => ({ entries: r.count, differences: r.differences, rounds: r.rounds, bytes: r.bytes, 'found': r.found })))
const one = digests.filter((r) => r.differences === 1)
console.log(`1 difference: ${one.map((r) => `${r.count} entries → ${r.bytes} B`).join(', ')} (x${fmt(one.at(-1).bytes / one[0].bytes, 1)} bytes for x${one.at(-1).count / one[0].count} entries)`)

console.log('\n## convergence after a partition heals (20 nodes, halves publish apart)')
const heals = [await partitionHeal(20, 25), await partitionHeal(20, 100)]
console.table(heals.map((r) => ({ nodes: r.nodes, 'entries each half missed': r.missingPerNode, 'simulated ms to converge': r.simulatedMs, 'wall ms': fmt(r.wallMs), 'sync bytes': r.syncBytes })))
