/** Defaults and validation of `GossipInit`. */
import { DAY_MS, DEFAULT_MAX_CLOCK_COMPONENTS, MIB } from './constants.js'
import { InvalidArgumentError } from './errors.js'
import type { GossipInit, RejectReason } from './index.js'
import type { ReconcileOptions } from './reconcile.js'

export interface GossipOptions {
  path: string | undefined
  persistEntries: boolean
  retentionMs: number
  maxEntriesPerTopic: number
  maxPayloadBytes: number
  compressThreshold: number
  maxFrameBytes: number
  maxInflatedBytesPerFrame: number
  maxClockComponents: number
  misbehaviourReasons: ReadonlySet<RejectReason>
  lazyTimeoutMs: number
  haveDelayMs: number
  antiEntropyIntervalMs: number
  antiEntropyMaxIntervalMs: number
  announceIntervalMs: number
  pullPageSize: number
  pullTimeoutMs: number
  syncRate: { burst: number, perSecond: number }
  pullRate: { burst: number, perSecond: number }
  nonceTtlMs: number
  maxClockSkewMs: number
  maxSyncRounds: number
  saveDelayMs: number
  reconcile: ReconcileOptions
}

/** Reasons that say the sending peer broke the protocol (rather than merely disagreeing with us). */
export const DEFAULT_MISBEHAVIOUR_REASONS: readonly RejectReason[] = ['malformed', 'too-large', 'decompression', 'bad-id', 'bad-signature', 'validator', 'inflate-budget', 'clock-bound']

function positive (name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new InvalidArgumentError(`${name} must be a number ≥ ${min}`)
  return v
}

/** Fills defaults; throws `InvalidArgumentError` for out-of-range options. */
export function resolveOptions (init: GossipInit): GossipOptions {
  const rate = (name: string, value: { burst: number, perSecond: number } | undefined, burst: number, perSecond: number): { burst: number, perSecond: number } => ({
    burst: positive(`${name}.burst`, value?.burst, burst),
    perSecond: positive(`${name}.perSecond`, value?.perSecond, perSecond, 0)
  })
  const options: GossipOptions = {
    path: init.path,
    persistEntries: init.persistEntries ?? true,
    retentionMs: positive('retentionMs', init.retentionMs, 30 * DAY_MS),
    maxEntriesPerTopic: positive('maxEntriesPerTopic', init.maxEntriesPerTopic, 10_000),
    maxPayloadBytes: positive('maxPayloadBytes', init.maxPayloadBytes, 10 * MIB, 0),
    compressThreshold: positive('compressThreshold', init.compressThreshold, 1024, 0),
    maxFrameBytes: positive('maxFrameBytes', init.maxFrameBytes, 16 * MIB),
    maxInflatedBytesPerFrame: 0,
    maxClockComponents: positive('maxClockComponents', init.maxClockComponents, DEFAULT_MAX_CLOCK_COMPONENTS),
    misbehaviourReasons: new Set(init.misbehaviourReasons ?? DEFAULT_MISBEHAVIOUR_REASONS),
    lazyTimeoutMs: positive('lazyTimeoutMs', init.lazyTimeoutMs, 500),
    haveDelayMs: positive('haveDelayMs', init.haveDelayMs, 50, 0),
    antiEntropyIntervalMs: positive('antiEntropyIntervalMs', init.antiEntropyIntervalMs, 2000),
    antiEntropyMaxIntervalMs: 0,
    announceIntervalMs: positive('announceIntervalMs', init.announceIntervalMs, 60_000),
    pullPageSize: positive('pullPageSize', init.pullPageSize, 64),
    pullTimeoutMs: positive('pullTimeoutMs', init.pullTimeoutMs, 5000),
    syncRate: rate('syncRate', init.syncRate, 64, 32),
    pullRate: rate('pullRate', init.pullRate, 32, 16),
    nonceTtlMs: positive('nonceTtlMs', init.nonceTtlMs, 600_000),
    maxClockSkewMs: positive('maxClockSkewMs', init.maxClockSkewMs, 300_000, 0),
    maxSyncRounds: positive('maxSyncRounds', init.maxSyncRounds, 64),
    saveDelayMs: positive('saveDelayMs', init.saveDelayMs, 1000, 0),
    reconcile: {
      branching: positive('reconcile.branching', init.reconcile?.branching, 16, 2),
      idThreshold: positive('reconcile.idThreshold', init.reconcile?.idThreshold, 32),
      maxRanges: positive('reconcile.maxRanges', init.reconcile?.maxRanges, 128, 2)
    }
  }
  if (!Number.isSafeInteger(options.maxClockComponents)) throw new InvalidArgumentError('maxClockComponents must be an integer')
  // Every entry a node accepts must fit one frame's inflate budget on its own.
  options.maxInflatedBytesPerFrame = positive(
    'maxInflatedBytesPerFrame', init.maxInflatedBytesPerFrame, Math.max(2 * options.maxFrameBytes, options.maxPayloadBytes), options.maxPayloadBytes
  )
  // Idle back-off: at most this long between exchanges while nothing changes (never below the base period).
  options.antiEntropyMaxIntervalMs = positive('antiEntropyMaxIntervalMs', init.antiEntropyMaxIntervalMs, Math.max(30_000, options.antiEntropyIntervalMs), options.antiEntropyIntervalMs)
  return options
}
