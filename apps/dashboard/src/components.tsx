import type { ComponentChildren, JSX } from 'preact'
import { createContext } from 'preact'
import { useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { describeError, get } from './api.js'

/** The node's change-feed version; every page re-reads its data when it moves. */
export const VersionContext = createContext<number>(0)
/** This node's DID. */
export const SelfContext = createContext<string>('')

export interface Loaded<T> { data: T | undefined, error: string | undefined }
/** What `useData` answers: the last data read (kept through a failed re-read), its error, and a way to read again now. */
export interface LoadedData<T> extends Loaded<T> { reload: () => void }

/**
 * The change feed's version, passed on at most once per `intervalMs`: a move within the interval is passed on
 * when it ends (one timer). 0 passes every move at once.
 */
function useThrottledVersion (intervalMs: number): number {
  const version = useContext(VersionContext)
  const [shown, setShown] = useState(version)
  const last = useRef(0)
  useEffect(() => {
    if (version === shown) return
    const wait = last.current + intervalMs - Date.now()
    if (wait <= 0) { last.current = Date.now(); setShown(version); return }
    const timer = setTimeout(() => { last.current = Date.now(); setShown(version) }, wait)
    return () => { clearTimeout(timer) }
  }, [version, shown, intervalMs])
  return shown
}

/**
 * GETs `path` now and again whenever the change feed moves (or `path` changes, or `reload()` is called);
 * `null` reads nothing. `minIntervalMs` spaces the re-reads of a costly route (a picture over 30 days) on a busy
 * node: at most one per interval, the last move always read.
 */
export function useData<T> (path: string | null, { minIntervalMs = 0 }: { minIntervalMs?: number } = {}): LoadedData<T> {
  const version = useThrottledVersion(minIntervalMs)
  const [state, setState] = useState<Loaded<T>>({ data: undefined, error: undefined })
  const [reads, setReads] = useState(0)
  useEffect(() => {
    if (path === null) { setState({ data: undefined, error: undefined }); return }
    const abort = new AbortController()
    get<T>(path, abort.signal).then(
      (data) => { setState({ data, error: undefined }) },
      (err: unknown) => { if (!abort.signal.aborted) setState((s) => ({ data: s.data, error: describeError(err) })) }
    )
    return () => { abort.abort() }
  }, [path, version, reads])
  return { ...state, reload: () => { setReads((n) => n + 1) } }
}

/** A member as `GET /members` lists it. */
export interface MemberRow { did: string, name: string | null, role: 'member' | 'steward', frozen: boolean, self: boolean, connected: boolean }
/** An invitee that used one of this node's invitations and is not a member yet. */
export interface CandidateRow { did: string, name: string | null, invitation: string, proposal: string | null, usedAt: number | null }
export interface InvitationRow { id: string, name: string, createdAt: number, expiresAt: number, state: 'pending' | 'used', usedBy?: string, usedAt?: number, proposal?: string }
/** `GET /members`. */
export interface MembersView {
  networkId: string
  domain: string
  charterVersion: number
  members: MemberRow[]
  candidates: CandidateRow[]
  invitations: InvitationRow[]
  refused: { notAMember: number, coolDown: number, streams: number, framesFromNonMembers: number, entriesByNonMembers: number }
}

const MembersContext = createContext<LoadedData<MembersView>>({ data: undefined, error: undefined, reload: () => {} })

/** Reads `GET /members` once for every page under it (again whenever the change feed moves). */
export function MembersProvider ({ children }: { children: ComponentChildren }): JSX.Element {
  return <MembersContext.Provider value={useData<MembersView>('/members')}>{children}</MembersContext.Provider>
}

/** The members view the app read (shared: one request per change, whatever the number of DIDs shown). */
export function useMembers (): LoadedData<MembersView> {
  return useContext(MembersContext)
}

/** Display names by DID: members' names, then the names invitees were given (a member's own name wins). */
export function useNames (): ReadonlyMap<string, string> {
  const { data } = useMembers()
  return useMemo(() => {
    const map = new Map<string, string>()
    for (const c of data?.candidates ?? []) if (c.name !== null) map.set(c.did, c.name)
    for (const m of data?.members ?? []) if (m.name !== null) map.set(m.did, m.name)
    return map
  }, [data])
}

/** A DID shortened for tables: its start and its end. */
export function shortDid (did: string): string {
  return did.length > 26 ? `${did.slice(0, 16)}…${did.slice(-6)}` : did
}

/** A DID as plain text (a select's option, a graph's label): its name when known, else the DID shortened. */
export function nameOrShortDid (did: string, names: ReadonlyMap<string, string>): string {
  return names.get(did) ?? shortDid(did)
}

/** A DID in a sentence: `Name (did:icn:…)` when named, else the DID alone. */
export function namedDid (did: string, names: ReadonlyMap<string, string>): string {
  const name = names.get(did)
  return name === undefined ? did : `${name} (${did})`
}

/** Named members first, by name; the unnamed after them. */
export function byName (a: string | null, b: string | null): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  return a.localeCompare(b)
}

