import type { ComponentChildren, JSX } from 'preact'
import { useState } from 'preact/hooks'
import { post } from '../api.js'
import { OutcomeLine, type MemberRow, nameOrShortDid, useAction, useMembers, useNames } from '../components.js'

/** A charter's rule for one kind, as `GET /governance/charter` gives it. */
export interface KindRule { proposers: string[], quorumBps: number, approvalBps: number, deliberation: { defaultMs: number, minMs: number, maxMs: number }, votingMs: number }
export interface CharterRules { name: string, minJoinTrust: number, kinds: Record<string, KindRule> }
/** A proposal as `GET /proposals` lists it. */
export interface ProposalRow { id: string, kind: string, title: string, proposer: string, state: string, opensAt: number | null, closesAt: number | null }

/** What each kind does, in words (the kinds themselves come from the charter). */
export const KIND_WORDS: Record<string, string> = {
  'text': 'A resolution in words (nothing is executed)',
  'charter-amendment': 'Change the charter\'s rules',
  'membership': 'Add or remove a member',
  'config-change': 'Change a setting (e.g. a member\'s credit limit)',
  'budget': 'Approve a budget',
  'treasury-withdrawal': 'Withdraw from the treasury to a member',
  'spending-rule': 'Set a spending rule',
  'ledger-rollback': 'Roll the ledger back to a snapshot',
  'freeze': 'Freeze a member (no proposing or voting)',
  'unfreeze': 'Unfreeze a member',
  'veto': 'Veto a proposal still under way',
  'force-close': 'Force-close a proposal still under way'
}

/** Proposal states a veto or force-close can still end. */
const UNDER_WAY = ['draft', 'deliberation', 'open']
const ROLES = ['member', 'steward'] as const

/** A number typed in a field when it is one, else the text as typed (the node answers its typed error). */
function numberOr (text: string): number | string {
  const t = text.trim()
  return t !== '' && Number.isFinite(Number(t)) ? Number(t) : text
}
/** A figure typed in `unit` (1000 for seconds → ms, 100 for % → basis points) in the node's unit, or the text as typed. */
function scaled (text: string, unit: number): number | string {
  const n = numberOr(text)
  return typeof n === 'number' ? Math.round(n * unit) : n
}

/** Every field of every kind's form, as typed (strings): one state object, so switching kinds keeps what was typed. */
type Fields = Record<string, string>

function Field ({ label, name, fields, set, hint, wide, children }: { label: string, name: string, fields: Fields, set: (name: string, value: string) => void, hint?: string, wide?: boolean, children?: ComponentChildren }): JSX.Element {
  return (
    <label class={wide === true ? 'wide' : undefined}>{label}
      {children ?? <input name={name} value={fields[name] ?? ''} onInput={(e) => { set(name, e.currentTarget.value) }} />}
      {hint === undefined ? null : <span class='hint'>{hint}</span>}
    </label>
  )
}

/** A picker of members (by name, the DID as each option's title); `filter` narrows it. */
function MemberPicker ({ name, label, fields, set, filter = () => true }: { name: string, label: string, fields: Fields, set: (name: string, value: string) => void, filter?: (m: MemberRow) => boolean }): JSX.Element {
  const { data } = useMembers()
  const names = useNames()
  const members = (data?.members ?? []).filter(filter)
  return (
    <label>{label}
      <select name={name} value={fields[name] ?? ''} onChange={(e) => { set(name, e.currentTarget.value) }}>
        <option value=''>choose a member…</option>
        {members.map((m) => <option key={m.did} value={m.did} title={m.did}>{nameOrShortDid(m.did, names)}{m.self ? ' (this node)' : ''}</option>)}
      </select>
    </label>
  )
}

/** The charter's rules as fields: name, join trust and, per kind, whether it is allowed and its thresholds. */
function rulesFields (rules: CharterRules): Fields {
  const fields: Fields = { 'rules.name': rules.name, 'rules.minJoinTrust': String(rules.minJoinTrust) }
  for (const kind of Object.keys(KIND_WORDS)) {
    const r = rules.kinds[kind]
    fields[`${kind}.allowed`] = r === undefined ? '' : 'yes'
    const shown = r ?? { proposers: ['steward'], quorumBps: 5000, approvalBps: 5000, deliberation: { defaultMs: 86_400_000, minMs: 0, maxMs: 604_800_000 }, votingMs: 86_400_000 }
    fields[`${kind}.proposers`] = shown.proposers.join(',')
    fields[`${kind}.quorum`] = String(shown.quorumBps / 100)
    fields[`${kind}.approval`] = String(shown.approvalBps / 100)
    fields[`${kind}.deliberation`] = String(shown.deliberation.defaultMs / 1000)
    fields[`${kind}.deliberationMin`] = String(shown.deliberation.minMs / 1000)
    fields[`${kind}.deliberationMax`] = String(shown.deliberation.maxMs / 1000)
    fields[`${kind}.voting`] = String(shown.votingMs / 1000)
  }
  return fields
}

