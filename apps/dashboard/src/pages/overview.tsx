import type { JSX } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { Did, Empty, GenericValue, LoadError, Section, useData, useMembers } from '../components.js'

/** The fields of `GET /status` this page reads; `sync` is rendered generically when the node reports it. */
export interface NodeStatus {
  version: number
  did: string
  peerId: string
  multiaddrs: string[]
  peers: number
  services: string[]
  transport: Record<string, unknown>
  gossip: Record<string, unknown>
  ledger: { entries: number, stateRoot: string, pending: number, quarantined: number }
  trust: { attestations: number }
  governance: { domain: string, members: number, proposals: number }
  snapshots: Record<string, unknown>
  uptimeMs: number
  sync?: unknown
}

interface Peer { did: string, peerId: string, remoteAddr: string }

export function formatDuration (ms: number): string {
  const s = Math.floor(ms / 1000)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  return [d > 0 ? `${d}d` : '', d > 0 || h > 0 ? `${h}h` : '', `${m}m`, `${s % 60}s`].filter((p) => p !== '').join(' ')
}

/** Uptime ticking between status reads: the node's figure plus the time since it was read. */
function Uptime ({ uptimeMs }: { uptimeMs: number }): JSX.Element {
  const [readAt] = useState(() => Date.now())
  const [, tick] = useState(0)
  useEffect(() => {
    const timer = setInterval(() => { tick((n) => n + 1) }, 1000)
    return () => { clearInterval(timer) }
  }, [])
  return <span data-testid='uptime'>{formatDuration(uptimeMs + Date.now() - readAt)}</span>
}

/** Per-peer sync facts, when `status.sync` is keyed by peer DID or lists rows with a `did`/`peer` field. */
function syncOf (sync: unknown, did: string): unknown {
  if (typeof sync !== 'object' || sync === null) return undefined
  if (Array.isArray(sync)) return sync.find((row) => typeof row === 'object' && row !== null && ((row as Record<string, unknown>).did === did || (row as Record<string, unknown>).peer === did))
  const record = sync as Record<string, unknown>
  const peers = typeof record.peers === 'object' && record.peers !== null ? record.peers as Record<string, unknown> : record
  return Array.isArray(peers) ? syncOf(peers, did) : peers[did]
}

/** One peer's sync facts on one line: its scalar fields but the peer's own id (`behind 0 · entriesPerSecond 12.5 · …`). */
function SyncCell ({ sync }: { sync: unknown }): JSX.Element {
  if (typeof sync !== 'object' || sync === null || Array.isArray(sync)) return <GenericValue value={sync} />
  const fields = Object.entries(sync as Record<string, unknown>).filter(([k, v]) => k !== 'peer' && k !== 'did' && (typeof v !== 'object' || v === null))
  return (
    <span class='sync'>
      {fields.map(([k, v], i) => (
        <span key={k}>{i === 0 ? '' : ' · '}<span class='muted'>{k}</span> {typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : k.endsWith('At') && typeof v === 'number' ? new Date(v).toISOString().slice(11, 19) : String(v)}</span>
      ))}
    </span>
  )
}

export function OverviewPage (): JSX.Element {
  const status = useData<NodeStatus>('/status')
  const peers = useData<Peer[]>('/peers')
  const s = status.data
  const ownName = useMembers().data?.members.find((m) => m.self)?.name ?? undefined
  return (
    <div class='grid'>
      <LoadError error={status.error} />
      {s === undefined ? null : (
        <>
          <Section title='This node' testid='node-card'>
            <table class='kv'>
              <tbody>
                <tr><th>Name</th><td data-testid='node-name'>{ownName ?? <span class='muted'>none set (Members page)</span>}</td></tr>
                <tr><th>DID</th><td><code data-testid='node-did'>{s.did}</code></td></tr>
                <tr><th>Peer id</th><td><code>{s.peerId}</code></td></tr>
                <tr><th>Listening</th><td>{s.multiaddrs.map((a) => <div key={a}><code>{a}</code></div>)}</td></tr>
                <tr><th>Uptime</th><td><Uptime key={s.version} uptimeMs={s.uptimeMs} /></td></tr>
                <tr><th>Cooperative</th><td><code>{s.governance.domain}</code> · {s.governance.members} members · {s.governance.proposals} proposals</td></tr>
                <tr><th>Services</th><td>{s.services.join(' → ')}</td></tr>
              </tbody>
            </table>
          </Section>
          <Section title={`Peers (${s.peers})`} testid='peers'>
            <LoadError error={peers.error} />
            {peers.data === undefined || peers.data.length === 0
              ? <Empty>No peer connected.</Empty>
              : (
                <table>
                  <thead><tr><th>Peer</th><th>State</th><th>Address</th><th>Sync</th></tr></thead>
                  <tbody>
                    {peers.data.map((p) => {
                      const sync = syncOf(s.sync, p.did)
                      return (
                        <tr key={p.did} data-testid='peer-row'>
                          <td><Did did={p.did} /></td>
                          <td><span class='badge ok'>connected</span></td>
                          <td><code>{p.remoteAddr}</code></td>
                          <td data-testid='peer-sync'>{sync === undefined ? <span class='muted'>—</span> : <SyncCell sync={sync} />}</td>
                        </tr>
                      )
                    })}
                  </tbody>
                </table>
                )}
          </Section>
          <Section title='Sync progress' testid='sync' wide>
            {s.sync === undefined ? <Empty>This node does not report sync progress (no <code>sync</code> in its status).</Empty> : <GenericValue value={s.sync} />}
          </Section>
          <Section title='Ledger' testid='ledger-summary'>
            <table class='kv'>
              <tbody>
                <tr><th>Entries</th><td data-testid='ledger-entries'>{s.ledger.entries}</td></tr>
                <tr><th>Pending</th><td>{s.ledger.pending}</td></tr>
                <tr><th>Quarantined</th><td>{s.ledger.quarantined}</td></tr>
                <tr><th>State root</th><td><code class='hash'>{s.ledger.stateRoot}</code></td></tr>
                <tr><th>Trust attestations</th><td>{s.trust.attestations}</td></tr>
              </tbody>
            </table>
          </Section>
          <Section title='Gossip'><GenericValue value={s.gossip} /></Section>
          <Section title='Transport'><GenericValue value={s.transport} /></Section>
          <Section title='Snapshots'><GenericValue value={s.snapshots} /></Section>
        </>
      )}
    </div>
  )
}
