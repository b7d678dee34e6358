// The worked example of docs/trust.md: every number in that section is checked here.
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { DAY_MS } from '../src/constants.js'
import type { TrustGraph } from '../src/index.js'
import { T0, attest, didOf, openTestGraph } from './fixtures.js'

const A = didOf('A')
const D = didOf('D')
const E = didOf('E')

/** The example's social edges, all created at T0. */
async function attestExample (graph: TrustGraph, init: { expiresAt?: number } = {}): Promise<void> {
  await graph.attest(attest('A', 'B', 0.8))
  await graph.attest(attest('A', 'C', 0.6))
  await graph.attest(attest('A', 'D', 0.5))
  await graph.attest(attest('B', 'D', 0.9))
  await graph.attest(attest('C', 'D', 0.5, init))
  await graph.attest(attest('C', 'E', 0.9))
  await graph.attest(attest('E', 'D', 0.8))
}

describe('docs/trust.md worked example', () => {
  it('depth 2 (the original formula): A→D = 0.504 (partner), A→E = 0.216 (known)', async () => {
    await withTempDir(async (dir) => {
      const { graph } = await openTestGraph(dir)
      await attestExample(graph)
      // 0.5·0.6 + mean(0.8·0.9, 0.6·0.5)·0.4 = 0.3 + 0.51·0.4
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.504, 12)
      expect(graph.classOf(A, D, 'social')).toBe('partner')
      // no direct edge; one intermediate C: 0.6·0.9·0.4
      expect(graph.trustOf(A, E, 'social')).toBeCloseTo(0.216, 12)
      expect(graph.classOf(A, E, 'social')).toBe('known')
      // graphs are isolated: none of these social edges counts in economic
      expect(graph.trustOf(A, D, 'economic')).toBe(0)
      expect(graph.classOf(A, D, 'economic')).toBe('isolated')
      await graph.close()
    })
  })

  it('depth 3: C reaches D more strongly through E, A→D = 0.5304', async () => {
    await withTempDir(async (dir) => {
      const { graph } = await openTestGraph(dir, { depth: 3 })
      await attestExample(graph)
      // chains: B→D 0.9; C→E→D 0.72 beats C→D 0.5. 0.3 + mean(0.72, 0.432)·0.4
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.5304, 12)
      await graph.close()
    })
  })

  it('decay: 60 days later with a 30-day half-life every edge weighs a quarter, A→D = 0.08775 (isolated)', async () => {
    await withTempDir(async (dir) => {
      const { graph, clock } = await openTestGraph(dir, { halfLifeMs: 30 * DAY_MS, decayStepMs: 60_000 })
      await attestExample(graph)
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.504, 12)
      clock.advance(60 * DAY_MS)
      // 0.125·0.6 + mean(0.2·0.225, 0.15·0.125)·0.4
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.08775, 12)
      expect(graph.classOf(A, D, 'social')).toBe('isolated')
      await graph.close()
    })
  })

  it('revocation: B revokes B→D, A→D = 0.42', async () => {
    await withTempDir(async (dir) => {
      const { graph, clock } = await openTestGraph(dir)
      await attestExample(graph)
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.504, 12)
      clock.advance(1000)
      expect(await graph.attest(attest('B', 'D', 0, { createdAt: clock.now() }))).toBe('applied')
      // 0.3 + 0.6·0.5·0.4
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.42, 12)
      await graph.close()
    })
  })

  it('expiry: once C→D expires, A→D = 0.588', async () => {
    await withTempDir(async (dir) => {
      const { graph, clock } = await openTestGraph(dir)
      await attestExample(graph, { expiresAt: T0 + DAY_MS })
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.504, 12)
      clock.advance(DAY_MS - 1)
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.504, 12)
      clock.advance(1)
      // 0.3 + 0.72·0.4
      expect(graph.trustOf(A, D, 'social')).toBeCloseTo(0.588, 12)
      await graph.close()
    })
  })
})
