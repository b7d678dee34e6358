// The node's wiring between subsystems: each subsystem publishes its signed
// envelopes on its gossip topic, checks received ones in a topic validator
// (signature, signer = gossip author: state-independent, so arrival order never
// makes an honest entry look invalid) and applies them in a subscription.
import type { Gossip, GossipEntry } from '@icn/gossip'
import type { Governance } from '@icn/governance'
import { ACTION_DOMAIN, PROFILE_DOMAIN, PROPOSAL_DOMAIN, VOTE_DOMAIN } from '@icn/governance'
import { type SignedEnvelope, bytesEqual, decode, decodeEnvelope, encode, isValidEnvelope } from '@icn/identity'
import { type EntryRecord, type Ledger, type SignedEntry, decodeEntry, hasValidSignature } from '@icn/ledger'
import type { TrustGraph } from '@icn/trust'
import type { SnapshotNode, StateProvider } from '@icn/snapshot'
import type { Logger } from './logger.js'
import type { MessageTransport } from '@icn/transport'

/** The gossip topics of the node's subsystems. */
export const TOPICS = {
  ledger: 'ledger:tx',
  trust: 'trust:attest',
  proposal: 'governance:proposal',
  vote: 'governance:vote',
  snapshot: 'snapshot:coordinate'
} as const

/** Decodes an envelope signed under one of `domains` by the entry's gossip author, or undefined. */
function signedByAuthor (entry: GossipEntry, domains: readonly string[]): SignedEnvelope | undefined {
  try {
    const envelope = decodeEnvelope(entry.payload)
    if (envelope.signer !== entry.author || !domains.includes(envelope.domain)) return undefined
    return isValidEnvelope(envelope, envelope.domain) ? envelope : undefined
  } catch {
    return undefined
  }
}

/** Ledger entries from gossip being committed at once, at most (each waits its turn in a group commit). */
const MAX_LEDGER_APPLIES_IN_FLIGHT = 32

/** The default of the bridges' `canWrite`: a store that always has room (tests, tools). */
const always = (): boolean => true
/** Most ledger entries one `ledger:tx` gossip entry carries. */
export const MAX_LEDGER_BATCH = 256
/** Most bytes of entries one batch carries unless told otherwise (the node passes a quarter of its frame bound). */
const DEFAULT_LEDGER_BATCH_BYTES = 256 * 1024

/**
 * The entries of a `ledger:tx` payload: one entry's wire bytes, or a canonical CBOR list of entries'
 * wire bytes (a batch; an entry envelope is a map, so the first byte tells them apart). Throws on
 * anything else.
 */
export function ledgerEntriesOf (payload: Uint8Array): SignedEntry[] {
  if (((payload[0] ?? 0) >> 5) !== CBOR_LIST) return [decodeEntry(payload)]
  const list = decode(payload)
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_LEDGER_BATCH || !list.every((item) => item instanceof Uint8Array)) {
    throw new TypeError(`a ledger batch is a list of 1 to ${MAX_LEDGER_BATCH} entries' bytes`)
  }
  return list.map((item: Uint8Array) => decodeEntry(item))
}
/** CBOR major type 4. */
const CBOR_LIST = 4

/** The node's side of `ledger:tx`: what it publishes, and how it stops. */
export interface LedgerBridge {
  /**
   * Gossips a committed entry of this node. Entries published in one turn of the event loop (those
   * committed together by a group commit) share one gossip entry, so one envelope signature, one
   * envelope check on each receiver and one gossip record cover them all. Resolves once published.
   */
  publish(entry: Uint8Array): Promise<void>
  /**
   * Tracks a local write (`ledger.pay(...)`): from now until its entry is handed to `publish` (at once when it
   * commits) the entry is in transit, and a snapshot capture records it (`inTransit`). Resolves as `write`;
   * a failed publish is passed to `onPublishFailed` (the entry stays committed; history sync delivers it).
   */
  commitLocal(write: Promise<EntryRecord>, onPublishFailed: (err: unknown, record: EntryRecord) => void): Promise<EntryRecord>
  /**
   * Called by a snapshot capture, in the same synchronous step as the capture of the ledger and the sending
   * of markers. First hands every committed entry still waiting for its batch to gossip, so it leaves before
   * the markers. Then resolves with the entries that are between the ledger and the wire at this instant and
   * so cannot be on the channel before the markers: local writes not yet committed or published, and peers'
   * entries received (before the marker) whose apply has not committed. Sorted by id, no duplicates.
   */
  inTransit(): Promise<Uint8Array[]>
  /** Publishes what is waiting, unsubscribes and awaits the applies still in flight. */
  stop(): Promise<void>
}

