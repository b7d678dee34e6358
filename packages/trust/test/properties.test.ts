// Property tests: scores stay in [0, 1], arrival order never changes a result,
// revocation removes every transitive path through the revoked edge, and the
// cache always agrees with a fresh computation, membership changes included.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type TrustAttestation, type TrustGraph, type TrustGraphName, computeViewerScores
} from '../src/index.js'
import { ManualClock, withTempDir } from '@icn/testkit'
import { T0, attest, didOf, openTestGraph } from './fixtures.js'

const NAMES = ['P0', 'P1', 'P2', 'P3', 'P4', 'P5']
const DIDS = NAMES.map(didOf)
const GRAPHS: TrustGraphName[] = ['social', 'economic']

interface EdgeSpec { s: number, t: number, graph: TrustGraphName, score: number, at: number }

const scoreArb = fc.oneof(fc.constant(0), fc.constantFrom(0.25, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true, noDefaultInfinity: true }))
const edgeArb: fc.Arbitrary<EdgeSpec> = fc.record({
  s: fc.nat(NAMES.length - 1),
  t: fc.nat(NAMES.length - 1),
  graph: fc.constantFrom(...GRAPHS),
  score: scoreArb,
  at: fc.nat(3)
}).filter((e) => e.s !== e.t)

const sign = (e: EdgeSpec): TrustAttestation =>
  attest(NAMES[e.s] as string, NAMES[e.t] as string, e.score, { graph: e.graph, createdAt: T0 + e.at })

/** Every viewer → subject score in both graphs, in a fixed order. */
function allScores (graph: TrustGraph): number[] {
  const out: number[] = []
  for (const g of GRAPHS) for (const v of DIDS) for (const s of DIDS) out.push(graph.trustOf(v, s, g))
  return out
}

async function scoresAfter (dir: string, attestations: readonly TrustAttestation[], depth: number): Promise<{ scores: number[], state: Uint8Array }> {
  const { graph } = await openTestGraph(dir, { depth })
  for (const a of attestations) await graph.attest(a)
  const result = { scores: allScores(graph), state: await graph.exportState() }
  await graph.close()
  return result
}

let runs = 0

