import { encode } from '@icn/identity'
import { withTempDir } from '@icn/testkit'
import { open } from 'lmdb'
import { describe, expect, it } from 'vitest'
import { DAY_MS } from '../src/constants.js'
import {
  ClosedError, CorruptStoreError, InvalidArgumentError, InvalidStateError, STATE_FORMAT, UnknownGraphError, encodeTrustState, openTrustGraph
} from '../src/index.js'
import { T0, attest, didOf, openTestGraph, summary } from './fixtures.js'

const [A, B, C, D] = ['A', 'B', 'C', 'D'].map(didOf) as [string, string, string, string]

describe('TrustGraph handle', () => {
  it('keeps the newest edge per key, reports superseded and duplicate attestations', async () => {
    await withTempDir(async (dir) => {
      const { graph } = await openTestGraph(dir)
      const older = attest('A', 'B', 0.9, { createdAt: T0 })
      const newer = attest('A', 'B', 0.2, { createdAt: T0 + 10 })
      expect(await graph.attest(newer)).toBe('applied')
      expect(await graph.attest(older)).toBe('superseded')
      expect(await graph.attest(newer)).toBe('duplicate')
      expect(summary(graph.edge(A, B, 'social'))).toEqual(summary(newer))
      expect(graph.trustOf(A, B, 'social')).toBeCloseTo(0.2 * 0.6, 15)
      expect(graph.size).toBe(1)
      await graph.close()
    })
  })

  it('breaks equal timestamps by the larger CID whatever the arrival order', async () => {
    await withTempDir(async (dir) => {
      const x = attest('A', 'B', 0.3)
      const y = attest('A', 'B', 0.7)
      const winner = x.cid > y.cid ? x : y
      for (const [i, order] of [[x, y], [y, x]].entries()) {
        const { graph } = await openTestGraph(`${dir}/${i}`)
        for (const a of order) await graph.attest(a)
        expect(graph.edge(A, B, 'social')?.cid).toBe(winner.cid)
        await graph.close()
      }
    })
  })

  it('sums transitive contributions canonically: (0.1 + 0.2) + 0.3 and (0.3 + 0.2) + 0.1 give the same float', async () => {
    await withTempDir(async (dir) => {
      const chains = [['I1', 0.1], ['I2', 0.2], ['I3', 0.3]] as const
      const results: number[] = []
      for (const [i, order] of [chains, [...chains].reverse()].entries()) {
        const { graph } = await openTestGraph(`${dir}/${i}`)
        for (const [name, score] of order) {
          await graph.attest(attest('A', name, 1))
          await graph.attest(attest(name, 'D', score))
        }
        results.push(graph.trustOf(A, D, 'social'))
        await graph.close()
      }
      expect(results[1]).toBe(results[0])
      // ascending order: (0.1 + 0.2) + 0.3 = 0.6000000000000001
      expect(results[0]).toBe((0.1 + 0.2 + 0.3) / 3 * 0.4)
    })
  })

  it('never serves a stale cached score: direct, two-hop and three-hop changes invalidate the viewer', async () => {
    await withTempDir(async (dir) => {
      const { graph, clock } = await openTestGraph(dir, { depth: 3 })
      await graph.attest(attest('A', 'B', 1))
      await graph.attest(attest('B', 'C', 1))
      expect(graph.trustOf(A, D, 'social')).toBe(0)
      clock.advance(1)
      // C→D sits three hops from A: A→B→C→D, chain strength 1 through intermediate B.
      await graph.attest(attest('C', 'D', 0.5, { createdAt: clock.now() }))
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.5 * 0.4, 15)
      await graph.attest(attest('B', 'D', 1, { createdAt: clock.now() }))
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.4, 15)
      await graph.attest(attest('A', 'D', 1, { createdAt: clock.now() }))
      expect(graph.trustOf(A, D, 'social')).toBe(1)
      clock.advance(1)
      await graph.attest(attest('A', 'B', 0, { createdAt: clock.now() }))
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.6, 15)
      // A query issued right after attest() (before its commit) already sees the write.
      const pending = graph.attest(attest('A', 'D', 0, { createdAt: clock.now() }))
      expect(graph.trustOf(A, D, 'social')).toBe(0)
      expect(await pending).toBe('applied')
      await graph.close()
    })
  })

  it('recomputes decayed scores when the clock moves past a decay step, and when it goes back', async () => {
    await withTempDir(async (dir) => {
      const { graph, clock } = await openTestGraph(dir, { halfLifeMs: 10 * DAY_MS, decayStepMs: DAY_MS })
      await graph.attest(attest('A', 'B', 1))
      expect(graph.trustOf(A, B, 'social')).toBeCloseTo(0.6, 15)
      clock.advance(DAY_MS - 1)
      expect(graph.trustOf(A, B, 'social')).toBeCloseTo(0.6, 15)
      clock.advance(9 * DAY_MS + 1)
      expect(graph.trustOf(A, B, 'social')).toBeCloseTo(0.3, 15)
      expect(graph.neighbours(A, 'social').map(({ did, score, weight }) => ({ did, score, weight }))).toEqual([{ did: B, score: 1, weight: 0.5 }])
      await graph.close()
    })
  })

  it('answers neighbours, isTrusted, classOf and self-trust', async () => {
    await withTempDir(async (dir) => {
      const { graph } = await openTestGraph(dir)
      const ab = attest('A', 'B', 0.9)
      const ac = attest('A', 'C', 0.4, { graph: 'economic' })
      const cb = attest('C', 'B', 0.5)
      for (const a of [ab, ac, cb]) await graph.attest(a)
      expect(graph.neighbours(A, 'social').map((n) => [n.did, n.score, n.weight, n.attestation.cid])).toEqual([[B, 0.9, 0.9, ab.cid]])
      expect(graph.neighbours(A, 'economic').map((n) => n.did)).toEqual([C])
      expect(graph.neighbours(B, 'social', 'in').map((n) => n.did)).toEqual([A, C].sort())
      expect(graph.trustOf(A, A, 'social')).toBe(1)
      expect(graph.trustOf(A, B, 'social')).toBeCloseTo(0.54, 15)
      expect(graph.isTrusted(A, B, 'social', 0.5)).toBe(true)
      expect(graph.isTrusted(A, B, 'social', 0.6)).toBe(false)
      expect(graph.classOf(A, B, 'social')).toBe('partner')
      expect(graph.trustOf(A, C, 'economic')).toBeCloseTo(0.32, 15)
      expect(graph.trustOf(A, C, 'social')).toBe(0)
      expect(() => graph.isTrusted(A, B, 'social', 1.5)).toThrow(InvalidArgumentError)
      expect(() => graph.isTrusted(A, B, 'social', Number.NaN)).toThrow(InvalidArgumentError)
      expect(() => graph.trustOf(A, B, 'romantic' as 'social')).toThrow(UnknownGraphError)
      expect(() => graph.neighbours(A, 'social', 'up' as 'in')).toThrow(InvalidArgumentError)
      await graph.close()
    })
  })

  it('exports canonical bytes that do not depend on arrival order, and restores them', async () => {
    await withTempDir(async (dir) => {
      const edges = [attest('A', 'B', 0.9), attest('B', 'C', 0.5), attest('A', 'C', 0.2, { graph: 'technical' }), attest('C', 'A', 1)]
      const first = await openTestGraph(`${dir}/1`)
      for (const a of edges) await first.graph.attest(a)
      const second = await openTestGraph(`${dir}/2`)
      for (const a of [...edges].reverse()) await second.graph.attest(a)
      const state = await first.graph.exportState()
      expect(await second.graph.exportState()).toEqual(state)
      expect(state).toEqual(encodeTrustState(edges))

      const third = await openTestGraph(`${dir}/3`)
      await third.graph.attest(attest('D', 'A', 0.7))
      await third.graph.restoreState(state)
      expect(await third.graph.exportState()).toEqual(state)
      expect(third.graph.edge(D, A, 'social')).toBeUndefined()
      expect(third.graph.trustOf(A, C, 'social')).toBeCloseTo(0.9 * 0.5 * 0.4, 15)
      for (const h of [first, second, third]) await h.graph.close()
    })
  })

  it('refuses a bad state with InvalidStateError and changes nothing', async () => {
    await withTempDir(async (dir) => {
      const { graph } = await openTestGraph(dir)
      const ab = attest('A', 'B', 0.9)
      await graph.attest(ab)
      const before = await graph.exportState()
      const bc = attest('B', 'C', 0.5)
      const wire = (a: typeof ab): Record<string, unknown> => ({ domain: a.domain, payload: a.payload, signer: a.signer, signature: a.signature })
      const bad = [
        new Uint8Array([1, 2, 3]),
        encode({ format: 'other', attestations: [] }),
        encode({ format: STATE_FORMAT, attestations: [{ ...wire(bc), payload: { ...bc.payload, score: 0.6 } }] }),
        encode({ format: STATE_FORMAT, attestations: (ab.signer < bc.signer ? [bc, ab] : [ab, bc]).map(wire) }),
        encode({ format: STATE_FORMAT, attestations: [wire(ab), wire(ab)] }),
        encode({ format: STATE_FORMAT, attestations: [{ ...wire(ab), extra: 1 }] }),
        encode({ format: STATE_FORMAT, attestations: 'none' })
      ]
      for (const state of bad) await expect(graph.restoreState(state)).rejects.toThrow(InvalidStateError)
      expect(await graph.exportState()).toEqual(before)
      expect(graph.trustOf(A, B, 'social')).toBeCloseTo(0.54, 15)
      await graph.close()
    })
  })

  it('refuses to open a store holding a corrupt record, and releases the directory', async () => {
    await withTempDir(async (dir) => {
      const { graph } = await openTestGraph(dir)
      await graph.attest(attest('A', 'B', 0.8))
      await graph.close()
      const raw = open<Uint8Array, string>({ path: dir, encoding: 'binary', maxDbs: 4 })
      await raw.openDB<Uint8Array, string[]>({ name: 'edges', encoding: 'binary' }).put(['social', A, C], new Uint8Array([0xc1]))
      await raw.close()
      await expect(openTestGraph(dir)).rejects.toThrow(CorruptStoreError)
      const repair = open<Uint8Array, string>({ path: dir, encoding: 'binary', maxDbs: 4 })
      await repair.openDB<Uint8Array, string[]>({ name: 'edges', encoding: 'binary' }).remove(['social', A, C])
      await repair.close()
      const reopened = await openTestGraph(dir)
      expect(reopened.graph.trustOf(A, B, 'social')).toBeCloseTo(0.48, 15)
      await reopened.graph.close()
    })
  })

  it('refuses bad options and calls after close; close is idempotent', async () => {
    await withTempDir(async (dir) => {
      await expect(openTrustGraph({}, { path: dir, depth: 0 })).rejects.toThrow(InvalidArgumentError)
      await expect(openTrustGraph({}, { path: dir, halfLifeMs: -1 })).rejects.toThrow(InvalidArgumentError)
      await expect(openTrustGraph({}, { path: '' })).rejects.toThrow(InvalidArgumentError)
      const { graph } = await openTestGraph(dir)
      await graph.close()
      await graph.shutdown()
      expect(() => graph.trustOf(A, B, 'social')).toThrow(ClosedError)
      await expect(graph.attest(attest('A', 'B', 1))).rejects.toThrow(ClosedError)
    })
  })
})
