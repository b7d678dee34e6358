import { signEnvelope } from '@icn/identity'
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import {
  BadSignatureError, InvalidAttestationError, InvalidScoreError, SelfTrustError, TRUST_ATTESTATION_DOMAIN,
  type TrustAttestation, type TrustEdge, UnknownGraphError, createAttestation, encodeTrustState, supersedes, verifyAttestation
} from '../src/index.js'
import { T0, attest, didOf, keyOf, openTestGraph } from './fixtures.js'

const edge = (overrides: Record<string, unknown> = {}): TrustEdge => ({
  source: didOf('A'), target: didOf('B'), graph: 'social', score: 0.5, labels: ['neighbour'], evidence: [], createdAt: T0, ...overrides
} as TrustEdge)

/** Signs a raw payload, bypassing `createAttestation`'s checks, as a hostile peer could. */
const signRaw = (payload: Record<string, unknown>, domain = TRUST_ATTESTATION_DOMAIN): TrustAttestation =>
  signEnvelope(domain, payload, keyOf('A')) as unknown as TrustAttestation

describe('attestations', () => {
  it('createAttestation signs a verifiable edge with exact fields', () => {
    const a = createAttestation(keyOf('A'), { target: didOf('B'), graph: 'economic', score: 0.25, createdAt: T0, labels: ['supplier'], evidence: ['bafyreceipt'], expiresAt: T0 + 5 })
    expect(a.domain).toBe(TRUST_ATTESTATION_DOMAIN)
    expect(a.signer).toBe(didOf('A'))
    expect(a.payload).toEqual({ source: didOf('A'), target: didOf('B'), graph: 'economic', score: 0.25, labels: ['supplier'], evidence: ['bafyreceipt'], createdAt: T0, expiresAt: T0 + 5 })
    expect(verifyAttestation(a).cid).toBe(a.cid)
  })

  it.each([
    ['score above 1', { score: 1.01 }, InvalidScoreError],
    ['negative score', { score: -0.1 }, InvalidScoreError],
    ['NaN score', { score: Number.NaN }, InvalidScoreError],
    ['string score', { score: '0.5' }, InvalidScoreError],
    ['self edge', { target: didOf('A') }, SelfTrustError],
    ['unknown graph', { graph: 'romantic' }, UnknownGraphError],
    ['bad target DID', { target: 'did:icn:zNotAKey' }, InvalidAttestationError],
    ['fractional createdAt', { createdAt: 1.5 }, InvalidAttestationError],
    ['expiresAt not after createdAt', { expiresAt: T0 }, InvalidAttestationError],
    ['labels not strings', { labels: [1] }, InvalidAttestationError],
    ['unknown field', { weight: 2 }, InvalidAttestationError]
  ])('refuses %s with a typed error', (_name, overrides: Record<string, unknown>, errorClass) => {
    // createAttestation takes only known fields; it refuses the rest before signing (NaN included).
    if (!('weight' in overrides)) expect(() => createAttestation(keyOf('A'), { target: didOf('B'), graph: 'social', score: 0.5, createdAt: T0, ...overrides } as never)).toThrow(errorClass)
    if (!Number.isNaN(overrides.score as number)) expect(() => verifyAttestation(signRaw(edge(overrides) as unknown as Record<string, unknown>))).toThrow(errorClass)
    else expect(() => verifyAttestation({ ...attest('A', 'B', 0.5), payload: edge(overrides) })).toThrow(errorClass)
  })

  it('refuses a tampered score, a foreign signer, a wrong domain and a non-envelope', () => {
    const good = attest('A', 'B', 0.5)
    expect(() => verifyAttestation({ ...good, payload: { ...good.payload, score: 0.9 } })).toThrow(BadSignatureError)
    const byB = signEnvelope(TRUST_ATTESTATION_DOMAIN, good.payload, keyOf('B'))
    expect(() => verifyAttestation(byB)).toThrow(BadSignatureError)
    expect(() => verifyAttestation({ ...good, signature: new Uint8Array(64) })).toThrow(BadSignatureError)
    expect(() => verifyAttestation(signRaw(good.payload as unknown as Record<string, unknown>, 'icn/ledger/tx'))).toThrow(InvalidAttestationError)
    expect(() => verifyAttestation('hello')).toThrow(InvalidAttestationError)
    expect(() => verifyAttestation(null)).toThrow(InvalidAttestationError)
  })

  it('the newest edge wins; equal times are broken by the larger CID', () => {
    const older = attest('A', 'B', 0.5, { createdAt: T0 })
    const newer = attest('A', 'B', 0.1, { createdAt: T0 + 1 })
    expect(supersedes(newer, older)).toBe(true)
    expect(supersedes(older, newer)).toBe(false)
    const x = attest('A', 'B', 0.3)
    const y = attest('A', 'B', 0.4)
    const [low, high] = x.cid < y.cid ? [x, y] : [y, x]
    expect(supersedes(high, low)).toBe(true)
    expect(supersedes(low, high)).toBe(false)
    expect(supersedes(low, undefined)).toBe(true)
  })

  it('a refused attestation stores nothing', async () => {
    await withTempDir(async (dir) => {
      const { graph } = await openTestGraph(dir)
      const good = attest('A', 'B', 0.5)
      await expect(graph.attest({ ...good, payload: { ...good.payload, score: 2 } })).rejects.toThrow(InvalidScoreError)
      await expect(graph.attest({ ...good, payload: { ...good.payload, score: 0.9 } })).rejects.toThrow(BadSignatureError)
      await expect(graph.attest(signRaw(edge({ graph: 'romantic' }) as unknown as Record<string, unknown>))).rejects.toThrow(UnknownGraphError)
      await expect(graph.attest(signRaw(edge({ target: didOf('A') }) as unknown as Record<string, unknown>))).rejects.toThrow(SelfTrustError)
      expect(graph.size).toBe(0)
      // with DIDs already in the graph, an unknown malformed target is still parsed and refused
      expect(await graph.attest(attest('A', 'B', 0.5))).toBe('applied')
      await expect(graph.attest(signRaw(edge({ target: 'did:icn:zNotAKey' }) as unknown as Record<string, unknown>))).rejects.toThrow(InvalidAttestationError)
      await expect(graph.attest(signRaw(edge({ target: `did:icn:z${'1'.repeat(44)}` }) as unknown as Record<string, unknown>))).rejects.toThrow(InvalidAttestationError)
      expect(graph.attestations().map((a) => a.cid)).toEqual([attest('A', 'B', 0.5).cid])
      await graph.close()
    })
  })

  it('a refused attestation leaves an empty graph empty', async () => {
    await withTempDir(async (dir) => {
      const { graph } = await openTestGraph(dir)
      await expect(graph.attest({ ...attest('A', 'B', 0.5), signature: new Uint8Array(64) })).rejects.toThrow(BadSignatureError)
      expect(graph.size).toBe(0)
      expect(graph.attestations()).toEqual([])
      expect(await graph.exportState()).toEqual(encodeTrustState([]))
      await graph.close()
    })
  })
})
