import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sha256, toHex, utf8 } from '@icn/identity'
import { MIN_KEY, RangeOrderError, compareKeys, fingerprint, openingRanges, reconcile, type Keyed, type Range, type ReconcileOptions } from '../src/reconcile.js'

const OPTIONS: ReconcileOptions = { branching: 16, idThreshold: 32, maxRanges: 128 }

function item (n: number, ts = 1000 + (n % 97)): Keyed {
  return { key: { ts, id: sha256(utf8(`item-${n}`)) } }
}

function sorted (items: Keyed[]): Keyed[] {
  return [...items].sort((a, b) => compareKeys(a.key, b.key))
}

/** Runs the exchange to the end between two in-memory sides; returns what each must pull and the rounds used. */
function exchange (a: Keyed[], b: Keyed[], options = OPTIONS): { aNeeds: Set<string>, bNeeds: Set<string>, rounds: number, bytes: number } {
  const sides = [sorted(a), sorted(b)]
  const needs = [new Set<string>(), new Set<string>()]
  let ranges: Range[] = openingRanges(sides[0]!, MIN_KEY)
  let bytes = 0
  let rounds = 0
  let turn = 1
  while (ranges.length > 0) {
    rounds++
    bytes += ranges.reduce((n, r) => n + 9 + (r.fingerprint?.length ?? 0) + 32 * (r.ids?.length ?? 0), 0)
    const step = reconcile(sides[turn]!, MIN_KEY, ranges, options)
    for (const id of step.need) needs[turn]!.add(toHex(id))
    ranges = step.reply
    turn = 1 - turn
    if (rounds > 100) throw new Error('did not terminate')
  }
  return { aNeeds: needs[0]!, bNeeds: needs[1]!, rounds, bytes }
}

const hexIds = (items: Keyed[]): Set<string> => new Set(items.map((i) => toHex(i.key.id)))

describe('range-based reconciliation', () => {
  it('identical sets finish after one message', () => {
    const items = Array.from({ length: 500 }, (_, n) => item(n))
    const result = exchange(items, items)
    expect(result.rounds).toBe(1)
    expect(result.aNeeds.size).toBe(0)
    expect(result.bNeeds.size).toBe(0)
  })

  it('finds exactly the symmetric difference of two sets, in few rounds', () => {
    const shared = Array.from({ length: 1000 }, (_, n) => item(n))
    const onlyA = Array.from({ length: 7 }, (_, n) => item(5000 + n))
    const onlyB = Array.from({ length: 3 }, (_, n) => item(9000 + n))
    const result = exchange([...shared, ...onlyA], [...shared, ...onlyB])
    expect(result.aNeeds).toEqual(hexIds(onlyB))
    expect(result.bNeeds).toEqual(hexIds(onlyA))
    expect(result.rounds).toBeLessThanOrEqual(6)
  })

  it('property: any two sets reconcile to their union and the exchange terminates', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 5000 }), { maxLength: 400 }),
      fc.uniqueArray(fc.integer({ min: 0, max: 5000 }), { maxLength: 400 }),
      fc.integer({ min: 2, max: 16 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 2, max: 64 }),
      (xs, ys, branching, idThreshold, maxRanges) => {
        const a = xs.map((n) => item(n))
        const b = ys.map((n) => item(n))
        const result = exchange(a, b, { branching, idThreshold, maxRanges })
        const inA = hexIds(a)
        const inB = hexIds(b)
        expect(result.aNeeds).toEqual(new Set([...inB].filter((id) => !inA.has(id))))
        expect(result.bNeeds).toEqual(new Set([...inA].filter((id) => !inB.has(id))))
      }), { numRuns: 150 })
  })

  it('message size grows with the difference, not the set size', () => {
    const small = exchange([...Array.from({ length: 100 }, (_, n) => item(n)), item(99_999)], Array.from({ length: 100 }, (_, n) => item(n)))
    const large = exchange([...Array.from({ length: 10_000 }, (_, n) => item(n)), item(99_999)], Array.from({ length: 10_000 }, (_, n) => item(n)))
    expect(small.bNeeds.size).toBe(1)
    expect(large.bNeeds.size).toBe(1)
    expect(large.bytes).toBeLessThan(small.bytes * 12)
  })

  it('fingerprints depend on the set, not the order, and differ for different sets', () => {
    const items = sorted(Array.from({ length: 10 }, (_, n) => item(n)))
    expect(fingerprint(items, 0, 10)).toEqual(fingerprint([...items].reverse(), 0, 10))
    expect(toHex(fingerprint(items, 0, 10))).not.toBe(toHex(fingerprint(items, 0, 9)))
    expect(fingerprint(items, 0, 0).length).toBe(16)
  })

  it('refuses ranges whose bounds do not increase', () => {
    const items = sorted([item(1), item(2)])
    const upper = items[1]!.key
    expect(() => reconcile(items, MIN_KEY, [{ upper, mode: 'skip' }, { upper, mode: 'skip' }], OPTIONS)).toThrow(RangeOrderError)
    expect(() => reconcile(items, upper, [{ upper, mode: 'skip' }], OPTIONS)).toThrow(RangeOrderError)
  })
})
