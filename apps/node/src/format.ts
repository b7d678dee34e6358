// Human-readable output of the CLI's client commands (the default; `--json` prints the API's answer instead).
// Each formatter reads the fields it shows from the API's JSON answer.
import type { MembersView } from './membership.js'
import type { NodeStatus } from './node.js'
import { type Statement, statementCsv } from './statement.js'

type Row = ReadonlyArray<string | number | boolean | bigint | null | undefined>

const cell = (value: Row[number]): string => value === null || value === undefined ? '-' : String(value)

/** A plain-text table: a header line, then one line per row, columns padded to their widest cell. */
export function table (headers: readonly string[], rows: readonly Row[]): string {
  const cells = [headers.map(String), ...rows.map((row) => row.map(cell))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join('  ')).join('\n')
}

/** `label  value` lines, labels padded. */
export function fields (pairs: ReadonlyArray<readonly [string, Row[number]]>): string {
  const width = Math.max(...pairs.map(([label]) => label.length))
  return pairs.map(([label, value]) => `${label.padEnd(width)}  ${cell(value)}`).join('\n')
}

export function duration (ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${s % 60}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h ${m % 60}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

const time = (ms: number | null | undefined): string => ms === null || ms === undefined ? '-' : new Date(ms).toISOString()

/** The fields of `GET /status` the status sentence shows (`sync` is read generically). */
type Status = Pick<NodeStatus, 'version' | 'did' | 'peerId' | 'multiaddrs' | 'peers' | 'services' | 'ledger' | 'trust' | 'governance' | 'snapshots' | 'uptimeMs'> & { sync?: unknown, membership?: NodeStatus['membership'], reachability?: NodeStatus['reachability'] }

/** `status.sync`, read generically: one `sync` line per peer row (`<peer>: key value, …`), else its JSON. */
function syncLines (sync: unknown): Array<readonly [string, string]> {
  if (sync === undefined) return []
  const peers = typeof sync === 'object' && sync !== null ? (sync as { peers?: unknown }).peers : undefined
  if (!Array.isArray(peers)) return [['sync', JSON.stringify(sync)]]
  if (peers.length === 0) return [['sync', 'no peer sessions']]
  return peers.map((row: Record<string, unknown>) => {
    const { peer, ...rest } = row
    const facts = Object.entries(rest).filter(([, v]) => typeof v !== 'object').map(([k, v]) => `${k} ${String(v)}`)
    return ['sync', `${String(peer)}: ${facts.join(', ')}`] as const
  })
}

export function formatStatus (value: unknown): string {
  const s = value as Status
  return fields([
    ['did', s.did],
    ['peer id', s.peerId],
    ['listening', s.multiaddrs.join(' ')],
    ['uptime', duration(s.uptimeMs)],
    ['peers', s.reachability === undefined ? s.peers : `${s.peers} (${s.reachability.peersDirect} direct, ${s.reachability.peersRelayed} through a relay)`],
    ...(s.reachability === undefined ? [] : [['reachable', reachabilityText(s.reachability)] as const]),
    ['services', s.services.join(', ')],
    ['ledger', `${s.ledger.entries} entries, ${s.ledger.pending} pending, ${s.ledger.quarantined} quarantined, state root ${s.ledger.stateRoot}`],
    ['trust', `${s.trust.attestations} attestations`],
    ['governance', `${s.governance.domain}: ${s.governance.members} members, ${s.governance.proposals} proposals`],
    ...(s.membership === undefined
      ? []
      : [['network', `${s.membership.networkId}; ${s.membership.candidates} invitees waiting; refused ${s.membership.refused.notAMember} connections from non-members, ${s.membership.refused.coolDown} in cool-down, ${s.membership.refused.streams} streams, ${s.membership.refused.entriesByNonMembers} entries by non-members`] as const]),
    ['snapshots', `${s.snapshots.active} active, ${s.snapshots.completed} completed, ${s.snapshots.failed} failed${s.snapshots.damaged > 0 ? `, ${s.snapshots.damaged} damaged files moved aside (GET /snapshots/damaged)` : ''}`],
    ...syncLines(s.sync),
    ['change feed', `version ${s.version}`]
  ])
}

/** How members reach this node, in one line. */
function reachabilityText (r: NonNullable<Status['reachability']>): string {
  const parts = [
    r.verified.length > 0 ? `directly at ${r.verified.join(' ')} (confirmed by a peer)` : 'no public address confirmed by a peer',
    r.relayed.length > 0 ? `through ${r.relayed.length} relay${r.relayed.length === 1 ? '' : 's'}: ${r.relayed.join(' ')}` : 'no relay reservation'
  ]
  return `${parts.join('; ')}${r.relay ? '; relaying for members' : ''}`
}

export function formatPeers (value: unknown): string {
  const peers = value as Array<{ did: string, name?: string | null, peerId: string, remoteAddr: string, via?: string }>
  if (peers.length === 0) return 'no peer connected'
  return table(['NAME', 'DID', 'PEER ID', 'VIA', 'ADDRESS'], peers.map((p) => [p.name, p.did, p.peerId, p.via ?? '', p.remoteAddr]))
}

export function formatPeerAdded (value: unknown): string {
  return `dialling ${(value as { added: string }).added} (and redialling it while the node runs)`
}

export function formatPeerBlocked (value: unknown): string {
  const v = value as { blocked: string, ms: number }
  return `cut the link to ${v.blocked} and refusing it for ${v.ms} ms`
}

export function formatPayment (value: unknown): string {
  const p = value as { id: string, to: string, currency: string, amount: string, balance: string }
  return `paid ${p.amount} ${p.currency} to ${p.to} (entry ${p.id}); this node's balance is now ${p.balance} ${p.currency}`
}

export function formatBalance (value: unknown): string {
  const b = value as { account: string, name?: string | null, currency: string, balance: bigint | string, creditLimit: string }
  return `${named(b.account, b.name)} has ${String(b.balance)} ${b.currency} (credit limit ${b.creditLimit})`
}

export function formatBalances (value: unknown): string {
  const rows = value as Array<{ account: string, name?: string | null, currency: string, balance: bigint | string }>
  if (rows.length === 0) return 'no balances yet'
  return table(['NAME', 'ACCOUNT', 'CURRENCY', 'BALANCE'], rows.map((r) => [r.name, r.account, r.currency, String(r.balance)]))
}

export function formatFloors (value: unknown): string {
  const floors = value as Array<{ author: string, head: number, floor: number }>
  if (floors.length === 0) return 'no chain floors: every author can sign'
  return table(['AUTHOR', 'HEAD', 'FLOOR'], floors.map((f) => [f.author, f.head, f.floor]))
}

export function formatFloorReleased (value: unknown): string {
  const v = value as { released: { author: string, head: number, floor: number }, reference: string }
  return `released the floor of ${v.released.author} (chain head ${v.released.head}, floor was ${v.released.floor}): it can pay again; reference: ${v.reference}`
}

export function formatAttestation (value: unknown): string {
  const a = value as { cid: string, subject: string, graph: string, score: number, outcome: string }
  return `attested ${a.score} for ${a.subject} in the ${a.graph} graph (${a.outcome}, ${a.cid})`
}

export function formatTrust (value: unknown): string {
  const t = value as { subject: string, graph: string, score: number, class: string }
  return `this node trusts ${t.subject} at ${t.score.toFixed(4)} in the ${t.graph} graph (${t.class})`
}

export function formatProposed (value: unknown): string {
  const p = value as { id: string, state: string, opensAt: number | null, closesAt: number | null }
  return `proposal ${p.id} submitted: ${p.state}, voting ${time(p.opensAt)} to ${time(p.closesAt)}`
}

export function formatProposals (value: unknown): string {
  const rows = value as Array<{ id: string, kind: string, title: string, state: string, closesAt: number | null, proposer?: string, proposerName?: string | null }>
  if (rows.length === 0) return 'no proposals'
  return table(['ID', 'STATE', 'KIND', 'CLOSES', 'PROPOSER', 'TITLE'], rows.map((p) => [p.id, p.state, p.kind, time(p.closesAt), p.proposerName ?? p.proposer, p.title]))
}

export function formatVote (value: unknown): string {
  const v = value as { proposal: string, choice: string, status: string }
  return `voted ${v.choice} on ${v.proposal} (${v.status})`
}

export function formatSnapshotTaken (value: unknown): string {
  const s = value as { snapshotId: string, root: string, participants: string[] }
  return `snapshot ${s.snapshotId} completed with ${s.participants.length} participants; global root ${s.root}`
}

export function formatSnapshots (value: unknown): string {
  const rows = value as Array<{ snapshotId: string, initiator: string, completedAt: number, participants: string[], root: string }>
  if (rows.length === 0) return 'no completed snapshots on this node'
  return table(['SNAPSHOT', 'COMPLETED', 'PARTICIPANTS', 'ROOT', 'INITIATOR'], rows.map((s) => [s.snapshotId, time(s.completedAt), s.participants.length, s.root, s.initiator]))
}

export function formatVerification (value: unknown): string {
  const r = value as { snapshotId: string, valid: boolean, expectedRoot: string, results: Array<{ verifier: string, valid: boolean, computedRoot: string | null, reason?: string }> }
  const agreed = r.results.filter((x) => x.valid).length
  return [
    `snapshot ${r.snapshotId} is ${r.valid ? 'valid' : 'NOT valid'}: ${agreed} of ${r.results.length} participants recomputed root ${r.expectedRoot}`,
    table(['VERIFIER', 'VALID', 'COMPUTED ROOT', 'REASON'], r.results.map((x) => [x.verifier, x.valid ? 'yes' : 'no', x.computedRoot, x.reason ?? '']))
  ].join('\n')
}

export function formatRestore (value: unknown): string {
  const r = value as {
    snapshotId: string
    root: string
    restored: string[]
    verified: boolean
    stateHash: string
    before: { ledger: { entries: number, stateRoot: string } }
    after: { ledger: { entries: number, stateRoot: string } }
    balances: Array<{ account: string, currency: string, balance: string }>
    warnings: string[]
  }
  return [
    `restored ${r.restored.join(', ')} from snapshot ${r.snapshotId} (global root ${r.root}); read back ${r.verified ? 'exactly as recorded' : 'DIFFERENT from the record'}, state hash ${r.stateHash}`,
    `ledger: ${r.before.ledger.entries} entries (root ${r.before.ledger.stateRoot}) before, ${r.after.ledger.entries} entries (root ${r.after.ledger.stateRoot}) after`,
    r.balances.length === 0 ? 'no balances after the restore' : table(['ACCOUNT', 'CURRENCY', 'BALANCE'], r.balances.map((b) => [b.account, b.currency, b.balance])),
    ...r.warnings.map((w) => `warning: ${w}`)
  ].join('\n')
}

/** `did` with its display name in front when it has one. */
const named = (did: string, name: string | null | undefined): string => name === null || name === undefined ? did : `${name} (${did})`

export function formatMembers (value: unknown): string {
  const v = value as MembersView
  const lines = [
    `${v.domain}, charter v${v.charterVersion}, network ${v.networkId}`,
    table(['NAME', 'DID', 'ROLE', 'STANDING', 'CONNECTED'], v.members.map((m) => [
      (m.name ?? '-') + (m.self ? ' (this node)' : ''), m.did, m.role, m.frozen ? 'frozen' : 'active', m.self ? '-' : m.connected ? 'yes' : 'no'
    ]))
  ]
  if (v.candidates.length > 0) {
    lines.push('', 'invitees waiting for their membership proposal:')
    lines.push(table(['NAME', 'DID', 'PROPOSAL'], v.candidates.map((c) => [c.name ?? '-', c.did, c.proposal])))
  }
  lines.push('', `refused: ${v.refused.notAMember} connections from non-members, ${v.refused.coolDown} in cool-down, ${v.refused.streams} streams to invitees, ${v.refused.framesFromNonMembers} frames from non-members, ${v.refused.entriesByNonMembers} entries by non-members`)
  return lines.join('\n')
}

export function formatInvitation (value: unknown): string {
  const v = value as { code: string, id: string, expiresAt: number }
  return `${v.code}\n\nGive this code to the new member (it works once, until ${time(v.expiresAt)}); they run:\n  icn-node join '<code>' --data-dir <their data dir> --name '<their name>'`
}

export function formatInvitations (value: unknown): string {
  const rows = value as MembersView['invitations']
  if (rows.length === 0) return 'no invitations'
  return table(['INVITATION', 'NAME', 'STATE', 'EXPIRES', 'USED BY', 'PROPOSAL'], rows.map((r) => [r.id, r.name === '' ? '-' : r.name, r.state, time(r.expiresAt), r.usedBy, r.proposal]))
}

export function formatNameSet (value: unknown): string {
  const v = value as { did: string, name: string }
  return `${named(v.did, v.name)}: name set and sent to the other members`
}

export function formatStatement (value: unknown): string {
  const s = value as Statement
  const period = `${time(s.from)} to ${s.to >= Number.MAX_SAFE_INTEGER ? 'now' : time(s.to)}`
  const rows = s.lines.map((l) => [time(l.timestamp), l.counterparties.join(' '), l.reference, l.debit, l.credit, l.balance])
  return [
    `statement of ${s.account} in ${s.currency}, ${period}`,
    `opening balance ${s.opening}`,
    ...(rows.length === 0 ? ['no entries in this period'] : [table(['DATE', 'COUNTERPARTY', 'REFERENCE', 'DEBIT', 'CREDIT', 'BALANCE'], rows)]),
    `closing balance ${s.closing}`
  ].join('\n')
}

/** The statement as CSV (`statementCsv`, shared with `GET /statement?format=csv`). */
export const formatStatementCsv = (value: unknown): string => statementCsv(value as Statement)
