import type { CancelTimer, Clock } from '@icn/identity'

/** Longest a `GET /wait` long-poll waits (and its default), in ms. */
export const MAX_WAIT_MS = 25_000

/** What a long-poll on the change feed answers. */
export interface ChangeAnswer {
  /** The feed's version when the answer was made. */
  version: number
  /** True when the feed was closed (the node is stopping) while the request waited. */
  stopping?: true
}

/**
 * The node's change feed: a version that increases by one on every change an
 * operator (or a test) may wait for — a ledger entry, trust attestation or
 * governance envelope applied, a local API write, a peer stream opened or
 * closed, a snapshot started, completed or failed, a proposal moved by the
 * governance scheduler's clock (voting opened, closed, executed), a governance
 * effect applied.
 * Bumps happen after the change is visible through the API, so "read the
 * version, check, wait for a newer version" never misses a change.
 *
 * `wait(since, timeoutMs)` resolves as soon as the version exceeds `since`, or
 * with the current version after `timeoutMs` (one clock timer, cleared when the
 * wait ends). `close()` releases every pending wait at once, so nothing is left
 * running when the node stops.
 */
export class ChangeFeed {
  private _version = 0
  private closed = false
  private readonly waiters = new Set<{ since: number, done: (answer: ChangeAnswer) => void }>()

  constructor (private readonly clock: Clock) {}

  get version (): number { return this._version }

  /** Records one change and answers every wait it satisfies. */
  bump (): void {
    if (this.closed) return
    this._version++
    for (const waiter of [...this.waiters]) {
      if (this._version > waiter.since) waiter.done({ version: this._version })
    }
  }

  /**
   * Resolves when the version exceeds `since` (at once if it already does), after
   * `timeoutMs`, when `signal` aborts (the caller went away), or when the feed closes.
   */
  async wait (since: number, timeoutMs: number, signal?: AbortSignal): Promise<ChangeAnswer> {
    if (this.closed) return { version: this._version, stopping: true }
    if (this._version > since || signal?.aborted === true) return { version: this._version }
    return await new Promise<ChangeAnswer>((resolve) => {
      let cancel: CancelTimer | undefined
      const onAbort = (): void => { waiter.done({ version: this._version }) }
      const waiter = {
        since,
        done: (answer: ChangeAnswer) => {
          if (!this.waiters.delete(waiter)) return
          cancel?.()
          signal?.removeEventListener('abort', onAbort)
          resolve(answer)
        }
      }
      this.waiters.add(waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
      cancel = this.clock.setTimeout(() => { cancel = undefined; waiter.done({ version: this._version }) }, timeoutMs)
    })
  }

  /** Number of waits pending (for tests and status). */
  get waiting (): number { return this.waiters.size }

  /** Releases every pending wait (answer `stopping: true`); later waits answer at once. Idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    for (const waiter of [...this.waiters]) waiter.done({ version: this._version, stopping: true })
  }
}
