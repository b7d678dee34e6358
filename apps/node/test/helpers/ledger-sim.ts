// A network of ledger nodes in one process on the testkit's SimNetwork, wired as `icn-node` wires them
// (gossip, the ledger bridge with its in-transit record, snapshot messaging and channel recording), for
// the conservation property: concurrent payments from every node while snapshots run.
import { createGossip, type Gossip } from '@icn/gossip'
import { type Did, type KeyPair, keyPairFromSeed, setVerifiedSignatureCacheSize } from '@icn/identity'
import { type Ledger, PERMISSIVE_POLICY, openLedger } from '@icn/ledger'
import { type CompletedSnapshot, type SnapshotNode, createSnapshotNode } from '@icn/snapshot'
import { SeededRng, SimNetwork } from '@icn/testkit'
import { join } from 'node:path'
import { type LedgerBridge, TOPICS, bridgeLedger, inTransitProvider, recordChannels, snapshotMessaging } from '../../src/bridges.js'
import { HISTORY_TOPIC, isHistoryFrame } from '../../src/history.js'
import { type AuditInput, type SnapshotAudit, auditSnapshot } from '../../src/audit.js'
import { createLogger } from '../../src/logger.js'

interface SimNode {
  did: Did
  keyPair: KeyPair
  gossip: Gossip
  ledger: Ledger
  bridge: LedgerBridge
  snapshot: SnapshotNode
}

export interface ConservationRun {
  /** One audit per completed snapshot. */
  audits: SnapshotAudit[]
  /** Snapshots that failed (with their reasons). */
  failed: string[]
  /** Payments committed, and ledger entries the audits found in flight (all snapshots). */
  payments: number
  inFlight: number
}

const CURRENCIES = ['ICN', 'EUR']
/** Simulated ms the run goes on for at most while waiting for snapshots (real LMDB commits take real time). */
const MAX_SIM_MS = 120_000

/** Lets the LMDB write threads and their callbacks run between simulated steps. */
const yieldToIo = async (): Promise<void> => { await new Promise<void>((resolve) => { setImmediate(resolve) }) }

/**
 * `size` nodes; `rounds` rounds in which every node pays 0–`perRound` random peers (1–20 units, two
 * currencies) without waiting, the network runs 1–15 ms, and now and then a random node starts a snapshot
 * (at most `concurrent` at once). Then every snapshot runs to its outcome and each completed one is audited
 * from every participant's record.
 */
export async function runConservation (dir: string, seed: number, size: number, options: { rounds?: number, perRound?: number, concurrent?: number } = {}): Promise<ConservationRun> {
  const rounds = options.rounds ?? 30
  const perRound = options.perRound ?? 2
  const concurrent = options.concurrent ?? 2
  const rng = new SeededRng(seed)
  const net = new SimNetwork({ seed, defaults: { minDelayMs: 1, maxDelayMs: 12 } })
  const logger = createLogger('silent')
  setVerifiedSignatureCacheSize(0)
  const nodes: SimNode[] = []
  try {
    for (let i = 0; i < size; i++) {
      const keyPair = keyPairFromSeed(Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? i + 1 : seed % 251)))
      const endpoint = net.addNode(keyPair.did)
      const gossip = await createGossip({ transport: endpoint, clock: net.clock, keyPair, trustOf: () => 1, random: () => rng.float() })
      for (const topic of [...Object.values(TOPICS), HISTORY_TOPIC]) gossip.createTopic(topic, { kind: 'public' })
      const ledger = await openLedger({ path: join(dir, `${seed}-${i}`), clock: net.clock, trustOf: () => 1, policy: PERMISSIVE_POLICY, verifyWorkers: 0 })
      const bridge = bridgeLedger(gossip, ledger, logger)
      const snapshot = createSnapshotNode({
        keyPair,
        transport: snapshotMessaging(gossip, endpoint),
        trustOf: () => 1,
        clock: net.clock,
        providers: [
          { name: 'ledger', exportState: async () => await ledger.exportState(), restoreState: async (s) => { await ledger.restoreState(s) } },
          inTransitProvider(() => bridge, ledger)
        ]
      }, { snapshotTimeout: MAX_SIM_MS, keepCompleted: rounds + 1 }) // every snapshot of the run stays in memory to be audited
      recordChannels(gossip, snapshot, isHistoryFrame)
      nodes.push({ did: keyPair.did, keyPair, gossip, ledger, bridge, snapshot })
    }
    // Topic announcements (each gossip's first tick) before anyone pays.
    await net.runFor(2_500)

    const payments: Array<Promise<unknown>> = []
    const outcomes: Array<Promise<unknown>> = []
    const ids: string[] = []
    let active = 0
    for (let round = 0; round < rounds; round++) {
      for (const node of nodes) {
        for (let k = rng.int(0, perRound); k > 0; k--) {
          const to = rng.pick(nodes.filter((n) => n !== node)).did
          payments.push(node.bridge.commitLocal(node.ledger.pay(node.keyPair, to, rng.pick(CURRENCIES), BigInt(rng.int(1, 20))), () => {}))
        }
      }
      if (active < concurrent && rng.chance(0.25)) {
        const { snapshotId, outcome } = rng.pick(nodes).snapshot.startSnapshot()
        active++
        ids.push(snapshotId)
        outcomes.push(outcome.finally(() => { active-- }))
      }
      await net.runFor(rng.int(1, 15))
      if (rng.chance(0.5)) await yieldToIo()
    }
    if (ids.length === 0) {
      const { snapshotId, outcome } = rng.pick(nodes).snapshot.startSnapshot()
      ids.push(snapshotId)
      outcomes.push(outcome)
    }
    let settled = false
    void Promise.allSettled([...payments, ...outcomes, ...ids.flatMap((id) => nodes.map(async (n) => await n.snapshot.waitForSnapshot(id)))]).then(() => { settled = true })
    const end = net.clock.now() + MAX_SIM_MS + 1_000
    while (!settled && net.clock.now() < end) {
      await net.runFor(10)
      await yieldToIo()
    }
    const committed = (await Promise.allSettled(payments)).filter((p) => p.status === 'fulfilled').length

    const audits: SnapshotAudit[] = []
    const failed: string[] = []
    for (const id of ids) {
      const outcome = await nodes[0]!.snapshot.waitForSnapshot(id)
      if (outcome.status === 'failed') { failed.push(`${id}: ${outcome.reason}`); continue }
      const states = new Map<string, AuditInput>()
      for (const node of nodes) {
        const record: CompletedSnapshot | undefined = node.snapshot.getCompleted(id)
        states.set(node.did, record === undefined ? { error: 'not held' } : { localState: record.localState, channelState: record.channelState })
      }
      audits.push(auditSnapshot(outcome.snapshot, states))
    }
    const inFlight = audits.reduce((n, a) => n + a.participants.reduce((m, p) => m + p.inFlight.length, 0), 0)
    return { audits, failed, payments: committed, inFlight }
  } finally {
    for (const node of nodes) {
      await node.snapshot.close()
      await node.bridge.stop()
      await node.gossip.close()
      await node.ledger.close()
    }
    setVerifiedSignatureCacheSize(4096)
  }
}
