import type { JSX } from 'preact'
import { useState } from 'preact/hooks'
import { post } from '../api.js'
import {
  CopyButton, Did, Empty, Hash, type InvitationRow, LoadError, type MembersView, OutcomeLine, Section, Time, shortDid,
  useAction, useData, useMembers
} from '../components.js'

interface ProposalRow { id: string, title: string, state: string, closesAt: number | null }
interface Created { code: string, id: string, expiresAt: number }

const DAY_MS = 24 * 3600 * 1000

/** `text` as one shell word: single-quoted, an inner `'` written `'\''`. */
function shellQuote (text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}

/** Where the join command puts the new node's data (an empty directory of theirs; they may pick another). */
const JOIN_DATA_DIR = './icn-data'

/**
 * The command the new member runs, ready to paste. Without a name the invitation proposes none and `--name` is
 * left for them to add (their own name, else the other members see their DID).
 */
function joinCommand (code: string, name: string): string {
  return `icn-node join ${shellQuote(code)} --data-dir ${JOIN_DATA_DIR}${name === '' ? '' : ` --name ${shellQuote(name)}`}`
}

/** An invitation's state as the operator reads it: a pending invitation past its expiry is expired. */
function stateOf (row: InvitationRow, now: number): 'pending' | 'used' | 'expired' {
  return row.state === 'pending' && now >= row.expiresAt ? 'expired' : row.state
}