/**
 * `ledger:tx`: journal entries signed by their author (alone or in batches by the gossip author),
 * applied with `applyEnvelope` (gaps wait as pending). The handler does not wait for the durable
 * commit: the next frame is read meanwhile, so entries arriving together share the ledger's group
 * commits. `onApplied` runs once an entry is committed (the change feed).
 */
export function bridgeLedger (gossip: Gossip, ledger: Ledger, logger: Logger, onApplied: () => void = () => {}, maxBatchBytes = DEFAULT_LEDGER_BATCH_BYTES, canWrite: () => boolean = always): LedgerBridge {
  // The entries the validator decoded and checked are the ones applied: each entry is decoded once.
  const checked = new WeakMap<Uint8Array, SignedEntry[]>()
  // The batch `flush` is publishing right now (gossip runs the validator inside `publish`, synchronously): its
  // entries were signed and committed by this node's ledger, so decoding and checking them again would only
  // repeat that work. Anything else, or a validator called later, takes the full check.
  let publishing: Uint8Array | undefined
  gossip.setValidator(TOPICS.ledger, (entry) => {
    if (publishing !== undefined && bytesEqual(entry.payload, publishing)) return true
    const signed = ledgerEntriesOf(entry.payload)
    const valid = signed.every((s) => s.entry.author === entry.author && hasValidSignature(s))
    if (valid) checked.set(entry.payload, signed)
    return valid
  })
  // Applies in flight, with the entry each one applies (recorded by `inTransit` until it settles).
  const inFlight = new Map<Promise<void>, SignedEntry>()
  const off = gossip.subscribe(TOPICS.ledger, async (entry) => {
    // A nearly full disk: left unapplied (history sync offers the entries again once there is room).
    if (!canWrite()) return
    for (const signed of checked.get(entry.payload) ?? ledgerEntriesOf(entry.payload)) {
      // Bounded: the queued applies run back to back inside one lmdb batch on this thread, so an unbounded
      // queue would stall the event loop for as long as the whole backlog takes; beyond the bound the next
      // frame waits (backpressure on the peer stream).
      while (inFlight.size >= MAX_LEDGER_APPLIES_IN_FLIGHT) await Promise.race(inFlight.keys())
      const task = ledger.applyEnvelope(signed).then((outcome) => {
        logger.debug({ id: outcome.id, status: outcome.status, reason: outcome.reason, from: entry.author }, 'ledger entry received')
        // A duplicate changed nothing (history sync may have applied the entry first), nor did a refusal.
        if (outcome.status !== 'duplicate' && outcome.status !== 'refused') onApplied()
      }, (err: unknown) => {
        logger.warn({ err: (err as Error).message, from: entry.author }, 'ledger entry not applied')
      }).finally(() => { inFlight.delete(task) })
      inFlight.set(task, signed)
    }
  })

  const waiting: Array<{ entry: Uint8Array, resolve: () => void, reject: (err: unknown) => void }> = []
  let flushTimer: ReturnType<typeof setImmediate> | undefined
  const flush = (): void => {
    if (flushTimer !== undefined) clearImmediate(flushTimer)
    flushTimer = undefined
    while (waiting.length > 0) {
      // At most MAX_LEDGER_BATCH entries and maxBatchBytes (at least one entry).
      let count = 0
      for (let bytes = 0; count < Math.min(waiting.length, MAX_LEDGER_BATCH); count++) {
        bytes += (waiting[count] as (typeof waiting)[number]).entry.length
        if (count > 0 && bytes > maxBatchBytes) break
      }
      const batch = waiting.splice(0, count)
      const payload = batch.length === 1 ? (batch[0] as (typeof batch)[number]).entry : encode(batch.map((b) => b.entry))
      publishing = payload
      try {
        void gossip.publish(TOPICS.ledger, payload).then(() => { for (const b of batch) b.resolve() }, (err: unknown) => { for (const b of batch) b.reject(err) })
      } finally {
        publishing = undefined
      }
    }
  }
  const publish = async (entry: Uint8Array): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      waiting.push({ entry, resolve, reject })
      flushTimer ??= setImmediate(flush)
    })
  }
  // Local writes from their call until their entry is handed to `publish` (or they fail).
  const writing = new Set<Promise<EntryRecord>>()
  return {
    publish,
    commitLocal: async (write, onPublishFailed) => {
      writing.add(write)
      try {
        const record = await write
        // Leaves `writing` and joins `waiting` in one step: a capture sees it in exactly one of them.
        writing.delete(write)
        publish(record.bytes).catch((err: unknown) => { onPublishFailed(err, record) })
        return record
      } finally {
        writing.delete(write)
      }
    },
    inTransit: async () => {
      flush()
      const received = [...inFlight.values()]
      const local = await Promise.allSettled([...writing])
      const byId = new Map<string, Uint8Array>()
      for (const signed of received) byId.set(signed.id, signed.bytes)
      for (const outcome of local) if (outcome.status === 'fulfilled') byId.set(outcome.value.id, outcome.value.bytes)
      return [...byId.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, bytes]) => bytes)
    },
    stop: async () => {
      flush()
      off()
      while (inFlight.size > 0) await Promise.allSettled([...inFlight.keys()])
    }
  }
}

