import type { CancelTimer, Clock } from '@icn/identity'

/**
 * Longest single sleep. Node fires a timer over 2^31 − 1 ms (~24.8 days) at
 * once, and deadlines can be 37 days away, so the task wakes at least this
 * often and re-plans.
 */
export const MAX_SLEEP_MS = 2 ** 31 - 1

/** What the scheduler drives: the next due time and the work to do when it comes. */
export interface SchedulerTarget {
  /** The earliest pending deadline, or undefined when nothing is pending. */
  nextDeadline(): number | undefined
  /** Applies every transition due at the clock's current time. */
  runDue(): void
  /** Receives errors thrown by `runDue`; the scheduler retries after `retryMs`. */
  onError(err: unknown): void
}

/**
 * A background task that sleeps on the injected clock until the next deadline,
 * runs what is due, and repeats. `shutdown()` signals it and awaits the task's
 * completion: deterministic, no sleeps, no timer left behind.
 */
export class DeadlineScheduler {
  private stopping = false
  private wakeUp: (() => void) | undefined
  private cancelTimer: CancelTimer | undefined
  private task: Promise<void> | undefined
  private running = false

  constructor (private readonly clock: Clock, private readonly target: SchedulerTarget, private readonly retryMs = 1_000) {}

  /** Starts the task; the first pass runs at once (catching up deadlines missed while closed). */
  start (): void {
    if (this.running) return
    // Set before `run` begins: its first pass runs synchronously, inside this call.
    this.running = true
    this.task = this.run()
  }

  /** Whether `start` has been called. */
  get started (): boolean {
    return this.running
  }

  /** Re-plans after a change that may have added an earlier deadline. */
  wake (): void {
    this.wakeUp?.()
  }

  /** Signals the task to stop and awaits its completion. Idempotent. */
  async shutdown (): Promise<void> {
    this.stopping = true
    this.wake()
    await this.task
  }

  private async run (): Promise<void> {
    while (!this.stopping) {
      let due: number | undefined
      try {
        this.target.runDue()
        due = this.target.nextDeadline()
      } catch (err) {
        this.target.onError(err)
        due = this.clock.now() + this.retryMs
      }
      if (this.stopping) break
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve
        if (due !== undefined) this.cancelTimer = this.clock.setTimeout(resolve, Math.min(MAX_SLEEP_MS, Math.max(0, due - this.clock.now())))
      })
      this.wakeUp = undefined
      this.cancelTimer?.()
      this.cancelTimer = undefined
    }
  }
}
