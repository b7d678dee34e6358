// Auditing a completed distributed snapshot without restoring it: each participant's recorded ledger
// (balances, chain heads, held entries), the ledger entries recorded in flight (channel state and the
// `ledger-in-transit` record), the conservation law per currency and every participant's leaf in the root.
import { parseEntry, decodeMessage } from '@icn/gossip'
import { type Did, bytesEqual, decode, sha256, toHex } from '@icn/identity'
import { type SignedEntry, decodeEntry, decodeLedgerCut, netChanges } from '@icn/ledger'
import { type CompletedSnapshot, type ParticipantState, type SnapshotLeaf, decodeLocalState, proveInclusion, verifyInclusion } from '@icn/snapshot'
import { LEDGER_IN_TRANSIT, TOPICS, inTransitEntries, ledgerEntriesOf } from './bridges.js'
import type { NodeServices } from './node.js'
import { requireCompletedSnapshot } from './restore.js'

/** A participant's ledger as recorded in a snapshot. */
export interface RecordedLedger {
  /** Every non-zero balance, sorted by account then currency. */
  readonly balances: ReadonlyArray<{ account: Did, currency: string, balance: bigint }>
  /** Each author's chain head (highest applied seq), sorted by author. */
  readonly heads: ReadonlyArray<{ author: Did, seq: number, id: string }>
  /** Entries recorded but not applied (waiting for a gap in their chain): they count as in flight to their accounts. */
  readonly held: readonly SignedEntry[]
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/**
 * The one place that reads a recorded `ledger` provider state: the ledger's cut (`decodeLedgerCut`) gives
 * the balances, chain heads and held entries directly. Throws the ledger's `InvalidStateError` for bytes
 * that are not a cut.
 */
export function balancesOfRecordedLedger (bytes: Uint8Array): RecordedLedger {
  const cut = decodeLedgerCut(bytes)
  return {
    balances: cut.balances.filter((row) => row.balance !== 0n).map(({ account, currency, balance }) => ({ account, currency, balance })),
    heads: cut.heads.map(({ author, seq, id }) => ({ author, seq, id })),
    held: [...cut.pending]
  }
}

/** A ledger entry recorded in flight towards a participant. */
export interface InFlightEntry {
  /** The peer whose channel it was recorded on, or `ledger-in-transit` (recorded by the participant itself at its cut). */
  channel: string
  id: string
  author: string
  seq: number
  deltas: Array<{ account: string, currency: string, net: string }>
}

/** One participant of an audited snapshot. */
export interface ParticipantAudit {
  did: string
  /** Whether its recorded state could be read (its own, or fetched from it); `reason` says why not. */
  available: boolean
  reason: string | null
  /** Its leaf in the snapshot's Merkle tree (hex hashes). */
  leaf: { stateHash: string, stateSize: number, channelHash: string, channelSize: number }
  /** The recorded bytes hash to the leaf (false when unavailable). */
  leafMatches: boolean
  /** The leaf's inclusion proof verifies against the snapshot's root. */
  inRoot: boolean
  /** Every recorded balance (decimal strings). */
  balances: Array<{ account: string, currency: string, balance: string }>
  heads: Array<{ author: string, seq: number, id: string }>
  /** Frames recorded on each incoming channel (every kind), by sender. */
  channelFrames: Record<string, number>
  /** Ledger entries recorded in flight at its cut: on its channels, in transit, or held for a chain gap. */
  inFlight: InFlightEntry[]
  /** Its own account per currency: recorded balance, what was in flight to or from it, and their sum. */
  audited: Array<{ currency: string, recorded: string, inFlight: string, audited: string }>
}

/** The conservation law for one currency: Σ over participants (own recorded balance + in flight to it) = 0. */
export interface CurrencyAudit {
  currency: string
  recorded: string
  inFlight: string
  total: string
  balanced: boolean
}

/** What `GET /snapshots/:id/audit` answers. */
export interface SnapshotAudit {
  snapshotId: string
  root: string
  /** Every participant's state was read, its leaf matches and is in the root, and only participants hold balances. */
  complete: boolean
  /** Complete, and every currency sums to zero. */
  balanced: boolean
  currencies: CurrencyAudit[]
  participants: ParticipantAudit[]
  /** Why the audit is not complete (unavailable states, leaves that do not match, accounts outside the snapshot). */
  notes: string[]
}

/** Limits for decoding recorded gossip entries (the node's defaults; the frames were accepted under them). */
const ENTRY_LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }

