import { type CancelTimer, type Clock, type KeyPair, decode, encode, systemClock } from '@icn/identity'
import { type SnapshotConfig, resolveConfig } from './config.js'
import {
  type CompletedSnapshot, type Effect, type SnapshotCounters, type VerificationReport, SnapshotCoordinator
} from './coordinator.js'
import { CorruptSnapshotError, InvalidConfigError, SnapshotClosedError, SnapshotError, SnapshotNotFoundError, SnapshotQuarantinedError, UnknownProviderError } from './errors.js'
import { type InclusionProof, proveInclusion } from './merkle.js'
import { type SnapshotMessage, decodeMessage, encodeMessage, isSnapshotId } from './messages.js'
import type { SnapshotStore } from './store.js'
import type { ParticipantState } from './transfer.js'

/** Point-to-point messaging (interfaces.md §2); `SimEndpoint` from `@icn/testkit` satisfies it. */
export interface MessageTransport {
  readonly id: string
  send(peer: string, bytes: Uint8Array): void
  onMessage(handler: (from: string, bytes: Uint8Array) => void | Promise<void>): () => void
  peers(): string[]
}

/** A subsystem whose state a snapshot records and restores (interfaces.md §3). */
export interface StateProvider {
  readonly name: string
  /**
   * Canonical bytes of the state (a cut: what the state derives from, not a copy of its history). Must
   * capture the state as of the call (before its first `await`): the snapshot records it at the same
   * instant it sends its markers.
   */
  exportState(): Promise<Uint8Array>
  restoreState(state: Uint8Array): Promise<void>
  /**
   * Throws (a typed error) when `restoreState(state)` would refuse it, changing nothing: `restore` asks every
   * provider before it replaces any, so one refusal (e.g. a ledger lacking the chains below a cut) leaves
   * every provider as it was. Optional.
   */
  checkState?(state: Uint8Array): Promise<void>
}

/** How a snapshot ended at this node. */
export type SnapshotOutcome =
  | { readonly status: 'complete', readonly snapshot: CompletedSnapshot }
  | { readonly status: 'failed', readonly snapshotId: string, readonly reason: string }

/**
 * How a state fetch ended. A failure carries the typed `error` when there is
 * one: `RequestRefusedError` when the peer refused (reason, and `retryAt` for
 * a rate limit), `InvalidMessageError` / `SnapshotTooLargeError` for a bad
 * transfer; a timeout has only `reason`.
 */
export type FetchOutcome =
  | { readonly ok: true, readonly state: ParticipantState }
  | { readonly ok: false, readonly reason: string, readonly error?: SnapshotError }

/** Something that happened, for logs and tests. */
export type SnapshotEvent =
  | { readonly type: 'completed', readonly snapshot: CompletedSnapshot }
  | { readonly type: 'failed', readonly snapshotId: string, readonly reason: string }
  | { readonly type: 'rejected', readonly from: string, readonly error: SnapshotError }
  | { readonly type: 'persist-failed', readonly snapshotId: string, readonly error: unknown }
  | { readonly type: 'send-failed', readonly to: string, readonly messageType: SnapshotMessage['type'], readonly error: unknown }

/** Counters: snapshots active/completed/failed here, and messages rejected. */
export interface SnapshotStats extends SnapshotCounters {
  rejected: number
}

/** Dependencies of a snapshot node. */
export interface SnapshotComponents {
  /** This node's signing key; its DID is its peer id. */
  keyPair: KeyPair
  transport: MessageTransport
  /** Synchronous trust in [0, 1] of a DID, as seen by this node. */
  trustOf: (did: string) => number
  /** @default systemClock */
  clock?: Clock
  /** Subsystems recorded in each snapshot (names must be unique). @default [] */
  providers?: StateProvider[]
  /** Where completed snapshots are persisted; none keeps them in memory only. */
  store?: SnapshotStore
}

/** Options of a snapshot node: every protocol setting is optional; each defaults as documented on `SnapshotConfig` (the original's values). */
export interface SnapshotInit extends Partial<SnapshotConfig> {}

