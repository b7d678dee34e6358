import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64'
import { uniformInt } from 'pure-rand/distribution/uniformInt'
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus'

type Generator = ReturnType<typeof xoroshiro128plus>

/** A deterministic random source: the same seed always gives the same sequence. */
export class SeededRng {
  readonly seed: number
  private readonly generator: Generator

  constructor (seed: number) {
    this.seed = seed
    this.generator = xoroshiro128plus(seed)
  }

  /** An integer in [min, max], both included. */
  int (min: number, max: number): number {
    return uniformInt(this.generator, min, max)
  }

  /** A float in [0, 1). */
  float (): number {
    return uniformFloat64(this.generator)
  }

  /** True with probability `p`. */
  chance (p: number): boolean {
    return p > 0 && this.float() < p
  }

  /** One element of a non-empty array. */
  pick<T> (items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array')
    return items[this.int(0, items.length - 1)] as T
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T> (items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i)
      const tmp = out[i] as T
      out[i] = out[j] as T
      out[j] = tmp
    }
    return out
  }

  /** `length` random bytes (e.g. a deterministic key seed). */
  bytes (length: number): Uint8Array {
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i++) out[i] = this.int(0, 255)
    return out
  }

  /** An independent generator derived from this one, for a sub-component. */
  fork (): SeededRng {
    return new SeededRng(this.int(0, 0x7fffffff))
  }
}
