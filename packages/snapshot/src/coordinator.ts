import { bytesEqual, encode, sha256, toHex } from '@icn/identity'
import type { SnapshotConfig } from './config.js'
import {
  InsufficientParticipantsError, ProtocolViolationError, RateLimitedError, RequestRefusedError, SnapshotError, SnapshotNotFoundError
} from './errors.js'
import { type SnapshotLeaf, merkleRoot, sortLeaves } from './merkle.js'
import {
  type InitiateSnapshot, type ReceivedMessage, type RefusableRequest, type RefusalReason, type RequestRefused, type SignedInitiation,
  type SnapshotAck, type SnapshotComplete, type SnapshotMessage, type StateChunk, type VerificationResult, type VerifySnapshot, MAX_RETRY_AFTER
} from './messages.js'
import { RefusalGate, SlidingBudget, StateServer } from './serving.js'
import { ChunkAssembler, type ParticipantState, unpackState } from './transfer.js'

/** A snapshot this node took part in and saw complete. */
export interface CompletedSnapshot {
  readonly snapshotId: string
  /** The node that holds this record. */
  readonly node: string
  readonly initiator: string
  /** The initiator's clock when it started the snapshot. */
  readonly timestamp: number
  /** This node's clock when the snapshot completed here. */
  readonly completedAt: number
  readonly participants: readonly string[]
  readonly root: Uint8Array
  /** One per participant, sorted by DID. */
  readonly leaves: readonly SnapshotLeaf[]
  readonly localState: Uint8Array
  readonly channelState: Uint8Array
}

/** One verifier's answer in a verification report. */
export interface VerifierOutcome {
  readonly verifier: string
  readonly valid: boolean
  /** The root the verifier recomputed (undefined when it never answered). */
  readonly computedRoot?: Uint8Array
  readonly reason: string
  /** Set when the verifier refused the `VerifySnapshot` (`reason` is its message). */
  readonly error?: RequestRefusedError
}

/** The result of verifying a completed snapshot against every participant. */
export interface VerificationReport {
  readonly snapshotId: string
  readonly expectedRoot: Uint8Array
  /** True only when every participant recomputed exactly `expectedRoot`. */
  readonly valid: boolean
  /** One per participant (this node included), sorted by DID. */
  readonly results: readonly VerifierOutcome[]
}

/** What the shell must do after feeding the core. */
export type Effect =
  | { readonly kind: 'send', readonly to: string, readonly message: SnapshotMessage }
  /** Record local state now (synchronously start every provider's `exportState()`), then report it with `localStateCaptured`. */
  | { readonly kind: 'capture', readonly snapshotId: string }
  | { readonly kind: 'completed', readonly snapshot: CompletedSnapshot }
  | { readonly kind: 'failed', readonly snapshotId: string, readonly reason: string }
  /** A fetch ended: `state` on success, else `reason` and, when the peer refused or sent a bad transfer, the typed `error`. */
  | { readonly kind: 'fetched', readonly snapshotId: string, readonly peer: string, readonly state?: ParticipantState, readonly reason: string, readonly error?: SnapshotError }
  | { readonly kind: 'verified', readonly report: VerificationReport }
  /** A request this node refused: count and report it like a message that failed its checks (any reply is a separate `send`). */
  | { readonly kind: 'rejected', readonly from: string, readonly error: SnapshotError }

/** Counters for monitoring and tests. */
export interface SnapshotCounters {
  active: number
  completed: number
  failed: number
}

interface ActiveSnapshot {
  readonly initiation: InitiateSnapshot
  readonly deadline: number
  readonly isCoordinator: boolean
  /** Incoming channels still recording, with what they recorded so far. */
  readonly open: Set<string>
  readonly recorded: Map<string, Uint8Array[]>
  channelBytes: number
  localState?: Uint8Array
  channelState?: Uint8Array
  acked: boolean
  /** Coordinator only: leaves from every participant that acked (itself included). */
  readonly acks: Map<string, SnapshotLeaf>
}

interface PendingFetch { readonly deadline: number, assembler?: ChunkAssembler }

/** A peer's state fetched here, and when (kept for reuse at least `stateTransferWindow`). */
interface FetchedState { readonly state: ParticipantState, readonly at: number }

interface RecomputeJob {
  readonly snapshotId: string
  /** Who asked: a peer (answered with `VerificationResult`) or this node. */
  readonly requester: string
  readonly expectedRoot: Uint8Array
  readonly waiting: Set<string>
  readonly states: Map<string, ParticipantState>
  failure?: string
}

interface VerificationRun {
  readonly expectedRoot: Uint8Array
  readonly deadline: number
  readonly results: Map<string, VerifierOutcome>
  readonly participants: readonly string[]
}

const FINISHED_MEMORY = 1024
/** How far back in a channel recording to look for the frame that carried a snapshot message. */
const CONTROL_FRAME_SEARCH = 64