/** A participant in distributed snapshots: coordinator of its own, participant in others'. */
export interface SnapshotNode {
  /** This node's DID. */
  readonly did: string
  readonly config: Readonly<SnapshotConfig>
  /** Active / completed / failed snapshots and rejected messages. */
  readonly stats: Readonly<SnapshotStats>
  /**
   * Starts a snapshot coordinated by this node. Invites `participants`
   * (default: every connected peer) that it trusts at least `minTrustForSnapshot`.
   * Throws `InsufficientParticipantsError` synchronously; the outcome never rejects.
   */
  startSnapshot(options?: { participants?: string[], snapshotId?: string }): { snapshotId: string, outcome: Promise<SnapshotOutcome> }
  /**
   * The outcome of a snapshot this node initiated or joined, or will join
   * (pending until then, or until `close()`). Completed records come from
   * memory (the newest `keepCompleted`) or the store.
   */
  waitForSnapshot(snapshotId: string): Promise<SnapshotOutcome>
  /**
   * Records an incoming application frame from `from` on every snapshot whose
   * channel from `from` is open. Call it for every frame received on the same
   * FIFO stream that carries the snapshot messages, before processing it.
   */
  observeIncoming(from: string, bytes: Uint8Array): void
  /**
   * Fetches `peer`'s recorded state in `snapshotId` (chunked, compressed,
   * hash-checked). Never rejects: a peer's refusal ends it at once with a
   * `RequestRefusedError` in the outcome, silence at `snapshotTimeout`.
   */
  fetchState(snapshotId: string, peer: string): Promise<FetchOutcome>
  /**
   * Verifies a completed snapshot (memory, else the store) with every
   * participant recomputing the root. Rejects with `SnapshotNotFoundError`
   * or `CorruptSnapshotError`; network failures are results in the report
   * (a verifier that refused, with its `RequestRefusedError`, at once).
   */
  verify(snapshotId: string): Promise<VerificationReport>
  /**
   * Loads the newest `keepCompleted` snapshots from the store into memory so
   * this node can serve transfers and verification after a restart. Returns their ids
   * (one the store finds damaged now is moved aside by it and left out).
   */
  loadStored(): Promise<string[]>
  /** This node's inclusion proof in a completed snapshot. */
  inclusionProof(snapshotId: string): InclusionProof
  /** A completed snapshot held in memory (recent ones) or loaded by `restore`. */
  getCompleted(snapshotId: string): CompletedSnapshot | undefined
  /** A completed snapshot from memory, else from the store (kept in memory afterwards); `SnapshotNotFoundError` if neither holds it. */
  completed(snapshotId: string): Promise<CompletedSnapshot>
  /** Restores every provider from a completed snapshot (memory, else the store). */
  restore(snapshotId: string): Promise<void>
  /** Subscribes to events; returns an unsubscribe function. */
  onEvent(listener: (event: SnapshotEvent) => void): () => void
  /** Stops receiving, cancels timers, awaits captures and store writes; pending outcomes end as failed. Idempotent. */
  close(): Promise<void>
}

interface Waiter<T> { readonly promise: Promise<T>, readonly resolve: (value: T) => void }

function waiter<T> (): Waiter<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}

const SETTLED_MEMORY = 1024

/** Bounds a set or map of finished ids to the most recent `SETTLED_MEMORY`. */
function trimOldest (seen: Set<string> | Map<string, unknown>): void {
  if (seen.size > SETTLED_MEMORY) seen.delete(seen.keys().next().value as string)
}

/** Bundles every provider's state as canonical `{ providers: { [name]: bytes } }`. */
export function encodeLocalState (states: ReadonlyMap<string, Uint8Array>): Uint8Array {
  return encode({ providers: Object.fromEntries(states) })
}

/** Inverse of `encodeLocalState`; throws `CorruptSnapshotError`. */
export function decodeLocalState (bytes: Uint8Array): Map<string, Uint8Array> {
  let value: unknown
  try {
    value = decode(bytes)
  } catch (cause) {
    throw new CorruptSnapshotError('local state', 'not canonical DAG-CBOR', { cause })
  }
  const providers = (value as { providers?: unknown } | null)?.providers
  if (typeof value !== 'object' || value === null || Object.keys(value).join() !== 'providers' || typeof providers !== 'object' || providers === null) {
    throw new CorruptSnapshotError('local state', 'expected { providers: { name: bytes } }')
  }
  const out = new Map<string, Uint8Array>()
  for (const [name, state] of Object.entries(providers)) {
    if (!(state instanceof Uint8Array)) throw new CorruptSnapshotError('local state', `provider ${name} state is not bytes`)
    out.set(name, state)
  }
  return out
}