/** Copies `text` to the clipboard; false when the browser refuses. */
async function copyText (text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    return false
  }
}

/**
 * A copy button. Without `label` it is an icon drawn by CSS, so it adds no words to the element it sits in
 * (readers and tests compare a cell's words); `data-copied` says whether the last copy worked.
 */
export function CopyButton ({ value, label, what = 'DID', testid }: { value: string, label?: string, what?: string, testid?: string }): JSX.Element {
  const [copied, setCopied] = useState<'yes' | 'no'>()
  const icon = label === undefined
  return (
    <button
      type='button'
      class={icon ? `copy${copied === undefined ? '' : copied === 'yes' ? ' copied' : ' failed'}` : 'secondary'}
      title={copied === 'no' ? `The browser refused the clipboard: select the ${what} and copy it` : `Copy the ${what}: ${value}`}
      aria-label={icon ? `Copy the ${what}` : undefined}
      data-testid={testid}
      data-copied={copied}
      onClick={() => { void copyText(value).then((ok) => { setCopied(ok ? 'yes' : 'no') }) }}
    >{icon ? null : copied === 'yes' ? 'Copied' : label}</button>
  )
}

/**
 * A DID as tables show it: the member's name when the node knows one, else the DID shortened. The whole DID is
 * its title (on hover) and `data-did`; a copy button (an icon) copies it.
 */
export function Did ({ did, self }: { did: string | null | undefined, self?: boolean }): JSX.Element {
  const selfDid = useContext(SelfContext)
  const names = useNames()
  if (did === null || did === undefined) return <span class='muted'>—</span>
  const name = names.get(did)
  const mine = self ?? did === selfDid
  return (
    <span class={`did${mine ? ' self' : ''}${name === undefined ? '' : ' named'}`} title={did} data-did={did} data-name={name}>
      {name ?? shortDid(did)}{mine ? ' (this node)' : ''}<CopyButton value={did} />
    </span>
  )
}

export function Hash ({ value }: { value: string | null | undefined }): JSX.Element {
  if (value === null || value === undefined) return <span class='muted'>—</span>
  return <code class='hash' title={value}>{value.length > 20 ? `${value.slice(0, 12)}…${value.slice(-6)}` : value}</code>
}

export function Time ({ ms }: { ms: number | null | undefined }): JSX.Element {
  if (ms === null || ms === undefined) return <span class='muted'>—</span>
  return <time dateTime={new Date(ms).toISOString()}>{new Date(ms).toISOString().replace('T', ' ').slice(0, 19)}</time>
}

/** Hands `text` to the browser as a file download (an object URL, released once the click has started it). */
export function downloadFile (name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const link = document.createElement('a')
  link.href = url
  link.download = name
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => { URL.revokeObjectURL(url) }, 0)
}

/** A card; `wide` spans the whole grid row. */
export function Section ({ title, children, testid, wide }: { title: string, children: ComponentChildren, testid?: string, wide?: boolean }): JSX.Element {
  return <section class={wide === true ? 'card wide' : 'card'} data-testid={testid}><h2>{title}</h2>{children}</section>
}

