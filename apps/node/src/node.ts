import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DEFAULT_MISBEHAVIOUR_REASONS, type Gossip, type GossipStats, type HistoryPeerProgress, type HistoryServeStats, type HistorySync, createGossip, createHistorySync } from '@icn/gossip'
import { type Governance, openGovernance } from '@icn/governance'
import { type CancelTimer, type Clock, type Did, type KeyPair, type MembershipAt, systemClock } from '@icn/identity'
import { writeFileAtomic } from '@icn/identity/fs'
import { type Ledger, openLedger } from '@icn/ledger'
import { type SnapshotNode, type SnapshotStats, type SnapshotStore, type StateProvider, createSnapshotNode, openSnapshotStore } from '@icn/snapshot'
import { type TrustGraph, type TrustGraphName, openTrustGraph } from '@icn/trust'
import { type ApiRoute, type ApiServer, startApiServer } from './api.js'
import { type LedgerBridge, TOPICS, bridgeGovernance, bridgeGovernanceEffects, bridgeLedger, bridgeTrust, inTransitProvider, recordChannels, snapshotMessaging } from './bridges.js'
import { ChangeFeed } from './changes.js'
import { dashboardDir } from './dashboard.js'
import { HISTORY_TOPIC, governanceHistory, historyMessaging, isHistoryFrame, ledgerHistory, profileHistory, trustHistory } from './history.js'
import { loadCharterFile } from './charter.js'
import { InvitationStore } from './invitations.js'
import { type GossipRefusals, NodeMembership, type RefusalCounts } from './membership.js'
import type { RuntimeInfo } from './client.js'
import type { NodeConfig } from './config.js'
import { dataDirLayout, loadIdentity, writeApiToken } from './data-dir.js'
import type { Logger } from './logger.js'
import { nodeRoutes } from './routes.js'
import { startStorageMonitor } from './storage.js'
import { createSupervisor } from './supervisor.js'
import { acquireDataDirLock } from './lock.js'
import { type EventLoopStats, createLoopMonitor } from './loop-monitor.js'
import { type AddressBook, type ConnectedPeer, type Libp2pTransport, type PeerAdmission, type PeerExchange, type PeerExchangeStats, type Reachability, type TransportStats, createLibp2pTransport, networkPrefix, startPeerExchange } from '@icn/transport'
import { ADDRESS_TOPIC, addressBookPath, announcedAddresses, gossipAddressMessaging, openNodeAddressBook } from './discovery.js'

// The CLI's `run` loads this module lazily and needs the transport's one tolerated libp2p error.
export { isClosedStreamRace } from '@icn/transport'
export { isStorageFailure } from './storage.js'

/** Which trust graph each consumer reads (the node's own view: viewer = this node). */
export const TRUST_GRAPH_OF = {
  /** Credit limits. */
  ledger: 'economic',
  /** Who may propose a new member. */
  governance: 'social',
  /** Snapshot gating (invite / join) and gossip's min-trust topics. */
  snapshot: 'technical',
  gossip: 'technical'
} as const satisfies Record<string, TrustGraphName>