class Node implements SnapshotNode {
  readonly did: string
  readonly config: Readonly<SnapshotConfig>
  private readonly core: SnapshotCoordinator
  private readonly keyPair: KeyPair
  private readonly transport: MessageTransport
  private readonly clock: Clock
  private readonly providers: StateProvider[]
  private readonly store: SnapshotStore | undefined
  private readonly unsubscribe: () => void
  private readonly outcomes = new Map<string, Waiter<SnapshotOutcome>>()
  /** Failed outcomes (small), and ids whose completion was settled (the records live in the core or the store). */
  private readonly failures = new Map<string, SnapshotOutcome>()
  private readonly settledComplete = new Set<string>()
  private readonly fetchWaiters = new Map<string, Array<Waiter<FetchOutcome>>>()
  private readonly verifyWaiters = new Map<string, Array<Waiter<VerificationReport>>>()
  private readonly listeners = new Set<(event: SnapshotEvent) => void>()
  private readonly background = new Set<Promise<void>>()
  private readonly counters: SnapshotStats = { active: 0, completed: 0, failed: 0, rejected: 0 }
  private cancelTimer: CancelTimer | undefined
  private timerAt: number | undefined
  private closed = false

  constructor (components: SnapshotComponents, init: SnapshotInit) {
    this.config = Object.freeze(resolveConfig(init))
    this.keyPair = components.keyPair
    this.did = components.keyPair.did
    if (components.transport.id !== this.did) throw new InvalidConfigError(`transport id ${components.transport.id} must be this node's DID ${this.did}`)
    this.transport = components.transport
    this.clock = components.clock ?? systemClock
    this.providers = [...(components.providers ?? [])]
    const names = new Set(this.providers.map((p) => p.name))
    if (names.size !== this.providers.length) throw new InvalidConfigError('state provider names must be unique')
    this.store = components.store
    this.core = new SnapshotCoordinator(this.did, this.config, components.trustOf)
    this.unsubscribe = this.transport.onMessage((from, bytes) => { this.receive(from, bytes) })
  }

  get stats (): Readonly<SnapshotStats> {
    return { ...this.counters, ...this.core.counters }
  }

  startSnapshot (options: { participants?: string[], snapshotId?: string } = {}): { snapshotId: string, outcome: Promise<SnapshotOutcome> } {
    if (this.closed) throw new SnapshotClosedError()
    if (options.snapshotId !== undefined && !isSnapshotId(options.snapshotId)) throw new InvalidConfigError('snapshotId must be 1-128 characters of [A-Za-z0-9_-]')
    const { snapshotId, effects } = this.core.initiate(options.participants ?? this.transport.peers(), this.clock.now(), options.snapshotId)
    const outcome = this.waitForSnapshot(snapshotId)
    this.apply(effects)
    return { snapshotId, outcome }
  }

  async waitForSnapshot (snapshotId: string): Promise<SnapshotOutcome> {
    const failed = this.failures.get(snapshotId)
    if (failed !== undefined) return failed
    if (this.settledComplete.has(snapshotId)) {
      const snapshot = this.core.getCompleted(snapshotId) ?? await this.store?.load(snapshotId).catch(() => undefined)
      return snapshot !== undefined
        ? { status: 'complete', snapshot }
        : { status: 'failed', snapshotId, reason: 'completed here, but no longer in memory and not in the store' }
    }
    if (this.closed) return { status: 'failed', snapshotId, reason: 'snapshot node closed' }
    let w = this.outcomes.get(snapshotId)
    if (w === undefined) { w = waiter(); this.outcomes.set(snapshotId, w) }
    return await w.promise
  }

  observeIncoming (from: string, bytes: Uint8Array): void {
    if (this.closed) return
    this.apply(this.core.observeIncoming(from, bytes))
  }

