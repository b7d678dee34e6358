// The free-space monitor's reading period: every second near the limit, every 10 s with room to spare.
import { describe, expect, it } from 'vitest'
import { MIN_FREE_BYTES, MIN_FREE_BYTES_FOR_PEERS, RELAXED_READING_FREE_BYTES, nextReadingDelay } from '../src/storage.js'

describe('free-space readings', () => {
  const intervals = { intervalMs: 1000, relaxedIntervalMs: 10_000 }

  it('reads every intervalMs below 512 MiB free and every relaxedIntervalMs from there', () => {
    expect(RELAXED_READING_FREE_BYTES).toBe(512 * 1024 * 1024)
    expect([0, MIN_FREE_BYTES, MIN_FREE_BYTES_FOR_PEERS, RELAXED_READING_FREE_BYTES - 1, RELAXED_READING_FREE_BYTES, 10 * 1024 ** 4]
      .map((free) => nextReadingDelay(free, intervals))).toEqual([1000, 1000, 1000, 1000, 10_000, 10_000])
  })

  it('the relaxed margin holds 10 s of the heaviest peer traffic above the peers\' threshold', () => {
    const heaviestPeerBytesPerSecond = 16 * 1000 * 1000
    expect(RELAXED_READING_FREE_BYTES - 10 * heaviestPeerBytesPerSecond).toBeGreaterThan(MIN_FREE_BYTES_FOR_PEERS)
  })
})