const fetchKey = (snapshotId: string, peer: string): string => `${snapshotId}\u0000${peer}`

/** Channel state encoding: every other participant's channel, in DID order (canonical map). */
function encodeChannels (recorded: Map<string, Uint8Array[]>): Uint8Array {
  return encode({ channels: Object.fromEntries(recorded) })
}

function leafOf (did: string, state: ParticipantState): SnapshotLeaf {
  return { did, stateHash: sha256(state.localState), stateSize: state.localState.length, channelHash: sha256(state.channelState), channelSize: state.channelState.length }
}

function sameLeaf (a: SnapshotLeaf, b: SnapshotLeaf): boolean {
  return a.did === b.did && a.stateSize === b.stateSize && a.channelSize === b.channelSize && bytesEqual(a.stateHash, b.stateHash) && bytesEqual(a.channelHash, b.channelHash)
}

function sameInitiation (a: InitiateSnapshot, b: InitiateSnapshot): boolean {
  return a.snapshotId === b.snapshotId && a.initiator === b.initiator && a.timestamp === b.timestamp &&
    a.participants.length === b.participants.length && a.participants.every((p, i) => p === b.participants[i])
}

/** Whether `frame` contains `wire` (the frame that carried a snapshot message through the application's stream). */
function frameCarries (frame: Uint8Array, wire: Uint8Array): boolean {
  if (frame.length < wire.length) return false
  return Buffer.from(frame.buffer, frame.byteOffset, frame.length).indexOf(Buffer.from(wire.buffer, wire.byteOffset, wire.length)) >= 0
}

/**
 * The Chandy–Lamport snapshot protocol as a pure state machine: fed decoded
 * messages, captured local states, observed channel traffic and the current
 * time, it returns the effects the shell must carry out. It does no I/O and
 * keeps no timers (the shell calls `tick` at `nextDeadline()`).
 */
export class SnapshotCoordinator {
  readonly self: string
  private readonly config: SnapshotConfig
  private readonly trustOf: (did: string) => number
  private readonly active = new Map<string, ActiveSnapshot>()
  private readonly finished = new Map<string, 'completed' | 'failed'>()
  private readonly completed = new Map<string, CompletedSnapshot>()
  private readonly fetches = new Map<string, PendingFetch>()
  /** In fetch order (a key is fetched again only after it left), so the oldest comes first. */
  private readonly fetchedStates = new Map<string, FetchedState>()
  private readonly serving: StateServer
  /** VerifySnapshot makes this node re-hash every state (and maybe fetch some): budgeted like RequestState. */
  private readonly verifyBudget: SlidingBudget
  private readonly refusals: RefusalGate
  private readonly jobs: RecomputeJob[] = []
  private readonly verifications = new Map<string, VerificationRun>()
  private sequence = 0
  readonly counters: SnapshotCounters = { active: 0, completed: 0, failed: 0 }

  constructor (self: string, config: SnapshotConfig, trustOf: (did: string) => number) {
    this.self = self
    this.config = config
    this.trustOf = trustOf
    this.serving = new StateServer(config)
    this.verifyBudget = new SlidingBudget('VerifySnapshot', config)
    this.refusals = new RefusalGate(config)
  }

  /**
   * Starts a snapshot as its coordinator, inviting the candidates this node
   * trusts at least `minTrustForSnapshot`. Throws `InsufficientParticipantsError`.
   * The returned effects begin with `capture` and then send `InitiateSnapshot`
   * (which doubles as this node's marker) to each participant.
   */
  initiate (candidates: readonly string[], now: number, snapshotId?: string): { snapshotId: string, effects: Effect[] } {
    const trusted = [...new Set(candidates)].filter((did) => did !== this.self && this.trusts(did))
    const participants = [this.self, ...trusted].sort()
    if (participants.length < this.config.minParticipants) throw new InsufficientParticipantsError(participants.length, this.config.minParticipants)
    const id = snapshotId ?? toHex(sha256(encode({ initiator: this.self, timestamp: now, sequence: this.sequence++ }))).slice(0, 32)
    if (this.active.has(id) || this.finished.has(id)) throw new ProtocolViolationError(`snapshot id ${id} is already in use`)
    const initiation: InitiateSnapshot = { type: 'InitiateSnapshot', snapshotId: id, initiator: this.self, timestamp: now, participants }
    this.join(initiation, now, undefined)
    const effects: Effect[] = [{ kind: 'capture', snapshotId: id }]
    for (const to of participants) if (to !== this.self) effects.push({ kind: 'send', to, message: initiation })
    return { snapshotId: id, effects }
  }

