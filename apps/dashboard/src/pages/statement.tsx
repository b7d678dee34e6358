// An account's statement (`GET /statement`): its entries in a period, each with the running balance after it,
// between the opening and the closing balance; downloaded as the CSV `icn-node statement --csv` prints
// (`GET /statement?format=csv`, the same formatting function on the node).
import type { JSX } from 'preact'
import { useContext, useState } from 'preact/hooks'
import { getText } from '../api.js'
import { Did, LoadError, OutcomeLine, SelfContext, Time, byName, downloadFile, nameOrShortDid, useAction, useData, useMembers, useNames } from '../components.js'

/** `GET /statement` (apps/node/src/statement.ts `Statement`). */
interface Statement {
  account: string
  currency: string
  from: number
  to: number
  opening: string
  closing: string
  lines: Array<{ id: string, timestamp: number, author: string, counterparties: string[], reference: string | null, debit: string | null, credit: string | null, balance: string }>
}

/** What the statement is asked for: dates as typed (`YYYY-MM-DD`, '' for no bound), read by the node as UTC midnights. */
interface Query { account: string, currency: string, from: string, to: string }

const OTHER = 'other'
/** How often, at most, the statement is read again while the change feed moves: the node walks the account's whole history to anchor the running balance. */
const REREAD_INTERVAL_MS = 5000
/** The node's bound when `to` is left out. */
const NO_END = Number.MAX_SAFE_INTEGER

function statementPath (q: Query, format?: 'csv'): string {
  const params = new URLSearchParams({ account: q.account, currency: q.currency })
  if (q.from !== '') params.set('from', q.from)
  if (q.to !== '') params.set('to', q.to)
  if (format !== undefined) params.set('format', format)
  return `/statement?${params.toString()}`
}

/** Whether `s` answers `q` (a re-read for the previous query may still be on screen while the next one loads). */
function answers (s: Statement, q: Query): boolean {
  return s.account === q.account && s.currency === q.currency &&
    s.from === (q.from === '' ? 0 : Date.parse(q.from)) && s.to === (q.to === '' ? NO_END : Date.parse(q.to))
}

/** The change an entry makes to the account: credit minus debit, signed (`+12`, `-30`). */
export function signedAmount (line: Pick<Statement['lines'][number], 'debit' | 'credit'>): string {
  const net = BigInt(line.credit ?? '0') - BigInt(line.debit ?? '0')
  return net > 0n ? `+${net}` : net.toString()
}

function period (q: Query): string {
  if (q.from === '' && q.to === '') return 'all time'
  if (q.to === '') return `from ${q.from}`
  if (q.from === '') return `before ${q.to}`
  return `from ${q.from}, before ${q.to}`
}

function StatementTable ({ statement, query }: { statement: Statement, query: Query }): JSX.Element {
  const names = useNames()
  const self = useContext(SelfContext)
  const who = `${nameOrShortDid(statement.account, names)}${statement.account === self ? ' (this node)' : ''}`
  return (
    <div class='scroll'>
      <table class='statement' data-testid='statement-table'>
        <caption data-testid='statement-caption'>Statement of {who} in {statement.currency}, {period(query)}</caption>
        <thead><tr><th>Time</th><th>Counterparty</th><th class='memo'>Memo</th><th class='num'>Amount</th><th class='num'>Balance</th></tr></thead>
        <tbody>
          <tr class='subtotal' data-testid='statement-opening'><td colSpan={4}>Opening balance</td><td class='num'>{statement.opening}</td></tr>
          {statement.lines.length === 0
            ? <tr><td colSpan={5} class='muted' data-testid='statement-empty'>No entries in this period.</td></tr>
            : statement.lines.map((l) => (
              <tr key={l.id} data-testid='statement-row' data-id={l.id}>
                <td><Time ms={l.timestamp} /></td>
                <td>
                  {l.counterparties.length === 0 ? <span class='muted'>—</span> : l.counterparties.map((c) => <Did key={c} did={c} />)}
                  {l.reference === null ? null : <span class='memo-inline'>{l.reference}</span>}
                </td>
                <td class='memo'>{l.reference ?? <span class='muted'>—</span>}</td>
                <td class='num'>{signedAmount(l)}</td>
                <td class='num'>{l.balance}</td>
              </tr>
            ))}
        </tbody>
        <tfoot><tr class='subtotal' data-testid='statement-closing'><td colSpan={4}>Closing balance</td><td class='num'>{statement.closing}</td></tr></tfoot>
      </table>
    </div>
  )
}

