import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { SnapshotAudit } from '../src/audit.js'
import { type MeshNode, cli, startMesh } from './helpers/cluster.js'

// `pnpm test:soak` (ICN_SOAK=1) repeats the run on 10 fresh networks; the normal suite runs one.
const RUNS = process.env.ICN_SOAK === '1' ? 10 : 1
const CURRENCIES = ['ICN', 'EUR']

/**
 * Every node pays the others in turn, both currencies, until `stop()` (which resolves with the payments
 * made); `reached(n)` resolves once n payments are made.
 */
function payInTurn (nodes: readonly MeshNode[]): { reached: (n: number) => Promise<void>, stop: () => Promise<number> } {
  let stopped = false
  let made = 0
  const waiting: Array<{ n: number, resolve: () => void }> = []
  const loops = nodes.map(async (node, i) => {
    for (let k = 0; !stopped; k++) {
      const to = nodes[(i + 1 + (k % (nodes.length - 1))) % nodes.length] as MeshNode
      await node.api.post('/pay', { to: to.did, amount: String(1 + (k % 7)), currency: CURRENCIES[k % 2] })
      made++
      for (const w of waiting.filter((w) => w.n <= made)) { waiting.splice(waiting.indexOf(w), 1); w.resolve() }
    }
  })
  return {
    reached: async (n) => { if (made < n) await new Promise<void>((resolve) => { waiting.push({ n, resolve }) }) },
    stop: async () => { stopped = true; await Promise.all(loops); return made }
  }
}

describe('snapshot audit on real processes under load', () => {
  it(`4 nodes all paying: every snapshot's audit, read through the API, finds every currency summing to zero (${RUNS} run(s))`, async () => {
    for (let run = 0; run < RUNS; run++) {
      const root = await mkdtemp(join(tmpdir(), 'icn-audit-'))
      const nodes = await startMesh(root, 4, 20_000)
      try {
        const load = payInTurn(nodes)
        // Two snapshots while every node is paying, from two initiators.
        const taken: string[] = []
        for (const [i, initiator] of ([nodes[0], nodes[2]] as MeshNode[]).entries()) {
          await load.reached(40 * (i + 1))
          const snap = await initiator.api.post('/snapshots') as { snapshotId: string, participants: string[] }
          expect(snap.participants).toEqual(nodes.map((n) => n.did).sort())
          taken.push(snap.snapshotId)
        }
        const payments = await load.stop()
        expect(payments).toBeGreaterThan(0)

        for (const [i, id] of taken.entries()) {
          // Read at a participant that did not initiate it: its own record plus three fetched states.
          const auditor = nodes[i === 0 ? 1 : 3] as MeshNode
          const audit = await auditor.api.get(`/snapshots/${id}/audit`) as SnapshotAudit
          expect({ notes: audit.notes, complete: audit.complete, balanced: audit.balanced }).toEqual({ notes: [], complete: true, balanced: true })
          expect(audit.currencies.map((c) => [c.currency, c.total, c.balanced])).toEqual([['EUR', '0', true], ['ICN', '0', true]])
          expect(audit.participants.map((p) => [p.did, p.available, p.leafMatches, p.inRoot])).toEqual(nodes.map((n) => [n.did, true, true, true]).sort())
          // Each participant's audited own balance is its recorded one plus what was in flight to or from it.
          for (const p of audit.participants) {
            for (const a of p.audited) expect(BigInt(a.audited)).toBe(BigInt(a.recorded) + BigInt(a.inFlight))
          }
          if (i > 0) continue

          // The CLI shows the same audit and exports the audited balances.
          const shown = await auditor.cli(['snapshot', 'show', id]) as SnapshotAudit
          expect(shown.currencies).toEqual(audit.currencies)
          const csv = (await cli(['snapshot', 'export', id, '--csv', '--data-dir', auditor.dataDir])).trim().split('\n')
          expect(csv[0]).toBe('snapshot,participant,currency,recorded,in_flight,audited')
          expect(csv.slice(1)).toEqual(audit.participants.flatMap((p) => p.audited.map((a) => [id, p.did, a.currency, a.recorded, a.inFlight, a.audited].join(','))))
          const text = await cli(['snapshot', 'show', id, '--data-dir', auditor.dataDir])
          expect(text.split('\n')[0]).toBe(`snapshot ${id} (root ${audit.root}): every currency sums to zero over the recorded states and what was in flight`)
        }
      } finally {
        await Promise.all(nodes.map(async (n) => await n.stop()))
        await rm(root, { recursive: true, force: true })
      }
    }
  }, RUNS * 180_000)
})