/** What `GET /status` answers. */
export interface NodeStatus {
  /** The change feed's version: increases on every ledger entry, attestation, governance envelope, local API write, peer change and snapshot start/outcome (`GET /wait?since=`). */
  version: number
  did: Did
  peerId: string
  multiaddrs: string[]
  peers: number
  /** How members reach this node: own public addresses a peer confirmed (AutoNAT), circuit addresses through members' relays, whether it serves as relay; and how many connected members are reached directly or through a relay. */
  reachability: Reachability & { peersDirect: number, peersRelayed: number }
  services: string[]
  transport: TransportStats
  /** Peer exchange: members' address records held, operator-added addresses, addresses being dialled, records kept and refused. */
  discovery: PeerExchangeStats & { records: number, manual: number, dialling: number }
  gossip: GossipStats
  ledger: { entries: number, stateRoot: string, pending: number, quarantined: number }
  trust: { attestations: number }
  /** `deadlinesHeld`: voting windows do not open or close by the clock until this node has caught up with a peer. */
  governance: { domain: string, members: number, proposals: number, deadlinesHeld: boolean }
  /** The network this node belongs to, and what it refused to non-members (connections, streams). */
  membership: { networkId: string, members: number, candidates: number, refused: RefusalCounts & GossipRefusals }
  /** `damaged`: files the snapshot store moved into `snapshots/damaged/` (`GET /snapshots/damaged`). */
  snapshots: SnapshotStats & { damaged: number }
  /** Event-loop stalls since start or the last `POST /metrics/reset`: ms the loop was late beyond its 10 ms sampling interval, and how much of that was its own work. */
  eventLoop: EventLoopStats
  /** History sync: per peer, how far behind this node is and how fast it catches up; what it served. */
  sync: { peers: HistoryPeerProgress[], served: HistoryServeStats }
  uptimeMs: number
}

/** The subsystems of a running node, as the API routes use them. */
export interface NodeServices {
  readonly keyPair: KeyPair
  readonly clock: Clock
  readonly logger: Logger
  readonly transport: Libp2pTransport
  readonly trust: TrustGraph
  readonly ledger: Ledger
  readonly governance: Governance
  readonly gossip: Gossip
  readonly snapshot: SnapshotNode
  readonly snapshotStore: SnapshotStore
  /** The node's data directory. */
  readonly dataDir: string
  readonly history: HistorySync
  /** What a distributed snapshot records of this node and `restore` replaces: trust, ledger, governance, gossip. */
  readonly stateProviders: readonly StateProvider[]
  /** The change feed behind `status.version` and `GET /wait`. */
  readonly changes: ChangeFeed
  /**
   * Commits a ledger entry of this node (`write`, e.g. `ledger.pay(...)`) and gossips it once committed (entries
   * committed in one turn share one gossip entry); a snapshot captured meanwhile records it as in transit.
   * A failed publish goes to `onPublishFailed` (history sync still delivers the committed entry).
   */
  readonly commitLedgerEntry: LedgerBridge['commitLocal']
  /** Who belongs: members, invitations, refusals. */
  readonly membership: NodeMembership
  /** Members' signed address records and `peers --add` addresses (`<data-dir>/address-book.json`). */
  readonly addressBook: AddressBook
  /** Finds every member from one address: swaps address records with each connected member. */
  readonly discovery: PeerExchange
}

/** A running node. */
export interface IcnNode extends NodeServices {
  readonly did: Did
  readonly apiPort: number
  status(): NodeStatus
  peers(): ConnectedPeer[]
  /** Stops every service in reverse start order; resolves when all background work has ended. Idempotent. */
  stop(): Promise<void>
}

export interface NodeComponents {
  logger: Logger
  /** @default systemClock */
  clock?: Clock
}

/** How far ahead of this node's clock an entry's membership is judged (governance's own clock skew). */
const MEMBERSHIP_HORIZON_MS = 60_000
/** Longest wait at start for a history sync with a peer before governance's deadlines run anyway. */
export const GOVERNANCE_CATCH_UP_MS = 30_000

/** First and longest cool-down of a peer cut off for misbehaviour (it doubles with each offence). */
const MIN_COOL_DOWN_MS = 5_000
const MAX_COOL_DOWN_MS = 3_600_000

/** Runs `task` in the background and remembers it so a service's stop can await it. */
/** Connected members by how they are reached. */
function linkCounts (peers: readonly ConnectedPeer[]): { peersDirect: number, peersRelayed: number } {
  const peersRelayed = peers.filter((p) => p.via === 'relayed').length
  return { peersDirect: peers.length - peersRelayed, peersRelayed }
}

