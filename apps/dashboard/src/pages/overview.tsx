import type { JSX } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { BarChart, LineChart, SERIES_COLOURS, StandingBar, grouped } from '../charts.js'
import { Did, Empty, GenericValue, LoadError, Section, Time, useData, useMembers } from '../components.js'

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
  governance: { domain: string, members: number, proposals: number, deadlinesHeld: boolean }
  snapshots: Record<string, unknown>
  uptimeMs: number
  sync?: unknown
  /** How members reach this node (public addresses a peer confirmed, relay reservations, relaying). */
  reachability?: { verified: string[], relayed: string[], relay: boolean, peersDirect: number, peersRelayed: number }
}

/** `via`: over a direct connection, or through a member's circuit relay (a site behind NAT). */
interface Peer { did: string, peerId: string, remoteAddr: string, via?: 'direct' | 'relayed' }

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

interface Account { account: string, currency: string, balance: string, creditLimit: string }
interface BalanceHistory { account: string, days: string[], balances: Record<string, string[]> }
interface PaymentsPerDay { days: Array<{ day: string, payments: number }> }
interface SyncRow { peer: string, state: string, behind: number, entriesPerSecond: number, sessions: number, finishedAt?: number, lastError?: string }
interface SnapshotRow { snapshotId: string, completedAt: number }

/** One peer's sync health in words and a colour: not connected, catching up, behind, ended early, or up to date. */
function health (connected: boolean, sync: SyncRow | undefined): { level: 'good' | 'warn' | 'bad', words: string } {
  if (!connected) return { level: 'bad', words: 'not connected' }
  if (sync === undefined) return { level: 'warn', words: 'connected, no sync yet' }
  if (sync.state === 'syncing') return { level: 'warn', words: `catching up: ${sync.behind} behind, ${sync.entriesPerSecond.toFixed(1)} entries/s` }
  if (sync.lastError !== undefined) return { level: 'warn', words: `last sync ended early: ${sync.lastError}` }
  if (sync.behind > 0) return { level: 'warn', words: `${sync.behind} behind` }
  return { level: 'good', words: 'up to date' }
}

function SyncHealth ({ status }: { status: NodeStatus }): JSX.Element {
  const { data: members } = useMembers()
  const rows = (status.sync as { peers?: SyncRow[] } | undefined)?.peers ?? []
  const peers = (members?.members ?? []).filter((m) => !m.self)
  if (peers.length === 0) return <Empty>No other member.</Empty>
  return (
    <div data-testid='sync-health'>
      {peers.map((m) => {
        const sync = rows.find((r) => r.peer === m.did)
        const h = health(m.connected, sync)
        return (
          <div key={m.did} class='health' data-testid='health-row' data-did={m.did} data-level={h.level}>
            <span class={`dot ${h.level}`} aria-hidden='true' />
            <Did did={m.did} />
            <span data-testid='health-words'>{h.words}</span>
            {sync === undefined ? null : <span class='muted'>{sync.sessions} sync sessions{sync.finishedAt === undefined ? '' : `, last finished ${new Date(sync.finishedAt).toISOString().slice(11, 19)}`}</span>}
          </div>
        )
      })}
    </div>
  )
}

function Standing ({ accounts }: { accounts: Account[] }): JSX.Element {
  if (accounts.length === 0) return <Empty>No balances yet.</Empty>
  const scale = Math.max(1, ...accounts.map((a) => Number(a.balance)))
  return (
    <div class='standing' data-testid='standing'>
      {accounts.map((a) => (
        <div key={`${a.account} ${a.currency}`} style={{ display: 'contents' }} data-testid='standing-row' data-account={a.account} data-currency={a.currency}>
          <Did did={a.account} />
          <StandingBar balance={a.balance} limit={a.creditLimit} positiveScale={scale} />
          <span class='num' data-testid='standing-words'>{grouped(a.balance)} {a.currency} · limit {grouped(a.creditLimit)}</span>
        </div>
      ))}
    </div>
  )
}

function BalancePicture ({ history }: { history: BalanceHistory }): JSX.Element {
  const currencies = Object.keys(history.balances)
  if (currencies.length === 0) return <Empty>No balance yet.</Empty>
  const series = currencies.map((c) => ({ name: c, values: history.balances[c]! }))
  const words = series.map((s) => `${s.name} from ${grouped(s.values[0]!)} to ${grouped(s.values[s.values.length - 1]!)}`).join('; ')
  return (
    <>
      <LineChart days={history.days} series={series} label={`This node's balance at the end of each of the last ${history.days.length} days: ${words}`} testid='balance-chart' />
      <p class='legend'>{series.map((s, i) => <span key={s.name}><i style={{ background: SERIES_COLOURS[i % SERIES_COLOURS.length] }} />{s.name}: {grouped(s.values[s.values.length - 1]!)} now</span>)}</p>
    </>
  )
}

