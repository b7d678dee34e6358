// `GET /metrics`: the node's status in the Prometheus text format, through prom-client.
import { Counter, Gauge, Registry } from 'prom-client'
import type { NodeStatus } from './node.js'

/** The node's metrics: a registry of its own (not prom-client's global one), read from `status()` at each scrape. */
export interface NodeMetrics {
  /** The Prometheus text exposition of every metric, as of now. */
  text(): Promise<string>
  /** The content type of `text()` (`text/plain; version=0.0.4; charset=utf-8`). */
  readonly contentType: string
}

type Labels = Record<string, string>

/**
 * Builds the registry. Every metric is computed from one `status()` call per scrape (taken by the first
 * collector and shared by the rest of that scrape), so a scrape costs what `GET /status` costs and no
 * timer runs between scrapes. Monotonic figures are counters (`_total`), levels are gauges.
 */
export function createNodeMetrics (status: () => NodeStatus, info: { version: string }): NodeMetrics {
  const registry = new Registry()
  let current: NodeStatus | undefined
  const read = (): NodeStatus => (current ??= status())

  const gauge = (name: string, help: string, value: (s: NodeStatus) => number): void => {
    registry.registerMetric(new Gauge({ name, help, registers: [], collect () { this.set(value(read())) } }))
  }
  /** A metric family with labels, set from this scrape's status (a counter is reset and increased to its total). */
  const family = (Metric: typeof Gauge | typeof Counter, name: string, help: string, labelNames: string[], values: (s: NodeStatus) => Array<[Labels, number]>): void => {
    registry.registerMetric(new Metric({
      name,
      help,
      labelNames,
      registers: [],
      collect (this: Gauge | Counter) {
        this.reset()
        for (const [labels, value] of values(read())) {
          if (this instanceof Gauge) this.set(labels, value)
          else this.inc(labels, value)
        }
      }
    }))
  }
  const labelledGauge = (name: string, help: string, labelNames: string[], values: (s: NodeStatus) => Array<[Labels, number]>): void => { family(Gauge, name, help, labelNames, values) }
  const counter = (name: string, help: string, labelNames: string[], values: (s: NodeStatus) => Array<[Labels, number]>): void => { family(Counter, name, help, labelNames, values) }
  const total = (value: (s: NodeStatus) => number) => (s: NodeStatus): Array<[Labels, number]> => [[{}, value(s)]]

  labelledGauge('icn_node_info', 'This node: its DID, network and icn-node version (always 1).', ['did', 'network', 'version'], (s) => [[{ did: s.did, network: s.membership.networkId, version: info.version }, 1]])
  gauge('icn_uptime_seconds', 'Seconds since the node started.', (s) => s.uptimeMs / 1000)
  gauge('icn_peers_connected', 'Members connected now.', (s) => s.peers)
  gauge('icn_members', 'Members of the cooperative by this node\'s governance.', (s) => s.membership.members)
  gauge('icn_ledger_entries', 'Ledger entries applied.', (s) => s.ledger.entries)
  gauge('icn_ledger_pending_entries', 'Ledger entries waiting for an earlier entry of their chain or a verdict.', (s) => s.ledger.pending)
  gauge('icn_ledger_quarantined_entries', 'Ledger entries quarantined (invalid, forks).', (s) => s.ledger.quarantined)
  gauge('icn_trust_attestations', 'Trust attestations held.', (s) => s.trust.attestations)
  gauge('icn_governance_proposals', 'Governance proposals held.', (s) => s.governance.proposals)
  counter('icn_gossip_published_total', 'Gossip entries this node published.', [], total((s) => s.gossip.published))
  counter('icn_gossip_accepted_total', 'Gossip entries accepted from peers.', [], total((s) => s.gossip.accepted))
  counter('icn_gossip_duplicates_total', 'Gossip entries received again (already held).', [], total((s) => s.gossip.duplicates))
  counter('icn_gossip_rejected_total', 'Gossip entries refused, by reason.', ['reason'], (s) => Object.entries(s.gossip.rejected).map(([reason, n]) => [{ reason }, n]))
  counter('icn_transport_frames_total', 'Frames on the ICN protocol, by direction (dropped: not sent).', ['direction'], (s) => [[{ direction: 'sent' }, s.transport.framesSent], [{ direction: 'received' }, s.transport.framesReceived], [{ direction: 'dropped' }, s.transport.framesDropped]])
  counter('icn_transport_dial_failures_total', 'Dials that failed.', [], total((s) => s.transport.dialFailures))
  counter('icn_transport_peer_changes_total', 'Members that joined or left the connected peers (link churn).', [], total((s) => s.transport.peerChanges))
  counter('icn_discovery_full_total', 'Peer exchange: members told this node was full, full members left for others, and full relays stayed on.', ['event'], (s) => [[{ event: 'turned_away' }, s.discovery.turnedAway], [{ event: 'left' }, s.discovery.leftFull], [{ event: 'stayed_for_relay' }, s.discovery.stayedForRelay]])
  counter('icn_transport_silent_hang_ups_total', 'Peers hung up because nothing, not even a heartbeat, came from them for the silence timeout.', [], total((s) => s.transport.silentHangUps))
  counter('icn_refused_total', 'What this node refused to non-members and peers in cool-down, by kind.', ['kind'], (s) => [
    [{ kind: 'connection_not_a_member' }, s.membership.refused.notAMember],
    [{ kind: 'connection_cool_down' }, s.membership.refused.coolDown],
    [{ kind: 'stream' }, s.membership.refused.streams],
    [{ kind: 'frame_from_non_member' }, s.membership.refused.framesFromNonMembers],
    [{ kind: 'entry_by_non_member' }, s.membership.refused.entriesByNonMembers]
  ])
  labelledGauge('icn_sync_behind_entries', 'History sync: entries this node lacks by the peer\'s digests.', ['peer'], (s) => s.sync.peers.map((p) => [{ peer: p.peer }, p.behind]))
  labelledGauge('icn_sync_syncing', 'History sync: 1 while a session with the peer runs.', ['peer'], (s) => s.sync.peers.map((p) => [{ peer: p.peer }, p.state === 'syncing' ? 1 : 0]))
  counter('icn_sync_sessions_total', 'History sync sessions run with the peer.', ['peer'], (s) => s.sync.peers.map((p) => [{ peer: p.peer }, p.sessions]))
  counter('icn_sync_served_items_total', 'History sync items served to peers.', [], total((s) => s.sync.served.itemsServed))
  counter('icn_sync_served_requests_total', 'History sync requests from peers, by outcome.', ['outcome'], (s) => [[{ outcome: 'served' }, s.sync.served.served], [{ outcome: 'rate_limited' }, s.sync.served.rateLimited], [{ outcome: 'malformed' }, s.sync.served.malformed], [{ outcome: 'non_member' }, s.sync.served.refusedNonMembers]])
  counter('icn_snapshots_total', 'Distributed snapshots by outcome (rejected: snapshot messages refused).', ['outcome'], (s) => [[{ outcome: 'completed' }, s.snapshots.completed], [{ outcome: 'failed' }, s.snapshots.failed], [{ outcome: 'rejected' }, s.snapshots.rejected]])
  gauge('icn_snapshots_active', 'Distributed snapshots in progress.', (s) => s.snapshots.active)
  gauge('icn_snapshots_damaged_files', 'Stored snapshot files moved aside as damaged.', (s) => s.snapshots.damaged)
  labelledGauge('icn_event_loop_stall_seconds', 'Event-loop stalls beyond the 10 ms sampling interval since start or POST /metrics/reset.', ['stat'], (s) => [[{ stat: 'p50' }, s.eventLoop.p50Ms / 1000], [{ stat: 'p99' }, s.eventLoop.p99Ms / 1000], [{ stat: 'max' }, s.eventLoop.maxMs / 1000]])
  gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => process.memoryUsage.rss())
  gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', () => process.memoryUsage().heapUsed)
  counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', [], () => {
    const cpu = process.cpuUsage()
    return [[{}, (cpu.user + cpu.system) / 1e6]]
  })

  return {
    contentType: registry.contentType,
    text: async () => {
      current = undefined
      try {
        return await registry.metrics()
      } finally {
        current = undefined
      }
    }
  }
}