  /**
   * Handles one verified message from peer `from` (= its DID). Throws
   * `ProtocolViolationError` / `InvalidMessageError` for messages the protocol
   * forbids; a refused message changes nothing except that the frame which
   * carried it no longer counts as application traffic. A `RequestState` or
   * `VerifySnapshot` this node will not serve is not thrown: it returns a
   * `rejected` effect and (at most once per window) a `RequestRefused` reply.
   */
  handleMessage (from: string, received: ReceivedMessage, now: number): Effect[] {
    if (received.signer !== from) throw new ProtocolViolationError(`message from peer ${from} is signed by ${received.signer}`)
    if (from === this.self) throw new ProtocolViolationError('message claims to come from this node')
    const message = received.message
    const closes = message.type === 'InitiateSnapshot' || message.type === 'Marker' ? message.snapshotId : undefined
    this.unrecordControlFrame(from, received.wire, closes)
    switch (message.type) {
      case 'InitiateSnapshot':
        return this.onMarker(from, message, { payload: message, signature: received.signature }, now)
      case 'Marker':
        return this.onMarker(from, message.initiation.payload, message.initiation, now)
      case 'SnapshotAck':
        return this.onAck(from, message, now)
      case 'SnapshotComplete':
        return this.onComplete(from, message, now)
      case 'RequestState':
        return this.onRequestState(from, message.snapshotId, now)
      case 'StateChunk':
        return this.onChunk(from, message, now)
      case 'VerifySnapshot':
        return this.onVerifyRequest(from, message, now)
      case 'VerificationResult':
        return this.onVerificationResult(from, message, now)
      case 'RequestRefused':
        return this.onRefused(from, message, now)
    }
  }

  /**
   * Records an application message received from `from` on every snapshot
   * whose channel from `from` is still open (between this node's recording
   * and that channel's marker). Returns `failed` effects if a recording
   * outgrows `maxSnapshotSize`.
   */
  observeIncoming (from: string, bytes: Uint8Array): Effect[] {
    const effects: Effect[] = []
    for (const [id, snapshot] of this.active) {
      if (!snapshot.open.has(from)) continue
      snapshot.channelBytes += bytes.length
      if (snapshot.channelBytes > this.config.maxSnapshotSize) {
        effects.push(...this.fail(id, `channel recording exceeds maxSnapshotSize ${this.config.maxSnapshotSize}`))
        continue
      }
      snapshot.recorded.get(from)?.push(Uint8Array.from(bytes))
    }
    return effects
  }

  /** Reports the local state recorded for `snapshotId` (the providers' bundle). */
  localStateCaptured (snapshotId: string, localState: Uint8Array, now: number): Effect[] {
    const snapshot = this.active.get(snapshotId)
    if (snapshot === undefined || snapshot.localState !== undefined) return []
    if (localState.length > this.config.maxSnapshotSize) {
      return this.fail(snapshotId, `local state of ${localState.length} bytes exceeds maxSnapshotSize ${this.config.maxSnapshotSize}`)
    }
    snapshot.localState = localState
    return this.maybeAck(snapshot, now)
  }

  /** Reports that recording local state failed (a provider threw). */
  captureFailed (snapshotId: string, reason: string): Effect[] {
    return this.active.has(snapshotId) ? this.fail(snapshotId, `local state capture failed: ${reason}`) : []
  }

  /** Asks `peer` for its recorded state in `snapshotId`; the answer arrives as a `fetched` effect. */
  fetchState (snapshotId: string, peer: string, now: number): Effect[] {
    if (peer === this.self) {
      const own = this.ownState(snapshotId)
      return [own !== undefined ? { kind: 'fetched', snapshotId, peer, state: own, reason: '' } : { kind: 'fetched', snapshotId, peer, reason: 'no recorded state here' }]
    }
    const key = fetchKey(snapshotId, peer)
    const cached = this.fetchedStates.get(key)
    if (cached !== undefined) return [{ kind: 'fetched', snapshotId, peer, state: cached.state, reason: '' }]
    if (this.fetches.has(key)) return []
    this.fetches.set(key, { deadline: now + this.config.snapshotTimeout })
    return [{ kind: 'send', to: peer, message: { type: 'RequestState', snapshotId, requester: this.self } }]
  }

  /**
   * Verifies a completed snapshot against every participant: each other
   * participant is sent `VerifySnapshot`, and this node recomputes the root
   * itself from fetched states. Ends with a `verified` effect.
   */
  startVerification (snapshotId: string, now: number): Effect[] {
    const record = this.completed.get(snapshotId)
    if (record === undefined) throw new SnapshotNotFoundError(snapshotId)
    if (this.verifications.has(snapshotId)) return []
    this.verifications.set(snapshotId, { expectedRoot: record.root, deadline: now + this.config.snapshotTimeout, results: new Map(), participants: record.participants })
    const effects: Effect[] = []
    for (const to of record.participants) {
      if (to !== this.self) effects.push({ kind: 'send', to, message: { type: 'VerifySnapshot', snapshotId, requester: this.self, expectedRoot: record.root } })
    }
    effects.push(...this.startRecompute(record, this.self, record.root, now))
    return effects
  }

