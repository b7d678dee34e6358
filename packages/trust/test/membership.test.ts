// Membership: an attestation is stored only if its source was a member at its own
// signed time; only current members' edges feed scores, and `membershipChanged()`
// keeps the score cache exact when membership moves.
import type { Did, MembershipAt, MembershipStatus } from '@icn/identity'
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, NotMemberError, TrustError, encodeTrustState, openTrustGraph, openTrustStore } from '../src/index.js'
import { T0, attest, didOf, openTestGraph, summary } from './fixtures.js'

const [A, M, X, K, S] = ['A', 'M', 'X', 'K', 'S'].map(didOf) as [Did, Did, Did, Did, Did]

/** A governance history in miniature: per DID, periods [from, until) with a status; `none` outside them, the latest period wins. */
class Charter {
  private readonly periods = new Map<string, Array<{ from: number, until: number, status: MembershipStatus }>>()

  set (did: string, status: MembershipStatus, from: number, until = Number.POSITIVE_INFINITY): this {
    this.periods.set(did, [...(this.periods.get(did) ?? []), { from, until, status }])
    return this
  }

  readonly at: MembershipAt = (did, at) => {
    const found = (this.periods.get(did) ?? []).filter((p) => p.from <= at && at < p.until)
    return found[found.length - 1]?.status ?? 'none'
  }
}

/** What `attest` threw, for exact assertions on the typed error. */
async function refusal (promise: Promise<unknown>): Promise<NotMemberError> {
  const error = await promise.then(() => undefined, (cause: unknown) => cause)
  expect(error).toBeInstanceOf(NotMemberError)
  return error as NotMemberError
}

