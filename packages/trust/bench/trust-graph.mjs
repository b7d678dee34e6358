#!/usr/bin/env node
// Benchmark of @icn/trust on a random graph (default 10,000 DIDs, 100,000 social edges):
// attestations ingested/s (verify + index + LMDB commit), reopen time (index load),
// and trustOf queries/s cold (first query of a viewer) and warm (cached), at depth 2 and 3.
// Runs the built package: `pnpm bench` (turbo builds first). Sizes: ICN_BENCH_DIDS, ICN_BENCH_EDGES.
import { performance } from 'node:perf_hooks'
import { keyPairFromSeed, signEnvelope } from '@icn/identity'
import { SeededRng, withTempDir } from '@icn/testkit'
import { TRUST_ATTESTATION_DOMAIN, createAttestation, openTrustGraph } from '../dist/index.js'

const DIDS = Number(process.env.ICN_BENCH_DIDS ?? 10_000)
const EDGES = Number(process.env.ICN_BENCH_EDGES ?? 100_000)
const QUERIES = 10_000
const VIEWERS = 1_000
const T0 = 1_700_006_400_000
const clock = { now: () => T0 + 86_400_000, setTimeout: () => () => {} }
const rng = new SeededRng(2026)

const fmt = (n) => Math.round(n).toLocaleString('en-US')
const time = async (fn) => { const start = performance.now(); const result = await fn(); return [performance.now() - start, result] }

const [keysMs, keys] = await time(() => Array.from({ length: DIDS }, () => keyPairFromSeed(rng.bytes(32))))
const dids = keys.map((k) => k.did)

// Each DID signs its own edges together (as a node would), through signEnvelope with the
// OpenSSL-backed sign. Ingest takes the first 10% in random order (arrival over gossip: every
// attestation from a different signer, so identity's bounded key caches mostly miss) and the
// rest in signer bursts (a peer syncing another node's attestations).
const [signMs, attestations] = await time(() => {
  const targetsBySource = Array.from({ length: DIDS }, () => new Set())
  for (let made = 0; made < EDGES;) {
    const s = rng.int(0, DIDS - 1)
    const t = rng.int(0, DIDS - 1)
    if (s === t || targetsBySource[s].has(t)) continue
    targetsBySource[s].add(t)
    made++
  }
  const out = []
  targetsBySource.forEach((targets, s) => {
    for (const t of targets) {
      const edge = {
        source: dids[s], target: dids[t], graph: 'social', score: Math.round(rng.float() * 1000) / 1000,
        labels: [], evidence: [], createdAt: T0 - rng.int(0, 30 * 86_400_000)
      }
      out.push(signEnvelope(TRUST_ATTESTATION_DOMAIN, edge, keys[s]))
    }
  })
  return out
})
const randomCount = Math.floor(EDGES / 10)
const picked = new Set()
while (picked.size < randomCount) picked.add(rng.int(0, EDGES - 1))
const randomArrivals = rng.shuffle([...picked].map((i) => attestations[i]))
const signerBursts = attestations.filter((_, i) => !picked.has(i))
console.log(`setup: ${fmt(DIDS)} key pairs in ${fmt(keysMs)} ms, ${fmt(EDGES)} attestations signed (OpenSSL) in ${fmt(signMs)} ms`)

function queries (graph, viewers, subjects) {
  let sum = 0
  for (let i = 0; i < viewers.length; i++) sum += graph.trustOf(viewers[i], subjects[i], 'social')
  return sum
}

await withTempDir(async (dir) => {
  const graph = await openTrustGraph({ clock }, { path: dir, halfLifeMs: 180 * 86_400_000 })
  const ingest = async (list) => {
    const [ms] = await time(async () => {
      for (let i = 0; i < list.length; i += 1000) await Promise.all(list.slice(i, i + 1000).map((a) => graph.attest(a)))
    })
    return list.length / (ms / 1000)
  }
  const randomRate = await ingest(randomArrivals)
  const burstRate = await ingest(signerBursts)
  console.log(`ingest (verify + index + LMDB commit, batches of 1,000): ${fmt(randomArrivals.length)} in random order ${fmt(randomRate)} attestations/s; ` +
    `${fmt(signerBursts.length)} in signer bursts ${fmt(burstRate)} attestations/s (bursts/random ${(burstRate / randomRate).toFixed(1)}x)`)
  await graph.close()

  for (const depth of [2, 3]) {
    const [openMs, reopened] = await time(() => openTrustGraph({ clock }, { path: dir, depth, halfLifeMs: 180 * 86_400_000 }))
    // Cold: the first query of each of 1,000 viewers computes all of that viewer's scores.
    // Warm: 10,000 queries spread over the same viewers, all served from the cache.
    const viewers = Array.from({ length: QUERIES }, (_, i) => dids[i % VIEWERS])
    const subjects = Array.from({ length: QUERIES }, () => dids[rng.int(0, DIDS - 1)])
    const [coldMs, coldSum] = await time(() => queries(reopened, viewers.slice(0, VIEWERS), subjects.slice(0, VIEWERS)))
    const [warmMs, warmSum] = await time(() => queries(reopened, viewers, subjects))
    const recheckSum = queries(reopened, viewers.slice(0, VIEWERS), subjects.slice(0, VIEWERS))
    if (recheckSum !== coldSum) throw new Error('cached scores differ from computed scores')
    const cold = VIEWERS / (coldMs / 1000)
    const warm = QUERIES / (warmMs / 1000)
    // A write invalidates only the viewers upstream of its source; measure queries right after one.
    const [writeMs] = await time(() => reopened.attest(createAttestation(keys[1], { target: dids[2], graph: 'social', score: 1, createdAt: T0 + 1 })))
    const [afterMs] = await time(() => queries(reopened, viewers, subjects))
    console.log(`depth ${depth}: reopen (index load of ${fmt(reopened.size)} edges) ${fmt(openMs)} ms; ` +
      `trustOf cold ${fmt(cold)} q/s, warm ${fmt(warm)} q/s (warm/cold ${(warm / cold).toFixed(1)}x); ` +
      `after one attestation (${writeMs.toFixed(1)} ms) ${fmt(QUERIES / (afterMs / 1000))} q/s; mean score ${(warmSum / QUERIES).toFixed(4)}`)
    await reopened.close()
  }
})