  async fetchState (snapshotId: string, peer: string): Promise<FetchOutcome> {
    if (this.closed) return { ok: false, reason: 'snapshot node closed' }
    const key = `${snapshotId}\u0000${peer}`
    const w = waiter<FetchOutcome>()
    this.fetchWaiters.set(key, [...(this.fetchWaiters.get(key) ?? []), w])
    this.apply(this.core.fetchState(snapshotId, peer, this.clock.now()))
    return await w.promise
  }

  async verify (snapshotId: string): Promise<VerificationReport> {
    await this.completed(snapshotId)
    if (this.closed) throw new SnapshotClosedError()
    const effects = this.core.startVerification(snapshotId, this.clock.now())
    const w = waiter<VerificationReport>()
    this.verifyWaiters.set(snapshotId, [...(this.verifyWaiters.get(snapshotId) ?? []), w])
    this.apply(effects)
    return await w.promise
  }

  async loadStored (): Promise<string[]> {
    if (this.closed) throw new SnapshotClosedError()
    if (this.store === undefined) return []
    const newest = (await this.store.list()).slice(0, this.config.keepCompleted).reverse()
    const loaded: string[] = []
    for (const summary of newest) {
      try {
        this.core.loadCompleted(await this.store.load(summary.snapshotId))
        loaded.push(summary.snapshotId)
      } catch (err) {
        // Found damaged after the store opened: the store moved it aside and reports it; the others still load.
        if (!(err instanceof SnapshotQuarantinedError)) throw err
      }
    }
    return loaded.reverse()
  }

  /** A completed snapshot from memory, else loaded from the store into memory. */
  async completed (snapshotId: string): Promise<CompletedSnapshot> {
    if (this.closed) throw new SnapshotClosedError()
    const held = this.core.getCompleted(snapshotId)
    if (held !== undefined) return held
    if (this.store === undefined) throw new SnapshotNotFoundError(snapshotId)
    const record = await this.store.load(snapshotId)
    this.core.loadCompleted(record)
    return record
  }

  inclusionProof (snapshotId: string): InclusionProof {
    const record = this.core.getCompleted(snapshotId)
    if (record === undefined) throw new SnapshotNotFoundError(snapshotId)
    return proveInclusion(snapshotId, record.leaves, this.did)
  }

  getCompleted (snapshotId: string): CompletedSnapshot | undefined {
    return this.core.getCompleted(snapshotId)
  }

  async restore (snapshotId: string): Promise<void> {
    const record = await this.completed(snapshotId)
    const states = decodeLocalState(record.localState)
    const byName = new Map(this.providers.map((p) => [p.name, p]))
    for (const name of states.keys()) {
      if (!byName.has(name)) throw new UnknownProviderError(`snapshot ${snapshotId} has state for provider '${name}', which this node does not have`)
    }
    for (const [name, state] of states) await (byName.get(name) as StateProvider).checkState?.(state)
    for (const [name, state] of states) await (byName.get(name) as StateProvider).restoreState(state)
  }