function taskSet (): { track: (task: Promise<void>) => void, settle: () => Promise<void> } {
  const tasks = new Set<Promise<void>>()
  return {
    track: (task) => { tasks.add(task); void task.finally(() => tasks.delete(task)) },
    settle: async () => { while (tasks.size > 0) await Promise.allSettled([...tasks]) }
  }
}

/**
 * Starts a node from its data directory, in dependency order under the
 * supervisor: identity → trust → ledger → governance (+ its effects on the
 * ledger) → transport → gossip (+ topic bridges) → snapshot coordinator → local
 * API. `stop()` (SIGINT/SIGTERM in `icn-node run`) takes them down in reverse.
 */
export async function startNode (components: NodeComponents, config: NodeConfig): Promise<IcnNode> {
  const { logger } = components
  const clock = components.clock ?? systemClock
  const layout = dataDirLayout(config.dataDir)
  const supervisor = createSupervisor(logger)
  const startedAt = clock.now()
  const log = (service: string): Logger => logger.child({ service })
  const noop = async (): Promise<void> => {}
  // Bumped after each change is visible; released (pending waits answered) when the API stops.
  const changes = new ChangeFeed(clock)
  // How long the event loop was blocked: the figure behind "nothing on the hot paths stalls the loop".
  const loopMonitor = createLoopMonitor()
  // A change (an entry, an attestation, a vote, a peer, a snapshot, an API write) wakes the loop monitor and
  // brings history sync's rounds back to their base period (they back off while nothing changes).
  let nudgeHistory = (): void => {}
  const changed = (): void => { changes.bump(); loopMonitor.wake(); nudgeHistory() }

  // One process per data directory: a second start stops here, before it touches the token, node.json or a store.
  await supervisor.start('lock', async () => {
    const lock = await acquireDataDirLock(config.dataDir)
    return { value: lock, stop: async () => { await lock.release() } }
  })

  const storage = await supervisor.start('storage', async () => {
    const value = await startStorageMonitor(config.dataDir, { clock, logger: log('storage') })
    return { value, stop: async () => { value.stop() } }
  })
  const canWrite = (): boolean => storage.writable

  const keyPair = await supervisor.start('identity', async () => ({ value: await loadIdentity(config.dataDir), stop: noop }))
  const self = keyPair.did

  // Trust and governance need each other (membership; a candidate's trust): governance is read once open.
  let governanceOpen: Governance | undefined
  // Standing later than now + skew is not known yet (a removal may still execute before then): an entry or
  // attestation dated there is refused for now, nothing stored, and judged again when offered later.
  const membershipAt: MembershipAt = (did, at) => at > clock.now() + MEMBERSHIP_HORIZON_MS ? 'none' : governanceOpen?.membershipAt(did, at) ?? 'none'
  const isMember = (did: string): boolean => governanceOpen?.isMember(did as Did) ?? false
  const trust = await supervisor.start('trust', async () => {
    const value = await openTrustGraph({ clock, membership: membershipAt, isMember }, { path: layout.trust })
    return { value, stop: async () => { await value.close() } }
  })
  const trustOf = (graph: TrustGraphName) => (did: string): number => trust.trustOf(self, did, graph)

  // Read inside the service's start: a damaged charter.json then stops what already started (the storage timer).
  let charterFile: Awaited<ReturnType<typeof loadCharterFile>> | undefined
  const governanceLog = log('governance')
  const governance = await supervisor.start('governance', async () => {
    charterFile = await loadCharterFile(config.dataDir, self)
    const value = await openGovernance(
      { clock, trustOf: trustOf(TRUST_GRAPH_OF.governance), onError: (err) => { governanceLog.error({ err: (err as Error).message }, 'governance background error') } },
      // Held until this node has caught up with a peer (below): a vote that ended while it was down is
      // then tallied with the votes cast in time, as every other member tallied it.
      { path: layout.governance, charter: charterFile.charter, holdDeadlines: true }
    )
    governanceOpen = value
    // Trust cached "not a member" for everyone while governance was not open yet.
    trust.membershipChanged()
    return { value, stop: async () => { await value.close() } }
  })

  const ledger = await supervisor.start('ledger', async () => {
    const value = await openLedger({ path: layout.ledger, clock, trustOf: trustOf(TRUST_GRAPH_OF.ledger), membership: membershipAt })
    return { value, stop: async () => { await value.close() } }
  })

  const membership = await supervisor.start('membership', async () => {
    const invitations = await InvitationStore.open(layout.invitations)
    const value = new NodeMembership({ governance, invitations, keyPair, clock, logger: log('membership') }, { charterFile: charterFile!.file, ...(config.sponsor === undefined ? {} : { sponsor: config.sponsor as Did }) })
    return { value, stop: noop }
  })

  await supervisor.start('governance-effects', async () => {
    const tasks = taskSet()
    // An effect's change (a credit limit) is visible once its task has applied it.
    const off = bridgeGovernanceEffects(governance, ledger, log('governance-effects'), (task) => { tasks.track(task.finally(changed)) })
    // The scheduler's clock-driven moves (voting opens, closes, executed) are changes too.
    const offTransitions = governance.onTransition(changed)
    return { value: undefined, stop: async () => { off(); offTransitions(); await tasks.settle() } }
  })

  const transport = await supervisor.start('transport', async () => {
    // A refusal is a change too (status counters; a test or the dashboard waiting on the change feed).
    const admission: PeerAdmission = {
      connect: (did) => membership.connect(did),
      stream: (did) => membership.stream(did),
      refused: (did, what) => { membership.refused(did, what); changed() }
    }
    // WebRTC (a native module) is loaded only when STUN servers are configured for hole punching.
    const webRTC = config.stunServers.length === 0
      ? undefined
      : (await import('@libp2p/webrtc')).webRTC({ rtcConfiguration: { iceServers: config.stunServers.map((urls) => ({ urls })) } })
    const value = await createLibp2pTransport({ keyPair, logger: log('transport'), clock, admission, ...(webRTC === undefined ? {} : { webRTC }) }, {
      protocolPrefix: networkPrefix(governance.networkId),
      listen: config.listen,
      peers: config.peers,
      maxFrameBytes: config.maxFrameBytes,
      relay: config.relay ? {} : false,
      natTraversal: config.natTraversal,
      maxInboundPerHostPerSecond: config.maxInboundPerHostPerSecond
    })
    const offPeers = value.onPeerChange(changed)
    return { value, stop: async () => { await value.close(); offPeers() } }
  })

  const misbehaviourSeen = new Map<string, number>()
  const coolDowns = new Map<string, number>()
  let ledgerBridge: LedgerBridge | undefined
  const runningLedgerBridge = (): LedgerBridge => { if (ledgerBridge === undefined) throw new Error('gossip is not running'); return ledgerBridge }
  // Without gossip the write still commits (and is answered): only its publish fails, like any failed publish.
  const commitLedgerEntry: LedgerBridge['commitLocal'] = async (write, onPublishFailed) => {
    if (ledgerBridge !== undefined) return await ledgerBridge.commitLocal(write, onPublishFailed)
    const record = await write
    onPublishFailed(new Error('gossip is not running'), record)
    return record
  }
  const gossip = await supervisor.start('gossip', async () => {
    const value = await createGossip(
      { transport, clock, keyPair, trustOf: trustOf(TRUST_GRAPH_OF.gossip), isMember: (did) => membership.stream(did) },
      {
        path: join(layout.gossip, 'state.json'),
        // The subsystems' stores hold every entry and serve history sync: the file keeps clock, topics, peers.
        persistEntries: false,
        maxEntriesPerTopic: config.gossipMaxEntriesPerTopic,
        maxFrameBytes: config.maxFrameBytes,
        // libp2p streams never duplicate a frame, so a repeated digest nonce is a replay.
        misbehaviourReasons: [...DEFAULT_MISBEHAVIOUR_REASONS, 'replayed-nonce']
      }
    )
    for (const topic of [...Object.values(TOPICS), HISTORY_TOPIC, ADDRESS_TOPIC]) value.createTopic(topic, { kind: 'public' })
    // Members removed while this node was down: their peer records and clock components go now.
    value.forgetNonMembers()
    const gossipLog = log('gossip')
    // A batch leaves room in a frame for its envelope and for the other entries of a push.
    const bridge = bridgeLedger(value, ledger, gossipLog, changed, Math.floor(config.maxFrameBytes / 4), canWrite)
    ledgerBridge = bridge
    const offs = [
      bridgeTrust(value, trust, gossipLog, canWrite),
      // The ledger bridge reports each entry once it is committed (its applies do not hold up the next frame).
      bridge.stop,
      bridgeGovernance(value, governance, gossipLog, changed, canWrite),
      // Subscribed after the bridges, so it runs once an entry has been applied (handlers run in order, awaited).
      ...[TOPICS.trust, TOPICS.proposal, TOPICS.vote].map((topic) => value.subscribe(topic, changed)),
      // A peer whose frames gossip refuses (malformed, forged, invalid) is cut off; the others keep being served.
      transport.onMessage((from) => {
        const count = value.misbehaviour(from)
        if (count > (misbehaviourSeen.get(from) ?? 0)) {
          misbehaviourSeen.set(from, count)
          // A cool-down, doubling with each offence: cut off and redialling at once made a loop.
          const coolDownMs = Math.min(MAX_COOL_DOWN_MS, MIN_COOL_DOWN_MS * 2 ** Math.min(16, (coolDowns.get(from) ?? 0)))
          coolDowns.set(from, (coolDowns.get(from) ?? 0) + 1)
          void transport.block(from, coolDownMs).catch(() => undefined)
          gossipLog.warn({ peer: from, refused: count, coolDownMs }, 'peer cut off for misbehaviour')
        }
      })
    ]
    return { value, stop: async () => { await Promise.all(offs.map(async (off) => { await off() })); await value.close() } }
  })

  const releaseDeadlines = (reason: string): void => {
    if (!governance.deadlinesHeld) return
    governance.releaseDeadlines()
    governanceLog.info({ reason }, 'governance deadlines run: voting windows open and close by the clock')
    changed()
  }

  const history = await supervisor.start('history', async () => {
    const historyLog = log('history')
    const applied = (): void => { changed() }
    const value = createHistorySync({
      messaging: historyMessaging(gossip, transport),
      clock,
      isMember: (did) => membership.stream(did),
      // Governance first (who is a member, and since when, decides what the others accept), then trust
      // (the ledger's credit limits read it).
      // While the disk is nearly full nothing is applied: the peer stays ahead and is asked again once there is room.
      sources: [governanceHistory(governance, applied), profileHistory(governance, applied), trustHistory(trust, applied), ledgerHistory(ledger, applied)]
        .map((source) => ({ ...source, apply: async (items: Uint8Array[], peer: string) => (canWrite() ? await source.apply(items, peer) : { applied: 0, refused: 0 }) })),
      peers: () => transport.peers(),
      onMisbehaviour: (peer, reason) => { historyLog.warn({ peer, reason }, 'history sync: peer served bad history') },
      onProgress: (p) => {
        if (p.state === 'idle' && p.lastError === undefined) releaseDeadlines('caught up with a peer')
        if (p.state === 'syncing') historyLog.info({ peer: p.peer, behind: p.behind, applied: p.applied, entriesPerSecond: p.entriesPerSecond }, 'catching up')
        else if (p.applied > 0 || p.lastError !== undefined) historyLog.info({ peer: p.peer, applied: p.applied, refused: p.refused, entriesPerSecond: p.entriesPerSecond, ms: (p.finishedAt ?? 0) - (p.startedAt ?? 0), ...(p.lastError === undefined ? {} : { lastError: p.lastError }) }, 'history sync finished')
      }
    }, { intervalMs: config.historySyncIntervalMs })
    nudgeHistory = () => { value.nudge() }
    // Every (re)connection starts a session both ways: a peer that was down, or a node that restarted, gets
    // what it lacks — among it this node's own entries that no peer had when it went down.
    const offPeers = transport.onPeerChange((peer, change) => {
      if (change === 'connected') void value.syncWith(peer).catch(() => undefined)
    })
    // Space came back: what peers delivered meanwhile was left unapplied, so ask them for it now.
    const offStorage = storage.onChange((writable) => {
      if (writable) for (const peer of transport.peers()) void value.syncWith(peer).catch(() => undefined)
    })
    return { value, stop: async () => { offPeers(); offStorage(); await value.close() } }
  })

  const addressBook = await supervisor.start('address-book', async () => {
    const value = await openNodeAddressBook(addressBookPath(config.dataDir), log('discovery'))
    return { value, stop: async () => { await value.close() } }
  })
  const discovery = await supervisor.start('discovery', async () => {
    const value = await startPeerExchange(
      { transport, book: addressBook, messaging: gossipAddressMessaging(gossip), keyPair, clock, isMember: (did) => membership.stream(did), logger: log('discovery') },
      {
        degree: config.degree,
        ...(config.maxPeers === undefined ? {} : { maxPeers: config.maxPeers }),
        ...(config.announce === undefined ? {} : { announce: announcedAddresses(config.announce, keyPair.did) })
      }
    )
    return { value, stop: async () => { await value.close() } }
  })

  await supervisor.start('governance-catch-up', async () => {
    // Already caught up (a history sync ended while the services before this one started): nothing to wait for.
    if (!governance.deadlinesHeld) return { value: undefined, stop: noop }
    const others = config.peers.length > 0 || addressBook.manual().length > 0 || addressBook.records().some((r) => r.did !== self)
    if (!others) {
      releaseDeadlines('no other member known to catch up with')
      return { value: undefined, stop: noop }
    }
    const cancel = clock.setTimeout(() => { releaseDeadlines(`no history sync with a peer finished within ${GOVERNANCE_CATCH_UP_MS} ms`) }, GOVERNANCE_CATCH_UP_MS)
    return { value: undefined, stop: async () => { cancel() } }
  })

  await supervisor.start('membership-effects', async () => {
    const tasks = taskSet()
    const membershipLog = log('membership')
    membership.attach({ keyPair, clock, trust, governance, gossip }, () => transport.multiaddrs(), () => transport.peers(), () => {
      const stats = gossip.stats()
      return { framesFromNonMembers: stats.refusedFromNonMembers, entriesByNonMembers: stats.rejected['non-member-author'] ?? 0 }
    })
    await transport.serveAdmission(async (did, request) => await membership.answerJoin(did, request))
    // A membership change reaches every layer: who may connect, whose attestations count, whose gossip state
    // is kept, and a new round of history sync (entries refused while a member was unknown are offered again).
    const off = governance.onMembershipChange(({ did, status }) => {
      membershipLog.info({ did, status }, 'membership changed')
      trust.membershipChanged()
      if (status !== 'member') { gossip.forgetPeer(did); history.forgetPeer(did); tasks.track(discovery.forgetNonMembers()) }
      changed()
      tasks.track((async () => {
        await transport.refreshAdmission()
        await Promise.all(transport.peers().map(async (peer) => { await history.syncWith(peer).catch(() => undefined) }))
      })().catch((err: unknown) => { membershipLog.warn({ err: (err as Error).message }, 'applying a membership change failed') }))
    })
    const offTransitions = governance.onTransition(() => {
      tasks.track(membership.voteOnOpenedInvitations().catch((err: unknown) => { membershipLog.warn({ err: (err as Error).message }, 'voting on an invitation failed') }))
    })
    return { value: undefined, stop: async () => { off(); offTransitions(); await tasks.settle() } }
  })

  const snapshotStore = await supervisor.start('snapshot-store', async () => {
    const storeLog = log('snapshot-store')
    const value = await openSnapshotStore({
      path: layout.snapshots,
      keepNewest: 50,
      clock,
      onDamaged: (d) => { storeLog.warn({ file: d.file, snapshotId: d.snapshotId, kind: d.kind, reason: d.reason, movedTo: d.movedTo }, 'damaged stored snapshot file moved aside') }
    })
    return { value, stop: async () => { await value.close() } }
  })

  const stateProviders: StateProvider[] = [
    { name: 'trust', exportState: async () => await trust.exportState(), restoreState: async (s) => { await trust.restoreState(s) } },
    { name: 'ledger', exportState: async () => await ledger.exportState(), restoreState: async (s) => { await ledger.restoreState(s) }, checkState: async (s) => { await ledger.checkCut(s) } },
    { name: 'governance', exportState: async () => await governance.exportState(), restoreState: async (s) => { await governance.restoreState(s) } },
    { name: 'gossip', exportState: async () => await gossip.exportState(), restoreState: async (s) => { await gossip.restoreState(s) } },
    // After the ledger: a restore applies the entries that were in transit on top of the restored ledger.
    inTransitProvider(runningLedgerBridge, ledger)
  ]
  const snapshot = await supervisor.start('snapshot', async () => {
    const value = createSnapshotNode({
      keyPair,
      transport: snapshotMessaging(gossip, transport),
      trustOf: trustOf(TRUST_GRAPH_OF.snapshot),
      clock,
      providers: stateProviders,
      store: snapshotStore
    }, { snapshotTimeout: config.snapshotTimeoutMs, minParticipants: config.snapshotMinParticipants })
    // Chandy–Lamport channel recording: every frame from a peer, before gossip processes it.
    const offIngress = recordChannels(gossip, value, isHistoryFrame)
    const snapshotLog = log('snapshot')
    const offEvents = value.onEvent((event) => {
      if (event.type === 'completed' || event.type === 'failed') changed()
      if (event.type === 'completed') snapshotLog.info({ snapshotId: event.snapshot.snapshotId, root: Buffer.from(event.snapshot.root).toString('hex') }, 'snapshot completed')
      else if (event.type === 'failed') snapshotLog.warn({ snapshotId: event.snapshotId, reason: event.reason }, 'snapshot failed')
      else if (event.type === 'rejected') snapshotLog.warn({ from: event.from, err: event.error.message }, 'snapshot message rejected')
      else snapshotLog.error({ event: event.type, err: String(event.error) }, 'snapshot background failure')
    })
    return { value, stop: async () => { offIngress(); offEvents(); await value.close() } }
  })

  if (config.snapshotEveryMs !== undefined) {
    const every = config.snapshotEveryMs
    await supervisor.start('periodic-snapshots', async () => {
      const tasks = taskSet()
      let cancel: CancelTimer | undefined
      let stopped = false
      // Stop does not wait for a snapshot in flight: its peers are stopping too, so it would only end at
      // `snapshotTimeout` (a demo stop once took 8 s); the snapshot service, stopped next, fails it.
      let onStop = (): void => {}
      const stopping = new Promise<'stopping'>((resolve) => { onStop = () => { resolve('stopping') } })
      const periodicLog = log('periodic-snapshots')
      const tick = (): void => {
        if (stopped) return
        tasks.track((async () => {
          if (transport.peers().length + 1 >= snapshot.config.minParticipants) {
            try {
              const { snapshotId, outcome } = snapshot.startSnapshot()
              changed() // the snapshot is active (status.snapshots.active) until its outcome
              const result = await Promise.race([outcome, stopping])
              if (result === 'stopping') periodicLog.info({ snapshotId }, 'periodic snapshot left unfinished: node stopping')
              else periodicLog.info({ snapshotId, status: result.status }, 'periodic snapshot finished')
            } catch (err) {
              periodicLog.warn({ err: (err as Error).message }, 'periodic snapshot not started')
            }
          }
          if (!stopped) cancel = clock.setTimeout(tick, every)
        })())
      }
      cancel = clock.setTimeout(tick, every)
      return { value: undefined, stop: async () => { stopped = true; cancel?.(); onStop(); await tasks.settle() } }
    })
  }

  const services: NodeServices = { keyPair, clock, logger, transport, trust, ledger, governance, gossip, snapshot, snapshotStore, dataDir: config.dataDir, history, stateProviders, changes, commitLedgerEntry, membership, addressBook, discovery }
  const status = (): NodeStatus => ({
    version: changes.version,
    did: self,
    peerId: transport.peerId,
    multiaddrs: transport.multiaddrs(),
    peers: transport.peers().length,
    reachability: { ...transport.reachability(), ...linkCounts(transport.connectedPeers()) },
    services: supervisor.running(),
    transport: { ...transport.stats },
    discovery: { ...discovery.stats(), records: addressBook.records().length, manual: addressBook.manual().length, dialling: transport.dialTargets().length },
    gossip: gossip.stats(),
    ledger: { entries: ledger.entryCount(), stateRoot: ledger.stateRoot(), pending: ledger.pending().length, quarantined: ledger.quarantine().length },
    trust: { attestations: trust.size },
    governance: { domain: governance.domain, members: governance.members().length, proposals: governance.proposals().length, deadlinesHeld: governance.deadlinesHeld },
    membership: { networkId: governance.networkId, members: governance.members().length, candidates: membership.view().candidates.length, refused: membership.refusals() },
    snapshots: { ...snapshot.stats, damaged: snapshotStore.damaged().length },
    eventLoop: loopMonitor.stats(),
    sync: { peers: history.progress(), served: history.serveStats() },
    uptimeMs: clock.now() - startedAt
  })

  const api = await supervisor.start<ApiServer>('api', async () => {
    const token = await writeApiToken(config.dataDir)
    // Every write through the API is a change (also a refused one: it may have changed state before failing).
    const metricsReset: ApiRoute = { method: 'POST', path: '/metrics/reset', handler: async () => { loopMonitor.reset(); return { reset: true } } }
    const routes = [...nodeRoutes(services, status), metricsReset].map((route): ApiRoute => route.method === 'POST'
      ? { ...route, handler: async (request) => { loopMonitor.wake(); try { return await route.handler(request) } finally { changed() } } }
      : { ...route, handler: async (request) => { loopMonitor.wake(); return await route.handler(request) } })
    const server = await startApiServer({ token, routes, logger: log('api'), port: config.apiPort, release: () => { changes.close() }, dashboardDir: dashboardDir() })
    const runtime: RuntimeInfo = { did: self, peerId: transport.peerId, pid: process.pid, apiPort: server.port, multiaddrs: transport.multiaddrs() }
    await writeFileAtomic(layout.runtime, new TextEncoder().encode(JSON.stringify(runtime, null, 2) + '\n'))
    loopMonitor.enable()
    return {
      value: server,
      stop: async () => {
        await rm(layout.runtime, { force: true })
        await server.close()
        loopMonitor.disable()
      }
    }
  })

  logger.info({ did: self, peerId: transport.peerId, multiaddrs: transport.multiaddrs(), apiPort: api.port }, 'node ready')
  return {
    ...services,
    did: self,
    apiPort: api.port,
    status,
    peers: () => transport.connectedPeers(),
    stop: async () => { await supervisor.stop() }
  }
}