function PaymentsPicture ({ perDay }: { perDay: PaymentsPerDay }): JSX.Element {
  const counts = perDay.days.map((d) => d.payments)
  const total = counts.reduce((a, b) => a + b, 0)
  return (
    <>
      <BarChart days={perDay.days.map((d) => d.day)} counts={counts} label={`Payments per day across the network over the last ${counts.length} days: ${total} in all, ${counts[counts.length - 1] ?? 0} today`} testid='payments-chart' />
      <p class='muted' data-testid='payments-words'>{total} payments in {counts.length} days, {counts[counts.length - 1] ?? 0} today.</p>
    </>
  )
}

/** How often, at most, the 30-day pictures are read again while the change feed moves. */
const PICTURE_INTERVAL_MS = 10_000

export function OverviewPage (): JSX.Element {
  const status = useData<NodeStatus>('/status')
  const peers = useData<Peer[]>('/peers')
  const accounts = useData<Account[]>('/ledger/accounts')
  // The pictures walk 30 days of entries: on a busy node they are read again at most every 10 s.
  const balance = useData<BalanceHistory>('/ledger/balance-history?days=30', { minIntervalMs: PICTURE_INTERVAL_MS })
  const payments = useData<PaymentsPerDay>('/ledger/payments-per-day?days=30', { minIntervalMs: PICTURE_INTERVAL_MS })
  const snapshots = useData<SnapshotRow[]>('/snapshots')
  const s = status.data
  const ownName = useMembers().data?.members.find((m) => m.self)?.name ?? undefined
  const lastSnapshot = snapshots.data?.reduce<SnapshotRow | undefined>((last, row) => last === undefined || row.completedAt > last.completedAt ? row : last, undefined)
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
                <tr><th>Uptime</th><td><Uptime key={s.version} uptimeMs={s.uptimeMs} /></td></tr>
                <tr><th>Cooperative</th><td><code>{s.governance.domain}</code> · {s.governance.members} members · {s.governance.proposals} proposals</td></tr>
                <tr><th>Ledger</th><td data-testid='ledger-entries-words'>{s.ledger.entries} entries{s.ledger.pending === 0 ? '' : `, ${s.ledger.pending} pending`}{s.ledger.quarantined === 0 ? '' : `, ${s.ledger.quarantined} quarantined`}</td></tr>
                <tr><th>Snapshots</th><td data-testid='snapshots-stored'>{snapshots.data === undefined ? '…' : `${snapshots.data.length} stored`}{lastSnapshot === undefined ? '' : <>, last <Time ms={lastSnapshot.completedAt} /></>}</td></tr>
              </tbody>
            </table>
          </Section>
          <Section title='Sync health' testid='sync-card'>
            <SyncHealth status={s} />
          </Section>
          <Section title="This node's balance, last 30 days" testid='balance-card'>
            <LoadError error={balance.error} />
            {balance.data === undefined ? null : <BalancePicture history={balance.data} />}
          </Section>
          <Section title='Payments per day, network' testid='payments-card'>
            <LoadError error={payments.error} />
            {payments.data === undefined ? null : <PaymentsPicture perDay={payments.data} />}
          </Section>
          <Section title="Members' standing (balance against credit limit)" testid='standing-card' wide>
            <LoadError error={accounts.error} />
            {accounts.data === undefined ? null : <Standing accounts={accounts.data} />}
          </Section>
          <details class='card wide diagnostics' data-testid='diagnostics'>
            <summary>Diagnostics (raw counters)</summary>
            <div class='grid'>
              <Section title='Addresses' testid='addresses'>
                <table class='kv'>
                  <tbody>
                    <tr><th>Peer id</th><td><code>{s.peerId}</code></td></tr>
                    <tr><th>Listening</th><td>{s.multiaddrs.map((a) => <div key={a}><code>{a}</code></div>)}</td></tr>
                    {s.reachability === undefined
                      ? null
                      : (
                        <tr>
                          <th>Reachable</th>
                          <td data-testid='reachability'>
                            {s.reachability.verified.length > 0 ? <div>directly at {s.reachability.verified.map((a) => <code key={a}>{a} </code>)} (confirmed by a peer)</div> : <div>no public address confirmed by a peer</div>}
                            {s.reachability.relayed.length > 0 ? <div>through a relay: {s.reachability.relayed.map((a) => <code key={a}>{a} </code>)}</div> : <div>no relay reservation</div>}
                            {s.reachability.relay ? <div>relaying for members</div> : null}
                          </td>
                        </tr>
                        )}
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
                      <thead><tr><th>Peer</th><th>State</th><th>Via</th><th>Address</th><th>Sync</th></tr></thead>
                      <tbody>
                        {peers.data.map((p) => {
                          const sync = syncOf(s.sync, p.did)
                          return (
                            <tr key={p.did} data-testid='peer-row'>
                              <td><Did did={p.did} /></td>
                              <td><span class='badge ok'>connected</span></td>
                              <td data-testid='peer-via'>{p.via ?? '—'}</td>
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
              <Section title='Snapshots (since this node started)' testid='snapshot-counters'><GenericValue value={s.snapshots} /></Section>
            </div>
          </details>
        </>
      )}
    </div>
  )
}