export function LoadError ({ error, testid }: { error: string | undefined, testid?: string }): JSX.Element | null {
  return error === undefined ? null : <p class='error' role='alert' data-testid={testid}>{error}</p>
}

export function Empty ({ children }: { children: ComponentChildren }): JSX.Element {
  return <p class='muted'>{children}</p>
}

/**
 * The outcome line under a form: the node's answer in words, or its typed error. `seq` counts the form's
 * submissions (`data-seq`), so a reader can tell this answer from the previous one even when the words are equal.
 */
export type Outcome = { ok: boolean, text: string, seq: number } | undefined

export function OutcomeLine ({ outcome, testid }: { outcome: Outcome, testid: string }): JSX.Element | null {
  if (outcome === undefined) return null
  return <p class={outcome.ok ? 'ok' : 'error'} role={outcome.ok ? 'status' : 'alert'} data-testid={testid} data-seq={outcome.seq}>{outcome.text}</p>
}

/** Runs a form's action: `busy` while it runs, then its outcome in words. */
export function useAction (): { busy: boolean, outcome: Outcome, run: (action: () => Promise<string>) => Promise<void> } {
  const [busy, setBusy] = useState(false)
  const [outcome, setOutcome] = useState<Outcome>(undefined)
  const seq = useRef(0)
  return {
    busy,
    outcome,
    run: async (action) => {
      setBusy(true)
      setOutcome(undefined)
      const n = ++seq.current
      try {
        setOutcome({ ok: true, text: await action(), seq: n })
      } catch (err) {
        setOutcome({ ok: false, text: describeError(err), seq: n })
      } finally {
        setBusy(false)
      }
    }
  }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Any JSON value as a readable block: a list of records as a table (columns: every key seen),
 * a record of records as a table keyed by the outer keys, a record as key/value rows.
 */
export function GenericValue ({ value }: { value: unknown }): JSX.Element {
  if (Array.isArray(value)) {
    if (value.length === 0) return <span class='muted'>none</span>
    if (value.every(isRecord)) {
      const columns = [...new Set(value.flatMap((row) => Object.keys(row)))]
      return (
        <table>
          <thead><tr>{columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
          <tbody>{value.map((row, i) => <tr key={i}>{columns.map((c) => <td key={c}><Scalar value={row[c]} name={c} /></td>)}</tr>)}</tbody>
        </table>
      )
    }
    return <span>{value.map((v) => scalarText(v)).join(', ')}</span>
  }
  if (isRecord(value)) {
    const entries = Object.entries(value)
    if (entries.length > 0 && entries.every(([, v]) => isRecord(v))) {
      const columns = [...new Set(entries.flatMap(([, v]) => Object.keys(v as Record<string, unknown>)))]
      return (
        <table>
          <thead><tr><th /> {columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
          <tbody>{entries.map(([k, v]) => <tr key={k}><th><Scalar value={k} /></th>{columns.map((c) => <td key={c}><Scalar value={(v as Record<string, unknown>)[c]} name={c} /></td>)}</tr>)}</tbody>
        </table>
      )
    }
    return (
      <table class='kv'>
        <tbody>{entries.map(([k, v]) => <tr key={k}><th>{k}</th><td>{isRecord(v) || Array.isArray(v) ? <GenericValue value={v} /> : <Scalar value={v} name={k} />}</td></tr>)}</tbody>
      </table>
    )
  }
  return <Scalar value={value} />
}

function scalarText (value: unknown): string {
  if (value === null || value === undefined) return '—'
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

/** One value; `name` is its field's name (a `…At` field holding epoch milliseconds is shown as a time). */
function Scalar ({ value, name }: { value: unknown, name?: string }): JSX.Element {
  if (typeof value === 'string' && value.startsWith('did:')) return <Did did={value} />
  if (name?.endsWith('At') === true && typeof value === 'number' && value > 1e12) return <Time ms={value} />
  if (typeof value === 'number' && !Number.isInteger(value)) return <span>{value.toFixed(3)}</span>
  return <span>{scalarText(value)}</span>
}
