import { describe, expect, it } from 'vitest'
import { utf8 } from '@icn/identity'
import { createEntry } from '../src/index.js'
import { TopicLog } from '../src/topic-log.js'
import { keyOf } from './helpers/sim.js'

const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 1024 }
const DAY = 86_400_000
const entryAt = (ts: number, n: number) => createEntry(keyOf(0), { topic: 't', payload: utf8(`p${n}`), clock: {}, timestamp: ts }, LIMITS)

describe('topic log eviction rule', () => {
  it('keeps at most maxEntries, evicting the lowest (timestamp, id) first, and refuses entries below the floor', () => {
    const log = new TopicLog({ retentionMs: 30 * DAY, maxEntries: 3 })
    const now = 100 * DAY
    const entries = [entryAt(now - 5, 1), entryAt(now - 4, 2), entryAt(now - 3, 3), entryAt(now - 2, 4)]
    for (const e of entries.slice(0, 3)) expect(log.add(e, now)).toBe('added')
    expect(log.add(entries[0]!, now)).toBe('duplicate')
    expect(log.add(entries[3]!, now)).toBe('added')
    expect(log.items.map((e) => e.key.ts)).toEqual([now - 4, now - 3, now - 2])
    expect(log.has(entries[0]!.idHex)).toBe(false)
    expect(log.floor(now)).toEqual(entries[1]!.key)
    expect(log.add(entryAt(now - 10, 5), now)).toBe('expired')
  })

  it('drops entries older than the retention window (minute granularity)', () => {
    const log = new TopicLog({ retentionMs: 30 * DAY, maxEntries: 100 })
    const now = 100 * DAY
    expect(log.add(entryAt(now - 31 * DAY, 1), now)).toBe('expired')
    expect(log.add(entryAt(now - 29 * DAY, 2), now)).toBe('added')
    expect(log.add(entryAt(now - DAY, 3), now)).toBe('added')
    expect(log.evictExpired(now + 2 * DAY)).toBe(1)
    expect(log.items.map((e) => e.key.ts)).toEqual([now - DAY])
    expect(log.floor(now)).toEqual({ ts: now - 30 * DAY, id: new Uint8Array(0) })
  })
})