/** Ledger entries carried by one recorded gossip frame (pushed or pulled entries on `ledger:tx`); none for anything else. */
export function ledgerEntriesOfFrame (frame: Uint8Array): SignedEntry[] {
  let message
  try {
    message = decodeMessage(frame)
  } catch {
    return []
  }
  if (message.t !== 'push' && message.t !== 'entries') return []
  const out: SignedEntry[] = []
  for (const bytes of message.entries) {
    try {
      const entry = parseEntry(bytes, ENTRY_LIMITS, false)
      if (entry.envelope.payload.topic === TOPICS.ledger) out.push(...ledgerEntriesOf(entry.payload))
    } catch {
      // Not a ledger entry the node would have accepted: the node refused it too.
    }
  }
  return out
}

/** The recorded frames of a channel state, by sender. */
function channelsOf (channelState: Uint8Array): Map<string, Uint8Array[]> {
  const value = decode(channelState) as { channels?: Record<string, unknown> } | null
  const channels = value?.channels
  if (typeof channels !== 'object' || channels === null) throw new TypeError('a channel state is { channels: { [peer]: [frame, …] } }')
  return new Map(Object.entries(channels).map(([peer, frames]) => [peer, Array.isArray(frames) ? frames.filter((f): f is Uint8Array => f instanceof Uint8Array) : []]))
}

const leafHex = (leaf: SnapshotLeaf): ParticipantAudit['leaf'] => ({ stateHash: toHex(leaf.stateHash), stateSize: leaf.stateSize, channelHash: toHex(leaf.channelHash), channelSize: leaf.channelSize })

const inFlightOf = (channel: string, signed: SignedEntry): InFlightEntry => ({
  channel,
  id: signed.id,
  author: signed.entry.author,
  seq: signed.entry.seq,
  deltas: [...netChanges(signed.entry).values()].map((d) => ({ account: d.account, currency: d.currency, net: d.net.toString() }))
})

/** What the audit reads of one participant; `error` when its state could not be had. */
export type AuditInput = ParticipantState | { error: string }

/**
 * Audits a completed snapshot from every participant's recorded state (`states`, keyed by DID). Pure.
 * An entry is in flight to participant p when it was recorded on any participant's channel or in transit, or
 * is held in p's ledger, and p's recorded chain of its author does not reach it; p's audited balance in a
 * currency is its recorded own balance plus the net of those entries for its account. Recording an entry in
 * more places than needed changes nothing; an entry in the payer's state that reached neither the payee's
 * state nor any recorded place makes its currency's sum non-zero.
 */