  /** Adds a completed snapshot loaded from the store, so it can be served, verified and restored. */
  loadCompleted (record: CompletedSnapshot): void {
    this.remember(record)
    if (!this.finished.has(record.snapshotId)) this.markFinished(record.snapshotId, 'completed')
  }

  /** A completed snapshot held in memory. */
  getCompleted (snapshotId: string): CompletedSnapshot | undefined {
    return this.completed.get(snapshotId)
  }

  /** Ids of snapshots in progress here. */
  activeIds (): string[] {
    return [...this.active.keys()]
  }

  /**
   * What serving state transfers holds (for tests and monitoring): snapshots
   * whose chunked payload is cached (least recently served first) and
   * snapshots with a per-peer transfer budget in use.
   */
  servingIds (): { payloads: string[], budgets: string[], verifyBudgets: string[] } {
    return { payloads: this.serving.cachedIds(), budgets: this.serving.budgetIds(), verifyBudgets: this.verifyBudget.ids() }
  }

  /** The earliest time at which `tick` has work to do, if any. */
  nextDeadline (): number | undefined {
    let next: number | undefined
    const consider = (t: number): void => { if (next === undefined || t < next) next = t }
    for (const s of this.active.values()) consider(s.deadline)
    for (const f of this.fetches.values()) consider(f.deadline)
    for (const v of this.verifications.values()) consider(v.deadline)
    return next
  }

  /** Fails everything whose deadline has passed, with a reason naming what was missing. */
  tick (now: number): Effect[] {
    const effects: Effect[] = []
    for (const [id, s] of [...this.active]) {
      if (s.deadline > now) continue
      const missing: string[] = []
      if (s.localState === undefined) missing.push('local state not recorded')
      if (s.open.size > 0) missing.push(`no marker from ${[...s.open].join(', ')}`)
      if (s.isCoordinator && s.acked) {
        const silent = s.initiation.participants.filter((p) => !s.acks.has(p))
        if (silent.length > 0) missing.push(`no ack from ${silent.join(', ')}`)
      }
      if (!s.isCoordinator && s.acked) missing.push(`no SnapshotComplete from ${s.initiation.initiator}`)
      effects.push(...this.fail(id, `timed out after ${this.config.snapshotTimeout} ms: ${missing.join('; ')}`))
    }
    for (const [key, fetch] of [...this.fetches]) {
      if (fetch.deadline > now) continue
      const [snapshotId, peer] = key.split('\u0000') as [string, string]
      effects.push(...this.fetchFailed(snapshotId, peer, `timed out after ${this.config.snapshotTimeout} ms waiting for state`, now))
    }
    for (const [id, run] of [...this.verifications]) {
      if (run.deadline > now) continue
      for (const p of run.participants) {
        if (!run.results.has(p)) run.results.set(p, { verifier: p, valid: false, reason: 'no VerificationResult before timeout' })
      }
      effects.push(...this.finishVerification(id))
    }
    return effects
  }

  // ---- Chandy–Lamport ----

  private trusts (did: string): boolean {
    const trust = this.trustOf(did)
    return Number.isFinite(trust) && trust >= this.config.minTrustForSnapshot
  }

  private join (initiation: InitiateSnapshot, now: number, firstMarkerFrom: string | undefined): ActiveSnapshot {
    const others = initiation.participants.filter((p) => p !== this.self)
    const snapshot: ActiveSnapshot = {
      initiation,
      deadline: now + this.config.snapshotTimeout,
      isCoordinator: initiation.initiator === this.self,
      open: new Set(others),
      recorded: new Map(others.map((p) => [p, []])),
      channelBytes: 0,
      acked: false,
      acks: new Map()
    }
    // The channel a first marker arrived on is recorded as empty.
    if (firstMarkerFrom !== undefined) snapshot.open.delete(firstMarkerFrom)
    this.active.set(initiation.snapshotId, snapshot)
    this.counters.active = this.active.size
    return snapshot
  }

  private onMarker (from: string, initiation: InitiateSnapshot, signed: SignedInitiation, now: number): Effect[] {
    const id = initiation.snapshotId
    if (this.finished.has(id)) return []
    const existing = this.active.get(id)
    if (existing !== undefined) {
      if (!sameInitiation(existing.initiation, initiation)) throw new ProtocolViolationError(`marker for ${id} carries a different initiation`)
      if (!initiation.participants.includes(from)) throw new ProtocolViolationError(`marker from ${from}, not a participant of ${id}`)
      if (!existing.open.delete(from)) return []
      return this.maybeAck(existing, now)
    }
    if (initiation.initiator === this.self) throw new ProtocolViolationError(`marker for unknown snapshot ${id} claims this node initiated it`)
    if (!initiation.participants.includes(this.self)) throw new ProtocolViolationError(`snapshot ${id} does not include this node`)
    if (!initiation.participants.includes(from)) throw new ProtocolViolationError(`marker from ${from}, not a participant of ${id}`)
    if (initiation.participants.length < this.config.minParticipants) {
      throw new ProtocolViolationError(`snapshot ${id} has ${initiation.participants.length} participants, fewer than ${this.config.minParticipants}`)
    }
    if (!this.trusts(initiation.initiator)) throw new ProtocolViolationError(`refusing snapshot ${id}: initiator ${initiation.initiator} is trusted below ${this.config.minTrustForSnapshot}`)
    const snapshot = this.join(initiation, now, from)
    const effects: Effect[] = [{ kind: 'capture', snapshotId: id }]
    for (const to of initiation.participants) {
      if (to !== this.self) effects.push({ kind: 'send', to, message: { type: 'Marker', snapshotId: id, sender: this.self, initiation: signed } })
    }
    effects.push(...this.maybeAck(snapshot, now))
    return effects
  }

