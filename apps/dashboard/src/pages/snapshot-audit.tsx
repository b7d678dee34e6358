// The audit of a completed snapshot (`GET /snapshots/:id/audit`), read without restoring it: per participant its
// recorded balances, chain heads and the ledger entries in flight at its cut; per currency the conservation law
// (recorded states + in flight = 0); every participant's leaf in the root. The audited balances download as
// CSV or JSON exactly as `icn-node snapshot export` writes them (`GET /snapshots/:id/audit/balances`).
import type { JSX } from 'preact'
import { get, getText } from '../api.js'
import { Did, Hash, OutcomeLine, downloadFile, nameOrShortDid, useAction, useNames } from '../components.js'

/** `GET /snapshots/:id/audit` (apps/node/src/audit.ts `SnapshotAudit`). */
export interface SnapshotAudit {
  snapshotId: string
  root: string
  complete: boolean
  balanced: boolean
  currencies: Array<{ currency: string, recorded: string, inFlight: string, total: string, balanced: boolean }>
  participants: ParticipantAudit[]
  notes: string[]
}

interface ParticipantAudit {
  did: string
  available: boolean
  reason: string | null
  leaf: { stateHash: string, stateSize: number, channelHash: string, channelSize: number }
  leafMatches: boolean
  inRoot: boolean
  balances: Array<{ account: string, currency: string, balance: string }>
  heads: Array<{ author: string, seq: number, id: string }>
  channelFrames: Record<string, number>
  inFlight: Array<{ channel: string, id: string, author: string, seq: number, deltas: Array<{ account: string, currency: string, net: string }> }>
  audited: Array<{ currency: string, recorded: string, inFlight: string, audited: string }>
}

/** The audit's verdict in words (the CLI's `snapshot show` says the same). */
export function auditVerdict (audit: Pick<SnapshotAudit, 'complete' | 'balanced'>): string {
  if (audit.balanced) return 'Balanced: every currency sums to zero over the recorded states and what was in flight, and every participant\'s leaf is in the root.'
  return audit.complete ? 'NOT balanced: a currency does not sum to zero.' : 'INCOMPLETE: see the notes.'
}

/** What a participant's row says of its record: read or not, leaf matching, proved in the root. */
export function participantWords (p: Pick<ParticipantAudit, 'available' | 'reason' | 'leafMatches' | 'inRoot'>): string {
  const read = p.available ? 'state read' : `state UNAVAILABLE (${p.reason ?? ''})`
  return `${read}; leaf ${p.leafMatches ? 'matches its state' : 'does NOT match'}, ${p.inRoot ? 'proved in the root' : 'NOT in the root'}`
}

function Downloads ({ snapshotId }: { snapshotId: string }): JSX.Element {
  const action = useAction()
  const path = `/snapshots/${encodeURIComponent(snapshotId)}/audit/balances`
  const file = `snapshot-${snapshotId}-balances`
  const csv = async (): Promise<string> => {
    downloadFile(`${file}.csv`, await getText(`${path}?format=csv`), 'text/csv')
    return `Downloaded ${file}.csv.`
  }
  const json = async (): Promise<string> => {
    downloadFile(`${file}.json`, JSON.stringify(await get<unknown[]>(path), null, 2) + '\n', 'application/json')
    return `Downloaded ${file}.json.`
  }
  return (
    <div class='downloads'>
      <button type='button' class='secondary plain' data-testid='download-csv' disabled={action.busy} onClick={() => { void action.run(csv) }}>Audited balances as CSV</button>
      <button type='button' class='secondary plain' data-testid='download-json' disabled={action.busy} onClick={() => { void action.run(json) }}>Audited balances as JSON</button>
      <OutcomeLine outcome={action.outcome} testid='download-outcome' />
    </div>
  )
}

