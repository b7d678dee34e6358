/** A token bucket on an injected clock: `capacity` burst, `perSecond` refill. */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor (private readonly capacity: number, private readonly perSecond: number, now: number) {
    this.tokens = capacity
    this.last = now
  }

  /** Takes one token if available. */
  take (now: number): boolean {
    const elapsed = Math.max(0, now - this.last)
    this.last = Math.max(this.last, now)
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed / 1000) * this.perSecond)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}
