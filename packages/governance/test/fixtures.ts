import { type KeyPair, keyPairFromSeed } from '@icn/identity'
import { ManualClock, flushMicrotasks } from '@icn/testkit'
import { type Charter, type Governance, type GovernanceComponents, cooperativeCharter, openGovernance, DAY_MS } from '../src/index.js'

/** Deterministic key pair number `i`. */
export function key (i: number): KeyPair {
  const seed = new Uint8Array(32)
  seed[0] = 0x60
  seed[30] = (i >> 8) & 0xff
  seed[31] = i & 0xff
  return keyPairFromSeed(seed)
}

export const steward = key(1)
export const alice = key(2)
export const bob = key(3)
export const carol = key(4)
export const outsider = key(99)

/** A cooperative of one steward and three members. */
export function testCharter (domain = 'coop:test'): Charter {
  return cooperativeCharter({
    domain,
    members: [{ did: steward.did, role: 'steward' }, { did: alice.did }, { did: bob.did }, { did: carol.did }]
  })
}

export const START = 1_700_000_000_000
export const WEEK = 7 * DAY_MS

export interface Fixture {
  readonly gov: Governance
  readonly clock: ManualClock
}

export async function openFixture (path: string, options: { charter?: Charter, clock?: ManualClock, components?: GovernanceComponents } = {}): Promise<Fixture> {
  const clock = options.clock ?? new ManualClock(START)
  const gov = await openGovernance({ clock, trustOf: () => 0.5, ...options.components }, { path, charter: options.charter ?? testCharter() })
  return { gov, clock }
}

/** Moves the manual clock and lets the scheduler's task run. */
export async function advance (clock: ManualClock, ms: number): Promise<void> {
  await clock.advanceAsync(ms)
  await flushMicrotasks()
}