describe('trust properties', () => {
  it('scores are in [0, 1] and do not depend on arrival order (same state bytes, same floats)', async () => {
    await withTempDir(async (dir) => {
      await fc.assert(fc.asyncProperty(
        fc.array(edgeArb, { minLength: 1, maxLength: 24 }), fc.integer({ min: 1, max: 4 }), fc.infiniteStream(fc.nat()),
        async (specs, depth, randomness) => {
          const attestations = specs.map(sign)
          const shuffled = [...attestations]
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (randomness.next().value as number) % (i + 1)
            ;[shuffled[i], shuffled[j]] = [shuffled[j] as TrustAttestation, shuffled[i] as TrustAttestation]
          }
          const first = await scoresAfter(`${dir}/${runs++}`, attestations, depth)
          const second = await scoresAfter(`${dir}/${runs++}`, shuffled, depth)
          for (const score of first.scores) {
            expect(score).toBeGreaterThanOrEqual(0)
            expect(score).toBeLessThanOrEqual(1)
          }
          expect(second.scores).toEqual(first.scores)
          expect(second.state).toEqual(first.state)
        }), { numRuns: 30, seed: 5 })
    })
  })

  it('revoking an edge gives exactly the scores of the graph without it (its transitive paths are gone)', async () => {
    await withTempDir(async (dir) => {
      await fc.assert(fc.asyncProperty(
        fc.uniqueArray(edgeArb.map((e) => ({ ...e, score: e.score === 0 ? 0.5 : e.score })), { minLength: 1, maxLength: 20, selector: (e) => `${e.graph}:${e.s}:${e.t}` }),
        fc.nat(), fc.integer({ min: 2, max: 4 }),
        async (specs, pick, depth) => {
          const revoked = specs[pick % specs.length] as EdgeSpec
          const attestations = specs.map(sign)
          const revocation = sign({ ...revoked, score: 0, at: revoked.at + 1 })
          const withRevocation = await scoresAfter(`${dir}/${runs++}`, [...attestations, revocation], depth)
          const without = await scoresAfter(`${dir}/${runs++}`, specs.filter((e) => e !== revoked).map(sign), depth)
          expect(withRevocation.scores).toEqual(without.scores)
        }), { numRuns: 30, seed: 7 })
    })
  })

  it('cached scores always equal a fresh computation while attestations arrive', async () => {
    await withTempDir(async (dir) => {
      await fc.assert(fc.asyncProperty(
        fc.array(fc.tuple(edgeArb, fc.nat(NAMES.length - 1), fc.nat(NAMES.length - 1)), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }), fc.constantFrom(1, 2, 1024),
        async (steps, depth, cacheSize) => {
          // tiny caches exercise LRU eviction and the clear-all path of invalidation
          const { graph } = await openTestGraph(`${dir}/${runs++}`, { depth, cacheSize })
          for (const [step, [spec, v, s]] of steps.entries()) {
            // Warm the cache for the queried pair, then write, then query again.
            graph.trustOf(DIDS[v] as string, DIDS[s] as string, spec.graph)
            await graph.attest(sign(spec))
            const byAdjacency = new Map<string, TrustAttestation[]>()
            for (const a of graph.attestations(spec.graph)) {
              byAdjacency.set(a.payload.source, [...(byAdjacency.get(a.payload.source) ?? []), a])
            }
            // alternate the order, so the viewers a small cache still holds are read first after the next write
            for (const viewer of step % 2 === 0 ? DIDS : [...DIDS].reverse()) {
              const fresh = computeViewerScores(viewer, (d) => byAdjacency.get(d), { ...graph.settings, weights: graph.settings.weights[spec.graph] }, T0)
              for (const subject of DIDS) {
                if (subject === viewer) continue
                expect(graph.trustOf(viewer, subject, spec.graph)).toBe(fresh.scores.get(subject) ?? 0)
              }
            }
          }
          await graph.close()
        }), { numRuns: 30, seed: 11 })
    })
  })

  it('cached scores always equal a fresh computation over current members\' edges while membership changes', async () => {
    await withTempDir(async (dir) => {
      // A step either writes an edge or toggles one DID's membership (then tells the graph).
      const stepArb = fc.oneof(edgeArb, fc.nat(NAMES.length - 1))
      await fc.assert(fc.asyncProperty(
        fc.array(fc.tuple(stepArb, fc.nat(NAMES.length - 1)), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }), fc.constantFrom(1, 1024),
        async (steps, depth, cacheSize) => {
          const members = new Set<string>(DIDS)
          const { graph } = await openTestGraph(`${dir}/${runs++}`, { depth, cacheSize }, new ManualClock(T0), { isMember: (did) => members.has(did) })
          for (const [step, v] of steps) {
            // Warm the viewer's cache in both graphs before the change.
            for (const g of GRAPHS) graph.trustOf(DIDS[v] as string, DIDS[(v + 1) % DIDS.length] as string, g)
            if (typeof step === 'number') {
              const did = DIDS[step] as string
              if (!members.delete(did)) members.add(did)
              graph.membershipChanged()
            } else {
              await graph.attest(sign(step))
            }
            for (const g of GRAPHS) {
              const bySource = new Map<string, TrustAttestation[]>()
              for (const a of graph.attestations(g)) {
                if (members.has(a.payload.source)) bySource.set(a.payload.source, [...(bySource.get(a.payload.source) ?? []), a])
              }
              for (const viewer of DIDS) {
                const fresh = computeViewerScores(viewer, (d) => bySource.get(d), { ...graph.settings, weights: graph.settings.weights[g] }, T0)
                for (const subject of DIDS) {
                  if (subject !== viewer) expect(graph.trustOf(viewer, subject, g)).toBe(fresh.scores.get(subject) ?? 0)
                }
              }
            }
          }
          await graph.close()
        }), { numRuns: 30, seed: 13 })
    })
  })
})
