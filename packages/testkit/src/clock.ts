import type { CancelTimer, Clock } from '@icn/identity'

interface Timer { at: number, seq: number, callback: () => void, cancelled: boolean }

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/** Min-heap of timers by (due time, creation order). */
class TimerHeap {
  private readonly items: Timer[] = []
  get size (): number { return this.items.length }
  peek (): Timer | undefined { return this.items[0] }
  push (t: Timer): void {
    const a = this.items
    a.push(t)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(a[i] as Timer, a[p] as Timer)) break
      ;[a[i], a[p]] = [a[p] as Timer, a[i] as Timer]
      i = p
    }
  }

  pop (): Timer | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0 && last !== undefined) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && before(a[l] as Timer, a[m] as Timer)) m = l
        if (r < a.length && before(a[r] as Timer, a[m] as Timer)) m = r
        if (m === i) break
        ;[a[i], a[m]] = [a[m] as Timer, a[i] as Timer]
        i = m
      }
    }
    return top
  }
}

/** Yields to the event loop so pending promise chains and I/O callbacks run. */
export async function flushMicrotasks (rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/**
 * A clock that only moves when told. Timers fire in (due time, creation) order,
 * so a run is reproducible. Implements `Clock` from `@icn/identity`.
 */
export class ManualClock implements Clock {
  private current: number
  private seq = 0
  private live = 0
  private readonly heap = new TimerHeap()

  constructor (start = 1_700_000_000_000) {
    this.current = start
  }

  now (): number {
    return this.current
  }

  setTimeout (callback: () => void, ms: number): CancelTimer {
    const timer: Timer = { at: this.current + Math.max(0, ms), seq: this.seq++, callback, cancelled: false }
    this.heap.push(timer)
    this.live++
    return () => {
      if (!timer.cancelled) { timer.cancelled = true; this.live-- }
    }
  }

  /** Number of timers not yet fired or cancelled. */
  get pendingTimers (): number {
    return this.live
  }

  /** Due time of the next timer, or undefined when none is set. */
  nextTimerAt (): number | undefined {
    return this.earliest()?.at
  }

  /** Fires the earliest timer (moving time to it) if it is due by `limit`; returns whether one fired. */
  fireNext (limit = Number.POSITIVE_INFINITY): boolean {
    const timer = this.earliest()
    if (timer === undefined || timer.at > limit) return false
    this.heap.pop()
    timer.cancelled = true
    this.live--
    this.current = Math.max(this.current, timer.at)
    timer.callback()
    return true
  }

  /** Moves time forward by `ms`, firing every timer that falls due, synchronously. */
  advance (ms: number): void {
    const end = this.current + ms
    while (this.fireNext(end));
    this.current = Math.max(this.current, end)
  }

  /** Like `advance`, but lets promise chains settle after each timer (for async handlers). */
  async advanceAsync (ms: number): Promise<void> {
    const end = this.current + ms
    await flushMicrotasks()
    while (this.fireNext(end)) await flushMicrotasks()
    this.current = Math.max(this.current, end)
  }

  private earliest (): Timer | undefined {
    let top = this.heap.peek()
    while (top?.cancelled === true) { this.heap.pop(); top = this.heap.peek() }
    return top
  }
}
