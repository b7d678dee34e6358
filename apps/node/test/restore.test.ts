import { join } from 'node:path'
import { fromJson, sha256, toHex } from '@icn/identity'
import { openSnapshotStore } from '@icn/snapshot'
import { SubprocessError, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { ApiCallError } from '../src/client.js'
import type { LocalStateSummary, RestoreReport } from '../src/restore.js'
import { type MeshNode, cli, ledgerOf, startMesh, startMeshNode } from './helpers/cluster.js'

type BalanceRow = { account: string, currency: string, balance: bigint }

const ownChainWarning = "this node's own ledger chain went back from seq 2 to 1: payments from this node are refused until peers send its entries up to seq 2 back (a new entry would fork its chain); if no peer holds them, `icn-node ledger release-floor` lets it pay again"
const unknownMessage = 'no completed snapshot no-such-snapshot on this node (`icn-node snapshot list` shows the ones it holds)'
const badIdMessage = "'bad id' is not a snapshot id (1-128 characters of A-Z, a-z, 0-9, _ and -)"

async function restoreWithCli (node: MeshNode, id: string): Promise<RestoreReport> {
  return fromJson(await cli(['snapshot', 'restore', id, '--json', '--data-dir', node.dataDir])) as RestoreReport
}

async function cliFailure (args: string[]): Promise<SubprocessError> {
  const failure = await cli(args).then(() => undefined, (err: unknown) => err)
  expect(failure).toBeInstanceOf(SubprocessError)
  return failure as SubprocessError
}

async function apiFailure (request: Promise<unknown>): Promise<{ status: number, code: string, message: string }> {
  const failure = await request.then(() => undefined, (err: unknown) => err)
  expect(failure).toBeInstanceOf(ApiCallError)
  const error = failure as ApiCallError
  return { status: error.status, code: error.remoteCode, message: error.message }
}

describe('icn-node snapshot restore', () => {
  it('puts a node back to its exact recorded state (ledger root, balances, every provider), with peers connected and alone, durably; unknown or malformed ids fail and change nothing', async () => {
    await withTempDir(async (dir) => {
      const nodes = await startMesh(dir, 3)
      const [, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
      let a = nodes[0] as MeshNode
      const running = new Set<MeshNode>(nodes)
      const stop = async (node: MeshNode): Promise<number | string> => { running.delete(node); return await node.stop() }
      try {
        // The recorded state: A paid B 100. Then A pays C 250 after the snapshot.
        await a.api.post('/pay', { to: b.did, amount: '100' })
        const recordedBalances: BalanceRow[] = [
          { account: a.did, currency: 'ICN', balance: -100n },
          { account: b.did, currency: 'ICN', balance: 100n }
        ].sort((x, y) => x.account < y.account ? -1 : 1)
        // GET /balances names each account's member (no display name set here).
        const recordedRows = recordedBalances.map((row) => ({ ...row, name: null }))
        expect(await a.api.get('/balances')).toEqual(recordedRows)
        const recordedLedger = await ledgerOf(a)
        expect(recordedLedger.entries).toBe(1)
        const taken = await a.api.post('/snapshots') as { snapshotId: string, root: string, participants: string[], completedAt: number }
        expect(taken.participants).toEqual([a.did, b.did, c.did].sort())
        // `snapshot prune` keeps what the rule keeps: one stored snapshot, kept; bad rules are 400s
        const pruned = fromJson(await cli(['snapshot', 'prune', '--keep', '1', '--json', '--data-dir', a.dataDir])) as { removed: string[], kept: number, chunks: number, chunkBytes: number }
        expect([pruned.removed, pruned.kept]).toEqual([[], 1])
        expect(pruned.chunks).toBeGreaterThanOrEqual(1)
        expect(await apiFailure(a.api.post('/snapshots/prune', {}))).toEqual({ status: 400, code: 'BAD_REQUEST', message: "400 BAD_REQUEST: give 'keepNewest', 'maxAgeMs' or both" })
        expect(await apiFailure(a.api.post('/snapshots/prune', { keepNewest: -1 }))).toEqual({ status: 400, code: 'BAD_REQUEST', message: "400 BAD_REQUEST: field 'keepNewest' must be an integer >= 0" })
        await a.api.post('/pay', { to: c.did, amount: '250' })
        const changedLedger = await ledgerOf(a)
        expect(changedLedger.entries).toBe(2)
        expect(changedLedger.stateRoot).not.toBe(recordedLedger.stateRoot)

        // 12 attestations (3 nodes × 2 peers × 2 graphs) are in the snapshot and unchanged since.
        const recorded: LocalStateSummary = {
          ledger: { stateRoot: recordedLedger.stateRoot, entries: 1, ownChainSeq: 1 },
          trust: { attestations: 12 },
          governance: { proposals: 0 },
          gossip: { entries: 13 }
        }
        const changed: LocalStateSummary = {
          ledger: { stateRoot: changedLedger.stateRoot, entries: 2, ownChainSeq: 2 },
          trust: { attestations: 12 },
          governance: { proposals: 0 },
          gossip: { entries: 14 }
        }
        // The recorded gossip state is the topics alone (the stores' cut holds the entries): a restore empties
        // the gossip windows, which anti-entropy fills again.
        const restoredSummary: LocalStateSummary = { ...recorded, gossip: { entries: 0 } }
        const restoredBalances = recordedBalances.map((row) => ({ ...row, balance: row.balance.toString() }))
        const common = {
          snapshotId: taken.snapshotId,
          root: taken.root,
          initiator: a.did,
          participants: taken.participants,
          completedAt: taken.completedAt,
          restored: ['trust', 'gossip', 'ledger', 'governance', 'ledger-in-transit'],
          verified: true,
          after: restoredSummary,
          balances: restoredBalances
        }

        // With B and C connected (they hold the 250 payment): delivery is held during the restore, so the report is exact.
        const live = await restoreWithCli(a, taken.snapshotId)
        expect(live).toEqual({
          ...common,
          stateHash: live.stateHash,
          before: changed,
          warnings: [
            '2 peer(s) connected: entries newer than the snapshot that peers hold come back by anti-entropy, so this node catches up with them again (a restore on one node is not a network-wide rollback)',
            ownChainWarning
          ]
        })
        expect(live.stateHash).toMatch(/^[0-9a-f]{64}$/)

        // Alone, the restored state stays. A may or may not have caught up with the 250 payment before B and C stopped.
        expect(await stop(b)).toBe(0)
        expect(await stop(c)).toBe(0)
        const alone = await restoreWithCli(a, taken.snapshotId)
        expect([recorded.ledger, changed.ledger]).toContainEqual(alone.before.ledger)
        expect([alone.before.trust, alone.before.governance]).toEqual([recorded.trust, recorded.governance])
        expect(alone.before.gossip.entries).toBeLessThanOrEqual(changed.gossip.entries)
        expect(alone).toEqual({
          ...common,
          stateHash: live.stateHash,
          before: alone.before,
          warnings: alone.before.ledger.ownChainSeq === 2 ? [ownChainWarning] : []
        })
        expect(await a.api.get('/balances')).toEqual(recordedRows)
        expect(await ledgerOf(a)).toEqual(recordedLedger)
        // A signed and sent its entry 2 before: a payment now would fork its chain, so it is refused and nothing changes
        expect(await apiFailure(a.api.post('/pay', { to: b.did, amount: '1' }))).toEqual({
          status: 422,
          code: 'ENTRY_REJECTED',
          message: `422 ENTRY_REJECTED: this ledger held ${a.did}'s entry 2 before a restore moved the chain back to 1: a new entry now would fork the chain; wait until entries up to 2 arrive again`
        })
        expect(await ledgerOf(a)).toEqual(recordedLedger)

        // An unknown id and a malformed one: typed 404 / 400, exit code 1 with the reason, nothing changed.
        expect(await apiFailure(a.api.post('/snapshots/no-such-snapshot/restore'))).toEqual({ status: 404, code: 'NOT_FOUND', message: `404 NOT_FOUND: ${unknownMessage}` })
        expect(await apiFailure(a.api.post(`/snapshots/${encodeURIComponent('bad id')}/restore`))).toEqual({ status: 400, code: 'BAD_REQUEST', message: `400 BAD_REQUEST: ${badIdMessage}` })
        const unknown = await cliFailure(['snapshot', 'restore', 'no-such-snapshot', '--data-dir', a.dataDir])
        expect([unknown.code, unknown.stderr]).toEqual([1, `restoring this node's state from snapshot no-such-snapshot…\nicn-node: 404 NOT_FOUND: ${unknownMessage}\n`])
        const malformed = await cliFailure(['snapshot', 'restore', 'bad id', '--data-dir', a.dataDir])
        expect([malformed.code, malformed.stderr]).toEqual([1, `restoring this node's state from snapshot bad id…\nicn-node: 400 BAD_REQUEST: ${badIdMessage}\n`])
        expect(await ledgerOf(a)).toEqual(recordedLedger)

        // The restore is durable: a restarted A starts from it.
        expect(await stop(a)).toBe(0)
        a = await startMeshNode(a.dataDir, 0)
        running.add(a)
        expect(await a.api.get('/balances')).toEqual(recordedRows)
        expect(await ledgerOf(a)).toEqual(recordedLedger)

        // Alone, nobody will send A's entry 2 back: the operator releases the floor (typed refusals first), and A pays again.
        const floor = { author: a.did, head: 1, floor: 2 }
        expect(await a.api.get('/ledger/floors')).toEqual([floor])
        expect(await apiFailure(a.api.post('/ledger/floors/release', {}))).toEqual({ status: 400, code: 'BAD_REQUEST', message: "400 BAD_REQUEST: field 'reference' must be a non-empty string" })
        expect(await apiFailure(a.api.post('/ledger/floors/release', { author: b.did, reference: 'x' }))).toEqual({
          status: 422, code: 'INVALID_ARGUMENT', message: `422 INVALID_ARGUMENT: ${b.did}'s chain is not held back by a restore floor`
        })
        const reference = 'ops ticket 7: entry 2 lost with B and C'
        expect(fromJson(await cli(['ledger', 'release-floor', '--reference', reference, '--json', '--data-dir', a.dataDir]))).toEqual({ released: floor, reference })
        expect(fromJson(await cli(['ledger', 'floors', '--json', '--data-dir', a.dataDir]))).toEqual([])
        const paid = await a.api.post('/pay', { to: b.did, amount: '7' }) as { id: string, balance: string }
        expect(paid.balance).toBe('-107')
        expect((await ledgerOf(a)).entries).toBe(2)
        expect(await stop(a)).toBe(0)

        // The reported state hash is A's leaf in the snapshot's Merkle tree.
        const store = await openSnapshotStore({ path: join(a.dataDir, 'snapshots') })
        const record = await store.load(taken.snapshotId)
        await store.close()
        expect(toHex(sha256(record.localState))).toBe(live.stateHash)
        expect(record.leaves.filter((leaf) => leaf.did === a.did).map((leaf) => toHex(leaf.stateHash))).toEqual([live.stateHash])
      } finally {
        for (const node of running) await node.stop()
      }
    })
  }, 120_000)
})
