import { ManualClock, flushMicrotasks } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { DeadlineScheduler, MAX_SLEEP_MS } from '../src/scheduler.js'
import { DAY_MS } from '../src/index.js'

/** A manual clock that records each requested sleep. */
class RecordingClock extends ManualClock {
  readonly sleeps: number[] = []
  override setTimeout (callback: () => void, ms: number): () => void {
    this.sleeps.push(ms)
    return super.setTimeout(callback, ms)
  }
}

describe('DeadlineScheduler', () => {
  it('sleeps at most MAX_SLEEP_MS, re-plans on waking early, runs the deadline on time, and shuts down leaving no timer', async () => {
    const clock = new RecordingClock(0)
    const deadline = 37 * DAY_MS
    const runs: number[] = []
    let pending = true
    const scheduler = new DeadlineScheduler(clock, {
      nextDeadline: () => (pending ? deadline : undefined),
      runDue: () => {
        runs.push(clock.now())
        if (clock.now() >= deadline) pending = false
      },
      onError: (err) => { throw err }
    })
    scheduler.start()
    await flushMicrotasks()
    expect(clock.sleeps).toEqual([MAX_SLEEP_MS])
    await clock.advanceAsync(deadline)
    expect(clock.sleeps).toEqual([MAX_SLEEP_MS, deadline - MAX_SLEEP_MS])
    expect(runs).toEqual([0, MAX_SLEEP_MS, deadline])
    expect(pending).toBe(false)
    expect(clock.pendingTimers).toBe(0)
    await scheduler.shutdown()
    await scheduler.shutdown()
    expect(clock.pendingTimers).toBe(0)
  })

  it('an error in runDue is reported and retried after retryMs', async () => {
    const clock = new ManualClock(0)
    const errors: unknown[] = []
    let failures = 1
    let ran = 0
    const scheduler = new DeadlineScheduler(clock, {
      nextDeadline: () => undefined,
      runDue: () => {
        ran++
        if (failures-- > 0) throw new Error('disk on fire')
      },
      onError: (err) => errors.push(err)
    }, 500)
    scheduler.start()
    await flushMicrotasks()
    expect(errors.map((e) => (e as Error).message)).toEqual(['disk on fire'])
    expect(clock.nextTimerAt()).toBe(500)
    await clock.advanceAsync(500)
    expect(ran).toBe(2)
    expect(clock.pendingTimers).toBe(0)
    await scheduler.shutdown()
  })
})