/** Name of the snapshot state provider that records `LedgerBridge.inTransit()`. */
export const LEDGER_IN_TRANSIT = 'ledger-in-transit'

/**
 * Ledger entries in transit at a snapshot's cut, as a state provider: canonical DAG-CBOR
 * `{ entries: [wire bytes, …] }` (sorted by id). They are part of the recorded channel state in all but
 * place: the audit (audit.ts) counts them with the frames recorded on the channels. A restore applies them
 * to the ledger (entries it already holds are duplicates), like messages in flight delivered at last.
 */
export function inTransitProvider (bridge: () => Pick<LedgerBridge, 'inTransit'>, ledger: Pick<Ledger, 'applyBatch'>): StateProvider {
  return {
    name: LEDGER_IN_TRANSIT,
    // `inTransit()` runs before the first await: the record is taken in the capture's synchronous step.
    exportState: async () => encode({ entries: await bridge().inTransit() }),
    restoreState: async (state) => {
      const entries = inTransitEntries(state)
      if (entries.length > 0) await ledger.applyBatch(entries)
    }
  }
}

/** The entries of a recorded `ledger-in-transit` state; throws `TypeError` for anything else. */
export function inTransitEntries (state: Uint8Array): Uint8Array[] {
  const value = decode(state) as { entries?: unknown } | null
  if (typeof value !== 'object' || value === null || Object.keys(value).join() !== 'entries' || !Array.isArray(value.entries) || !value.entries.every((e) => e instanceof Uint8Array)) {
    throw new TypeError(`a ${LEDGER_IN_TRANSIT} state is { entries: [bytes, …] }`)
  }
  return value.entries as Uint8Array[]
}

/** `trust:attest`: attestations signed by their source. */
export function bridgeTrust (gossip: Gossip, trust: TrustGraph, logger: Logger, canWrite: () => boolean = always): () => void {
  gossip.setValidator(TOPICS.trust, (entry) => {
    const envelope = decodeEnvelope(entry.payload)
    return envelope.signer === entry.author && trust.validate(envelope) !== undefined
  })
  return gossip.subscribe(TOPICS.trust, async (entry) => {
    if (!canWrite()) return
    const outcome = await trust.attest(trust.validate(decodeEnvelope(entry.payload)))
    logger.debug({ from: entry.author, outcome }, 'trust attestation received')
  })
}

/** Governance refusals that only mean "not yet": the proposal or its submit action has not arrived. */
const RETRYABLE = new Set(['UNKNOWN_PROPOSAL', 'OUTSIDE_WINDOW', 'INVALID_TRANSITION'])
const MAX_WAITING = 1000

/**
 * `governance:proposal` (proposals and proposer actions) and `governance:vote`.
 * Topics are not ordered with each other, so a vote can arrive before its
 * proposal, or before voting opens on this node's clock: such envelopes wait
 * (bounded) and are retried after every envelope that applies and after every
 * clock-driven transition (voting opening); `onRetried` hears when a retry
 * applied something. The returned function unsubscribes and waits for a retry
 * in progress.
 */
