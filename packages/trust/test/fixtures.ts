import { type KeyPair, keyPairFromSeed } from '@icn/identity'
import { ManualClock } from '@icn/testkit'
import {
  type AttestationInit, type TrustAttestation, type TrustGraph, type TrustGraphComponents, type TrustGraphInit, createAttestation, openTrustGraph
} from '../src/index.js'

/** A deterministic key pair per name, so DIDs are stable across runs and processes. */
const keys = new Map<string, KeyPair>()
export function keyOf (name: string): KeyPair {
  let keyPair = keys.get(name)
  if (keyPair === undefined) {
    const seed = new Uint8Array(32)
    seed.set(new TextEncoder().encode(name.padEnd(32, '.').slice(0, 32)))
    keyPair = keyPairFromSeed(seed)
    keys.set(name, keyPair)
  }
  return keyPair
}

export function didOf (name: string): KeyPair['did'] {
  return keyOf(name).did
}

/** Start of every test clock: a round number of days, so decay steps line up. */
export const T0 = 1_700_006_400_000

/** `source` attests `target` (by name) with defaults for the rest. */
export function attest (source: string, target: string, score: number, init: Partial<Omit<AttestationInit, 'target' | 'score'>> = {}): TrustAttestation {
  return createAttestation(keyOf(source), { graph: 'social', createdAt: T0, ...init, target: didOf(target), score })
}

/** Opens a graph with a manual clock; decay off unless asked for; everyone a member unless `components` say otherwise. */
export async function openTestGraph (
  path: string, init: Partial<TrustGraphInit> = {}, clock = new ManualClock(T0), components: Omit<TrustGraphComponents, 'clock'> = {}
): Promise<{ graph: TrustGraph, clock: ManualClock }> {
  const graph = await openTrustGraph({ clock, ...components }, { path, halfLifeMs: Number.POSITIVE_INFINITY, decayStepMs: 1, ...init })
  return { graph, clock }
}

/** The fields of an attestation a test compares exactly. */
export function summary (a: TrustAttestation | undefined): unknown {
  if (a === undefined) return undefined
  return { cid: a.cid, signer: a.signer, signature: Array.from(a.signature), payload: a.payload }
}
