/**
 * Range-based set reconciliation (after Meyer, "Range-Based Set
 * Reconciliation", 2023) over entry keys ordered by (timestamp, id). Pure:
 * functions take sorted items and return the reply and the ids to pull.
 *
 * A message is a list of consecutive ranges covering [lower, ∞); each range
 * names its exclusive upper bound and carries either nothing (`skip`: equal on
 * both sides), a fingerprint (`fp`), the sender's full id list (`ids`), or the
 * ids the sender has that the receiver lacks (`offer`). Space after the last
 * range is implicitly `skip`. See docs/gossip.md for why it always completes.
 */
import { compareBytes, concatBytes, sha256, toHex } from '@icn/identity'

/** Sort key of an entry: timestamp, then id bytes. */
export interface Key {
  readonly ts: number
  readonly id: Uint8Array
}

/** Anything that carries a key (stored entries do). */
export interface Keyed {
  readonly key: Key
}

export type RangeMode = 'skip' | 'fp' | 'ids' | 'offer'

/** One range of a reconciliation message; `upper` null means +∞. */
export interface Range {
  readonly upper: Key | null
  readonly mode: RangeMode
  readonly fingerprint?: Uint8Array
  readonly ids?: readonly Uint8Array[]
}

/** Tuning knobs; see `GossipInit.reconcile`. */
export interface ReconcileOptions {
  /** Sub-ranges a differing range is split into. */
  branching: number
  /** A side with at most this many items in a differing range sends its ids instead of splitting. */
  idThreshold: number
  /** Ranges per reply before the rest of the space is folded into one fingerprint. */
  maxRanges: number
}

/** The smallest key: every entry sorts at or above it. */
export const MIN_KEY: Key = { ts: 0, id: new Uint8Array(0) }

export const FINGERPRINT_BYTES = 16

/** Total order on keys (a null upper bound is +∞ and never passed here). */
export function compareKeys (a: Key, b: Key): number {
  return a.ts !== b.ts ? (a.ts < b.ts ? -1 : 1) : compareBytes(a.id, b.id)
}

export function maxKey (a: Key, b: Key): Key {
  return compareKeys(a, b) >= 0 ? a : b
}

/** Index of the first item whose key is ≥ `bound` (items.length when `bound` is +∞). */
export function lowerBound (items: readonly Keyed[], bound: Key | null): number {
  if (bound === null) return items.length
  let lo = 0
  let hi = items.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareKeys((items[mid] as Keyed).key, bound) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Fingerprint of items[from, to): sha-256 of (sum of ids mod 2^256, count),
 * truncated to 16 bytes. The sum makes it order-independent and incremental;
 * hashing it with the count makes a crafted collision as hard as sha-256.
 */
export function fingerprint (items: readonly Keyed[], from: number, to: number): Uint8Array {
  const sum = new Uint8Array(32)
  for (let i = from; i < to; i++) {
    const id = (items[i] as Keyed).key.id
    let carry = 0
    for (let b = 0; b < 32; b++) {
      const s = (sum[b] as number) + (id[b] ?? 0) + carry
      sum[b] = s & 0xff
      carry = s >>> 8
    }
  }
  const count = new Uint8Array(8)
  new DataView(count.buffer).setFloat64(0, to - from)
  return sha256(concatBytes(sum, count)).subarray(0, FINGERPRINT_BYTES)
}

/** The opening message: one fingerprint over everything at or above `lower`. */
export function openingRanges (items: readonly Keyed[], lower: Key): Range[] {
  return [{ upper: null, mode: 'fp', fingerprint: fingerprint(items, lowerBound(items, lower), items.length) }]
}

/** Result of processing one incoming message. */
export interface ReconcileStep {
  /** Ranges to send back; empty means this side has nothing more to say. */
  reply: Range[]
  /** Ids the peer has and this side lacks (to pull). */
  need: Uint8Array[]
}

/** Thrown (and caught by the receive path) for ranges that are not strictly increasing above `lower`. */
export class RangeOrderError extends Error {
  override readonly name = 'RangeOrderError'
}

function bytesEqual16 (a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === undefined || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Answers `ranges` (which cover [lower, ∞)) against this side's sorted `items`.
 * Equal fingerprints become `skip`; a differing range becomes this side's id
 * list when it holds at most `idThreshold` items there, else `branching`
 * sub-ranges with fingerprints, split at this side's own items. An `ids` range
 * is resolved completely: ids the peer lacks are offered back, ids this side
 * lacks are returned in `need`.
 */
export function reconcile (items: readonly Keyed[], lower: Key, ranges: readonly Range[], options: ReconcileOptions): ReconcileStep {
  const reply: Range[] = []
  const need: Uint8Array[] = []
  const push = (range: Range): void => {
    const last = reply[reply.length - 1]
    if (range.mode === 'skip' && last?.mode === 'skip') reply[reply.length - 1] = range
    else reply.push(range)
  }
  let prev: Key = lower
  let prevIndex = lowerBound(items, lower)
  for (let r = 0; r < ranges.length; r++) {
    const range = ranges[r] as Range
    if (range.upper !== null && compareKeys(range.upper, prev) <= 0) throw new RangeOrderError('range bounds must increase strictly above the lower bound')
    if (reply.length >= options.maxRanges) {
      // Reply is full: fold the unanswered rest into one fingerprint; the peer answers it next round.
      push({ upper: null, mode: 'fp', fingerprint: fingerprint(items, prevIndex, items.length) })
      break
    }
    const end = lowerBound(items, range.upper)
    switch (range.mode) {
      case 'skip':
        push(range)
        break
      case 'fp': {
        if (bytesEqual16(range.fingerprint, fingerprint(items, prevIndex, end))) push({ upper: range.upper, mode: 'skip' })
        else if (end - prevIndex <= options.idThreshold) push({ upper: range.upper, mode: 'ids', ids: idsOf(items, prevIndex, end) })
        else split(items, prevIndex, end, range.upper, options.branching, push)
        break
      }
      case 'ids': {
        const own = idsOf(items, prevIndex, end)
        const mine = new Set(own.map(toHex))
        const theirs = new Set<string>()
        for (const id of range.ids ?? []) {
          const hex = toHex(id)
          theirs.add(hex)
          if (!mine.has(hex)) need.push(id)
        }
        const offer = own.filter((id) => !theirs.has(toHex(id)))
        push(offer.length > 0 ? { upper: range.upper, mode: 'offer', ids: offer } : { upper: range.upper, mode: 'skip' })
        break
      }
      case 'offer': {
        const mine = new Set(idsOf(items, prevIndex, end).map(toHex))
        for (const id of range.ids ?? []) if (!mine.has(toHex(id))) need.push(id)
        push({ upper: range.upper, mode: 'skip' })
        break
      }
    }
    if (range.upper === null) break
    prev = range.upper
    prevIndex = end
  }
  while (reply.length > 0 && (reply[reply.length - 1] as Range).mode === 'skip') reply.pop()
  return { reply, need }
}

function idsOf (items: readonly Keyed[], from: number, to: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = from; i < to; i++) out.push((items[i] as Keyed).key.id)
  return out
}

/** Splits items[from, to) into `branching` fingerprinted sub-ranges bounded by this side's own keys. */
function split (items: readonly Keyed[], from: number, to: number, upper: Key | null, branching: number, push: (range: Range) => void): void {
  const size = Math.ceil((to - from) / branching)
  for (let start = from; start < to; start += size) {
    const stop = Math.min(start + size, to)
    push({ upper: stop < to ? (items[stop] as Keyed).key : upper, mode: 'fp', fingerprint: fingerprint(items, start, stop) })
  }
}
