// BackoffTimer: the period doubles per idle run up to the maximum; touch keeps the next at the base; wake
// brings a far run to the base at once; stop ends it.
import { describe, expect, it } from 'vitest'
import { ManualClock } from '@icn/testkit'
import { BackoffTimer } from '../src/backoff.js'

describe('BackoffTimer', () => {
  it('runs at 2, 4, 8, 16, 30, 30 s while idle, at the base again after activity, and not after stop', () => {
    const clock = new ManualClock()
    const start = clock.now()
    const runs: number[] = []
    const timer = new BackoffTimer(clock, 2000, 30_000, () => { runs.push(clock.now() - start) })
    timer.start()
    clock.advance(90_000)
    expect(runs).toEqual([2000, 6000, 14_000, 30_000, 60_000, 90_000])
    // touch: the run after the next comes at the base period, the next one is not moved.
    timer.touch()
    clock.advance(30_000)
    clock.advance(2000)
    expect(runs.slice(6)).toEqual([120_000, 122_000])
    // wake: the next run was 4 s away (more than the base): now 2 s from here.
    clock.advance(1000)
    timer.wake()
    clock.advance(2000)
    expect(runs.slice(8)).toEqual([125_000])
    timer.stop()
    clock.advance(100_000)
    expect(runs.length).toBe(9)
    timer.wake()
    clock.advance(100_000)
    expect(runs.length).toBe(9)
  })
})
