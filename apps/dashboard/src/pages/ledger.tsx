import type { JSX } from 'preact'
import { useContext, useState } from 'preact/hooks'
import { post } from '../api.js'
import { Did, Empty, Hash, LoadError, OutcomeLine, Section, SelfContext, Time, byName, namedDid, useAction, useData, useMembers, useNames } from '../components.js'
import { StatementView } from './statement.js'

interface Account {
  account: string
  currency: string
  balance: string
  creditLimit: string
  limitSetBy: { reference: string, proposal: { id: string, title: string, proposer: string, state: string } | null } | null
}
interface EntrySummary {
  id: string
  author: string
  seq: number
  timestamp: number
  reference: string | null
  deltas: Array<{ account: string, currency: string, debit: string | null, credit: string | null }>
}
interface HistoryPage { account: string, entries: EntrySummary[], next: string | null }
interface Quarantined { id: string, reason: string, detail: string, chained: boolean, entry: EntrySummary | null }
interface Fork { author: string, seq: number, first: EntrySummary | null, second: EntrySummary | null }
interface Floor { author: string, head: number, floor: number }
interface Payment { id: string, to: string, currency: string, amount: string, balance: string }

function Accounts ({ accounts }: { accounts: Account[] }): JSX.Element {
  if (accounts.length === 0) return <Empty>No balances yet.</Empty>
  return (
    <table data-testid='accounts'>
      <thead><tr><th>Member</th><th>Currency</th><th class='num'>Balance</th><th class='num'>Credit limit</th><th>Limit set by</th></tr></thead>
      <tbody>
        {accounts.map((a) => (
          <tr key={`${a.account} ${a.currency}`} data-testid='account-row' data-account={a.account} data-currency={a.currency}>
            <td><Did did={a.account} /></td>
            <td>{a.currency}</td>
            <td class='num' data-testid='balance'>{a.balance}</td>
            <td class='num' data-testid='credit-limit'>{a.creditLimit}</td>
            <td data-testid='limit-set-by'>
              {a.limitSetBy === null
                ? <span class='muted'>trust policy</span>
                : a.limitSetBy.proposal === null
                  ? <span>reference <Hash value={a.limitSetBy.reference} /></span>
                  : <span>proposal “{a.limitSetBy.proposal.title}” by <Did did={a.limitSetBy.proposal.proposer} /> ({a.limitSetBy.proposal.state})</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** Pays a member picked by name (the node refuses non-members and this node itself, in words). */
function PayForm (): JSX.Element {
  const { data: members } = useMembers()
  const names = useNames()
  const [to, setTo] = useState('')
  const [amount, setAmount] = useState('')
  const [currency, setCurrency] = useState('ICN')
  const [reference, setReference] = useState('')
  const { busy, outcome, run } = useAction()
  const payees = (members?.members ?? []).filter((m) => !m.self).sort((a, b) => byName(a.name, b.name) || (a.did < b.did ? -1 : 1))
  const submit = (event: Event): void => {
    event.preventDefault()
    void run(async () => {
      // Sent as chosen and typed: the node checks every field (no member chosen included) and answers a typed error.
      const paid = await post<Payment>('/pay', { to, amount, currency, ...(reference === '' ? {} : { reference }) })
      return `Paid ${paid.amount} ${paid.currency} to ${namedDid(paid.to, names)}: entry ${paid.id}. This node's balance is now ${paid.balance} ${paid.currency}.`
    })
  }
  return (
    <form onSubmit={submit} data-testid='pay-form' class='form'>
      <label>To <select name='to' value={to} onChange={(e) => { setTo(e.currentTarget.value) }}>
        <option value=''>choose a member…</option>
        {payees.map((m) => <option key={m.did} value={m.did} disabled={m.frozen} title={m.did}>{m.name ?? m.did}{m.frozen ? ' (frozen)' : ''}</option>)}
      </select></label>
      <label>Amount <input name='amount' value={amount} onInput={(e) => { setAmount(e.currentTarget.value) }} inputMode='numeric' placeholder='minor units' /></label>
      <label>Currency <input name='currency' value={currency} onInput={(e) => { setCurrency(e.currentTarget.value) }} /></label>
      <label>Reference <input name='reference' value={reference} onInput={(e) => { setReference(e.currentTarget.value) }} placeholder='optional' /></label>
      <button type='submit' disabled={busy}>Pay</button>
      <OutcomeLine outcome={outcome} testid='pay-outcome' />
    </form>
  )
}

function amountOf (e: EntrySummary, account: string): string {
  return e.deltas.filter((d) => d.account === account).map((d) => `${d.credit !== null ? `+${d.credit}` : `−${d.debit ?? '0'}`} ${d.currency}`).join(', ')
}

function History ({ accounts }: { accounts: string[] }): JSX.Element {
  const self = useContext(SelfContext)
  const [account, setAccount] = useState('')
  const [cursors, setCursors] = useState<string[]>([])
  const shown = account === '' ? self : account
  const after = cursors[cursors.length - 1]
  // Nothing to read until this node's DID is known (the app reads it once signed in).
  const page = useData<HistoryPage>(shown === '' ? null : `/ledger/history?${new URLSearchParams({ account: shown, limit: '10', ...(after === undefined ? {} : { after }) }).toString()}`)
  const names = useNames()
  const options = [...new Set([self, ...accounts])]
  return (
    <div data-testid='history'>
      <label>Account <select value={shown} onChange={(e) => { setAccount(e.currentTarget.value); setCursors([]) }}>
        {options.map((a) => <option key={a} value={a} title={a}>{names.get(a) ?? a}{a === self ? ' (this node)' : ''}</option>)}
      </select></label>
      <LoadError error={page.error} />
      {page.data === undefined
        ? null
        : page.data.entries.length === 0
          ? <Empty>No entries{cursors.length > 0 ? ' on this page' : ''}.</Empty>
          : (
            <table>
              <thead><tr><th>Time</th><th>Author</th><th class='num'>Seq</th><th>Change for this account</th><th>Reference</th><th>Entry</th></tr></thead>
              <tbody>
                {page.data.entries.map((e) => (
                  <tr key={e.id} data-testid='history-row'>
                    <td><Time ms={e.timestamp} /></td>
                    <td><Did did={e.author} /></td>
                    <td class='num'>{e.seq}</td>
                    <td>{amountOf(e, shown)}</td>
                    <td>{e.reference ?? <span class='muted'>—</span>}</td>
                    <td><Hash value={e.id} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
            )}
      <div class='pager'>
        <button type='button' disabled={cursors.length === 0} onClick={() => { setCursors(cursors.slice(0, -1)) }}>← Newer</button>
        <span class='muted'>page {cursors.length + 1}</span>
        <button type='button' disabled={page.data?.next === null || page.data === undefined} onClick={() => { if (page.data?.next != null) setCursors([...cursors, page.data.next]) }}>Older →</button>
      </div>
    </div>
  )
}

/**
 * Releasing a chain floor lets its author sign again from the restored head: it asks first, naming what the
 * release gives up (entries above the head that exist elsewhere then show up as forks).
 */
function ReleaseFloor ({ floor, onDone }: { floor: Floor, onDone: () => void }): JSX.Element {
  const names = useNames()
  const [reference, setReference] = useState('')
  const { busy, outcome, run } = useAction()
  const release = (event: Event): void => {
    event.preventDefault()
    void run(async () => {
      const done = await post<{ released: Floor, reference: string }>('/ledger/floors/release', { author: floor.author, reference })
      onDone()
      return `Floor of ${namedDid(done.released.author, names)} released (${done.reference}): it signs from seq ${done.released.head + 1} again.`
    })
  }
  return (
    <form class='confirm form' onSubmit={release} data-testid='release-confirm' aria-labelledby='release-words'>
      <p id='release-words' data-testid='release-words'>Releasing lets {namedDid(floor.author, names)} sign again from seq {floor.head + 1}, giving up entries {floor.head + 1}–{floor.floor} of that chain: if they exist on another node they will show up as forks.</p>
      <label>Reference (why) <input name='reference' value={reference} onInput={(e) => { setReference(e.currentTarget.value) }} /></label>
      <button type='submit' class='danger' disabled={busy}>Release the floor</button>
      <button type='button' class='secondary plain' onClick={onDone}>Cancel</button>
      <OutcomeLine outcome={outcome} testid='release-outcome' />
    </form>
  )
}

function EntryCell ({ entry }: { entry: EntrySummary | null }): JSX.Element {
  if (entry === null) return <span class='muted'>does not decode</span>
  return <span><Hash value={entry.id} /> seq {entry.seq} by <Did did={entry.author} /></span>
}

export function LedgerPage (): JSX.Element {
  const accounts = useData<Account[]>('/ledger/accounts')
  const quarantine = useData<Quarantined[]>('/ledger/quarantine')
  const forks = useData<Fork[]>('/ledger/forks')
  const floors = useData<Floor[]>('/ledger/floors')
  const members = [...new Set((accounts.data ?? []).map((a) => a.account))]
  const [releasing, setReleasing] = useState<Floor>()
  return (
    <div class='grid'>
      <Section title='Balances and credit limits' testid='balances'>
        <LoadError error={accounts.error} />
        {accounts.data === undefined ? null : <Accounts accounts={accounts.data} />}
      </Section>
      <Section title='Pay' testid='pay'>
        <PayForm />
      </Section>
      <Section title='History' testid='history-card'>
        <History accounts={members} />
      </Section>
      <Section title='Statement' testid='statement-card' wide>
        <StatementView accounts={members} />
      </Section>
      <Section title='Quarantined entries' testid='quarantine'>
        <LoadError error={quarantine.error} />
        {quarantine.data === undefined || quarantine.data.length === 0
          ? <Empty>None.</Empty>
          : (
            <table>
              <thead><tr><th>Entry</th><th>Reason</th><th>Detail</th><th>Used a chain slot</th></tr></thead>
              <tbody>{quarantine.data.map((q) => <tr key={q.id}><td><EntryCell entry={q.entry} /></td><td>{q.reason}</td><td>{q.detail}</td><td>{q.chained ? 'yes' : 'no'}</td></tr>)}</tbody>
            </table>
            )}
      </Section>
      <Section title='Fork proofs' testid='forks'>
        <LoadError error={forks.error} />
        {forks.data === undefined || forks.data.length === 0
          ? <Empty>None: no author has signed two entries for one chain slot.</Empty>
          : (
            <table>
              <thead><tr><th>Author</th><th class='num'>Slot</th><th>Holds the slot</th><th>Conflicting entry</th></tr></thead>
              <tbody>{forks.data.map((f) => <tr key={`${f.author} ${f.seq}`}><td><Did did={f.author} /></td><td class='num'>{f.seq}</td><td><EntryCell entry={f.first} /></td><td><EntryCell entry={f.second} /></td></tr>)}</tbody>
            </table>
            )}
      </Section>
      <Section title='Chain floors (after a restore)' testid='floors'>
        <LoadError error={floors.error} />
        {floors.data === undefined || floors.data.length === 0
          ? <Empty>None.</Empty>
          : (
            <table>
              <thead><tr><th>Author</th><th class='num'>Head</th><th class='num'>Floor</th><th><span class='sr-only'>Action</span></th></tr></thead>
              <tbody>{floors.data.map((f) => <tr key={f.author} data-testid='floor-row' data-author={f.author}><td><Did did={f.author} /></td><td class='num'>{f.head}</td><td class='num'>{f.floor}</td><td><button type='button' class='danger-outline' data-testid='release-floor' onClick={() => { setReleasing(f) }}>Release…</button></td></tr>)}</tbody>
            </table>
            )}
        {releasing === undefined ? null : <ReleaseFloor floor={releasing} onDone={() => { setReleasing(undefined); floors.reload() }} />}
      </Section>
    </div>
  )
}
