#!/usr/bin/env node
// Layer 4 helper, run on the BUILT package (dist/).
//   write <dir>            builds a trust graph through the production handle, prints
//                          one JSON line of tokens (CIDs, scores, state CID) and exits 0
//   read <dir> <json>      opens the directory in this fresh process, asserts exact
//                          attestations, scores and state bytes; exits 1 on mismatch
import { cidOfBytes, keyPairFromSeed } from '@icn/identity'
import { createAttestation, openTrustGraph } from '../../dist/index.js'

const T0 = 1_700_006_400_000
const NOW = T0 + 10 * 86_400_000
/** Both processes see the same time, so decayed scores are comparable exactly. */
const clock = { now: () => NOW, setTimeout: () => () => {} }
const init = (path) => ({ path, depth: 3, halfLifeMs: 30 * 86_400_000, decayStepMs: 60_000 })

const key = (name) => keyPairFromSeed(new Uint8Array(32).fill(name.charCodeAt(0)))
const NAMES = ['A', 'B', 'C', 'D', 'E']
const GRAPHS = ['social', 'economic', 'technical']

function edges () {
  const did = (n) => key(n).did
  return [
    createAttestation(key('A'), { target: did('B'), graph: 'social', score: 0.8, createdAt: T0, labels: ['member'] }),
    createAttestation(key('A'), { target: did('C'), graph: 'social', score: 0.6, createdAt: T0 }),
    createAttestation(key('B'), { target: did('D'), graph: 'social', score: 0.9, createdAt: T0, evidence: ['bafy-minutes'] }),
    createAttestation(key('C'), { target: did('E'), graph: 'social', score: 0.9, createdAt: T0 }),
    createAttestation(key('E'), { target: did('D'), graph: 'social', score: 0.8, createdAt: T0, expiresAt: T0 + 20 * 86_400_000 }),
    createAttestation(key('A'), { target: did('D'), graph: 'economic', score: 0.5, createdAt: T0 }),
    createAttestation(key('D'), { target: did('A'), graph: 'technical', score: 0, createdAt: T0 })
  ]
}

function allScores (graph) {
  return GRAPHS.flatMap((g) => NAMES.flatMap((v) => NAMES.map((s) => graph.trustOf(key(v).did, key(s).did, g))))
}

const fail = (message) => {
  console.error(`trust-restart-helper read: ${message}`)
  process.exitCode = 1
}

const [mode, dir, tokens] = process.argv.slice(2)
if (mode === 'write' && dir !== undefined) {
  const graph = await openTrustGraph({ clock }, init(dir))
  for (const attestation of edges()) await graph.attest(attestation)
  const state = await graph.exportState()
  console.log(JSON.stringify({
    cids: graph.attestations().map((a) => a.cid),
    scores: allScores(graph),
    stateCid: cidOfBytes(state).toString()
  }))
  await graph.shutdown()
} else if (mode === 'read' && dir !== undefined && tokens !== undefined) {
  const expected = JSON.parse(tokens)
  const graph = await openTrustGraph({ clock }, init(dir))
  const held = graph.attestations()
  const written = new Map(edges().map((a) => [a.cid, a]))
  if (JSON.stringify(held.map((a) => a.cid)) !== JSON.stringify(expected.cids)) fail(`cids ${held.map((a) => a.cid)} != ${expected.cids}`)
  for (const a of held) {
    const original = written.get(a.cid)
    if (original === undefined) { fail(`unexpected attestation ${a.cid}`); continue }
    if (JSON.stringify(a.payload) !== JSON.stringify(original.payload)) fail(`payload of ${a.cid} differs`)
    if (Buffer.compare(Buffer.from(a.signature), Buffer.from(original.signature)) !== 0) fail(`signature of ${a.cid} differs`)
  }
  const scores = allScores(graph)
  // Exact float equality: the same edges at the same time give the same bits.
  scores.forEach((score, i) => { if (!Object.is(score, expected.scores[i])) fail(`score ${i}: ${score} != ${expected.scores[i]}`) })
  const stateCid = cidOfBytes(await graph.exportState()).toString()
  if (stateCid !== expected.stateCid) fail(`state cid ${stateCid} != ${expected.stateCid}`)
  await graph.close()
} else {
  console.error('usage: trust-restart-helper.mjs write <dir> | read <dir> <json-tokens>')
  process.exitCode = 2
}
