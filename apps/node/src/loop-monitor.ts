import { closeSync, openSync, readSync } from 'node:fs'
import { type RecordableHistogram, createHistogram, monitorEventLoopDelay } from 'node:perf_hooks'

/** How often the event loop is sampled, in ms. */
export const LOOP_SAMPLE_MS = 10

/** `status.eventLoop`: how long the event loop was blocked since start or the last `POST /metrics/reset`. */
export interface EventLoopStats {
  /** Wall-clock stalls beyond the sampling interval (`monitorEventLoopDelay`), whatever their cause. */
  p50Ms: number
  p99Ms: number
  maxMs: number
  /**
   * The same stalls less the time this thread spent runnable but waiting for a CPU (Linux
   * `/proc/thread-self/schedstat`): the part that is this node's own work or a blocking call, not a
   * machine with more busy threads than cores. Absent where the kernel does not report it.
   */
  own?: { p99Ms: number, maxMs: number }
  /** Time the event-loop thread waited on the run queue for a CPU, in all. */
  runQueueWaitMs?: number
  /** Time the event-loop thread ran on a CPU, in all. */
  runMs?: number
}

export interface LoopMonitor {
  enable(): void
  /** Stops sampling (clears its timer) and closes what it reads. Idempotent. */
  disable(): void
  reset(): void
  stats(): EventLoopStats
}

/** A sample of monitorEventLoopDelay (ns, which includes its own sampling interval) as ms the loop was blocked. */
const stallMs = (ns: number): number => Number.isFinite(ns) ? Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS) : 0

/** The calling thread's time on a CPU and waiting on the run queue so far, in ns (schedstat's first two fields). */
interface SchedTimes { runNs: number, waitNs: number }

function schedstatReader (): { read: () => SchedTimes, close: () => void } | undefined {
  let fd: number
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r')
  } catch {
    return undefined
  }
  const buffer = Buffer.alloc(128)
  const read = (): SchedTimes => {
    const [run, wait] = buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0)).split(' ')
    return { runNs: Number(run), waitNs: Number(wait) }
  }
  const first = read()
  if (!Number.isFinite(first.runNs) || !Number.isFinite(first.waitNs)) { closeSync(fd); return undefined }
  return { read, close: () => { closeSync(fd) } }
}

/**
 * Event-loop stalls, told apart from CPU starvation. `monitorEventLoopDelay` measures wall time; on a
 * machine with more runnable threads than cores, much of a "stall" is the thread waiting on the run
 * queue while its work is ready. A 10 ms sampler subtracts that wait (which Linux counts per thread)
 * from each tick's lateness. Cost: one 128-byte read of a proc file per tick.
 */
export function createLoopMonitor (): LoopMonitor {
  const delay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
  let own: RecordableHistogram | undefined
  let reader: ReturnType<typeof schedstatReader>
  let timer: ReturnType<typeof setInterval> | undefined
  let last = { at: 0, runNs: 0, waitNs: 0 }
  let since = last
  let ownMaxMs = 0
  const tick = (): void => {
    if (reader === undefined) return
    const now = { at: performance.now(), ...reader.read() }
    const ownMs = Math.max(0, now.at - last.at - LOOP_SAMPLE_MS - (now.waitNs - last.waitNs) / 1e6)
    own?.record(Math.max(1, Math.round(ownMs * 1000)))
    if (ownMs > ownMaxMs) ownMaxMs = ownMs
    last = now
  }
  const restart = (): void => {
    own = createHistogram()
    ownMaxMs = 0
    if (reader !== undefined) last = since = { at: performance.now(), ...reader.read() }
  }
  return {
    enable: () => {
      delay.enable()
      if (timer !== undefined) return
      reader = schedstatReader()
      if (reader === undefined) return
      restart()
      timer = setInterval(tick, LOOP_SAMPLE_MS)
      timer.unref()
    },
    disable: () => {
      delay.disable()
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      reader?.close()
      reader = undefined
    },
    reset: () => {
      delay.reset()
      restart()
    },
    stats: () => {
      const stats: EventLoopStats = { p50Ms: stallMs(delay.percentile(50)), p99Ms: stallMs(delay.percentile(99)), maxMs: stallMs(delay.max) }
      if (reader !== undefined && own !== undefined) {
        stats.own = { p99Ms: own.count === 0 ? 0 : own.percentile(99) / 1000, maxMs: ownMaxMs }
        stats.runQueueWaitMs = (last.waitNs - since.waitNs) / 1e6
        stats.runMs = (last.runNs - since.runNs) / 1e6
      }
      return stats
    }
  }
}
