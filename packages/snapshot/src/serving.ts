import type { SnapshotConfig } from './config.js'
import { RateLimitedError } from './errors.js'
import type { RefusableRequest } from './messages.js'
import { type ChunkedPayload, type ParticipantState, chunkPayload, packState } from './transfer.js'

/** The settings that shape serving. */
export type ServingLimits = Pick<SnapshotConfig, 'chunkSize' | 'compressionLevel' | 'keepCompleted' | 'maxStateTransfers' | 'stateTransferWindow'>

/**
 * At most `maxStateTransfers` admitted requests of one kind per (peer, snapshot) within any
 * `stateTransferWindow` (a sliding window: the times of the last admissions are kept, at most
 * `maxStateTransfers` per pair). Refusals cost nothing.
 */
export class SlidingBudget {
  private readonly uses = new Map<string, Map<string, number[]>>()

  constructor (
    private readonly request: RefusableRequest,
    private readonly limits: Pick<SnapshotConfig, 'maxStateTransfers' | 'stateTransferWindow'>
  ) {}

  /** Counts one request of `peer` for `snapshotId` at `now`, or returns the `RateLimitedError` refusing it (and counts nothing). */
  admit (peer: string, snapshotId: string, now: number): RateLimitedError | undefined {
    const { maxStateTransfers, stateTransferWindow } = this.limits
    let byPeer = this.uses.get(snapshotId)
    if (byPeer === undefined) {
      byPeer = new Map()
      this.uses.set(snapshotId, byPeer)
    }
    const recent = (byPeer.get(peer) ?? []).filter((at) => at + stateTransferWindow > now)
    byPeer.set(peer, recent)
    if (recent.length >= maxStateTransfers) {
      return new RateLimitedError(peer, snapshotId, recent.length, stateTransferWindow, (recent[0] as number) + stateTransferWindow, this.request)
    }
    recent.push(now)
    return undefined
  }

  forget (snapshotId: string): void { this.uses.delete(snapshotId) }

  /** Snapshots with a budget in use. */
  ids (): string[] { return [...this.uses.keys()] }
}

/** Refusal keys remembered at most (~200 bytes each): bounds what invented snapshot ids can make this node hold. */
const REFUSAL_MEMORY = 4096

/**
 * Which refusals get a `RequestRefused` reply: at most one per (peer, snapshot,
 * request kind) within any `stateTransferWindow`, silence after that, so a
 * peer that keeps asking learns why once and cannot make this node sign a
 * reply per request. Keys are kept in the order their refusal was sent and
 * dropped once outside the window, or oldest first beyond `REFUSAL_MEMORY`
 * (an attacker cycling through more keys than that earns one small reply per
 * request at worst: never more than it sent).
 */
export class RefusalGate {
  private readonly sent = new Map<string, number>()

  constructor (private readonly limits: Pick<SnapshotConfig, 'stateTransferWindow'>, private readonly capacity = REFUSAL_MEMORY) {}

  /** Whether a refusal of `request` from `peer` for `snapshotId` may be answered at `now`; if so, counts it. */
  allow (peer: string, snapshotId: string, request: RefusableRequest, now: number): boolean {
    const window = this.limits.stateTransferWindow
    const key = `${request}\u0000${snapshotId}\u0000${peer}`
    const last = this.sent.get(key)
    if (last !== undefined && last + window > now) return false
    this.sent.delete(key)
    this.sent.set(key, now)
    for (const [oldest, at] of this.sent) {
      if (this.sent.size <= this.capacity && at + window > now) break
      this.sent.delete(oldest)
    }
    return true
  }

  /** Keys remembered (for tests and monitoring). */
  size (): number { return this.sent.size }
}

interface CachedPayload {
  /** The state the payload was made from: a record replaced under the same id (reloaded from the store) is chunked afresh. */
  readonly source: ParticipantState
  readonly payload: ChunkedPayload
}

/**
 * Serving this node's own recorded states to peers, on an injected clock
 * (every method takes `now`; no timers):
 *
 * - a per-(peer, snapshot) budget: at most `maxStateTransfers` full
 *   transfers within any `stateTransferWindow` (a sliding window: the times
 *   of the last transfers are kept, at most `maxStateTransfers` per pair);
 * - the chunked payload (packed, deflated, split) per snapshot, so a repeat
 *   request costs no re-compression; at most `keepCompleted` payloads, least
 *   recently served dropped first.
 *
 * The coordinator calls `forget` when it lets go of a snapshot (pruned from
 * the completed set, or failed), which frees both.
 */
export class StateServer {
  private readonly transfers: SlidingBudget
  private readonly payloads = new Map<string, CachedPayload>()

  constructor (private readonly limits: ServingLimits) {
    this.transfers = new SlidingBudget('RequestState', limits)
  }

  /** Counts one transfer of `snapshotId` to `peer` at `now`, or returns the `RateLimitedError` refusing it (and counts nothing). */
  admit (peer: string, snapshotId: string, now: number): RateLimitedError | undefined {
    return this.transfers.admit(peer, snapshotId, now)
  }

  /** The chunked payload of `state`, this node's own state in `snapshotId`: cached, made once per record. */
  payload (snapshotId: string, state: ParticipantState): ChunkedPayload {
    const cached = this.payloads.get(snapshotId)
    this.payloads.delete(snapshotId)
    const fresh = cached !== undefined && cached.source.localState === state.localState && cached.source.channelState === state.channelState
      ? cached
      : { source: state, payload: chunkPayload(packState(state), this.limits.chunkSize, this.limits.compressionLevel) }
    this.payloads.set(snapshotId, fresh)
    while (this.payloads.size > this.limits.keepCompleted) this.payloads.delete(this.payloads.keys().next().value as string)
    return fresh.payload
  }

  /** Drops the cached payload and the transfer budget of a snapshot this node no longer serves. */
  forget (snapshotId: string): void {
    this.payloads.delete(snapshotId)
    this.transfers.forget(snapshotId)
  }

  /** Snapshots with a cached payload, least recently served first (for tests and monitoring). */
  cachedIds (): string[] {
    return [...this.payloads.keys()]
  }

  /** Snapshots with a transfer budget in use (for tests and monitoring). */
  budgetIds (): string[] {
    return this.transfers.ids()
  }
}
