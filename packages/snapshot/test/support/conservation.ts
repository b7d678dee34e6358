import { toHex } from '@icn/identity'
import { expect } from 'vitest'
import { createTokenCluster, recordedBalance, recordedInFlight, startTraffic } from './cluster.js'

export interface ConservationRun { size: number, snapshots: number, inFlightFrames: number }

/**
 * The classic Chandy–Lamport check: N nodes pass tokens at random over FIFO
 * links while `concurrent` snapshots start at random times from random
 * initiators. For every snapshot, the recorded balances plus the tokens
 * recorded in channel states equal the initial total, and all participants
 * agree on the root.
 */
export async function checkConservation (seed: number, size: number, concurrent: number): Promise<ConservationRun> {
  const initialBalance = 50
  const cluster = createTokenCluster({ size, seed, initialBalance, links: { minDelayMs: 1, maxDelayMs: 12 } })
  const { clock, rng, nodes, net } = cluster
  const start = clock.now()
  const trafficEnd = start + 200
  startTraffic(cluster, trafficEnd)
  const ids: string[] = []
  for (let i = 0; i < concurrent; i++) {
    const initiator = rng.pick(nodes)
    clock.setTimeout(() => { ids.push(initiator.snap.startSnapshot().snapshotId) }, rng.int(10, 150))
  }
  await net.runUntilIdle(10_000)
  expect(ids.length).toBe(concurrent)
  let inFlightFrames = 0
  for (const id of ids) {
    let total = 0
    const roots = new Set<string>()
    for (const node of nodes) {
      const outcome = await node.snap.waitForSnapshot(id)
      if (outcome.status !== 'complete') throw new Error(`seed ${seed}: ${node.did} failed ${id}: ${outcome.reason}`)
      const inFlight = recordedInFlight(outcome.snapshot)
      total += recordedBalance(outcome.snapshot) + inFlight.tokens
      inFlightFrames += inFlight.frames
      roots.add(toHex(outcome.snapshot.root))
    }
    expect({ seed, id, total, roots: roots.size }).toEqual({ seed, id, total: size * initialBalance, roots: 1 })
  }
  // The live balances are conserved too (traffic has drained).
  expect(nodes.reduce((s, n) => s + n.account.balance, 0)).toBe(size * initialBalance)
  expect(net.handlerErrors).toEqual([])
  for (const node of nodes) expect(node.snap.stats.rejected).toBe(0)
  await cluster.close()
  return { size, snapshots: ids.length, inFlightFrames }
}