export function bridgeGovernance (gossip: Gossip, governance: Governance, logger: Logger, onRetried: () => void = () => {}, canWrite: () => boolean = always): () => Promise<void> {
  gossip.setValidator(TOPICS.proposal, (entry) => signedByAuthor(entry, [PROPOSAL_DOMAIN, ACTION_DOMAIN, PROFILE_DOMAIN]) !== undefined)
  gossip.setValidator(TOPICS.vote, (entry) => signedByAuthor(entry, [VOTE_DOMAIN]) !== undefined)
  const waiting: SignedEnvelope[] = []

  const tryApply = async (envelope: SignedEnvelope): Promise<boolean> => {
    try {
      const result = await governance.apply(envelope)
      logger.debug({ type: result.type, proposal: result.proposal, status: result.status }, 'governance envelope applied')
      return true
    } catch (err) {
      const code = (err as { code?: unknown }).code
      if (typeof code === 'string' && RETRYABLE.has(code)) {
        if (waiting.length >= MAX_WAITING) waiting.shift()
        waiting.push(envelope)
        return false
      }
      logger.warn({ err: (err as Error).message, cid: envelope.cid }, 'governance envelope refused')
      return false
    }
  }

  // Envelopes that were early may fit now: retry them until nothing more applies (one retry pass at a time).
  const retryWaiting = async (): Promise<void> => {
    let progress = true
    let applied = false
    while (progress && waiting.length > 0) {
      progress = false
      for (const envelope of waiting.splice(0)) {
        if (await tryApply(envelope)) progress = applied = true
      }
    }
    if (applied) onRetried()
  }
  let retrying: Promise<void> = Promise.resolve()
  const scheduleRetry = async (): Promise<void> => {
    retrying = retrying.then(retryWaiting).catch((err: unknown) => { logger.warn({ err: (err as Error).message }, 'retrying waiting governance envelopes failed') })
    await retrying
  }

  const onEntry = async (entry: GossipEntry): Promise<void> => {
    if (!canWrite()) return
    if (await tryApply(decodeEnvelope(entry.payload))) await scheduleRetry()
  }
  const offProposals = gossip.subscribe(TOPICS.proposal, onEntry)
  const offVotes = gossip.subscribe(TOPICS.vote, onEntry)
  const offTransitions = governance.onTransition(() => { if (waiting.length > 0) void scheduleRetry() })
  return async () => { offProposals(); offVotes(); offTransitions(); await retrying }
}

/**
 * Applies executed governance effects to the ledger: a `config-change` with key
 * `ledger.creditLimit`, a `subject` and `{ currency, limit }` sets that member's
 * credit-limit override. Replays the durable outbox first (idempotent: the
 * last override wins), then follows new effects.
 */
export function bridgeGovernanceEffects (governance: Governance, ledger: Ledger, logger: Logger, track: (task: Promise<void>) => void): () => void {
  const apply = async (effect: ReturnType<Governance['effects']>[number]): Promise<void> => {
    const e = effect.effect
    if (e.type !== 'config-change' || e.key !== 'ledger.creditLimit' || !effect.applied) return
    const value = e.value as { currency?: unknown, limit?: unknown } | null
    if (e.subject === undefined || typeof value?.currency !== 'string' || typeof value.limit !== 'string' || !/^[0-9]+$/.test(value.limit)) {
      logger.warn({ proposal: effect.proposal }, 'ledger.creditLimit effect without subject, currency or limit: ignored')
      return
    }
    await ledger.setCreditLimit(e.subject, value.currency, BigInt(value.limit), effect.proposal)
    logger.info({ member: e.subject, currency: value.currency, limit: value.limit, proposal: effect.proposal }, 'credit limit set by governance')
  }
  const run = (effect: ReturnType<Governance['effects']>[number]): void => {
    track(apply(effect).catch((err: unknown) => { logger.error({ err: (err as Error).message, proposal: effect.proposal }, 'applying governance effect failed') }))
  }
  for (const effect of governance.effects()) run(effect)
  return governance.onEffect(run)
}

/**
 * Chandy–Lamport channel recording: every frame from a peer goes to the snapshot before gossip processes it
 * (gossip's ingress observers), while a snapshot records, except history-sync frames (`isHistoryFrame`).
 */
export function recordChannels (gossip: Pick<Gossip, 'onIngress'>, snapshot: Pick<SnapshotNode, 'stats' | 'observeIncoming'>, isHistoryFrame: (frame: Uint8Array) => boolean): () => void {
  return gossip.onIngress((from, bytes) => { if (snapshot.stats.active > 0 && !isHistoryFrame(bytes)) snapshot.observeIncoming(from, bytes) })
}

/** Snapshot messages travel as gossip direct messages on `snapshot:coordinate`, over the same FIFO peer streams. */
export function snapshotMessaging (gossip: Gossip, transport: MessageTransport): MessageTransport {
  return {
    id: transport.id,
    send: (peer, bytes) => { gossip.send(peer, TOPICS.snapshot, bytes) },
    onMessage: (handler) => gossip.handleDirect(TOPICS.snapshot, async (message) => { await handler(message.from, message.payload) }),
    peers: () => transport.peers()
  }
}
