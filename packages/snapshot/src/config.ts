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
}

export const DEFAULT_CONFIG: Readonly<SnapshotConfig> = Object.freeze({
  minTrustForSnapshot: 0.5,
  maxSnapshotSize: 100 * 1024 * 1024,
  chunkSize: 1024 * 1024,
  snapshotTimeout: 300_000,
  minParticipants: 3,
  keepCompleted: 8,
  compressionLevel: 1
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
  check(Number.isFinite(c.minTrustForSnapshot) && c.minTrustForSnapshot >= 0 && c.minTrustForSnapshot <= 1, 'minTrustForSnapshot must be in [0, 1]')
  check(Number.isSafeInteger(c.maxSnapshotSize) && c.maxSnapshotSize > 0, 'maxSnapshotSize must be a positive integer')
  check(Number.isSafeInteger(c.chunkSize) && c.chunkSize >= 1024, 'chunkSize must be an integer >= 1024')
  check(Number.isFinite(c.snapshotTimeout) && c.snapshotTimeout > 0, 'snapshotTimeout must be positive')
  check(Number.isSafeInteger(c.minParticipants) && c.minParticipants >= 2, 'minParticipants must be an integer >= 2')
  check(Number.isSafeInteger(c.keepCompleted) && c.keepCompleted >= 1, 'keepCompleted must be an integer >= 1')
  check(Number.isSafeInteger(c.compressionLevel) && c.compressionLevel >= 0 && c.compressionLevel <= 9, 'compressionLevel must be 0-9')
  return c
}
