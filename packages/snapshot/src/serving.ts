import type { SnapshotConfig } from './config.js'
import { RateLimitedError } from './errors.js'
import { type ChunkedPayload, type ParticipantState, chunkPayload, packState } from './transfer.js'

/** The settings that shape serving. */
export type ServingLimits = Pick<SnapshotConfig, 'chunkSize' | 'compressionLevel' | 'keepCompleted' | 'maxStateTransfers' | 'stateTransferWindow'>

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
  private readonly transfers = new Map<string, Map<string, number[]>>()
  private readonly payloads = new Map<string, CachedPayload>()

  constructor (private readonly limits: ServingLimits) {}

  /** Counts one transfer of `snapshotId` to `peer` at `now`, or throws `RateLimitedError` (and counts nothing). */
  admit (peer: string, snapshotId: string, now: number): void {
    const { maxStateTransfers, stateTransferWindow } = this.limits
    let byPeer = this.transfers.get(snapshotId)
    if (byPeer === undefined) {
      byPeer = new Map()
      this.transfers.set(snapshotId, byPeer)
    }
    const recent = (byPeer.get(peer) ?? []).filter((at) => at + stateTransferWindow > now)
    if (recent.length >= maxStateTransfers) {
      byPeer.set(peer, recent)
      throw new RateLimitedError(peer, snapshotId, recent.length, stateTransferWindow, (recent[0] as number) + stateTransferWindow)
    }
    recent.push(now)
    byPeer.set(peer, recent)
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
    this.transfers.delete(snapshotId)
  }

  /** Snapshots with a cached payload, least recently served first (for tests and monitoring). */
  cachedIds (): string[] {
    return [...this.payloads.keys()]
  }

  /** Snapshots with a transfer budget in use (for tests and monitoring). */
  budgetIds (): string[] {
    return [...this.transfers.keys()]
  }
}