function rulesOf (fields: Fields): unknown {
  const kinds: Record<string, unknown> = {}
  for (const kind of Object.keys(KIND_WORDS)) {
    if (fields[`${kind}.allowed`] !== 'yes') continue
    kinds[kind] = {
      proposers: (fields[`${kind}.proposers`] ?? '').split(',').filter((r) => r !== ''),
      quorumBps: scaled(fields[`${kind}.quorum`] ?? '', 100),
      approvalBps: scaled(fields[`${kind}.approval`] ?? '', 100),
      deliberation: { defaultMs: scaled(fields[`${kind}.deliberation`] ?? '', 1000), minMs: scaled(fields[`${kind}.deliberationMin`] ?? '', 1000), maxMs: scaled(fields[`${kind}.deliberationMax`] ?? '', 1000) },
      votingMs: scaled(fields[`${kind}.voting`] ?? '', 1000)
    }
  }
  return { name: fields['rules.name'] ?? '', minJoinTrust: numberOr(fields['rules.minJoinTrust'] ?? ''), kinds }
}

function RulesEditor ({ fields, set }: { fields: Fields, set: (name: string, value: string) => void }): JSX.Element {
  const figure = (kind: string, key: string, label: string): JSX.Element => (
    <td><input name={`${kind}.${key}`} aria-label={`${kind}: ${label}`} class='figure' value={fields[`${kind}.${key}`] ?? ''} onInput={(e) => { set(`${kind}.${key}`, e.currentTarget.value) }} /></td>
  )
  return (
    <>
      <Field label='Charter name' name='rules.name' fields={fields} set={set} />
      <Field label='Trust a new member needs (0–1)' name='rules.minJoinTrust' fields={fields} set={set} />
      <div class='scroll wide' data-testid='rules-editor'>
        <table class='rules'>
          <thead><tr><th>Kind</th><th>Allowed</th><th>Member may propose</th><th>Steward may propose</th><th>Quorum %</th><th>Approval %</th><th>Deliberation s</th><th>min s</th><th>max s</th><th>Voting s</th></tr></thead>
          <tbody>
            {Object.keys(KIND_WORDS).map((kind) => {
              const proposers = (fields[`${kind}.proposers`] ?? '').split(',').filter((r) => r !== '')
              const toggle = (role: string, on: boolean): void => { set(`${kind}.proposers`, ROLES.filter((r) => r === role ? on : proposers.includes(r)).join(',')) }
              return (
                <tr key={kind} data-kind={kind}>
                  <th>{kind}</th>
                  <td><input type='checkbox' name={`${kind}.allowed`} aria-label={`${kind}: allowed`} checked={fields[`${kind}.allowed`] === 'yes'} onChange={(e) => { set(`${kind}.allowed`, e.currentTarget.checked ? 'yes' : '') }} /></td>
                  {ROLES.map((role) => <td key={role}><input type='checkbox' aria-label={`${kind}: a ${role} may propose`} checked={proposers.includes(role)} onChange={(e) => { toggle(role, e.currentTarget.checked) }} /></td>)}
                  {figure(kind, 'quorum', 'quorum %')}{figure(kind, 'approval', 'approval %')}{figure(kind, 'deliberation', 'deliberation (s)')}
                  {figure(kind, 'deliberationMin', 'shortest deliberation (s)')}{figure(kind, 'deliberationMax', 'longest deliberation (s)')}{figure(kind, 'voting', 'voting window (s)')}
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>
    </>
  )
}

/** The fields of one kind's form. */
function KindFields ({ kind, fields, set, proposals, rules }: { kind: string, fields: Fields, set: (name: string, value: string) => void, proposals: ProposalRow[], rules: CharterRules }): JSX.Element {
  const { data } = useMembers()
  const candidates = data?.candidates ?? []
  switch (kind) {
    case 'text':
      return <Field label='Text' name='text' fields={fields} set={set} wide><textarea name='text' rows={3} value={fields.text ?? ''} onInput={(e) => { set('text', e.currentTarget.value) }} /></Field>
    case 'membership':
      return (
        <>
          <Field label='Action' name='action' fields={fields} set={set}>
            <select name='action' value={fields.action ?? 'add'} onChange={(e) => { set('action', e.currentTarget.value) }}><option value='add'>add a member</option><option value='remove'>remove a member</option></select>
          </Field>
          {(fields.action ?? 'add') === 'add'
            ? (
              <>
                <Field label='New member (DID)' name='newMember' fields={fields} set={set} hint={candidates.length > 0 ? 'invitees waiting are suggested' : 'the DID their node printed when it joined'}>
                  <input name='newMember' list='candidate-dids' value={fields.newMember ?? ''} onInput={(e) => { set('newMember', e.currentTarget.value) }} placeholder='did:icn:…' />
                </Field>
                <datalist id='candidate-dids'>{candidates.map((c) => <option key={c.did} value={c.did} label={c.name ?? undefined} />)}</datalist>
                <Field label='Role' name='role' fields={fields} set={set}>
                  <select name='role' value={fields.role ?? 'member'} onChange={(e) => { set('role', e.currentTarget.value) }}>{ROLES.map((r) => <option key={r} value={r}>{r}</option>)}</select>
                </Field>
                <Field label='Their name (optional)' name='memberName' fields={fields} set={set} />
              </>
              )
            : <MemberPicker name='member' label='Member to remove' fields={fields} set={set} filter={(m) => !m.self} />}
        </>
      )
    case 'config-change':
      return (
        <>
          <Field label='Setting' name='key' fields={fields} set={set}>
            <select name='key' value={fields.key ?? 'ledger.creditLimit'} onChange={(e) => { set('key', e.currentTarget.value) }}>
              <option value='ledger.creditLimit'>a member's credit limit</option><option value='other'>another setting (a text value)</option>
            </select>
          </Field>
          {(fields.key ?? 'ledger.creditLimit') === 'ledger.creditLimit'
            ? (
              <>
                <MemberPicker name='subject' label='Member' fields={fields} set={set} />
                <Field label='Currency' name='currency' fields={fields} set={set} />
                <Field label='Credit limit' name='limit' fields={fields} set={set} hint='minor units' />
              </>
              )
            : (
              <>
                <Field label='Setting name' name='otherKey' fields={fields} set={set} />
                <Field label='Value' name='otherValue' fields={fields} set={set} />
              </>
              )}
        </>
      )
    case 'budget':
    case 'treasury-withdrawal':
      return (
        <>
          <Field label='Currency' name='currency' fields={fields} set={set} />
          <Field label='Amount' name='amount' fields={fields} set={set} hint='minor units' />
          {kind === 'treasury-withdrawal' ? <MemberPicker name='recipient' label='Recipient' fields={fields} set={set} /> : null}
          <Field label='Purpose' name='purpose' fields={fields} set={set} wide />
        </>
      )
    case 'spending-rule':
      return (
        <>
          <Field label='Currency' name='currency' fields={fields} set={set} />
          <Field label='Limit' name='limit' fields={fields} set={set} hint='minor units per period' />
          <Field label='Period (days)' name='periodDays' fields={fields} set={set} />
        </>
      )
    case 'ledger-rollback':
      return (
        <>
          <Field label='Roll back to (snapshot id)' name='to' fields={fields} set={set} />
          <Field label='Reason' name='reason' fields={fields} set={set} wide />
        </>
      )
    case 'freeze':
    case 'unfreeze':
      return <MemberPicker name='member' label={kind === 'freeze' ? 'Member to freeze' : 'Member to unfreeze'} fields={fields} set={set} filter={(m) => kind === 'freeze' ? !m.frozen : m.frozen} />
    case 'veto':
    case 'force-close': {
      const targets = proposals.filter((p) => UNDER_WAY.includes(p.state))
      return (
        <Field label={kind === 'veto' ? 'Proposal to veto' : 'Proposal to force-close'} name='target' fields={fields} set={set}>
          <select name='target' value={fields.target ?? ''} onChange={(e) => { set('target', e.currentTarget.value) }}>
            <option value=''>{targets.length === 0 ? 'no proposal under way' : 'choose a proposal…'}</option>
            {targets.map((p) => <option key={p.id} value={p.id}>{p.title} ({p.kind}, {p.state})</option>)}
          </select>
        </Field>
      )
    }
    case 'charter-amendment':
      return <RulesEditor fields={fields.rulesLoaded === 'yes' ? fields : { ...rulesFields(rules), ...fields }} set={set} />
    default:
      return <p class='error'>This dashboard has no form for the kind “{kind}”.</p>
  }
}

/** The payload of `kind` from the form's fields, as the node expects it (it judges every value). */
function payloadOf (kind: string, f: Fields, rules: CharterRules): unknown {
  const v = (name: string, fallback = ''): string => f[name] ?? fallback
  switch (kind) {
    case 'text': return { text: v('text') }
    case 'membership': {
      if (v('action', 'add') === 'remove') return { action: 'remove', member: v('member') }
      const name = v('memberName').trim()
      return { action: 'add', member: v('newMember').trim(), role: v('role', 'member'), ...(name === '' ? {} : { name }) }
    }
    case 'config-change':
      return v('key', 'ledger.creditLimit') === 'ledger.creditLimit'
        ? { key: 'ledger.creditLimit', subject: v('subject'), value: { currency: v('currency'), limit: v('limit') } }
        : { key: v('otherKey'), value: v('otherValue') }
    case 'budget': return { currency: v('currency'), amount: v('amount'), purpose: v('purpose') }
    case 'treasury-withdrawal': return { currency: v('currency'), amount: v('amount'), recipient: v('recipient'), purpose: v('purpose') }
    case 'spending-rule': return { currency: v('currency'), limit: v('limit'), periodDays: numberOr(v('periodDays')) }
    case 'ledger-rollback': return { to: v('to'), reason: v('reason') }
    case 'freeze': case 'unfreeze': return { member: v('member') }
    case 'veto': case 'force-close': return { target: v('target') }
    case 'charter-amendment': return { rules: rulesOf(f.rulesLoaded === 'yes' ? f : { ...rulesFields(rules), ...f }) }
    default: return {}
  }
}

/**
 * One form per proposal kind the charter allows: the kind's own fields (members picked by name, proposals by
 * title, figures in words), never a JSON box. The node judges what is sent and its typed errors are shown in words.
 */
export function ProposeForm ({ rules, proposals, onProposed }: { rules: CharterRules, proposals: ProposalRow[], onProposed: (id: string) => void }): JSX.Element {
  const kinds = Object.keys(rules.kinds)
  const [kind, setKind] = useState(kinds[0] ?? 'text')
  const [fields, setFields] = useState<Fields>({ currency: 'ICN' })
  const { busy, outcome, run } = useAction()
  const set = (name: string, value: string): void => {
    // The first edit of the rules editor copies the charter's rules in, so later charter changes do not move what was typed.
    setFields((f) => ({ ...(kind === 'charter-amendment' && f.rulesLoaded !== 'yes' ? { ...rulesFields(rules), rulesLoaded: 'yes' } : {}), ...f, [name]: value }))
  }
  const submit = (event: Event): void => {
    event.preventDefault()
    void run(async () => {
      const deliberation = (fields.deliberation ?? '').trim()
      const done = await post<{ id: string, state: string }>('/proposals', {
        kind,
        title: fields.title ?? '',
        description: fields.description ?? '',
        payload: payloadOf(kind, fields, rules),
        // Empty: the charter's default.
        ...(deliberation === '' ? {} : { deliberationMs: scaled(deliberation, 1000) })
      })
      onProposed(done.id)
      return `Proposal ${done.id} submitted: ${done.state}.`
    })
  }
  const rule = rules.kinds[kind]
  return (
    <form class='form' onSubmit={submit} data-testid='propose-form' data-kind={kind}>
      <label>Kind <select name='kind' value={kind} onChange={(e) => { setKind(e.currentTarget.value) }}>
        {kinds.map((k) => <option key={k} value={k}>{KIND_WORDS[k] ?? k}</option>)}
      </select></label>
      <Field label='Title' name='title' fields={fields} set={set} />
      <Field label='Description' name='description' fields={fields} set={set} />
      <fieldset data-testid='kind-fields'>
        <legend>{KIND_WORDS[kind] ?? kind}</legend>
        <KindFields kind={kind} fields={fields} set={set} proposals={proposals} rules={rules} />
      </fieldset>
      <Field label='Deliberation (seconds)' name='deliberation' fields={fields} set={set} hint={rule === undefined ? undefined : `empty: the charter's ${rule.deliberation.defaultMs / 1000} s (${rule.deliberation.minMs / 1000}–${rule.deliberation.maxMs / 1000} s)`} />
      <button type='submit' disabled={busy}>Propose</button>
      <OutcomeLine outcome={outcome} testid='propose-outcome' />
    </form>
  )
}
