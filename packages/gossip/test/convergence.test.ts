// Convergence on the simulated network: random publishers, partitions, drops
// and duplicates, plus a hostile peer injecting invalid entries; after healing
// every node holds the identical entry set and no invalid entry was delivered.
// The normal suite runs a smaller size; `pnpm test:soak` (ICN_SOAK=1) runs the
// issue's full 20 nodes × 1,000 entries over more seeds.
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ENTRY_DOMAIN, createEntry, encodeMessage, createGossip, type Gossip } from '../src/index.js'
import { encodeEnvelope, signEnvelope, sha256, utf8 } from '@icn/identity'
import { withTempDir } from '@icn/testkit'
import { idSet, keyOf, payloadFor, simCluster } from './helpers/sim.js'

const SOAK = process.env.ICN_SOAK === '1'
const SCALE = SOAK
  ? { nodes: 20, entries: 1000, runs: 4 }
  : { nodes: 20, entries: 150, runs: 1 }
const TOPIC = 'test:topic'
const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }
const isValidPayload = (payload: Uint8Array): boolean => !(payload[0] === 0x62 && payload[1] === 0x61 && payload[2] === 0x64) // not "bad…"

/** Frames a hostile peer sends: a forged signature, an id that is not the payload's hash, and validator-failing content. */
function hostileFrames (n: number, now: number): Uint8Array[] {
  const mallory = keyOf(999)
  const good = createEntry(mallory, { topic: TOPIC, payload: utf8(`forged-${n}`), clock: {}, timestamp: now }, LIMITS)
  const body = good.envelope.payload
  const badSignature = encodeEnvelope({ ...good.envelope, payload: { ...body, timestamp: now + 1 } })
  const badId = encodeEnvelope(signEnvelope(ENTRY_DOMAIN, { ...body, id: sha256(utf8('other')) }, mallory))
  const rejected = createEntry(mallory, { topic: TOPIC, payload: utf8(`bad-${n}`), clock: {}, timestamp: now }, LIMITS).bytes
  return [badSignature, badId, rejected].map((e) => encodeMessage({ t: 'push', entries: [e] }))
}

async function runScenario (seed: number, nodes: number, entries: number): Promise<void> {
  const c = await simCluster({
    size: nodes, seed, validator: (e) => isValidPayload(e.payload), defaults: { minDelayMs: 1, maxDelayMs: 20, dropRate: 0.05, duplicateRate: 0.05 }
  })
  const mallory = c.network.addNode('mallory')
  const published = new Set<string>()
  const publishedBy = new Map<string, number>()
  await c.network.runFor(50)
  for (let n = 0; n < entries; n++) {
    if (n % 50 === 0) {
      const choice = c.rng.int(0, 3)
      if (choice === 0) c.network.evenSplit()
      else if (choice === 1) c.network.isolate(c.rng.pick(c.ids))
      else if (choice === 2) c.network.partition([c.rng.shuffle(c.ids).slice(0, Math.floor(nodes / 3)), ['mallory']])
      else c.network.heal()
      for (const frame of hostileFrames(n, c.clock.now())) mallory.send(c.rng.pick(c.ids), frame)
    }
    const publisher = c.rng.int(0, nodes - 1)
    const entry = await c.nodes[publisher]!.publish(TOPIC, payloadFor(n, publisher, c.rng.int(16, 1600)))
    published.add(entry.id)
    publishedBy.set(entry.id, publisher)
    await c.network.runFor(c.rng.int(1, 10))
  }
  c.network.heal()
  for (const frame of hostileFrames(entries, c.clock.now())) mallory.send(c.rng.pick(c.ids), frame)
  const expected = [...published].sort()
  const start = c.clock.now()
  while (!c.nodes.every((node) => idSet(node).length === expected.length)) {
    await c.network.runFor(500)
    if (c.clock.now() - start > 600_000) break
  }
  const convergedAfterMs = c.clock.now() - start
  for (const node of c.nodes) expect(idSet(node)).toEqual(expected)
  expect(convergedAfterMs).toBeLessThan(600_000)
  c.delivered.forEach((seen, i) => {
    // Exactly the entries published by others, each once, none invalid.
    const ids = seen.map((e) => e.id).sort()
    expect(ids).toEqual(expected.filter((id) => publishedBy.get(id) !== i))
    expect(seen.every((e) => isValidPayload(e.payload) && published.has(e.id))).toBe(true)
  })
  const rejected = c.nodes.map((node) => node.stats().rejected)
  expect(rejected.reduce((n, r) => n + r['bad-signature'] + r['bad-id'] + r.validator, 0)).toBeGreaterThan(0)
  expect(c.nodes.every((node) => node.misbehaviour('mallory') === node.stats().rejected['bad-signature'] + node.stats().rejected['bad-id'] + node.stats().rejected.validator)).toBe(true)
  expect(c.network.handlerErrors).toEqual([])
  await c.close()
}

describe(`convergence on the simulated network (${SCALE.nodes} nodes × ${SCALE.entries} entries${SOAK ? ', soak' : ''})`, () => {
  it('every node ends with the identical entry set; no invalid entry is delivered', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), async (seed) => {
      await runScenario(seed, SCALE.nodes, SCALE.entries)
    }), { numRuns: SCALE.runs, seed: 4242 })
  }, SOAK ? 1_800_000 : 120_000)

  it('small clusters over many seeds', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), async (seed) => {
      await runScenario(seed, 5, 60)
    }), { numRuns: SOAK ? 40 : 6, seed: 77 })
  }, SOAK ? 1_800_000 : 120_000)

  it('a node restarted from its snapshot file catches up with what it missed', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'n2.json')
      const c = await simCluster({ size: 4, seed: 99, init: (i) => (i === 2 ? { path } : {}) })
      for (let n = 0; n < 20; n++) await c.nodes[n % 4]!.publish(TOPIC, payloadFor(n, n % 4))
      await c.network.runFor(5000)
      expect(idSet(c.nodes[2]!).length).toBe(20)
      await c.nodes[2]!.close()
      for (let n = 20; n < 60; n++) await c.nodes[n % 2]!.publish(TOPIC, payloadFor(n, n % 2))
      await c.network.runFor(1000)
      const restarted: Gossip = await createGossip({ transport: c.endpoints[2]!, clock: c.clock, keyPair: keyOf(2) }, { path })
      expect(idSet(restarted).length).toBe(20)
      let waited = 0
      while (idSet(restarted).length < 60 && waited < 60_000) { await c.network.runFor(1000); waited += 1000 }
      expect(idSet(restarted)).toEqual(idSet(c.nodes[0]!))
      expect(idSet(restarted).length).toBe(60)
      await restarted.close()
      for (const [i, node] of c.nodes.entries()) if (i !== 2) await node.close()
    })
  })
})
