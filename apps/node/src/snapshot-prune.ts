import type { PruneRule, SnapshotStore } from '@icn/snapshot'
import { ApiError } from './errors.js'

/** What `POST /snapshots/prune` (`icn-node snapshot prune`) answers. */
export interface PruneReport {
  /** Snapshot ids removed, newest first. */
  removed: string[]
  /** Snapshots still stored. */
  kept: number
  /** Chunk files and bytes the stored states take now (shared chunks counted once). */
  chunks: number
  chunkBytes: number
}

function optionalCount (body: unknown, field: 'keepNewest' | 'maxAgeMs'): number | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[field]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new ApiError(400, 'BAD_REQUEST', `field '${field}' must be an integer >= 0`)
  return value
}

/**
 * Removes stored snapshots beyond the newest `keepNewest` and older than `maxAgeMs` (at least one rule),
 * then the chunks no remaining snapshot uses.
 */
export async function pruneSnapshots (store: SnapshotStore, body: unknown): Promise<PruneReport> {
  const keepNewest = optionalCount(body, 'keepNewest')
  const maxAgeMs = optionalCount(body, 'maxAgeMs')
  if (keepNewest === undefined && maxAgeMs === undefined) throw new ApiError(400, 'BAD_REQUEST', "give 'keepNewest', 'maxAgeMs' or both")
  const rule: PruneRule = { ...(keepNewest === undefined ? {} : { keepNewest }), ...(maxAgeMs === undefined ? {} : { maxAgeMs }) }
  const removed = await store.prune(rule)
  const usage = await store.usage()
  return { removed, kept: (await store.list()).length, ...usage }
}