function Participant ({ p }: { p: ParticipantAudit }): JSX.Element {
  const names = useNames()
  const frames = Object.entries(p.channelFrames)
  return (
    <div class='audit-participant' data-testid='audit-participant' data-did={p.did}>
      <h4><Did did={p.did} /></h4>
      <p class={p.available && p.leafMatches && p.inRoot ? 'ok' : 'error'} data-testid='participant-words'>{participantWords(p)}</p>
      <p class='muted'>Leaf: state <Hash value={p.leaf.stateHash} /> ({p.leaf.stateSize} bytes), channels <Hash value={p.leaf.channelHash} /> ({p.leaf.channelSize} bytes).</p>
      {!p.available
        ? null
        : (
          <div class='scroll'>
            <table data-testid='audited'>
              <caption>Its own account: recorded balance plus what was in flight to or from it</caption>
              <thead><tr><th>Currency</th><th class='num'>Recorded</th><th class='num'>In flight</th><th class='num'>Audited</th></tr></thead>
              <tbody>{p.audited.length === 0
                ? <tr><td colSpan={4} class='muted'>no balance</td></tr>
                : p.audited.map((a) => <tr key={a.currency} data-testid='audited-row'><td>{a.currency}</td><td class='num'>{a.recorded}</td><td class='num'>{a.inFlight}</td><td class='num'>{a.audited}</td></tr>)}
              </tbody>
            </table>
            <table data-testid='recorded-balances'>
              <caption>Balances in its recorded ledger ({p.balances.length})</caption>
              <thead><tr><th>Account</th><th>Currency</th><th class='num'>Balance</th></tr></thead>
              <tbody>{p.balances.map((b) => <tr key={`${b.account} ${b.currency}`} data-testid='balance-row'><td><Did did={b.account} /></td><td>{b.currency}</td><td class='num'>{b.balance}</td></tr>)}</tbody>
            </table>
            <table data-testid='heads'>
              <caption>Chain heads ({p.heads.length})</caption>
              <thead><tr><th>Author</th><th class='num'>Seq</th><th>Entry</th></tr></thead>
              <tbody>{p.heads.map((h) => <tr key={h.author} data-testid='head-row'><td><Did did={h.author} /></td><td class='num'>{h.seq}</td><td><Hash value={h.id} /></td></tr>)}</tbody>
            </table>
            <p data-testid='channel-frames'>Frames recorded per incoming channel: {frames.length === 0 ? 'none' : frames.map(([peer, n]) => `${nameOrShortDid(peer, names)} ${n}`).join(', ')}.</p>
            {p.inFlight.length === 0
              ? <p class='muted' data-testid='no-in-flight'>No ledger entry in flight at its cut.</p>
              : (
                <table data-testid='in-flight'>
                  <caption>Ledger entries in flight at its cut ({p.inFlight.length})</caption>
                  <thead><tr><th>Recorded via</th><th>Entry</th><th>Author</th><th class='num'>Seq</th><th>Changes</th></tr></thead>
                  <tbody>{p.inFlight.map((e) => (
                    <tr key={`${e.channel} ${e.id}`} data-testid='in-flight-row'>
                      <td>{e.channel.startsWith('did:') ? <Did did={e.channel} /> : e.channel}</td>
                      <td><Hash value={e.id} /></td>
                      <td><Did did={e.author} /></td>
                      <td class='num'>{e.seq}</td>
                      <td>{e.deltas.map((d) => `${nameOrShortDid(d.account, names)} ${d.net} ${d.currency}`).join('; ')}</td>
                    </tr>
                  ))}
                  </tbody>
                </table>
                )}
          </div>
          )}
    </div>
  )
}

export function AuditView ({ audit }: { audit: SnapshotAudit }): JSX.Element {
  return (
    <div data-testid='audit'>
      <p class={audit.balanced ? 'ok' : 'error'} data-testid='audit-verdict'>{auditVerdict(audit)}</p>
      <p class='muted'>Snapshot <code>{audit.snapshotId}</code>, root <code class='hash'>{audit.root}</code>.</p>
      {audit.notes.length === 0 ? null : <ul class='warnings' data-testid='audit-notes'>{audit.notes.map((n) => <li key={n}>{n}</li>)}</ul>}
      <div class='scroll'>
        <table data-testid='audit-currencies'>
          <caption>Per currency: recorded states plus entries in flight</caption>
          <thead><tr><th>Currency</th><th class='num'>Recorded</th><th class='num'>In flight</th><th class='num'>Total</th><th>Sums to zero</th></tr></thead>
          <tbody>{audit.currencies.map((c) => <tr key={c.currency} data-testid='currency-row'><td>{c.currency}</td><td class='num'>{c.recorded}</td><td class='num'>{c.inFlight}</td><td class='num'>{c.total}</td><td>{c.balanced ? 'yes' : 'NO'}</td></tr>)}</tbody>
        </table>
      </div>
      <Downloads snapshotId={audit.snapshotId} />
      <h4>Participants ({audit.participants.length})</h4>
      <div class='audit-participants'>{audit.participants.map((p) => <Participant key={p.did} p={p} />)}</div>
    </div>
  )
}
