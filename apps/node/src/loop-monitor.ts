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
  /** Sampling now: the node was busy within the last `idleMs`. */
  sampling: boolean
}

export interface LoopMonitor {
  /** Starts monitoring: sampling runs while the node is busy (see `wake`). */
  enable(): void
  /**
   * Something is happening (a change, an API request): sampling runs now and until `idleMs` pass
   * without another wake. An idle node does not tick 100 times a second for nothing.
   */
  wake(): void
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
 * from each tick's lateness. Cost: one 128-byte read of a proc file per tick, while the node is busy:
 * sampling pauses `idleMs` after the last `wake()` (2 % of a core at 100 ticks a second, for nothing).
 */
export function createLoopMonitor (init: { idleMs?: number } = {}): LoopMonitor {
  const idleMs = init.idleMs ?? 1000
  const delay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS })
  let own: RecordableHistogram | undefined
  let reader: ReturnType<typeof schedstatReader>
  let timer: ReturnType<typeof setInterval> | undefined
  let enabled = false
  let lastWake = 0
  let last = { at: 0, runNs: 0, waitNs: 0 }
  let since = last
  let ownMaxMs = 0
  // The schedstat counters go on while sampling pauses: what they grew by meanwhile is left out.
  let skipped = { runNs: 0, waitNs: 0 }
  const read = (): { runNs: number, waitNs: number } => {
    const r = reader!.read()
    return { runNs: r.runNs - skipped.runNs, waitNs: r.waitNs - skipped.waitNs }
  }
  const tick = (): void => {
    const at = performance.now()
    if (reader !== undefined) {
      const now = { at, ...read() }
      const ownMs = Math.max(0, now.at - last.at - LOOP_SAMPLE_MS - (now.waitNs - last.waitNs) / 1e6)
      own?.record(Math.max(1, Math.round(ownMs * 1000)))
      if (ownMs > ownMaxMs) ownMaxMs = ownMs
      last = now
    }
    if (at - lastWake > idleMs) pause()
  }
  const pause = (): void => {
    delay.disable()
    if (timer !== undefined) clearInterval(timer)
    timer = undefined
  }
  const resume = (): void => {
    delay.enable()
    if (reader !== undefined) {
      // The idle gap is neither a stall nor this thread's run or wait time: counting goes on from here.
      const r = reader.read()
      skipped = { runNs: r.runNs - last.runNs, waitNs: r.waitNs - last.waitNs }
      last = { at: performance.now(), ...read() }
    }
    timer = setInterval(tick, LOOP_SAMPLE_MS)
    timer.unref()
  }
  const restart = (): void => {
    own = createHistogram()
    ownMaxMs = 0
    if (reader !== undefined) last = since = { at: performance.now(), ...read() }
  }
  return {
    enable: () => {
      if (enabled) return
      enabled = true
      reader = schedstatReader()
      if (reader !== undefined) restart()
      lastWake = performance.now()
      resume()
    },
    wake: () => {
      lastWake = performance.now()
      if (enabled && timer === undefined) resume()
    },
    disable: () => {
      enabled = false
      pause()
      reader?.close()
      reader = undefined
    },
    reset: () => {
      delay.reset()
      restart()
    },
    stats: () => {
      const stats: EventLoopStats = { p50Ms: stallMs(delay.percentile(50)), p99Ms: stallMs(delay.percentile(99)), maxMs: stallMs(delay.max), sampling: timer !== undefined }
      if (reader !== undefined && own !== undefined) {
        stats.own = { p99Ms: own.count === 0 ? 0 : own.percentile(99) / 1000, maxMs: ownMaxMs }
        stats.runQueueWaitMs = (last.waitNs - since.waitNs) / 1e6
        stats.runMs = (last.runNs - since.runNs) / 1e6
      }
      return stats
    }
  }
}
