import type { ComponentChildren, JSX } from 'preact'
import { createContext } from 'preact'
import { useContext, useEffect, useRef, useState } from 'preact/hooks'
import { describeError, get } from './api.js'

/** The node's change-feed version; every page re-reads its data when it moves. */
export const VersionContext = createContext<number>(0)
/** This node's DID. */
export const SelfContext = createContext<string>('')

export interface Loaded<T> { data: T | undefined, error: string | undefined }

/** GETs `path` now and again whenever the change feed moves (or `path` changes); `null` reads nothing. */
export function useData<T> (path: string | null): Loaded<T> {
  const version = useContext(VersionContext)
  const [state, setState] = useState<Loaded<T>>({ data: undefined, error: undefined })
  useEffect(() => {
    if (path === null) { setState({ data: undefined, error: undefined }); return }
    const abort = new AbortController()
    get<T>(path, abort.signal).then(
      (data) => { setState({ data, error: undefined }) },
      (err: unknown) => { if (!abort.signal.aborted) setState((s) => ({ data: s.data, error: describeError(err) })) }
    )
    return () => { abort.abort() }
  }, [path, version])
  return state
}

/** A DID shortened for tables; the whole DID is its title (and `data-did`). */
export function Did ({ did, self }: { did: string | null | undefined, self?: boolean }): JSX.Element {
  const selfDid = useContext(SelfContext)
  if (did === null || did === undefined) return <span class='muted'>—</span>
  const short = did.length > 26 ? `${did.slice(0, 16)}…${did.slice(-6)}` : did
  const mine = self ?? did === selfDid
  return <span class={mine ? 'did self' : 'did'} title={did} data-did={did}>{short}{mine ? ' (this node)' : ''}</span>
}

export function Hash ({ value }: { value: string | null | undefined }): JSX.Element {
  if (value === null || value === undefined) return <span class='muted'>—</span>
  return <code class='hash' title={value}>{value.length > 20 ? `${value.slice(0, 12)}…${value.slice(-6)}` : value}</code>
}

export function Time ({ ms }: { ms: number | null | undefined }): JSX.Element {
  if (ms === null || ms === undefined) return <span class='muted'>—</span>
  return <time dateTime={new Date(ms).toISOString()}>{new Date(ms).toISOString().replace('T', ' ').slice(0, 19)}</time>
}

/** A card; `wide` spans the whole grid row. */
export function Section ({ title, children, testid, wide }: { title: string, children: ComponentChildren, testid?: string, wide?: boolean }): JSX.Element {
  return <section class={wide === true ? 'card wide' : 'card'} data-testid={testid}><h2>{title}</h2>{children}</section>
}

export function LoadError ({ error }: { error: string | undefined }): JSX.Element | null {
  return error === undefined ? null : <p class='error' role='alert'>{error}</p>
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
