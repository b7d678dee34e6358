import type { JSX } from 'preact'
import { useState } from 'preact/hooks'
import { post } from '../api.js'
import { Did, Empty, GenericValue, Hash, LoadError, OutcomeLine, Section, Time, useAction, useData } from '../components.js'
import { type CharterRules, type ProposalRow, ProposeForm } from './propose.js'

interface Charter {
  domain: string
  version: number
  previous: string | null
  amendedBy: string | null
  rules: CharterRules
  members: Array<{ did: string, role: string, frozen: boolean }>
}
interface Tally { electorate: number, for: number, against: number, abstain: number, quorumReached: boolean, approved: boolean, outcome: string }
interface ProposalDetail extends ProposalRow { payload: unknown, tally: Tally, history: Array<{ state: string, at: number, cause: string }> }
interface Vote { voter: string, choice: string, castAt: number, cid: string }

/** Proposal states in lifecycle order (the page groups proposals by state in this order). */
const STATES = ['draft', 'deliberation', 'open', 'accepted', 'rejected', 'no-quorum', 'executed', 'cancelled', 'vetoed', 'force-closed']

const percent = (bps: number): string => `${bps / 100} %`
/** A rule's period in the largest whole unit: `7 d`, `36 h`, `90 s`, `0 s`. */
function seconds (ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000]] as const) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`
  return `${ms / 1000} s`
}

function CharterCard ({ charter }: { charter: Charter }): JSX.Element {
  return (
    <div data-testid='charter'>
      <p><strong>{charter.rules.name}</strong> · <code>{charter.domain}</code> · version {charter.version}{charter.amendedBy === null ? '' : <> (amended by <Hash value={charter.amendedBy} />)</>} · members need trust ≥ {charter.rules.minJoinTrust} to join</p>
      <table>
        <thead><tr><th>Member</th><th>Role</th><th>Frozen</th></tr></thead>
        <tbody>{charter.members.map((m) => <tr key={m.did}><td><Did did={m.did} /></td><td>{m.role}</td><td>{m.frozen ? 'yes' : 'no'}</td></tr>)}</tbody>
      </table>
      <table>
        <thead><tr><th>Kind</th><th>Who may propose</th><th class='num'>Quorum</th><th class='num'>Approval</th><th class='num'>Deliberation</th><th class='num'>Voting</th></tr></thead>
        <tbody>
          {Object.entries(charter.rules.kinds).map(([kind, r]) => (
            <tr key={kind}><td>{kind}</td><td>{r.proposers.join(', ')}</td><td class='num'>{percent(r.quorumBps)}</td><td class='num'>{percent(r.approvalBps)}</td><td class='num'>{seconds(r.deliberation.defaultMs)} ({seconds(r.deliberation.minMs)}–{seconds(r.deliberation.maxMs)})</td><td class='num'>{seconds(r.votingMs)}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function VoteForm ({ proposal }: { proposal: string }): JSX.Element {
  const [choice, setChoice] = useState('for')
  const { busy, outcome, run } = useAction()
  const submit = (event: Event): void => {
    event.preventDefault()
    void run(async () => {
      const done = await post<{ choice: string, status: string }>('/votes', { proposal, choice })
      return `Vote “${done.choice}” ${done.status}.`
    })
  }
  return (
    <form class='form inline' onSubmit={submit} data-testid='vote-form'>
      <label>Your vote <select name='choice' value={choice} onChange={(e) => { setChoice(e.currentTarget.value) }}>
        <option value='for'>for</option><option value='against'>against</option><option value='abstain'>abstain</option>
      </select></label>
      <button type='submit' disabled={busy}>Vote</button>
      <OutcomeLine outcome={outcome} testid='vote-outcome' />
    </form>
  )
}

/** Why there is no vote form: voting has not opened yet, or it is over. */
function votingWords (p: ProposalRow): string {
  if (p.state === 'draft' || p.state === 'deliberation') return p.opensAt === null ? `Voting has not opened (${p.state}).` : `Voting opens at ${new Date(p.opensAt).toISOString().replace('T', ' ').slice(0, 19)} (${p.state}).`
  return `Voting is over: this proposal is ${p.state}.`
}

function ProposalCard ({ id }: { id: string }): JSX.Element {
  const detail = useData<ProposalDetail>(`/proposals/${encodeURIComponent(id)}`)
  const votes = useData<Vote[]>(`/proposals/${encodeURIComponent(id)}/votes`)
  const p = detail.data
  return (
    <Section title='Proposal' testid='proposal'>
      <LoadError error={detail.error} />
      {p === undefined
        ? null
        : (
          <>
            <h3>{p.title}</h3>
            <p>{p.kind} by <Did did={p.proposer} /> · state <strong data-testid='proposal-state'>{p.state}</strong> · voting <Time ms={p.opensAt} /> – <Time ms={p.closesAt} /></p>
            <h4>Payload</h4>
            <GenericValue value={p.payload} />
            <h4>Tally</h4>
            <table class='kv' data-testid='tally'>
              <tbody>
                <tr><th>For</th><td data-testid='tally-for'>{p.tally.for}</td></tr>
                <tr><th>Against</th><td data-testid='tally-against'>{p.tally.against}</td></tr>
                <tr><th>Abstain</th><td>{p.tally.abstain}</td></tr>
                <tr><th>Electorate</th><td>{p.tally.electorate}</td></tr>
                <tr><th>Quorum reached</th><td>{p.tally.quorumReached ? 'yes' : 'no'}</td></tr>
                <tr><th>Outcome so far</th><td data-testid='tally-outcome'>{p.tally.outcome}</td></tr>
              </tbody>
            </table>
            <h4>Votes</h4>
            {/* Stable wrappers (and a key on the form): the parts that come and go never move the vote form, so its outcome stays. */}
            <div key='votes'>
              <LoadError error={votes.error} />
              {votes.data === undefined || votes.data.length === 0
                ? <Empty>No votes yet.</Empty>
                : <table><tbody>{votes.data.map((v) => <tr key={v.voter} data-testid='vote-row'><td><Did did={v.voter} /></td><td>{v.choice}</td><td><Time ms={v.castAt} /></td></tr>)}</tbody></table>}
            </div>
            <div key='voting'>
              {p.state === 'open' ? <VoteForm key='vote-form' proposal={p.id} /> : <p class='muted' data-testid='voting-closed'>{votingWords(p)}</p>}
            </div>
            <h4>History</h4>
            <table data-testid='proposal-history'>
              <thead><tr><th>State</th><th>At</th><th>Cause</th></tr></thead>
              <tbody>{p.history.map((h, i) => <tr key={i}><td>{h.state}</td><td><Time ms={h.at} /></td><td><Hash value={h.cause} /></td></tr>)}</tbody>
            </table>
          </>
          )}
    </Section>
  )
}

export function GovernancePage (): JSX.Element {
  const charter = useData<Charter>('/governance/charter')
  const proposals = useData<ProposalRow[]>('/proposals')
  const [selected, setSelected] = useState<string>()
  const rows = proposals.data ?? []
  const groups = STATES.map((state) => ({ state, rows: rows.filter((p) => p.state === state) })).filter((g) => g.rows.length > 0)
  return (
    <div class='grid'>
      <Section title='Charter' testid='charter-card'>
        <LoadError error={charter.error} />
        {charter.data === undefined ? null : <CharterCard charter={charter.data} />}
      </Section>
      <Section title='Proposals by state' testid='proposals'>
        <LoadError error={proposals.error} />
        {groups.length === 0 ? <Empty>No proposals.</Empty> : groups.map((g) => (
          <div key={g.state} data-testid={`state-${g.state}`}>
            <h3>{g.state} ({g.rows.length})</h3>
            <ul class='proposals'>
              {g.rows.map((p) => (
                <li key={p.id}>
                  <button type='button' class={p.id === selected ? 'link active' : 'link'} onClick={() => { setSelected(p.id) }} data-testid='proposal-link' data-id={p.id}>{p.title}</button>
                  <span class='muted'> · {p.kind} by <Did did={p.proposer} /> · closes <Time ms={p.closesAt} /></span>
                </li>
              ))}
            </ul>
          </div>
        ))}
      </Section>
      {selected === undefined ? null : <ProposalCard key={selected} id={selected} />}
      <Section title='Propose' testid='propose' wide>
        {charter.data === undefined ? null : <ProposeForm rules={charter.data.rules} proposals={rows} onProposed={setSelected} />}
      </Section>
    </div>
  )
}
