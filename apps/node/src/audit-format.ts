// How the CLI shows and exports a snapshot audit (GET /snapshots/:id/audit). Types only from audit.ts:
// the client commands load no subsystem package.
import type { SnapshotAudit } from './audit.js'
import { table } from './format.js'

/** `icn-node snapshot show <id>`: the verdict, the law per currency, then each participant's record. */
export function formatAudit (value: unknown): string {
  const a = value as SnapshotAudit
  const verdict = a.balanced
    ? 'every currency sums to zero over the recorded states and what was in flight'
    : a.complete ? 'a currency does NOT sum to zero' : 'the audit is INCOMPLETE'
  const lines = [
    `snapshot ${a.snapshotId} (root ${a.root}): ${verdict}`,
    ...a.notes.map((n) => `note: ${n}`),
    table(['CURRENCY', 'RECORDED', 'IN FLIGHT', 'TOTAL', 'BALANCED'], a.currencies.map((c) => [c.currency, c.recorded, c.inFlight, c.total, c.balanced ? 'yes' : 'NO']))
  ]
  for (const p of a.participants) {
    lines.push('', `participant ${p.did}: ${p.available ? 'state read' : `state UNAVAILABLE (${p.reason ?? ''})`}; leaf ${p.leafMatches ? 'matches its state' : 'does NOT match'}, ${p.inRoot ? 'proved in the root' : 'NOT in the root'}`)
    lines.push(`  leaf: state ${p.leaf.stateHash} (${p.leaf.stateSize} bytes), channels ${p.leaf.channelHash} (${p.leaf.channelSize} bytes)`)
    if (!p.available) continue
    lines.push(table(['CURRENCY', 'OWN BALANCE', 'IN FLIGHT', 'AUDITED'], p.audited.map((x) => [x.currency, x.recorded, x.inFlight, x.audited])))
    lines.push(`  balances recorded: ${p.balances.length}, chain heads: ${p.heads.length} (${p.heads.map((h) => `${h.author.slice(-8)}@${h.seq}`).join(', ')})`)
    lines.push(`  frames recorded per channel: ${Object.entries(p.channelFrames).map(([peer, n]) => `${peer.slice(-8)} ${n}`).join(', ') || 'none'}`)
    lines.push(p.inFlight.length === 0
      ? '  no ledger entry in flight'
      : table(['  IN FLIGHT VIA', 'ENTRY', 'AUTHOR', 'SEQ', 'DELTAS'], p.inFlight.map((e) => [`  ${e.channel}`, e.id.slice(0, 16), e.author, e.seq, e.deltas.map((d) => `${d.account.slice(-8)} ${d.net} ${d.currency}`).join('; ')])))
  }
  return lines.join('\n')
}

/** One row per participant and currency: what `snapshot export` writes. */
export interface AuditedBalance { snapshot: string, participant: string, currency: string, recorded: string, inFlight: string, audited: string }

export function auditedBalances (audit: SnapshotAudit): AuditedBalance[] {
  return audit.participants.flatMap((p) => p.audited.map((a) => ({ snapshot: audit.snapshotId, participant: p.did, currency: a.currency, recorded: a.recorded, inFlight: a.inFlight, audited: a.audited })))
}

/** The audited balances as CSV (header first; DIDs, currencies and integers need no quoting). */
export function auditedBalancesCsv (audit: SnapshotAudit): string {
  return ['snapshot,participant,currency,recorded,in_flight,audited', ...auditedBalances(audit).map((r) => [r.snapshot, r.participant, r.currency, r.recorded, r.inFlight, r.audited].join(','))].join('\n')
}