  /** Acks once local state is recorded and every incoming channel is closed (never earlier). */
  private maybeAck (snapshot: ActiveSnapshot, now: number): Effect[] {
    if (snapshot.acked || snapshot.localState === undefined || snapshot.open.size > 0) return []
    const channelState = encodeChannels(snapshot.recorded)
    const id = snapshot.initiation.snapshotId
    if (channelState.length > this.config.maxSnapshotSize) return this.fail(id, `channel state of ${channelState.length} bytes exceeds maxSnapshotSize`)
    snapshot.channelState = channelState
    snapshot.acked = true
    const leaf = leafOf(this.self, { localState: snapshot.localState, channelState })
    if (snapshot.isCoordinator) {
      snapshot.acks.set(this.self, leaf)
      return this.maybeComplete(snapshot, now)
    }
    const ack: SnapshotAck = { type: 'SnapshotAck', snapshotId: id, node: this.self, stateHash: leaf.stateHash, stateSize: leaf.stateSize, channelHash: leaf.channelHash, channelSize: leaf.channelSize }
    return [{ kind: 'send', to: snapshot.initiation.initiator, message: ack }]
  }

  private onAck (from: string, ack: SnapshotAck, now: number): Effect[] {
    if (this.finished.has(ack.snapshotId)) return []
    const snapshot = this.active.get(ack.snapshotId)
    if (snapshot === undefined || !snapshot.isCoordinator) throw new ProtocolViolationError(`ack for ${ack.snapshotId}, which this node does not coordinate`)
    if (!snapshot.initiation.participants.includes(from)) throw new ProtocolViolationError(`ack from ${from}, who was not invited to ${ack.snapshotId}`)
    const leaf: SnapshotLeaf = { did: from, stateHash: ack.stateHash, stateSize: ack.stateSize, channelHash: ack.channelHash, channelSize: ack.channelSize }
    const previous = snapshot.acks.get(from)
    if (previous !== undefined) {
      if (!sameLeaf(previous, leaf)) throw new ProtocolViolationError(`${from} acked ${ack.snapshotId} twice with different hashes`)
      return []
    }
    snapshot.acks.set(from, leaf)
    return this.maybeComplete(snapshot, now)
  }

  private maybeComplete (snapshot: ActiveSnapshot, now: number): Effect[] {
    const { participants, snapshotId } = snapshot.initiation
    if (!snapshot.acked || participants.some((p) => !snapshot.acks.has(p))) return []
    const leaves = sortLeaves([...snapshot.acks.values()])
    const root = merkleRoot(leaves)
    const message: SnapshotComplete = { type: 'SnapshotComplete', snapshotId, coordinator: this.self, globalStateRoot: root, participants, leaves }
    const effects: Effect[] = participants.filter((p) => p !== this.self).map((to) => ({ kind: 'send', to, message }))
    return [...effects, ...this.complete(snapshot, leaves, root, now)]
  }

  private onComplete (from: string, message: SnapshotComplete, now: number): Effect[] {
    if (this.finished.has(message.snapshotId)) return []
    const snapshot = this.active.get(message.snapshotId)
    if (snapshot === undefined) throw new ProtocolViolationError(`SnapshotComplete for unknown snapshot ${message.snapshotId}`)
    const { initiation } = snapshot
    if (from !== initiation.initiator) throw new ProtocolViolationError(`SnapshotComplete from ${from}, not the coordinator ${initiation.initiator}`)
    if (!sameInitiation(initiation, { ...initiation, participants: message.participants })) throw new ProtocolViolationError('SnapshotComplete lists different participants')
    if (!snapshot.acked || snapshot.localState === undefined || snapshot.channelState === undefined) throw new ProtocolViolationError('SnapshotComplete before this node acked')
    const own = message.leaves.find((l) => l.did === this.self)
    const expected = leafOf(this.self, { localState: snapshot.localState, channelState: snapshot.channelState })
    if (own === undefined || !sameLeaf(own, expected)) throw new ProtocolViolationError('SnapshotComplete misstates this node\'s leaf')
    const root = merkleRoot(message.leaves)
    if (!bytesEqual(root, message.globalStateRoot)) throw new ProtocolViolationError('SnapshotComplete root does not match its leaves')
    return this.complete(snapshot, message.leaves, root, now)
  }