export function auditSnapshot (record: Pick<CompletedSnapshot, 'snapshotId' | 'root' | 'participants' | 'leaves'>, states: ReadonlyMap<string, AuditInput>): SnapshotAudit {
  const notes: string[] = []
  const participants = [...record.participants].sort(compare)
  const members = new Set(participants)
  const inFlightEverywhere = new Map<string, SignedEntry>()
  interface Read { ledger: RecordedLedger, channels: Map<string, Uint8Array[]>, recordedInFlight: InFlightEntry[] }
  const read = new Map<string, Read | string>()
  for (const did of participants) {
    const input = states.get(did)
    if (input === undefined || 'error' in input) { read.set(did, input?.error ?? 'no state'); continue }
    try {
      const providers = decodeLocalState(input.localState)
      const ledgerBytes = providers.get('ledger')
      if (ledgerBytes === undefined) throw new TypeError('no ledger state recorded')
      const ledger = balancesOfRecordedLedger(ledgerBytes)
      const channels = channelsOf(input.channelState)
      const recordedInFlight: InFlightEntry[] = []
      for (const [peer, frames] of channels) {
        for (const frame of frames) {
          for (const signed of ledgerEntriesOfFrame(frame)) { recordedInFlight.push(inFlightOf(peer, signed)); inFlightEverywhere.set(signed.id, signed) }
        }
      }
      const transit = providers.get(LEDGER_IN_TRANSIT)
      for (const bytes of transit === undefined ? [] : inTransitEntries(transit)) {
        const signed = decodeEntry(bytes)
        recordedInFlight.push(inFlightOf(LEDGER_IN_TRANSIT, signed))
        inFlightEverywhere.set(signed.id, signed)
      }
      read.set(did, { ledger, channels, recordedInFlight })
    } catch (err) {
      read.set(did, `recorded state does not decode: ${(err as Error).message}`)
    }
  }

  const totals = new Map<string, { recorded: bigint, inFlight: bigint }>()
  const total = (currency: string): { recorded: bigint, inFlight: bigint } => {
    let t = totals.get(currency)
    if (t === undefined) { t = { recorded: 0n, inFlight: 0n }; totals.set(currency, t) }
    return t
  }
  const outside = new Set<string>()
  const audits: ParticipantAudit[] = participants.map((did) => {
    const leaf = record.leaves.find((l) => l.did === did)
    const proof = leaf === undefined ? undefined : proveInclusion(record.snapshotId, record.leaves, did)
    const inRoot = proof !== undefined && verifyInclusion(proof) && bytesEqual(proof.root, record.root)
    const input = states.get(did)
    const leafMatches = leaf !== undefined && input !== undefined && !('error' in input) &&
      bytesEqual(sha256(input.localState), leaf.stateHash) && input.localState.length === leaf.stateSize &&
      bytesEqual(sha256(input.channelState), leaf.channelHash) && input.channelState.length === leaf.channelSize
    const base = { did, leaf: leaf === undefined ? { stateHash: '', stateSize: 0, channelHash: '', channelSize: 0 } : leafHex(leaf), leafMatches, inRoot }
    if (!inRoot) notes.push(`${did}'s leaf is not proved in the root`)
    const r = read.get(did)
    if (r === undefined || typeof r === 'string') {
      notes.push(`${did}: ${r ?? 'no state'}`)
      return { ...base, available: false, reason: r ?? 'no state', balances: [], heads: [], channelFrames: {}, inFlight: [], audited: [] }
    }
    if (!leafMatches) notes.push(`${did}'s recorded state does not hash to its leaf`)
    for (const row of r.ledger.balances) if (!members.has(row.account)) outside.add(row.account)
    const head = new Map(r.ledger.heads.map((h) => [h.author, h.seq]))
    const pending = new Map<string, SignedEntry>(inFlightEverywhere)
    for (const signed of r.ledger.held) pending.set(signed.id, signed)
    const own = new Map<string, { recorded: bigint, inFlight: bigint }>()
    const ownRow = (currency: string): { recorded: bigint, inFlight: bigint } => {
      let row = own.get(currency)
      if (row === undefined) { row = { recorded: 0n, inFlight: 0n }; own.set(currency, row) }
      return row
    }
    for (const row of r.ledger.balances) if (row.account === did) ownRow(row.currency).recorded += row.balance
    for (const signed of pending.values()) {
      if ((head.get(signed.entry.author) ?? 0) >= signed.entry.seq) continue
      for (const d of netChanges(signed.entry).values()) if (d.account === did) ownRow(d.currency).inFlight += d.net
    }
    for (const [currency, row] of own) { const t = total(currency); t.recorded += row.recorded; t.inFlight += row.inFlight }
    return {
      ...base,
      available: true,
      reason: null,
      balances: r.ledger.balances.map((b) => ({ account: b.account, currency: b.currency, balance: b.balance.toString() })),
      heads: r.ledger.heads.map((h) => ({ ...h })),
      channelFrames: Object.fromEntries([...r.channels].map(([peer, frames]) => [peer, frames.length])),
      inFlight: [...r.recordedInFlight, ...r.ledger.held.map((s) => inFlightOf('held', s))],
      audited: [...own.entries()].sort(([a], [b]) => compare(a, b)).map(([currency, row]) => ({
        currency, recorded: row.recorded.toString(), inFlight: row.inFlight.toString(), audited: (row.recorded + row.inFlight).toString()
      }))
    }
  })
  if (outside.size > 0) notes.push(`balances of accounts outside the snapshot: ${[...outside].sort().join(', ')}`)
  const currencies = [...totals.entries()].sort(([a], [b]) => compare(a, b)).map(([currency, t]) => ({
    currency, recorded: t.recorded.toString(), inFlight: t.inFlight.toString(), total: (t.recorded + t.inFlight).toString(), balanced: t.recorded + t.inFlight === 0n
  }))
  const complete = notes.length === 0
  return { snapshotId: record.snapshotId, root: toHex(record.root), complete, balanced: complete && currencies.every((c) => c.balanced), currencies, participants: audits, notes }
}

/**
 * Audits completed snapshot `snapshotId` held by this node: its own recorded state from memory or the store,
 * every other participant's fetched from that participant (checked against its leaf by the transfer; reused
 * within `stateTransferWindow`). A participant that cannot be reached is reported unavailable (audit incomplete).
 */
export async function auditHeldSnapshot (node: Pick<NodeServices, 'snapshot' | 'keyPair'>, snapshotId: string): Promise<SnapshotAudit> {
  const record = await requireCompletedSnapshot(node, snapshotId)
  const states = new Map<string, AuditInput>([[node.keyPair.did, { localState: record.localState, channelState: record.channelState }]])
  await Promise.all(record.participants.filter((did) => did !== node.keyPair.did).map(async (did) => {
    const fetched = await node.snapshot.fetchState(snapshotId, did)
    states.set(did, fetched.ok ? fetched.state : { error: `state not fetched: ${fetched.reason}` })
  }))
  return auditSnapshot(record, states)
}