function MembersTable ({ view }: { view: MembersView }): JSX.Element {
  return (
    <table data-testid='members'>
      <thead><tr><th>Name</th><th>DID</th><th>Role</th><th>Standing</th><th>Connection</th></tr></thead>
      <tbody>
        {view.members.map((m) => (
          <tr key={m.did} data-testid='member-row' data-did={m.did} class={m.self ? 'self' : ''}>
            <td>
              {m.name === null ? <span class='muted' data-testid='member-name'>no name</span> : <strong data-testid='member-name'>{m.name}</strong>}
              {m.self ? <span class='badge self' data-testid='this-node'>this node</span> : null}
            </td>
            <td><code class='did' title={m.did}>{shortDid(m.did)}</code><CopyButton value={m.did} /></td>
            <td data-testid='member-role'>{m.role}</td>
            <td data-testid='member-standing'>{m.frozen ? <span class='badge warn'>frozen</span> : <span class='badge ok'>active</span>}</td>
            <td data-testid='member-connection'>{m.self ? <span class='muted'>this node</span> : m.connected ? <span class='badge ok'>connected</span> : <span class='muted'>not connected</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function Candidates ({ view, proposals }: { view: MembersView, proposals: ProposalRow[] | undefined }): JSX.Element {
  if (view.candidates.length === 0) return <Empty>Nobody is waiting: every DID that used one of this node's invitations is a member.</Empty>
  return (
    <table data-testid='candidates'>
      <thead><tr><th>Name</th><th>DID</th><th>Joined with</th><th>Membership proposal</th></tr></thead>
      <tbody>
        {view.candidates.map((c) => {
          const proposal = c.proposal === null ? undefined : proposals?.find((p) => p.id === c.proposal)
          return (
            <tr key={c.did} data-testid='candidate-row' data-did={c.did}>
              <td>{c.name ?? <span class='muted'>no name</span>}</td>
              <td><code class='did' title={c.did}>{shortDid(c.did)}</code><CopyButton value={c.did} /></td>
              <td><Hash value={c.invitation} /> <span class='muted'>at</span> <Time ms={c.usedAt} /></td>
              <td data-testid='candidate-proposal'>
                {c.proposal === null
                  ? <span class='muted'>not raised (this node could not raise it)</span>
                  : <><Hash value={c.proposal} />{proposal === undefined ? null : <> · <strong>{proposal.state}</strong>{proposal.closesAt === null ? null : <> · voting closes <Time ms={proposal.closesAt} /></>}</>}</>}
              </td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}

function Invitations ({ rows }: { rows: InvitationRow[] }): JSX.Element {
  if (rows.length === 0) return <Empty>This node has issued no invitation (or they were pruned, 30 days after they expired or were used).</Empty>
  const now = Date.now()
  return (
    <table data-testid='invitations'>
      <thead><tr><th>Invitation</th><th>Name</th><th>Created</th><th>Expires</th><th>State</th><th>Used by</th><th>Used</th><th>Proposal</th></tr></thead>
      <tbody>
        {[...rows].sort((a, b) => b.createdAt - a.createdAt).map((r) => {
          const state = stateOf(r, now)
          return (
            <tr key={r.id} data-testid='invitation-row' data-id={r.id} data-state={state}>
              <td><Hash value={r.id} /></td>
              <td data-testid='invitation-name'>{r.name === '' ? <span class='muted'>—</span> : r.name}</td>
              <td><Time ms={r.createdAt} /></td>
              <td><Time ms={r.expiresAt} /></td>
              <td data-testid='invitation-state'><span class={`badge ${state === 'pending' ? 'ok' : state === 'expired' ? 'warn' : ''}`}>{state}</span></td>
              <td><Did did={r.usedBy} /></td>
              <td><Time ms={r.usedAt} /></td>
              <td><Hash value={r.proposal} /></td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}

function InviteForm ({ onCreated }: { onCreated: () => void }): JSX.Element {
  const [name, setName] = useState('')
  const [days, setDays] = useState('7')
  const [created, setCreated] = useState<Created & { name: string }>()
  const { busy, outcome, run } = useAction()
  const submit = (event: Event): void => {
    event.preventDefault()
    setCreated(undefined)
    void run(async () => {
      // A number of days becomes milliseconds; anything else goes as typed, for the node's typed error.
      const text = days.trim()
      const expiresInMs = text === '' ? undefined : Number.isNaN(Number(text)) ? text : Math.round(Number(text) * DAY_MS)
      const given = name.trim()
      const done = await post<Created>('/invitations', { ...(expiresInMs === undefined ? {} : { expiresInMs }), ...(given === '' ? {} : { name: given }) })
      setCreated({ ...done, name: given })
      onCreated()
      return `Invitation ${done.id} created${given === '' ? '' : ` for ${given}`}: it works once, until ${new Date(done.expiresAt).toISOString()}.`
    })
  }
  const command = created === undefined ? '' : joinCommand(created.code, created.name)
  return (
    <>
      <form class='form' onSubmit={submit} data-testid='invite-form'>
        <label>Their name <input name='name' value={name} onInput={(e) => { setName(e.currentTarget.value) }} placeholder='optional: they may give their own' /></label>
        <label>Expires in (days) <input name='days' value={days} onInput={(e) => { setDays(e.currentTarget.value) }} inputMode='decimal' /></label>
        <button type='submit' disabled={busy}>Create invitation</button>
        <OutcomeLine outcome={outcome} testid='invite-outcome' />
      </form>
      {created === undefined
        ? null
        : (
          <div class='invitation' data-testid='invitation'>
            <p>Give this code to the new member over a channel you trust (anyone holding it can use it, once):</p>
            <div class='copyable'><code data-testid='invitation-code'>{created.code}</code><CopyButton value={created.code} label='Copy code' what='invitation code' testid='copy-code' /></div>
            <p>They run (any empty directory of theirs for <code>--data-dir</code>{created.name === '' ? <>; <code>--name '…'</code> gives the name the other members see</> : null}):</p>
            <div class='copyable'><code data-testid='join-command'>{command}</code><CopyButton value={command} label='Copy command' what='command' testid='copy-command' /></div>
          </div>
          )}
    </>
  )
}

function NameForm ({ current, onSet }: { current: string | null, onSet: () => void }): JSX.Element {
  const [name, setName] = useState('')
  const { busy, outcome, run } = useAction()
  const submit = (event: Event): void => {
    event.preventDefault()
    void run(async () => {
      // Sent as typed: the node trims it and answers a typed error for an empty or over-long name.
      const done = await post<{ did: string, name: string, status: string }>('/profile', { name })
      setName('')
      onSet()
      if (done.status === 'superseded') return `“${done.name}” was signed, but a later name of this node is in force.`
      return `This node is now called “${done.name}”; the other members receive the name by gossip.`
    })
  }
  return (
    <form class='form' onSubmit={submit} data-testid='profile-form'>
      <p class='muted'>Now: {current === null ? 'no name (other members see its DID)' : <strong data-testid='own-name'>{current}</strong>}</p>
      <label>New name <input name='name' value={name} onInput={(e) => { setName(e.currentTarget.value) }} maxLength={200} /></label>
      <button type='submit' disabled={busy}>Set name</button>
      <OutcomeLine outcome={outcome} testid='profile-outcome' />
    </form>
  )
}

export function MembersPage (): JSX.Element {
  const members = useMembers()
  const proposals = useData<ProposalRow[]>('/proposals?state=open')
  const view = members.data
  const self = view?.members.find((m) => m.self)
  return (
    <div class='grid'>
      <LoadError error={members.error} />
      {view === undefined
        ? null
        : (
          <>
            <Section title={`Members (${view.members.length})`} testid='members-card' wide>
              <p class='muted'><code>{view.domain}</code> · charter version {view.charterVersion} · network <code class='hash' data-testid='network-id'>{view.networkId}</code></p>
              <MembersTable view={view} />
            </Section>
            <Section title={`Invitees waiting (${view.candidates.length})`} testid='candidates-card'>
              <Candidates view={view} proposals={proposals.data} />
            </Section>
            <Section title='Refused' testid='refused'>
              <table class='kv refused'>
                <tbody>
                  <tr><th>Connections from non-members</th><td class='num' data-testid='refused-not-a-member'>{view.refused.notAMember}</td></tr>
                  <tr><th>Connections in cool-down</th><td class='num' data-testid='refused-cool-down'>{view.refused.coolDown}</td></tr>
                  <tr><th>Streams refused to invitees</th><td class='num' data-testid='refused-streams'>{view.refused.streams}</td></tr>
                  <tr><th>Gossip frames from non-members</th><td class='num' data-testid='refused-frames'>{view.refused.framesFromNonMembers}</td></tr>
                  <tr><th>Entries by non-members</th><td class='num' data-testid='refused-entries'>{view.refused.entriesByNonMembers}</td></tr>
                </tbody>
              </table>
            </Section>
            <Section title='Invite a new member' testid='invite'>
              <InviteForm onCreated={members.reload} />
            </Section>
            <Section title="This node's name" testid='profile'>
              <NameForm current={self?.name ?? null} onSet={members.reload} />
            </Section>
            <Section title="This node's invitations" testid='invitations-card' wide>
              <Invitations rows={view.invitations} />
            </Section>
          </>
          )}
    </div>
  )
}