  private complete (snapshot: ActiveSnapshot, leaves: readonly SnapshotLeaf[], root: Uint8Array, now: number): Effect[] {
    const { initiation } = snapshot
    const record: CompletedSnapshot = {
      snapshotId: initiation.snapshotId,
      node: this.self,
      initiator: initiation.initiator,
      timestamp: initiation.timestamp,
      completedAt: now,
      participants: initiation.participants,
      root,
      leaves,
      localState: snapshot.localState as Uint8Array,
      channelState: snapshot.channelState as Uint8Array
    }
    this.active.delete(initiation.snapshotId)
    this.markFinished(initiation.snapshotId, 'completed')
    this.remember(record)
    this.counters.completed++
    this.counters.active = this.active.size
    return [{ kind: 'completed', snapshot: record }]
  }

  private fail (snapshotId: string, reason: string): Effect[] {
    if (!this.active.delete(snapshotId)) return []
    this.serving.forget(snapshotId)
    this.markFinished(snapshotId, 'failed')
    this.counters.failed++
    this.counters.active = this.active.size
    return [{ kind: 'failed', snapshotId, reason }]
  }

  private markFinished (snapshotId: string, status: 'completed' | 'failed'): void {
    this.finished.set(snapshotId, status)
    if (this.finished.size > FINISHED_MEMORY) this.finished.delete(this.finished.keys().next().value as string)
  }

  private remember (record: CompletedSnapshot): void {
    this.completed.delete(record.snapshotId)
    this.completed.set(record.snapshotId, record)
    while (this.completed.size > this.config.keepCompleted) {
      const oldest = this.completed.keys().next().value as string
      this.completed.delete(oldest)
      this.serving.forget(oldest)
      this.verifyBudget.forget(oldest)
    }
  }

  /**
   * When the node feeds `observeIncoming` with every frame of the stream that
   * also carries snapshot messages, the frame that carried this message was
   * recorded as if it were application traffic: unrecord it. For the marker
   * that closes a channel, frames observed after it on that (FIFO) channel
   * were sent after the sender's marker, so they are unrecorded too — this
   * keeps the cut exact even if the node dispatches the marker a little
   * after observing later frames.
   */
  private unrecordControlFrame (from: string, wire: Uint8Array, closesSnapshot: string | undefined): void {
    for (const [id, snapshot] of this.active) {
      const channel = snapshot.open.has(from) ? snapshot.recorded.get(from) : undefined
      if (channel === undefined) continue
      const lowest = Math.max(0, channel.length - CONTROL_FRAME_SEARCH)
      let index = -1
      for (let i = channel.length - 1; i >= lowest && index < 0; i--) if (frameCarries(channel[i] as Uint8Array, wire)) index = i
      if (index < 0) continue
      const removed = id === closesSnapshot ? channel.splice(index) : channel.splice(index, 1)
      for (const frame of removed) snapshot.channelBytes -= frame.length
    }
  }

  // ---- state transfer ----

  private ownState (snapshotId: string): ParticipantState | undefined {
    const record = this.completed.get(snapshotId)
    if (record !== undefined) return record
    const active = this.active.get(snapshotId)
    if (active?.localState !== undefined && active.channelState !== undefined) return { localState: active.localState, channelState: active.channelState }
    return undefined
  }

  private participantsOf (snapshotId: string): readonly string[] | undefined {
    return this.completed.get(snapshotId)?.participants ?? this.active.get(snapshotId)?.initiation.participants
  }

  /** Serves this node's own state: participants only, within the per-peer budget (`RateLimitedError`), from the payload cache. */
  private onRequestState (from: string, snapshotId: string, now: number): Effect[] {
    const participants = this.participantsOf(snapshotId)
    const state = this.ownState(snapshotId)
    if (participants === undefined || state === undefined) {
      return this.refuse(from, snapshotId, 'RequestState', 'NO_RECORDED_STATE', new ProtocolViolationError(`no recorded state for snapshot ${snapshotId}`), now)
    }
    if (!participants.includes(from)) return this.refuse(from, snapshotId, 'RequestState', 'NOT_PARTICIPANT', new ProtocolViolationError(`${from} is not a participant of ${snapshotId}`), now)
    const limited = this.serving.admit(from, snapshotId, now)
    if (limited !== undefined) return this.refuse(from, snapshotId, 'RequestState', 'RATE_LIMITED', limited, now)
    const { totalSize, payloadHash, chunks } = this.serving.payload(snapshotId, state)
    return chunks.map((data, chunkIndex): Effect => ({
      kind: 'send',
      to: from,
      message: { type: 'StateChunk', snapshotId, sender: this.self, chunkIndex, totalChunks: chunks.length, totalSize, payloadHash, data }
    }))
  }

