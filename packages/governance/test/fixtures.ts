import { type KeyPair, keyPairFromSeed } from '@icn/identity'
import { ManualClock, flushMicrotasks } from '@icn/testkit'
import { type Charter, type Governance, type GovernanceComponents, type ProposalInput, cooperativeCharter, openGovernance, DAY_MS } from '../src/index.js'

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

/**
 * Runs one proposal through to its close: propose and submit now, advance to `opensAt`,
 * `voters` vote for, advance to `closesAt` (the scheduler closes and executes it). Returns its id.
 */
export async function pass (fixture: Fixture, proposer: KeyPair, input: ProposalInput, voters: readonly KeyPair[]): Promise<string> {
  const { gov, clock } = fixture
  const { proposal } = await gov.propose(proposer, input)
  await gov.submit(proposer, proposal)
  const { opensAt, closesAt } = gov.proposal(proposal) ?? {}
  await advance(clock, (opensAt as number) - clock.now())
  for (const voter of voters) await gov.vote(voter, proposal, 'for')
  await advance(clock, (closesAt as number) - clock.now())
  return proposal
}
