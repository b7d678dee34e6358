/** Cancels a timer set with `Clock.setTimeout`; calling it twice is harmless. */
export type CancelTimer = () => void

/**
 * Time as subsystems see it. Production code uses `systemClock`; tests pass a
 * manual clock (`@icn/testkit`) so timeouts and schedulers run deterministically.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
  /** Runs `callback` once after `ms` milliseconds of this clock's time. */
  setTimeout(callback: () => void, ms: number): CancelTimer
}

/** The real clock: `Date.now()` and Node/browser timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms)
    return () => clearTimeout(handle)
  }
}
