import { encode, toHex } from '@icn/identity'
import { describe, expect, it } from 'vitest'
import {
  ChunkAssembler, SnapshotNotFoundError, type StateChunk, chunkPayload, encodeLocalState, encodeMessage, packState, resolveConfig, unpackState
} from '../src/index.js'
import { Router } from './support/router.js'

async function snapshotOf (router: Router): Promise<{ snapshotId: string, root: string }> {
  const { snapshotId, outcome } = router.nodes[0]!.snap.startSnapshot()
  await router.run()
  const result = await outcome
  if (result.status !== 'complete') throw new Error(result.reason)
  return { snapshotId, root: toHex(result.snapshot.root) }
}

describe('cross-node verification', () => {
  it('every participant recomputes the root from fetched states and answers the requester', async () => {
    const router = new Router({ size: 4, seed: 61 })
    const [a] = router.nodes
    const { snapshotId, root } = await snapshotOf(router)
    const pending = a!.snap.verify(snapshotId)
    await router.run()
    const report = await pending
    expect(report.valid).toBe(true)
    expect(toHex(report.expectedRoot)).toBe(root)
    expect(report.results.map((r) => [r.verifier, r.valid, toHex(r.computedRoot!), r.reason])).toEqual(
      router.nodes.map((n) => n.did).sort().map((did) => [did, true, root, '']))
    // Responses were routed back to the requester, not dropped.
    expect(router.log.filter((m) => m.message.type === 'VerificationResult').map((m) => [m.from, m.to]).sort()).toEqual(
      router.nodes.slice(1).map((n) => [n.did, a!.did]).sort())
    // Each verifier fetched every other participant's state (recomputation, not a stored-root comparison).
    expect(router.log.filter((m) => m.message.type === 'RequestState').length).toBe(4 * 3)
    await router.close()
  })

  it('a participant serving tampered state makes every other verifier recompute a different root', async () => {
    const router = new Router({ size: 4, seed: 62 })
    const [a, , c] = router.nodes
    const { snapshotId, root } = await snapshotOf(router)
    const pending = a!.snap.verify(snapshotId)
    await router.run((m) => m.message.type === 'StateChunk' && m.from === c!.did)
    const config = resolveConfig()
    const receivers = [...new Set(router.held.map((m) => m.to))]
    expect(receivers.length).toBe(3)
    for (const to of receivers) {
      const chunks = router.held.filter((m) => m.to === to).map((m) => m.message as StateChunk)
      const assembler = new ChunkAssembler(chunks[0]!, config)
      const payload = chunks.map((ch) => assembler.add(ch)).find((p) => p !== undefined)!
      const honest = unpackState(payload)
      // C lies: it claims a balance of 999 and signs its lie.
      const forged = packState({ ...honest, localState: encodeLocalState(new Map([['tokens', encode({ balance: 999 })]])) })
      const { totalSize, payloadHash, chunks: parts } = chunkPayload(forged, config.chunkSize, 1)
      for (const [chunkIndex, data] of parts.entries()) {
        const message: StateChunk = { type: 'StateChunk', snapshotId, sender: c!.did, chunkIndex, totalChunks: parts.length, totalSize, payloadHash, data }
        await router.node(to).inject(c!.did, encodeMessage(message, c!.keyPair))
      }
    }
    router.held.length = 0
    await router.run()
    const report = await pending
    expect(report.valid).toBe(false)
    const byVerifier = new Map(report.results.map((r) => [r.verifier, r]))
    expect(byVerifier.get(c!.did)).toEqual({ verifier: c!.did, valid: true, computedRoot: report.expectedRoot, reason: '' })
    const liars = router.nodes.filter((n) => n !== c).map((n) => byVerifier.get(n.did)!)
    const tamperedRoot = toHex(liars[0]!.computedRoot!)
    expect(tamperedRoot).not.toBe(root)
    for (const r of liars) {
      expect([r.valid, toHex(r.computedRoot!), r.reason]).toEqual([false, tamperedRoot, 'recomputed root differs from the expected root'])
    }
    await router.close()
  })

  it('a verifier that cannot fetch a state reports it, and the run ends at the timeout', async () => {
    const router = new Router({ size: 3, seed: 63, config: { snapshotTimeout: 1000 } })
    const [a, b] = router.nodes
    const { snapshotId } = await snapshotOf(router)
    const pending = a!.snap.verify(snapshotId)
    await router.run((m) => m.from === b!.did || m.to === b!.did)
    await router.clock.advanceAsync(1000)
    const report = await pending
    await expect(a!.snap.verify('never-taken')).rejects.toThrow(SnapshotNotFoundError)
    const own = await a!.snap.fetchState(snapshotId, a!.did)
    expect(own.ok && toHex(packState(own.state))).toBe(toHex(packState(a!.snap.getCompleted(snapshotId)!)))
    expect(report.valid).toBe(false)
    expect(report.results.map((r) => [r.verifier, r.valid, r.reason])).toEqual(router.nodes.map((n) => n.did).sort().map((did) => [
      did, false,
      did === b!.did
        ? 'no VerificationResult before timeout'
        : did === a!.did
          ? `could not fetch state of ${b!.did}: timed out after 1000 ms waiting for state`
          : 'no VerificationResult before timeout'
    ]))
    await router.close()
  })
})