  onEvent (listener: (event: SnapshotEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.unsubscribe()
    this.cancelTimer?.()
    this.cancelTimer = undefined
    while (this.background.size > 0) await Promise.all([...this.background])
    for (const [snapshotId, w] of this.outcomes) w.resolve({ status: 'failed', snapshotId, reason: 'snapshot node closed' })
    this.outcomes.clear()
    for (const list of this.fetchWaiters.values()) for (const w of list) w.resolve({ ok: false, reason: 'snapshot node closed' })
    this.fetchWaiters.clear()
    for (const [snapshotId, list] of this.verifyWaiters) {
      for (const w of list) w.resolve({ snapshotId, expectedRoot: new Uint8Array(32), valid: false, results: [] })
    }
    this.verifyWaiters.clear()
  }

  // ---- shell ----

  private emit (event: SnapshotEvent): void {
    for (const listener of this.listeners) listener(event)
  }

  private receive (from: string, bytes: Uint8Array): void {
    if (this.closed) return
    try {
      const received = decodeMessage(bytes)
      this.apply(this.core.handleMessage(from, received, this.clock.now()))
    } catch (error) {
      if (!(error instanceof SnapshotError)) throw error
      this.reject(from, error)
    }
  }

  private reject (from: string, error: SnapshotError): void {
    this.counters.rejected++
    this.emit({ type: 'rejected', from, error })
  }

  private track (task: Promise<void>): void {
    this.background.add(task)
    void task.finally(() => { this.background.delete(task) })
  }

  private apply (effects: Effect[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'send':
          this.send(effect.to, effect.message)
          break
        case 'capture':
          this.capture(effect.snapshotId)
          break
        case 'completed':
          this.track(this.onCompleted(effect.snapshot))
          break
        case 'failed':
          this.settle({ status: 'failed', snapshotId: effect.snapshotId, reason: effect.reason })
          this.emit({ type: 'failed', snapshotId: effect.snapshotId, reason: effect.reason })
          break
        case 'fetched': {
          const key = `${effect.snapshotId}\u0000${effect.peer}`
          const outcome: FetchOutcome = effect.state !== undefined
            ? { ok: true, state: effect.state }
            : effect.error !== undefined ? { ok: false, reason: effect.reason, error: effect.error } : { ok: false, reason: effect.reason }
          for (const w of this.fetchWaiters.get(key) ?? []) w.resolve(outcome)
          this.fetchWaiters.delete(key)
          break
        }
        case 'verified':
          for (const w of this.verifyWaiters.get(effect.report.snapshotId) ?? []) w.resolve(effect.report)
          this.verifyWaiters.delete(effect.report.snapshotId)
          break
        case 'rejected':
          this.reject(effect.from, effect.error)
          break
      }
    }
    this.schedule()
  }

  /** A transport that throws (unknown or vanished peer) loses that one message, like a dropped link; the protocol's timeouts cover it. */
  private send (to: string, message: SnapshotMessage): void {
    if (this.closed) return
    try {
      this.transport.send(to, encodeMessage(message, this.keyPair))
    } catch (error) {
      this.emit({ type: 'send-failed', to, messageType: message.type, error })
    }
  }

  /** Starts every provider's export in this same tick, so the recorded state is the one at marker time. */
  private capture (snapshotId: string): void {
    const exports = this.providers.map(async (p) => await p.exportState().then((state) => [p.name, state] as const))
    this.track(Promise.all(exports).then(
      (states) => { if (!this.closed) this.apply(this.core.localStateCaptured(snapshotId, encodeLocalState(new Map(states)), this.clock.now())) },
      (error: unknown) => { if (!this.closed) this.apply(this.core.captureFailed(snapshotId, error instanceof Error ? error.message : String(error))) }
    ))
  }

  private async onCompleted (snapshot: CompletedSnapshot): Promise<void> {
    if (this.store !== undefined) {
      try {
        await this.store.save(snapshot)
      } catch (error) {
        this.emit({ type: 'persist-failed', snapshotId: snapshot.snapshotId, error })
      }
    }
    this.settle({ status: 'complete', snapshot })
    this.emit({ type: 'completed', snapshot })
  }

  private settle (outcome: SnapshotOutcome): void {
    const id = outcome.status === 'complete' ? outcome.snapshot.snapshotId : outcome.snapshotId
    if (outcome.status === 'complete') {
      this.settledComplete.add(id)
      trimOldest(this.settledComplete)
    } else {
      this.failures.set(id, outcome)
      trimOldest(this.failures)
    }
    this.outcomes.get(id)?.resolve(outcome)
    this.outcomes.delete(id)
  }

  /** Keeps one clock timer, at the core's earliest deadline. */
  private schedule (): void {
    if (this.closed) return
    const at = this.core.nextDeadline()
    if (at === this.timerAt) return
    this.cancelTimer?.()
    this.cancelTimer = undefined
    this.timerAt = at
    if (at === undefined) return
    this.cancelTimer = this.clock.setTimeout(() => {
      this.cancelTimer = undefined
      this.timerAt = undefined
      if (!this.closed) this.apply(this.core.tick(this.clock.now()))
    }, Math.max(0, at - this.clock.now()))
  }
}

/** Creates a snapshot node on `components.transport`. Throws `InvalidConfigError` for bad options. */
export function createSnapshotNode (components: SnapshotComponents, init: SnapshotInit = {}): SnapshotNode {
  return new Node(components, init)
}
