/**
 * A periodic task that backs off while idle: a run that follows a period with no activity comes twice as
 * late, up to `maxMs`; activity brings the base period back. Gossip's anti-entropy ticks and history sync's
 * rounds both run on one.
 */
import type { CancelTimer, Clock } from '@icn/identity'

export class BackoffTimer {
  private cancel: CancelTimer | undefined
  private dueAt = 0
  private periodMs = 0
  /** Something happened since the last run: the next comes at the base period. */
  private lively = false
  private stopped = false

  constructor (private readonly clock: Clock, private readonly baseMs: number, private readonly maxMs: number, private readonly run: () => void) {}

  /** Arms the first run, `baseMs` from now. */
  start (): void {
    this.schedule()
  }

  /** Marks activity: the run after the next one comes at the base period. */
  touch (): void {
    this.lively = true
  }

  /** Marks activity and, when the next run is further than `baseMs` away, brings it to `baseMs` from now. */
  wake (): void {
    this.lively = true
    if (this.stopped || this.cancel === undefined || this.dueAt <= this.clock.now() + this.baseMs) return
    this.cancel()
    this.periodMs = this.baseMs
    this.arm(this.baseMs)
  }

  stop (): void {
    this.stopped = true
    this.cancel?.()
    this.cancel = undefined
  }

  private schedule (): void {
    this.periodMs = this.lively || this.periodMs === 0 ? this.baseMs : Math.min(this.maxMs, this.periodMs * 2)
    this.lively = false
    this.arm(this.periodMs)
  }

  private arm (ms: number): void {
    this.dueAt = this.clock.now() + ms
    this.cancel = this.clock.setTimeout(() => {
      this.cancel = undefined
      if (this.stopped) return
      this.run()
      if (!this.stopped) this.schedule()
    }, ms)
  }
}
