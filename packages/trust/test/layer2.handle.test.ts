// Layer 2: the production TrustGraph handle persists the same records as the adapter (L1).
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { NotMemberError, openTrustStore } from '../src/index.js'
import { T0, attest, didOf, openTestGraph, summary } from './fixtures.js'

describe('layer 2: TrustGraph handle persistence', () => {
  it('attestations accepted by the handle are exactly the records in the store after close', async () => {
    await withTempDir(async (dir) => {
      const { graph } = await openTestGraph(dir)
      const ab = attest('A', 'B', 0.8, { labels: ['member'] })
      const abSuperseded = attest('A', 'B', 0.3, { createdAt: T0 - 1 })
      const bc = attest('B', 'C', 0.6, { graph: 'economic', expiresAt: T0 + 1000 })
      const acRevoked = attest('A', 'C', 0.9)
      const acRevocation = attest('A', 'C', 0, { createdAt: T0 + 1 })
      expect(await graph.attest(ab)).toBe('applied')
      expect(await graph.attest(abSuperseded)).toBe('superseded')
      expect(await graph.attest(bc)).toBe('applied')
      expect(await graph.attest(acRevoked)).toBe('applied')
      expect(await graph.attest(acRevocation)).toBe('applied')
      const held = graph.attestations().map(summary)
      await graph.close()

      const store = await openTrustStore(dir)
      expect(store.all().map(summary)).toEqual(held)
      expect(summary(store.get('social', didOf('A'), didOf('B')))).toEqual(summary(ab))
      expect(summary(store.get('economic', didOf('B'), didOf('C')))).toEqual(summary(bc))
      expect(store.get('social', didOf('A'), didOf('C'))?.payload.score).toBe(0)
      expect(summary(store.get('social', didOf('A'), didOf('C')))).toEqual(summary(acRevocation))
      expect(store.all()).toHaveLength(3)
      await store.close()
    })
  })

  it('restoreState writes the restored state to the store', async () => {
    await withTempDir(async (dir) => {
      const source = await openTestGraph(`${dir}/source`)
      const edges = [attest('A', 'B', 0.8), attest('B', 'C', 0.4, { graph: 'technical' })]
      for (const a of edges) await source.graph.attest(a)
      const state = await source.graph.exportState()
      await source.graph.close()

      const target = await openTestGraph(`${dir}/target`)
      await target.graph.attest(attest('C', 'A', 1))
      await target.graph.restoreState(state)
      await target.graph.close()
      const store = await openTrustStore(`${dir}/target`)
      expect(store.all().map(summary)).toEqual([edges[0], edges[1]].map(summary))
      await store.close()
    })
  })

  it('an attestation refused for membership leaves no record; the same one accepted later is stored', async () => {
    await withTempDir(async (dir) => {
      const admitted = new Set<string>([didOf('A')])
      const { graph } = await openTestGraph(dir, {}, new ManualClock(T0), { membership: (did) => admitted.has(did) ? 'member' : 'none' })
      const ab = attest('A', 'B', 0.8)
      const ba = attest('B', 'A', 0.6)
      expect(await graph.attest(ab)).toBe('applied')
      await expect(graph.attest(ba)).rejects.toThrow(NotMemberError)
      await graph.close()
      const store = await openTrustStore(dir)
      expect(store.all().map(summary)).toEqual([summary(ab)])
      await store.close()

      admitted.add(didOf('B'))
      const reopened = await openTestGraph(dir, {}, new ManualClock(T0), { membership: (did) => admitted.has(did) ? 'member' : 'none' })
      expect(await reopened.graph.attest(ba)).toBe('applied')
      await reopened.graph.close()
      const after = await openTrustStore(dir)
      expect(summary(after.get('social', didOf('B'), didOf('A')))).toEqual(summary(ba))
      expect(after.all()).toHaveLength(2)
      await after.close()
    })
  })
})
