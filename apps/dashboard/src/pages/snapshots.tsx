import type { JSX } from 'preact'
import { useState } from 'preact/hooks'
import { describeError, get, post } from '../api.js'
import { Did, Empty, GenericValue, Hash, LoadError, OutcomeLine, Section, Time, useAction, useData } from '../components.js'
import { AuditView, type SnapshotAudit } from './snapshot-audit.js'

interface SnapshotRow { snapshotId: string, node: string, initiator: string, timestamp: number, completedAt: number, participants: string[], root: string }
interface Taken { snapshotId: string, root: string, participants: string[] }
interface VerifyReport { snapshotId: string, valid: boolean, expectedRoot: string, results: Array<{ verifier: string, valid: boolean, computedRoot: string | null, reason?: string }> }
interface Proof {
  snapshotId: string
  root: string
  did: string
  leaf: { stateHash: string, stateSize: number, channelHash: string, channelSize: number }
  index: number
  leafCount: number
  steps: Array<{ side: string, hash: string }>
  valid: boolean
}
interface RestoreReport {
  snapshotId: string
  root: string
  restored: string[]
  stateHash: string
  verified: boolean
  before: unknown
  after: unknown
  balances: Array<{ account: string, currency: string, balance: string }>
  warnings: string[]
}

type Shown = { kind: 'verify', report: VerifyReport } | { kind: 'proof', proof: Proof } | { kind: 'audit', audit: SnapshotAudit } | { kind: 'restore', report: RestoreReport } | { kind: 'error', text: string } | undefined
type Action = 'verify' | 'proof' | 'audit' | 'restore'

function VerifyView ({ report }: { report: VerifyReport }): JSX.Element {
  return (
    <div data-testid='verify-report'>
      <p class={report.valid ? 'ok' : 'error'} data-testid='verify-verdict'>{report.valid ? 'Valid' : 'NOT valid'}: every participant recomputed the global root{report.valid ? ' and agreed' : ''}. Expected root <code class='hash'>{report.expectedRoot}</code>.</p>
      <table>
        <thead><tr><th>Verifier</th><th>Verdict</th><th>Computed root</th><th>Reason</th></tr></thead>
        <tbody>{report.results.map((r) => <tr key={r.verifier} data-testid='verifier-row'><td><Did did={r.verifier} /></td><td>{r.valid ? 'valid' : 'invalid'}</td><td><Hash value={r.computedRoot} /></td><td>{r.reason ?? ''}</td></tr>)}</tbody>
      </table>
    </div>
  )
}

function ProofView ({ proof }: { proof: Proof }): JSX.Element {
  return (
    <div data-testid='proof'>
      <p>Merkle root <code class='hash' data-testid='proof-root'>{proof.root}</code></p>
      <p class={proof.valid ? 'ok' : 'error'} data-testid='proof-verdict'>This node's leaf (<Did did={proof.did} />, {proof.index + 1} of {proof.leafCount}) {proof.valid ? 'hashes up to the root' : 'does NOT hash up to the root'}.</p>
      <table class='kv'>
        <tbody>
          <tr><th>State hash</th><td><code class='hash'>{proof.leaf.stateHash}</code> ({proof.leaf.stateSize} bytes)</td></tr>
          <tr><th>Channel hash</th><td><code class='hash'>{proof.leaf.channelHash}</code> ({proof.leaf.channelSize} bytes)</td></tr>
        </tbody>
      </table>
      <table>
        <thead><tr><th>Step</th><th>Sibling side</th><th>Sibling hash</th></tr></thead>
        <tbody data-testid='proof-steps'>{proof.steps.map((s, i) => <tr key={i}><td>{i + 1}</td><td>{s.side}</td><td><code class='hash'>{s.hash}</code></td></tr>)}</tbody>
      </table>
    </div>
  )
}

function RestoreView ({ report }: { report: RestoreReport }): JSX.Element {
  return (
    <div data-testid='restore-report'>
      <p class={report.verified ? 'ok' : 'error'}>Restored {report.restored.join(', ')} from {report.snapshotId}; read back {report.verified ? 'exactly as recorded' : 'DIFFERENT from the record'} (state hash <Hash value={report.stateHash} />).</p>
      {report.warnings.length === 0 ? null : <ul class='warnings'>{report.warnings.map((w) => <li key={w}>{w}</li>)}</ul>}
      <h4>Before</h4><GenericValue value={report.before} />
      <h4>After</h4><GenericValue value={report.after} />
      <h4>Balances after</h4><GenericValue value={report.balances} />
    </div>
  )
}

/** The counts a restore replaces, from `GET /status`. */
interface LocalCounts { ledger: { entries: number }, trust: { attestations: number }, governance: { proposals: number } }

/** What a restore would replace, named before the operator confirms it. */
function restoreWords (id: string, row: SnapshotRow | undefined, now: LocalCounts | undefined): string {
  const current = now === undefined ? 'its current state' : `its current state (${now.ledger.entries} ledger entries, ${now.trust.attestations} trust attestations, ${now.governance.proposals} proposals)`
  const recorded = row === undefined
    ? `snapshot “${id}” (not in this node's list: the node checks the id)`
    : `what snapshot ${id} recorded at ${new Date(row.completedAt).toISOString().replace('T', ' ').slice(0, 19)} (root ${row.root.slice(0, 12)}…)`
  return `Restoring replaces this node's ledger, trust, governance and gossip state — ${current} — with ${recorded}. Entries newer than the snapshot come back from peers by anti-entropy; this node's own newer payments are lost unless a peer holds them.`
}

