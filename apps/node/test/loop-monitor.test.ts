import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { createLoopMonitor } from '../src/loop-monitor.js'

/** Blocks this thread for `ms` of wall time. */
function blockFor (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* busy: the stall under test */ }
}

const nextTick = async (): Promise<void> => { await new Promise((resolve) => { setTimeout(resolve, 30) }) }
const linux = (() => { try { return readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').length >= 2 } catch { return false } })()

describe('the event-loop monitor', () => {
  it('reports a 60 ms block as a stall, and as the loop\'s own work less any time the thread waited for a CPU', async () => {
    const monitor = createLoopMonitor()
    monitor.enable()
    try {
      await nextTick()
      monitor.reset()
      // monitorEventLoopDelay loses its first sample after a reset: let one tick pass.
      await nextTick()
      blockFor(60)
      await nextTick()
      const stats = monitor.stats()
      expect(stats.maxMs).toBeGreaterThanOrEqual(50)
      expect(stats.own !== undefined).toBe(linux)
      if (stats.own !== undefined && stats.runQueueWaitMs !== undefined) {
        // The block is 60 ms of wall time; whatever of it the thread spent off a CPU is run-queue wait.
        expect(stats.own.maxMs + stats.runQueueWaitMs).toBeGreaterThanOrEqual(50)
        expect(stats.own.maxMs).toBeLessThanOrEqual(stats.maxMs + 10)
      }
      monitor.reset()
      const after = monitor.stats()
      expect(after.own?.maxMs ?? 0).toBe(0)
      expect(after.runQueueWaitMs ?? 0).toBe(0)
    } finally {
      monitor.disable()
    }
    monitor.disable()
  })

  it('samples only while woken: it pauses once idleMs pass without a wake (no timer ticking for nothing) and resumes on the next', async () => {
    const monitor = createLoopMonitor({ idleMs: 20 })
    const laterTimers = async (): Promise<void> => { await new Promise((resolve) => { setTimeout(resolve, 0) }) }
    monitor.enable()
    try {
      expect(monitor.stats().sampling).toBe(true)
      // Past idleMs with no wake: the next tick (overdue, so it runs before this timeout) pauses sampling.
      blockFor(40)
      await laterTimers()
      expect(monitor.stats().sampling).toBe(false)
      const paused = monitor.stats()
      // Blocked while paused: not sampled, so not a stall, and not counted as this thread's run time.
      blockFor(60)
      await laterTimers()
      expect(monitor.stats().sampling).toBe(false)
      monitor.wake()
      expect(monitor.stats().sampling).toBe(true)
      const resumed = monitor.stats()
      expect(resumed.maxMs).toBe(paused.maxMs)
      if (resumed.runMs !== undefined && paused.runMs !== undefined) expect(resumed.runMs - paused.runMs).toBeLessThan(30)
    } finally {
      monitor.disable()
    }
    expect(monitor.stats().sampling).toBe(false)
  })
})