describe('trust membership', () => {
  it("refuses a stranger's attestation with NotMemberError and stores nothing", async () => {
    await withTempDir(async (dir) => {
      const charter = new Charter().set(A, 'member', 0).set(M, 'member', 0)
      const { graph } = await openTestGraph(dir, {}, new ManualClock(T0), { membership: charter.at })
      expect(await graph.attest(attest('A', 'M', 0.8))).toBe('applied')
      const before = await graph.exportState()

      const error = await refusal(graph.attest(attest('S', 'A', 0.9)))
      expect(error).toBeInstanceOf(TrustError)
      expect(error.code).toBe('NOT_MEMBER')
      expect(error.name).toBe('NotMemberError')
      expect([error.did, error.status, error.at]).toEqual([S, 'none', T0])
      expect(error.message).toBe(`attestation source ${S} is 'none', not a member, at ${T0} (2023-11-15T00:00:00.000Z)`)

      expect(graph.size).toBe(1)
      expect(graph.edge(S, A, 'social')).toBeUndefined()
      expect(graph.neighbours(A, 'social', 'in')).toEqual([])
      expect(graph.trustOf(S, A, 'social')).toBe(0)
      expect(await graph.exportState()).toEqual(before)
      // validate() judges signatures and fields only: a gossip validator must not reject what governance may later accept.
      expect(graph.validate(attest('S', 'A', 0.9)).payload.source).toBe(S)
      await graph.close()

      const store = await openTrustStore(dir)
      expect(store.all().map(summary)).toEqual([summary(attest('A', 'M', 0.8))])
      await store.close()
    })
  })

  it("accepts a member's attestation about a candidate who is not (yet) a member", async () => {
    await withTempDir(async (dir) => {
      const charter = new Charter().set(A, 'member', 0)
      const { graph } = await openTestGraph(dir, {}, new ManualClock(T0), { membership: charter.at })
      const vouch = attest('A', 'K', 0.9)
      expect(charter.at(K, T0)).toBe('none')
      expect(await graph.attest(vouch)).toBe('applied')
      expect(graph.size).toBe(1)
      expect(summary(graph.edge(A, K, 'social'))).toEqual(summary(vouch))
      expect(graph.trustOf(A, K, 'social')).toBe(0.9 * 0.6)
      await graph.close()
    })
  })

  it('refuses an attestation dated inside its source\'s freeze, accepts those dated before and after', async () => {
    await withTempDir(async (dir) => {
      const charter = new Charter().set(A, 'member', 0).set(A, 'frozen', T0 + 100, T0 + 200)
      const { graph } = await openTestGraph(dir, {}, new ManualClock(T0 + 300), { membership: charter.at })
      expect(await graph.attest(attest('A', 'M', 0.5, { createdAt: T0 + 99 }))).toBe('applied')

      const inFreeze = await refusal(graph.attest(attest('A', 'M', 0.7, { createdAt: T0 + 150 })))
      expect([inFreeze.did, inFreeze.status, inFreeze.at]).toEqual([A, 'frozen', T0 + 150])
      expect(inFreeze.message).toBe(`attestation source ${A} is 'frozen', not a member, at ${T0 + 150} (2023-11-15T00:00:00.150Z)`)
      // A revocation is an attestation too: a frozen member cannot sign one either.
      const revocation = await refusal(graph.attest(attest('A', 'M', 0, { createdAt: T0 + 199 })))
      expect(revocation.status).toBe('frozen')
      expect(graph.edge(A, M, 'social')?.payload.score).toBe(0.5)
      expect(graph.size).toBe(1)

      expect(await graph.attest(attest('A', 'M', 0.7, { createdAt: T0 + 200 }))).toBe('applied')
      expect(graph.edge(A, M, 'social')?.payload.score).toBe(0.7)
      expect(graph.size).toBe(1)
      await graph.close()
    })
  })

  it('accepts the same attestation it refused once its governance caught up', async () => {
    await withTempDir(async (dir) => {
      const charter = new Charter().set(A, 'member', 0)
      const { graph } = await openTestGraph(dir, {}, new ManualClock(T0), { membership: charter.at })
      const early = attest('K', 'A', 0.6, { createdAt: T0 + 10 })
      expect((await refusal(graph.attest(early))).status).toBe('none')
      expect(graph.size).toBe(0)
      // This node learns of K's admission, effective from T0 + 5: the attestation was valid all along.
      charter.set(K, 'member', T0 + 5)
      expect(await graph.attest(early)).toBe('applied')
      expect(graph.size).toBe(1)
      expect(summary(graph.edge(K, A, 'social'))).toEqual(summary(early))
      // An attestation K signed before its admission stays refused.
      expect((await refusal(graph.attest(attest('K', 'M', 0.6, { createdAt: T0 + 4 })))).at).toBe(T0 + 4)
      expect(graph.size).toBe(1)
      await graph.close()
    })
  })

  it('stops counting a removed member\'s edges after membershipChanged(), keeps them stored, and counts them again on readmission', async () => {
    await withTempDir(async (dir) => {
      const members = new Set<string>([A, M, X])
      const { graph } = await openTestGraph(dir, {}, new ManualClock(T0), { isMember: (did) => members.has(did) })
      const am = attest('A', 'M', 1)
      const mx = attest('M', 'X', 0.5)
      await graph.attest(am)
      await graph.attest(mx)
      expect(graph.trustOf(A, X, 'social')).toBe(1 * 0.5 * 0.4)
      expect(graph.trustOf(A, M, 'social')).toBe(0.6)
      const state = await graph.exportState()

      members.delete(M)
      graph.membershipChanged()
      expect(graph.trustOf(A, X, 'social')).toBe(0)
      // A's own edge to M still counts: only edges whose source is not a member stop.
      expect(graph.trustOf(A, M, 'social')).toBe(0.6)
      expect(graph.trustOf(M, X, 'social')).toBe(0)
      expect(graph.neighbours(M, 'social').map(({ did, score, weight }) => ({ did, score, weight }))).toEqual([{ did: X, score: 0.5, weight: 0 }])
      // History is kept and served unchanged.
      expect(graph.size).toBe(2)
      expect(graph.attestations().map(summary)).toEqual([am, mx].sort((a, b) => a.signer < b.signer ? -1 : 1).map(summary))
      expect(await graph.exportState()).toEqual(state)
      expect(state).toEqual(encodeTrustState([am, mx]))

      members.add(M)
      graph.membershipChanged()
      expect(graph.trustOf(A, X, 'social')).toBe(1 * 0.5 * 0.4)
      await graph.close()
      expect(() => graph.membershipChanged()).toThrow(TrustError)
    })
  })

  it('counts no edge of a viewer that is not a member now, its own direct edges included', async () => {
    await withTempDir(async (dir) => {
      const members = new Set<string>([M])
      const { graph } = await openTestGraph(dir, {}, new ManualClock(T0), { isMember: (did) => members.has(did) })
      await graph.attest(attest('A', 'M', 1))
      await graph.attest(attest('M', 'X', 0.5))
      expect(graph.trustOf(A, M, 'social')).toBe(0)
      expect(graph.trustOf(A, X, 'social')).toBe(0)
      expect(graph.trustOf(M, X, 'social')).toBe(0.5 * 0.6)
      await graph.close()
    })
  })

  it('refuses membership components that are not functions', async () => {
    await withTempDir(async (dir) => {
      await expect(openTrustGraph({ membership: 'all' as never }, { path: dir })).rejects.toThrow(InvalidArgumentError)
      await expect(openTrustGraph({ isMember: true as never }, { path: dir })).rejects.toThrow('components.isMember must be a function')
    })
  })
})