  private onChunk (from: string, chunk: StateChunk, now: number): Effect[] {
    const key = fetchKey(chunk.snapshotId, from)
    const fetch = this.fetches.get(key)
    if (fetch === undefined) throw new ProtocolViolationError(`unsolicited state chunk from ${from} for ${chunk.snapshotId}`)
    let payload: Uint8Array | undefined
    let state: ParticipantState
    try {
      fetch.assembler ??= new ChunkAssembler(chunk, this.config)
      payload = fetch.assembler.add(chunk)
      if (payload === undefined) return []
      state = unpackState(payload)
    } catch (err) {
      if (!(err instanceof SnapshotError)) throw err
      return this.fetchFailed(chunk.snapshotId, from, err, now)
    }
    this.fetches.delete(key)
    // Kept whether or not this node has seen the snapshot complete.
    this.keepFetched(key, state, now)
    return [{ kind: 'fetched', snapshotId: chunk.snapshotId, peer: from, state, reason: '' }, ...this.feedJobs(chunk.snapshotId, from, state, undefined, now)]
  }

  /**
   * A reuse cache (jobs hold their own references), as small as the completed
   * set — except that a state stays at least `stateTransferWindow` after it
   * was fetched, so this node never asks a peer for the same state twice
   * within the window the peer's transfer budget counts (a verification over
   * more participants than `keepCompleted`, with the requests of n verifiers
   * arriving at different times, would otherwise refetch and be refused).
   */
  private keepFetched (key: string, state: ParticipantState, now: number): void {
    this.fetchedStates.set(key, { state, at: now })
    for (const [oldest, { at }] of this.fetchedStates) {
      if (this.fetchedStates.size <= this.config.keepCompleted || at + this.config.stateTransferWindow > now) break
      this.fetchedStates.delete(oldest)
    }
  }

  /** Ends a fetch without state: `cause` is a timeout's text or the typed error (a refusal, a bad transfer). */
  private fetchFailed (snapshotId: string, peer: string, cause: string | SnapshotError, now: number): Effect[] {
    this.fetches.delete(fetchKey(snapshotId, peer))
    const reason = typeof cause === 'string' ? cause : cause.message
    const fetched: Effect = typeof cause === 'string' ? { kind: 'fetched', snapshotId, peer, reason } : { kind: 'fetched', snapshotId, peer, reason, error: cause }
    return [fetched, ...this.feedJobs(snapshotId, peer, undefined, reason, now)]
  }

  // ---- refusals ----

  /**
   * A request this node will not serve: reported as `rejected`, and answered
   * with `RequestRefused` unless this (peer, snapshot, request) already got one
   * within `stateTransferWindow` (then silence: one reply per window, however
   * often the peer asks). Replies go only to the signer of the request.
   */
  private refuse (from: string, snapshotId: string, request: RefusableRequest, reason: RefusalReason, error: SnapshotError, now: number): Effect[] {
    const rejected: Effect = { kind: 'rejected', from, error }
    if (!this.refusals.allow(from, snapshotId, request, now)) return [rejected]
    // Relative on the wire: the requester adds it to its own clock.
    const retryAfter = error instanceof RateLimitedError ? Math.min(MAX_RETRY_AFTER, Math.max(1, Math.ceil(error.retryAt - now))) : 0
    const reply: RequestRefused = { type: 'RequestRefused', snapshotId, refuser: this.self, request, reason, retryAfter }
    return [rejected, { kind: 'send', to: from, message: reply }]
  }

  /**
   * A peer refused a request of this node: accepted only from the peer that was
   * asked, for a request still outstanding (like a chunk); that fetch or that
   * verifier's answer then ends at once with a `RequestRefusedError`.
   */
  private onRefused (from: string, refusal: RequestRefused, now: number): Effect[] {
    const { snapshotId, request, reason } = refusal
    const run = request === 'VerifySnapshot' ? this.verifications.get(snapshotId) : undefined
    const outstanding = request === 'RequestState'
      ? this.fetches.has(fetchKey(snapshotId, from))
      : run !== undefined && run.participants.includes(from) && !run.results.has(from)
    if (!outstanding) throw new ProtocolViolationError(`unsolicited RequestRefused from ${from} for ${request} ${snapshotId}`)
    const error = new RequestRefusedError(from, snapshotId, request, reason, reason === 'RATE_LIMITED' ? now + refusal.retryAfter : undefined)
    if (run === undefined) return this.fetchFailed(snapshotId, from, error, now)
    run.results.set(from, { verifier: from, valid: false, reason: error.message, error })
    return run.results.size === run.participants.length ? this.finishVerification(snapshotId) : []
  }

  // ---- verification ----

