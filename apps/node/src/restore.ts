import { bytesEqual, sha256, toHex } from '@icn/identity'
import { type CompletedSnapshot, SnapshotNotFoundError, decodeLocalState, encodeLocalState, isSnapshotId } from '@icn/snapshot'
import { LEDGER_IN_TRANSIT, TOPICS } from './bridges.js'
import { ApiError, UnknownSnapshotError } from './errors.js'
import type { NodeServices } from './node.js'

/** A node's local state in brief, as a restore reports it before and after. */
export interface LocalStateSummary {
  ledger: {
    stateRoot: string
    entries: number
    /** Sequence number of this node's own last ledger entry (null: none). */
    ownChainSeq: number | null
  }
  trust: { attestations: number }
  governance: { proposals: number }
  gossip: { entries: number }
}

/** What `POST /snapshots/:id/restore` (`icn-node snapshot restore <id>`) answers. */
export interface RestoreReport {
  snapshotId: string
  /** The snapshot's global state root (hex), as `snapshot list` shows it. */
  root: string
  initiator: string
  participants: string[]
  completedAt: number
  /** The state providers replaced, in the order they were restored. */
  restored: string[]
  /** sha-256 (hex) of this node's recorded local state: its leaf's `stateHash` in the snapshot's Merkle tree. */
  stateHash: string
  /** Every provider, exported again right after the restore, gives exactly the recorded local state. */
  verified: boolean
  before: LocalStateSummary
  after: LocalStateSummary
  /** This node's ledger balances after the restore (decimal strings). */
  balances: Array<{ account: string, currency: string, balance: string }>
  /** What the operator should know about the restored state (peers that will resend later entries, a rolled-back own chain). */
  warnings: string[]
}

function summarize (node: NodeServices): LocalStateSummary {
  const { ledger, trust, governance, gossip, keyPair } = node
  return {
    ledger: { stateRoot: ledger.stateRoot(), entries: ledger.entryCount(), ownChainSeq: ledger.chainHead(keyPair.did)?.seq ?? null },
    trust: { attestations: trust.size },
    governance: { proposals: governance.proposals().length },
    gossip: { entries: Object.values(TOPICS).reduce((n, topic) => n + gossip.entries(topic).length, 0) }
  }
}

/**
 * The completed snapshot `snapshotId` this node holds (memory, else its store): `ApiError` 400 for a
 * malformed id, `UnknownSnapshotError` (404) for one it holds no snapshot under.
 */
export async function requireCompletedSnapshot (node: Pick<NodeServices, 'snapshot'>, snapshotId: string): Promise<CompletedSnapshot> {
  if (!isSnapshotId(snapshotId)) {
    throw new ApiError(400, 'BAD_REQUEST', `'${String(snapshotId).slice(0, 80)}' is not a snapshot id (1-128 characters of A-Z, a-z, 0-9, _ and -)`)
  }
  try {
    return await node.snapshot.completed(snapshotId)
  } catch (err) {
    if (err instanceof SnapshotNotFoundError) throw new UnknownSnapshotError(snapshotId)
    throw err
  }
}

/**
 * Replaces this node's trust, ledger, governance and gossip state with what it
 * recorded in a completed distributed snapshot (`SnapshotNode.restore`), while
 * the transport delivers no frame: nothing a peer sends interleaves with the
 * restore or with reading the result back. Every provider is then exported
 * again and compared with the recorded bytes (`verified`). Frames held meanwhile
 * are delivered afterwards, so peers' entries newer than the snapshot come back
 * by anti-entropy: on a live network a restore is a reset followed by catch-up.
 * Throws `ApiError` 400 for a malformed id, `UnknownSnapshotError` (404) for an
 * id this node holds no snapshot under.
 */
export async function restoreSnapshot (node: NodeServices, snapshotId: string): Promise<RestoreReport> {
  const record = await requireCompletedSnapshot(node, snapshotId)
  const restored = [...decodeLocalState(record.localState).keys()]
  const stateHash = toHex(sha256(record.localState))
  return await node.transport.withDeliveryPaused(async () => {
    const before = summarize(node)
    await node.snapshot.restore(snapshotId)
    const after = summarize(node)
    const states = new Map(await Promise.all(node.stateProviders.map(async (p) => [p.name, await p.exportState()] as const)))
    // Entries in transit at the cut were delivered by the restore (applied to the ledger): not expected back as in transit.
    const recorded = decodeLocalState(record.localState)
    if (recorded.has(LEDGER_IN_TRANSIT)) states.set(LEDGER_IN_TRANSIT, recorded.get(LEDGER_IN_TRANSIT) as Uint8Array)
    else states.delete(LEDGER_IN_TRANSIT)
    const verified = bytesEqual(encodeLocalState(states), record.localState)
    const balances = node.ledger.balances().map((row) => ({ account: row.account, currency: row.currency, balance: row.balance.toString() }))
    const warnings: string[] = []
    const peers = node.transport.peers().length
    if (peers > 0) {
      warnings.push(`${peers} peer(s) connected: entries newer than the snapshot that peers hold come back by anti-entropy, so this node catches up with them again (a restore on one node is not a network-wide rollback)`)
    }
    const [was, is] = [before.ledger.ownChainSeq ?? 0, after.ledger.ownChainSeq ?? 0]
    if (is < was) {
      warnings.push(`this node's own ledger chain went back from seq ${was} to ${is}: payments from this node are refused until peers send its entries up to seq ${was} back (a new entry would fork its chain); if no peer holds them, \`icn-node ledger release-floor\` lets it pay again`)
    }
    if (!verified) warnings.push('the state read back after the restore differs from the recorded one: something changed it meanwhile')
    node.logger.info({ snapshotId, root: toHex(record.root), ledgerStateRoot: after.ledger.stateRoot, verified }, 'snapshot restored')
    return {
      snapshotId,
      root: toHex(record.root),
      initiator: record.initiator,
      participants: [...record.participants],
      completedAt: record.completedAt,
      restored,
      stateHash,
      verified,
      before,
      after,
      balances,
      warnings
    }
  })
}
