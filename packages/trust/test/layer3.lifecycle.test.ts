// Layer 3: shutdown, then a fresh handle on the same directory in the same process restores exact edges and scores.
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { TRUST_GRAPHS } from '../src/index.js'
import { T0, attest, didOf, openTestGraph, summary } from './fixtures.js'

const NAMES = ['A', 'B', 'C', 'D', 'E']

describe('layer 3: same-process shutdown and restart', () => {
  it('a new handle restores exact edges, identical scores and state bytes, and keeps accepting writes', async () => {
    await withTempDir(async (dir) => {
      const init = { depth: 3, halfLifeMs: 30 * 86_400_000, decayStepMs: 60_000 }
      const first = await openTestGraph(dir, init)
      const edges = [
        attest('A', 'B', 0.8), attest('A', 'C', 0.6), attest('B', 'D', 0.9), attest('C', 'E', 0.9, { createdAt: T0 + 60_000 }),
        attest('E', 'D', 0.8, { expiresAt: T0 + 86_400_000 }), attest('A', 'D', 0.5, { graph: 'economic' }), attest('D', 'A', 0.2, { graph: 'technical' })
      ]
      for (const a of edges) await first.graph.attest(a)
      first.clock.advance(3 * 86_400_000)
      const scores = TRUST_GRAPHS.flatMap((g) => NAMES.flatMap((v) => NAMES.map((s) => first.graph.trustOf(didOf(v), didOf(s), g))))
      const held = first.graph.attestations().map(summary)
      const state = await first.graph.exportState()
      await first.graph.shutdown()

      const second = await openTestGraph(dir, init, first.clock)
      expect(second.graph.attestations().map(summary)).toEqual(held)
      expect(second.graph.size).toBe(7)
      expect(TRUST_GRAPHS.flatMap((g) => NAMES.flatMap((v) => NAMES.map((s) => second.graph.trustOf(didOf(v), didOf(s), g))))).toEqual(scores)
      expect(await second.graph.exportState()).toEqual(state)
      // 3 days old, 30-day half-life: each edge weighs 2^-0.1 of its score; the expired E→D no
      // longer counts, so A→D (no direct social edge) goes only through B
      const decay = Math.pow(2, -0.1)
      expect(second.graph.trustOf(didOf('A'), didOf('D'), 'social')).toBeCloseTo(0.8 * decay * 0.9 * decay * 0.4, 15)
      expect(scores[3]).toBe(second.graph.trustOf(didOf('A'), didOf('D'), 'social'))
      expect(await second.graph.attest(attest('A', 'D', 1, { createdAt: second.clock.now() }))).toBe('applied')
      expect(second.graph.trustOf(didOf('A'), didOf('D'), 'social')).toBeGreaterThan(scores[3] as number)
      await second.graph.close()
    })
  })
})
