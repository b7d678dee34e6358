/**
 * The entries of one topic, sorted by (timestamp, id), deduplicated by id and
 * bounded by the eviction rule: nothing older than the retention window, and
 * at most `maxEntries`, dropping the lowest keys first. The same rule on every
 * node keeps the same newest entries, so the retained sets converge too.
 */
import { compareKeys, lowerBound, maxKey, type Key } from './reconcile.js'
import type { StoredEntry } from './entry.js'

/** Retention is enforced at this granularity. */
export const RETENTION_GRANULARITY_MS = 60_000

export interface TopicLogLimits {
  retentionMs: number
  maxEntries: number
}

export type AddResult = 'added' | 'duplicate' | 'expired'

export class TopicLog {
  private readonly sorted: StoredEntry[] = []
  private readonly byId = new Map<string, StoredEntry>()

  constructor (private readonly limits: TopicLogLimits) {}

  get size (): number { return this.sorted.length }

  /** Entries in key order (read-only view). */
  get items (): readonly StoredEntry[] { return this.sorted }

  get (idHex: string): StoredEntry | undefined { return this.byId.get(idHex) }

  has (idHex: string): boolean { return this.byId.has(idHex) }

  /**
   * The lowest key this log keeps at `now`: the retention cut-off, raised to
   * the oldest kept entry when the log is full. Reconciliation only compares
   * keys at or above both peers' floors.
   */
  floor (now: number): Key {
    const retention = this.retentionKey(now)
    const oldest = this.sorted[0]
    return this.sorted.length >= this.limits.maxEntries && oldest !== undefined ? maxKey(retention, oldest.key) : retention
  }

  /** Inserts unless a duplicate or below the floor; evicts the lowest key when over capacity. */
  add (entry: StoredEntry, now: number): AddResult {
    if (this.byId.has(entry.idHex)) return 'duplicate'
    if (compareKeys(entry.key, this.floor(now)) < 0) return 'expired'
    const at = lowerBound(this.sorted, entry.key)
    this.sorted.splice(at, 0, entry)
    this.byId.set(entry.idHex, entry)
    while (this.sorted.length > this.limits.maxEntries) this.removeAt(0)
    return 'added'
  }

  /** Drops entries older than the retention window; returns how many. */
  evictExpired (now: number): number {
    const cut = lowerBound(this.sorted, this.retentionKey(now))
    for (let i = 0; i < cut; i++) this.byId.delete((this.sorted[i] as StoredEntry).idHex)
    this.sorted.splice(0, cut)
    return cut
  }

  /**
   * The retention cut-off, rounded down to a whole minute so that two peers
   * whose clocks differ by milliseconds compute the same floor (otherwise each
   * reconciliation round would see the other's floor as stale and restart).
   */
  private retentionKey (now: number): Key {
    const cut = Math.max(0, now - this.limits.retentionMs)
    return { ts: cut - (cut % RETENTION_GRANULARITY_MS), id: new Uint8Array(0) }
  }

  private removeAt (index: number): void {
    const [gone] = this.sorted.splice(index, 1)
    if (gone !== undefined) this.byId.delete(gone.idHex)
  }
}
