// The data directory's disk: writes are refused before a store is touched when it is nearly full.
import { statfs } from 'node:fs/promises'
import type { CancelTimer, Clock } from '@icn/identity'
import { ApiError } from './errors.js'
import type { Logger } from './logger.js'

/**
 * Free bytes a write through the API needs on the data directory's disk. Below it the write is refused
 * (507) before any store is touched: lmdb-js 3.5.6 overflows a 100-byte heap buffer when it formats
 * the error of a page write the full disk refused (mdb.c, `last_error = malloc(100); sprintf(…)`),
 * and the process then aborts (`malloc(): invalid size`) at a later allocation.
 */
export const MIN_FREE_BYTES = 8 * 1024 * 1024

/**
 * Free bytes below which entries from peers (gossip, history sync) are not applied: above the API's
 * minimum by what a second of peer traffic can write, since this reading is up to a second old.
 */
export const MIN_FREE_BYTES_FOR_PEERS = 2 * MIN_FREE_BYTES

/** A reading this far above MIN_FREE_BYTES is reused by writes for FREE_SPACE_REUSE_MS (one statfs, not one per write). */
const FREE_SPACE_MARGIN_BYTES = 8 * MIN_FREE_BYTES
const FREE_SPACE_REUSE_MS = 100

async function freeBytes (dataDir: string): Promise<number> {
  const fs = await statfs(dataDir)
  return fs.bavail * fs.bsize
}

/**
 * The free-space check of API writes: concurrent writes share one `statfs`, and a reading with a wide
 * margin is reused for 100 ms — a node writes at most a few MiB in that time, well within the margin
 * — while near the limit every write reads the disk again. Throws a 507 `ApiError`.
 */
export function freeSpaceGuard (dataDir: string): () => Promise<void> {
  let last: { free: number, at: number } | undefined
  let reading: Promise<number> | undefined
  return async () => {
    let free: number
    if (last !== undefined && last.free >= FREE_SPACE_MARGIN_BYTES && performance.now() - last.at < FREE_SPACE_REUSE_MS) {
      free = last.free
    } else {
      reading ??= freeBytes(dataDir).finally(() => { reading = undefined })
      free = await reading
      last = { free, at: performance.now() }
    }
    if (free < MIN_FREE_BYTES) {
      throw new ApiError(507, 'INSUFFICIENT_STORAGE', `the disk holding ${dataDir} has ${free} bytes free, under the ${MIN_FREE_BYTES} a write needs: nothing was written; free space there and retry`)
    }
  }
}

/** Whether entries from peers may be written now; read synchronously on every delivery. */
export interface StorageMonitor {
  /** Free space at the last reading is at least `MIN_FREE_BYTES_FOR_PEERS`. */
  readonly writable: boolean
  /** Free bytes at the last reading. */
  readonly freeBytes: number
  /** Hears every change of `writable` (a disk that filled up, or space that came back). */
  onChange(listener: (writable: boolean) => void): () => void
  /** Stops the readings. */
  stop(): void
}

/**
 * Free bytes above which the monitor reads the disk every `relaxedIntervalMs` rather than every
 * `intervalMs`: 512 MiB is over 30 s of the node's heaviest peer traffic (~16 MB/s at 1,200 payments/s),
 * so a reading up to 10 s old still keeps peer writes clear of `MIN_FREE_BYTES_FOR_PEERS`.
 */
export const RELAXED_READING_FREE_BYTES = 64 * MIN_FREE_BYTES

/** How long until the next free-space reading, after one that found `free` bytes. */
export function nextReadingDelay (free: number, intervals: { intervalMs: number, relaxedIntervalMs: number }): number {
  return free >= RELAXED_READING_FREE_BYTES ? intervals.relaxedIntervalMs : intervals.intervalMs
}

/**
 * Reads the disk's free space every `intervalMs` (every `relaxedIntervalMs` while more than
 * `RELAXED_READING_FREE_BYTES` are free: an idle node wakes less): entries arriving from peers while it
 * is under `MIN_FREE_BYTES_FOR_PEERS` are left unapplied (peers offer them again by history sync once
 * space is back), so a full disk is an outage of writes, not a storage error inside a store.
 */
export async function startStorageMonitor (
  dataDir: string, components: { clock: Clock, logger: Logger }, intervals = { intervalMs: 1000, relaxedIntervalMs: 10_000 }
): Promise<StorageMonitor> {
  const listeners = new Set<(writable: boolean) => void>()
  let free = await freeBytes(dataDir)
  let writable = free >= MIN_FREE_BYTES_FOR_PEERS
  let timer: CancelTimer | undefined
  let stopped = false
  const tick = (): void => {
    void freeBytes(dataDir).then((bytes) => {
      if (stopped) return
      free = bytes
      const now = bytes >= MIN_FREE_BYTES_FOR_PEERS
      if (now !== writable) {
        writable = now
        if (now) components.logger.info({ freeBytes: bytes }, 'disk has room again: applying entries from peers')
        else components.logger.warn({ freeBytes: bytes, minFreeBytes: MIN_FREE_BYTES_FOR_PEERS }, 'disk nearly full: entries from peers are not applied until space is freed')
        for (const listener of [...listeners]) listener(now)
      }
    }, (err: unknown) => {
      components.logger.warn({ err: (err as Error).message }, 'could not read the disk\'s free space')
    }).finally(() => {
      if (!stopped) timer = components.clock.setTimeout(tick, nextReadingDelay(free, intervals))
    })
  }
  timer = components.clock.setTimeout(tick, nextReadingDelay(free, intervals))
  return {
    get writable () { return writable },
    get freeBytes () { return free },
    onChange: (listener) => { listeners.add(listener); return () => { listeners.delete(listener) } },
    stop: () => { stopped = true; timer?.() }
  }
}

/**
 * True for what lmdb-js rejects a write with when its commit failed (a full disk, a failing device):
 * lmdb-js also rejects its shared commit promise, which no caller holds, so the node recognises these
 * among unhandled rejections instead of dying of them; each write's own caller has its rejection.
 */
export function isStorageFailure (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const { code, errno } = err as { code?: unknown, errno?: unknown }
  return err.message.startsWith('Commit failed') || code === 'ENOSPC' || errno === -28 || code === -30792 ||
    err.message.startsWith('No space left on device') || err.message.includes('MDB_MAP_FULL')
}
