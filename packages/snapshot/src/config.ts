import { InvalidConfigError } from './errors.js'

/** Protocol settings. Defaults are the original's `SnapshotConfig`. */
export interface SnapshotConfig {
  /** Least trust (in [0, 1]) an initiator needs in a peer to invite it, and a participant in an initiator to join. @default 0.5 */
  minTrustForSnapshot: number
  /** Largest local state, channel recording or transfer payload, in bytes. @default 104857600 (100 MiB) */
  maxSnapshotSize: number
  /** Largest compressed state-transfer chunk, in bytes. @default 1048576 (1 MiB) */
  chunkSize: number
  /** Milliseconds a snapshot, a state fetch or a verification may take before it fails. @default 300000 */
  snapshotTimeout: number
  /** Fewest participants, the initiator included. @default 3 */
  minParticipants: number
  /** Completed snapshots kept in memory to serve transfers and verification. @default 8 */
  keepCompleted: number
  /** zlib deflate level for state transfers (0-9). @default 1 */
  compressionLevel: number
  /**
   * Full state transfers this node serves one peer for one snapshot within
   * any `stateTransferWindow`; further `RequestState`s are refused with
   * `RateLimitedError`. At least 2: an honest requester asks again only after
   * its previous fetch ended (timed out, or fetched state kept for a window),
   * so at most two of its requests can land in one window. @default 4
   */
  maxStateTransfers: number
  /**
   * The sliding window of `maxStateTransfers`, in milliseconds; at most
   * `snapshotTimeout` (the requester's retry interval). Also how long a
   * fetched state is kept for reuse at least. @default snapshotTimeout
   */
  stateTransferWindow: number
}

export const DEFAULT_CONFIG: Readonly<SnapshotConfig> = Object.freeze({
  minTrustForSnapshot: 0.5,
  maxSnapshotSize: 100 * 1024 * 1024,
  chunkSize: 1024 * 1024,
  snapshotTimeout: 300_000,
  minParticipants: 3,
  keepCompleted: 8,
  compressionLevel: 1,
  maxStateTransfers: 4,
  stateTransferWindow: 300_000
})

function check (ok: boolean, what: string): void {
  if (!ok) throw new InvalidConfigError(what)
}

/** Fills defaults and checks ranges; throws `InvalidConfigError`. */
export function resolveConfig (init: Partial<SnapshotConfig> = {}): SnapshotConfig {
  const c: SnapshotConfig = { ...DEFAULT_CONFIG }
  for (const [key, value] of Object.entries(init) as Array<[keyof SnapshotConfig, number | undefined]>) {
    if (value !== undefined) c[key] = value
  }
  // The window follows the timeout unless set: a requester retries a lost transfer only after `snapshotTimeout`.
  if (init.stateTransferWindow === undefined) c.stateTransferWindow = c.snapshotTimeout
  check(Number.isFinite(c.minTrustForSnapshot) && c.minTrustForSnapshot >= 0 && c.minTrustForSnapshot <= 1, 'minTrustForSnapshot must be in [0, 1]')
  check(Number.isSafeInteger(c.maxSnapshotSize) && c.maxSnapshotSize > 0, 'maxSnapshotSize must be a positive integer')
  check(Number.isSafeInteger(c.chunkSize) && c.chunkSize >= 1024, 'chunkSize must be an integer >= 1024')
  check(Number.isFinite(c.snapshotTimeout) && c.snapshotTimeout > 0, 'snapshotTimeout must be positive')
  check(Number.isSafeInteger(c.minParticipants) && c.minParticipants >= 2, 'minParticipants must be an integer >= 2')
  check(Number.isSafeInteger(c.keepCompleted) && c.keepCompleted >= 1, 'keepCompleted must be an integer >= 1')
  check(Number.isSafeInteger(c.compressionLevel) && c.compressionLevel >= 0 && c.compressionLevel <= 9, 'compressionLevel must be 0-9')
  check(Number.isSafeInteger(c.maxStateTransfers) && c.maxStateTransfers >= 2, 'maxStateTransfers must be an integer >= 2')
  check(Number.isFinite(c.stateTransferWindow) && c.stateTransferWindow > 0 && c.stateTransferWindow <= c.snapshotTimeout,
    'stateTransferWindow must be positive and at most snapshotTimeout')
  return c
}