/**
 * The statement of an account picked by name (this node's by default; the members, then accounts with a balance
 * here, then any DID typed), in a currency, over [from, to). It follows the change feed (at most one re-read per
 * REREAD_INTERVAL_MS); a new query is read at once.
 */
export function StatementView ({ accounts }: { accounts: string[] }): JSX.Element {
  const self = useContext(SelfContext)
  const names = useNames()
  const { data: members } = useMembers()
  const [picked, setPicked] = useState('')
  const [otherDid, setOtherDid] = useState('')
  const [currency, setCurrency] = useState('ICN')
  const [from, setFrom] = useState('')
  const [to, setTo] = useState('')
  const [asked, setAsked] = useState<Omit<Query, 'account'> & { account: string | null }>({ account: null, currency: 'ICN', from: '', to: '' })
  const download = useAction()
  // Until a query is sent, this node's own account (known once the app has read it).
  const query: Query | null = asked.account !== null ? { ...asked, account: asked.account } : self === '' ? null : { ...asked, account: self }
  const statement = useData<Statement>(query === null ? null : statementPath(query), { minIntervalMs: REREAD_INTERVAL_MS })
  const memberDids = [...(members?.members ?? [])].sort((a, b) => byName(a.name, b.name) || (a.did < b.did ? -1 : 1)).map((m) => m.did)
  const options = [...new Set([self, ...memberDids, ...accounts])].filter((did) => did !== '')
  const chosen = picked === '' ? self : picked
  const submit = (event: Event): void => {
    event.preventDefault()
    // Sent as chosen and typed: the node checks each field and answers a typed error (shown under the form).
    setAsked({ account: chosen === OTHER ? otherDid.trim() : chosen, currency, from, to })
    statement.reload()
  }
  const csv = async (): Promise<string> => {
    if (query === null) throw new Error('this node\'s DID is not known yet')
    const file = `statement-${query.account.slice(-8)}-${query.currency}-${query.from === '' ? 'start' : query.from}-${query.to === '' ? 'now' : query.to}.csv`
    downloadFile(file, await getText(statementPath(query, 'csv')), 'text/csv')
    return `Downloaded ${file}.`
  }
  const shown = statement.error === undefined && statement.data !== undefined && query !== null && answers(statement.data, query) ? statement.data : undefined
  return (
    <div data-testid='statement'>
      <form class='form' onSubmit={submit} data-testid='statement-form'>
        <label>Account <select name='account' value={chosen} onChange={(e) => { setPicked(e.currentTarget.value) }}>
          {options.map((did) => <option key={did} value={did} title={did}>{nameOrShortDid(did, names)}{did === self ? ' (this node)' : ''}</option>)}
          <option value={OTHER}>another account (DID)…</option>
        </select></label>
        {chosen === OTHER ? <label>DID <input name='did' value={otherDid} onInput={(e) => { setOtherDid(e.currentTarget.value) }} placeholder='did:icn:…' /></label> : null}
        <label>Currency <input name='currency' value={currency} onInput={(e) => { setCurrency(e.currentTarget.value) }} /></label>
        <label>From <input type='date' name='from' value={from} onInput={(e) => { setFrom(e.currentTarget.value) }} /></label>
        <label>Before (not included) <input type='date' name='to' value={to} onInput={(e) => { setTo(e.currentTarget.value) }} /></label>
        <button type='submit'>Show</button>
      </form>
      <LoadError error={statement.error} testid='statement-error' />
      {shown === undefined || query === null
        ? null
        : (
          <>
            <StatementTable statement={shown} query={query} />
            <div class='downloads'>
              <button type='button' class='secondary plain' data-testid='statement-csv' disabled={download.busy} onClick={() => { void download.run(csv) }}>Download as CSV</button>
              <OutcomeLine outcome={download.outcome} testid='statement-download' />
            </div>
          </>
          )}
    </div>
  )
}