  private onVerifyRequest (from: string, request: VerifySnapshot, now: number): Effect[] {
    const record = this.completed.get(request.snapshotId)
    if (record === undefined) {
      const zero = new Uint8Array(32)
      return [{ kind: 'send', to: from, message: { type: 'VerificationResult', snapshotId: request.snapshotId, verifier: this.self, valid: false, computedRoot: zero, reason: 'snapshot not completed here' } }]
    }
    if (!record.participants.includes(from)) {
      return this.refuse(from, request.snapshotId, 'VerifySnapshot', 'NOT_PARTICIPANT', new ProtocolViolationError(`${from} is not a participant of ${request.snapshotId}`), now)
    }
    // A repeat while this node is still recomputing for the same requester gets that one answer.
    if (this.jobs.some((job) => job.snapshotId === request.snapshotId && job.requester === from)) return []
    const limited = this.verifyBudget.admit(from, request.snapshotId, now)
    if (limited !== undefined) return this.refuse(from, request.snapshotId, 'VerifySnapshot', 'RATE_LIMITED', limited, now)
    return this.startRecompute(record, from, request.expectedRoot, now)
  }

  /** Recomputes the root from actual state bytes: this node's own, and every other participant's fetched afresh. */
  private startRecompute (record: CompletedSnapshot, requester: string, expectedRoot: Uint8Array, now: number): Effect[] {
    const job: RecomputeJob = {
      snapshotId: record.snapshotId,
      requester,
      expectedRoot,
      waiting: new Set(record.participants.filter((p) => p !== this.self)),
      states: new Map([[this.self, record]])
    }
    this.jobs.push(job)
    const effects: Effect[] = []
    for (const peer of [...job.waiting]) {
      const key = fetchKey(record.snapshotId, peer)
      const cached = this.fetchedStates.get(key)
      if (cached !== undefined) {
        job.waiting.delete(peer)
        job.states.set(peer, cached.state)
      } else if (!this.fetches.has(key)) {
        this.fetches.set(key, { deadline: now + this.config.snapshotTimeout })
        effects.push({ kind: 'send', to: peer, message: { type: 'RequestState', snapshotId: record.snapshotId, requester: this.self } })
      }
    }
    return [...effects, ...this.finishJobs(now)]
  }

  private feedJobs (snapshotId: string, peer: string, state: ParticipantState | undefined, failure: string | undefined, now: number): Effect[] {
    for (const job of this.jobs) {
      if (job.snapshotId !== snapshotId || !job.waiting.delete(peer)) continue
      if (state !== undefined) job.states.set(peer, state)
      else job.failure ??= `could not fetch state of ${peer}: ${failure ?? 'unknown'}`
    }
    return this.finishJobs(now)
  }

  private finishJobs (now: number): Effect[] {
    const effects: Effect[] = []
    for (const job of this.jobs.filter((j) => j.waiting.size === 0)) {
      this.jobs.splice(this.jobs.indexOf(job), 1)
      const leaves = [...job.states].map(([did, state]) => leafOf(did, state))
      const computedRoot = merkleRoot(leaves)
      const valid = job.failure === undefined && bytesEqual(computedRoot, job.expectedRoot)
      const reason = job.failure ?? (valid ? '' : 'recomputed root differs from the expected root')
      const result: VerificationResult = { type: 'VerificationResult', snapshotId: job.snapshotId, verifier: this.self, valid, computedRoot, reason }
      if (job.requester === this.self) effects.push(...this.recordVerifierResult(result))
      else effects.push({ kind: 'send', to: job.requester, message: result })
    }
    return effects
  }

  private onVerificationResult (from: string, result: VerificationResult, now: number): Effect[] {
    const run = this.verifications.get(result.snapshotId)
    if (run === undefined || !run.participants.includes(from)) throw new ProtocolViolationError(`unsolicited VerificationResult from ${from} for ${result.snapshotId}`)
    return this.recordVerifierResult(result)
  }

  private recordVerifierResult (result: VerificationResult): Effect[] {
    const run = this.verifications.get(result.snapshotId)
    if (run === undefined || run.results.has(result.verifier)) return []
    // A verifier that recomputed a different root than ours is wrong even if it claims `valid`.
    const valid = result.valid && bytesEqual(result.computedRoot, run.expectedRoot)
    run.results.set(result.verifier, { verifier: result.verifier, valid, computedRoot: result.computedRoot, reason: valid ? '' : result.reason || 'computed root differs' })
    return run.results.size === run.participants.length ? this.finishVerification(result.snapshotId) : []
  }

  private finishVerification (snapshotId: string): Effect[] {
    const run = this.verifications.get(snapshotId)
    if (run === undefined) return []
    this.verifications.delete(snapshotId)
    const results = [...run.results.values()].sort((a, b) => a.verifier < b.verifier ? -1 : 1)
    return [{ kind: 'verified', report: { snapshotId, expectedRoot: run.expectedRoot, valid: results.every((r) => r.valid), results } }]
  }
}