export function SnapshotsPage (): JSX.Element {
  const list = useData<SnapshotRow[]>('/snapshots')
  const counts = useData<LocalCounts>('/status')
  const take = useAction()
  const [id, setId] = useState('')
  const [confirmRestore, setConfirmRestore] = useState(false)
  const [busy, setBusy] = useState(false)
  const [shown, setShown] = useState<Shown>(undefined)
  // Counts the answers shown (`data-seq`): a reader tells this answer from the previous one.
  const [seq, setSeq] = useState(0)
  const act = async (what: Action, snapshotId: string): Promise<void> => {
    setBusy(true)
    setShown(undefined)
    setConfirmRestore(false)
    const path = `/snapshots/${encodeURIComponent(snapshotId)}`
    try {
      if (what === 'verify') setShown({ kind: 'verify', report: await post<VerifyReport>(`${path}/verify`) })
      else if (what === 'proof') setShown({ kind: 'proof', proof: await get<Proof>(`${path}/proof`) })
      else if (what === 'audit') setShown({ kind: 'audit', audit: await get<SnapshotAudit>(`${path}/audit`) })
      else setShown({ kind: 'restore', report: await post<RestoreReport>(`${path}/restore`) })
    } catch (err) {
      setShown({ kind: 'error', text: describeError(err) })
    } finally {
      setSeq((n) => n + 1)
      setBusy(false)
    }
  }
  const submit = (event: SubmitEvent): void => {
    event.preventDefault()
    const button = event.submitter as HTMLButtonElement | null
    const what = button?.value as Action | undefined
    // A restore asks first, naming what it replaces; only the confirmation's own button restores.
    if (what === 'restore') { setConfirmRestore(true); setShown(undefined); return }
    if (what !== undefined) void act(what, id)
  }
  return (
    <div class='grid'>
      <Section title='Take a distributed snapshot' testid='take'>
        <p class='muted'>Markers go to every connected peer; this waits until every participant has acknowledged.</p>
        <button type='button' data-testid='take-snapshot' disabled={take.busy} onClick={() => {
          void take.run(async () => {
            const t = await post<Taken>('/snapshots')
            setId(t.snapshotId)
            return `Snapshot ${t.snapshotId} completed with ${t.participants.length} participants, root ${t.root}.`
          })
        }}>{take.busy ? 'Taking…' : 'Take snapshot'}</button>
        <OutcomeLine outcome={take.outcome} testid='take-outcome' />
      </Section>
      <Section title={list.data === undefined ? 'Stored snapshots' : `Stored snapshots (${list.data.length})`} testid='snapshot-list'>
        <LoadError error={list.error} />
        {list.data === undefined || list.data.length === 0
          ? <Empty>None stored on this node.</Empty>
          : (
            <div class='scroll'>
              <table>
                <thead><tr><th>Snapshot</th><th>Initiator</th><th class='num'>Participants</th><th>Completed</th><th>Root</th><th><span class='sr-only'>Action</span></th></tr></thead>
                <tbody>
                  {list.data.map((s) => (
                    <tr key={s.snapshotId} data-testid='snapshot-row' data-id={s.snapshotId}>
                      <td><code>{s.snapshotId}</code></td>
                      <td><Did did={s.initiator} /></td>
                      <td class='num'>{s.participants.length}</td>
                      <td><Time ms={s.completedAt} /></td>
                      <td><Hash value={s.root} /></td>
                      <td class='row-actions'>
                        <button type='button' class='link' data-testid='select-snapshot' onClick={() => { setId(s.snapshotId); setShown(undefined); setConfirmRestore(false) }}>select</button>
                        <button type='button' class='link' data-testid='audit-snapshot' disabled={busy} onClick={() => { setId(s.snapshotId); void act('audit', s.snapshotId) }}>audit</button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            )}
      </Section>
      <Section title='Verify, prove, audit, restore' testid='snapshot-actions' wide>
        <form class='form' onSubmit={submit} data-testid='snapshot-form'>
          <label>Snapshot id <input name='snapshotId' value={id} onInput={(e) => { setId(e.currentTarget.value); setConfirmRestore(false) }} /></label>
          <button type='submit' value='verify' disabled={busy}>Verify with every participant</button>
          <button type='submit' value='proof' disabled={busy}>Merkle root and this node's proof</button>
          <button type='submit' value='audit' disabled={busy}>Audit: balances, in flight, sums</button>
          <button type='submit' value='restore' disabled={busy || confirmRestore} class='danger-outline'>Restore this node…</button>
        </form>
        {confirmRestore
          ? (
            <div class='confirm' role='group' aria-labelledby='restore-words' data-testid='restore-confirm'>
              <p id='restore-words' data-testid='restore-words'>{restoreWords(id, list.data?.find((s) => s.snapshotId === id), counts.data)}</p>
              <div class='actions'>
                <button type='button' class='danger' data-testid='confirm-restore' disabled={busy} onClick={() => { void act('restore', id) }}>Replace this node's state</button>
                <button type='button' class='secondary plain' data-testid='cancel-restore' onClick={() => { setConfirmRestore(false) }}>Cancel</button>
              </div>
            </div>
            )
          : null}
        {busy ? <p class='muted'>Working…</p> : null}
        <div data-testid='snapshot-result' data-seq={seq}>
          {shown === undefined
            ? null
            : shown.kind === 'error'
              ? <OutcomeLine outcome={{ ok: false, text: shown.text, seq }} testid='snapshot-outcome' />
              : shown.kind === 'verify'
                ? <VerifyView report={shown.report} />
                : shown.kind === 'proof' ? <ProofView proof={shown.proof} /> : shown.kind === 'audit' ? <AuditView audit={shown.audit} /> : <RestoreView report={shown.report} />}
        </div>
      </Section>
    </div>
  )
}
