// Invitations and the node's admission gate, in process: codes (round trip, every refusal), the invitation
// store across reopen, and NodeMembership's verdicts and join answers over a real governance and trust graph.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Charter, type Governance, cooperativeCharter, openGovernance } from '@icn/governance'
import { type KeyPair, decode, encode, keyPairFromSeed } from '@icn/identity'
import { ManualClock, withTempDir } from '@icn/testkit'
import { type TrustGraph, openTrustGraph } from '@icn/trust'
import { describe, expect, it } from 'vitest'
import type { ActingNode } from '../src/actions.js'
import { DataDirCorruptError, InvitationError } from '../src/errors.js'
import {
  INVITATION_PREFIX, InvitationStore, checkNotExpired, createInvitation, decodeInvitationCode, decodeJoinAnswer, encodeInvitationCode, signJoinRequest
} from '../src/invitations.js'
import { createLogger } from '../src/logger.js'
import { NodeMembership } from '../src/membership.js'

const seeded = (n: number): KeyPair => keyPairFromSeed(new Uint8Array(32).fill(n))
const steward = seeded(1)
const member = seeded(2)
const stranger = seeded(3)
const joiner = seeded(4)
const ADDRS = ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWExample']
const T0 = 1_700_000_000_000

function charterOf (): Charter {
  return cooperativeCharter({
    domain: 'coop:invite',
    members: [{ did: steward.did, role: 'steward' }, { did: member.did }],
    kinds: { membership: { proposers: ['steward'], quorumBps: 1, approvalBps: 5000, deliberation: { defaultMs: 0, minMs: 0, maxMs: 0 }, votingMs: 3000 } }
  })
}

const codeError = (fn: () => unknown): string => {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InvitationError)
    return (err as InvitationError).code
  }
  throw new Error('expected an InvitationError')
}

describe('invitation codes', () => {
  const fields = { network: 'bafyreinetwork', addrs: ADDRS, createdAt: T0, expiresAt: T0 + 60_000, name: 'Willow' }

  it('round-trip: the decoded invitation is the signed one, with its key\'s secret', () => {
    const { code, invitation } = createInvitation(steward, fields)
    expect(code.startsWith(INVITATION_PREFIX)).toBe(true)
    const decoded = decodeInvitationCode(`  ${code}\n`)
    expect(decoded.envelope.cid).toBe(invitation.envelope.cid)
    expect(decoded.envelope.payload).toEqual({ ...fields, inviter: steward.did, key: keyPairFromSeed(invitation.seed).did })
    expect(decoded.seed).toEqual(invitation.seed)
  })

  it('refuses malformed, forged, secret-swapped and expired invitations with typed codes', () => {
    const { code, invitation } = createInvitation(steward, fields)
    expect(codeError(() => decodeInvitationCode('hello'))).toBe('INVITATION_MALFORMED')
    expect(codeError(() => decodeInvitationCode(`${INVITATION_PREFIX}AAAA`))).toBe('INVITATION_MALFORMED')
    expect(codeError(() => decodeInvitationCode(code.slice(0, code.length - 40)))).toBe('INVITATION_MALFORMED')
    // A signature byte flipped: the inviter did not sign this.
    const outer = decode(new Uint8Array(Buffer.from(code.slice(INVITATION_PREFIX.length), 'base64url'))) as { v: number, invitation: Uint8Array, seed: Uint8Array }
    const forged = Uint8Array.from(outer.invitation)
    forged[forged.length - 5] = forged[forged.length - 5]! ^ 1
    const reencode = (o: object): string => INVITATION_PREFIX + Buffer.from(encode(o)).toString('base64url')
    expect(codeError(() => decodeInvitationCode(reencode({ ...outer, invitation: forged })))).toBe('INVITATION_FORGED')
    // Somebody else's secret in a genuine invitation.
    expect(codeError(() => decodeInvitationCode(reencode({ ...outer, seed: new Uint8Array(32).fill(9) })))).toBe('INVITATION_FORGED')
    // An invitation signed by one key but naming another inviter.
    const impostor = createInvitation(stranger, fields).invitation
    const renamed = encodeInvitationCode({ envelope: { ...impostor.envelope, payload: { ...impostor.envelope.payload, inviter: steward.did } }, seed: impostor.seed })
    expect(codeError(() => decodeInvitationCode(renamed))).toBe('INVITATION_FORGED')
    expect(() => { checkNotExpired(invitation.envelope.payload, T0 + 59_999) }).not.toThrow()
    expect(codeError(() => { checkNotExpired(invitation.envelope.payload, T0 + 60_000) })).toBe('INVITATION_EXPIRED')
  })
})

describe('invitation store', () => {
  it('keeps records exactly across close and reopen, and refuses a damaged file by name', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'invitations.json')
      const store = await InvitationStore.open(path)
      await store.add({ id: 'inv1', key: joiner.did, name: 'Willow', createdAt: T0, expiresAt: T0 + 1000, state: 'pending' }, T0)
      await store.markUsed('inv1', member.did, T0 + 10, 'proposal1')
      const reopened = await InvitationStore.open(path)
      expect(reopened.list()).toEqual([{ id: 'inv1', key: joiner.did, name: 'Willow', createdAt: T0, expiresAt: T0 + 1000, state: 'used', usedBy: member.did, usedAt: T0 + 10, proposal: 'proposal1' }])
      expect(reopened.pendingByKey(joiner.did, T0)).toBeUndefined()
      expect(reopened.usedBy(member.did)?.id).toBe('inv1')
      const text = await readFile(path, 'utf8')
      await writeFile(path, text.replace('Willow', 'Wilbur'))
      await expect(InvitationStore.open(path)).rejects.toBeInstanceOf(DataDirCorruptError)
    })
  })
})

/** A steward's node, in process: governance and trust on disk, gossip publishes recorded. */
async function stewardNode (dir: string): Promise<{ membership: NodeMembership, governance: Governance, trust: TrustGraph, clock: ManualClock, published: string[], close: () => Promise<void> }> {
  const clock = new ManualClock(T0)
  const trust = await openTrustGraph({ clock }, { path: join(dir, 'trust') })
  const governance = await openGovernance({ clock, trustOf: (did) => trust.trustOf(steward.did, did, 'social') }, { path: join(dir, 'governance'), charter: charterOf() })
  const invitations = await InvitationStore.open(join(dir, 'invitations.json'))
  const membership = new NodeMembership({ governance, invitations, keyPair: steward, clock, logger: createLogger('silent') }, { charterFile: { domain: 'coop:invite' } })
  const published: string[] = []
  const gossip = { publish: async (topic: string) => { published.push(topic) } } as unknown as ActingNode['gossip']
  membership.attach({ keyPair: steward, clock, trust, governance, gossip }, () => ADDRS, () => [], () => ({ framesFromNonMembers: 0, entriesByNonMembers: 0 }))
  return { membership, governance, trust, clock, published, close: async () => { await governance.close(); await trust.close() } }
}

describe('NodeMembership', () => {
  it('admits members, an invitation\'s key and then its user; answers a join with the charter and raises the proposal', async () => {
    await withTempDir(async (dir) => {
      const node = await stewardNode(dir)
      const { membership, governance } = node
      expect([membership.connect(steward.did), membership.connect(member.did), membership.connect(stranger.did)]).toEqual([true, true, false])
      const created = await membership.createInvitation({ name: 'Willow' })
      const invitation = decodeInvitationCode(created.code)
      const key = invitation.envelope.payload.key
      expect(invitation.envelope.payload.network).toBe(governance.networkId)
      expect([membership.connect(key), membership.stream(key)]).toEqual([true, false])

      const request = signJoinRequest(joiner, { network: governance.networkId, invitation: invitation.envelope.cid, name: '', at: T0 })
      const answer = decodeJoinAnswer(await membership.answerJoin(key, request))
      if (!answer.ok) throw new Error(answer.message)
      expect(answer.charter).toEqual({ domain: 'coop:invite' })
      expect(answer.network).toBe(governance.networkId)
      const proposal = governance.proposal(answer.proposal!)
      expect(proposal?.payload).toEqual({ action: 'add', member: joiner.did, role: 'member', name: 'Willow' })
      expect(proposal?.state).toBe('open')
      expect(governance.votes(answer.proposal!).map((v) => [v.voter, v.choice])).toEqual([[steward.did, 'for']])
      expect(node.published).toEqual(['trust:attest', 'governance:proposal', 'governance:proposal', 'governance:vote'])
      // The key is spent (it still connects, until it expires, only to hear INVITATION_USED: no stream); the
      // joiner may reach its inviter, without a stream, until it is a member.
      expect([membership.connect(key), membership.stream(key), membership.connect(joiner.did), membership.stream(joiner.did)]).toEqual([true, false, true, false])
      expect(membership.view().candidates).toEqual([{ did: joiner.did, name: 'Willow', invitation: invitation.envelope.cid, proposal: answer.proposal, usedAt: T0 }])

      const again = decodeJoinAnswer(await membership.answerJoin(key, request))
      expect(again).toEqual({ ok: false, code: 'INVITATION_USED', message: `the invitation was already used at ${new Date(T0).toISOString()}` })

      await node.clock.advanceAsync(3000)
      await new Promise((resolve) => setImmediate(resolve))
      expect(governance.proposal(answer.proposal!)?.state).toBe('executed')
      expect([membership.isMember(joiner.did), membership.stream(joiner.did), governance.nameOf(joiner.did)]).toEqual([true, true, 'Willow'])
      expect(membership.view().candidates).toEqual([])
      await node.close()
    })
  })

  it('answers every bad join request with a typed refusal and changes nothing', async () => {
    await withTempDir(async (dir) => {
      const node = await stewardNode(dir)
      const { membership, governance } = node
      const created = await membership.createInvitation({ expiresInMs: 60_000 })
      const invitation = decodeInvitationCode(created.code)
      const key = invitation.envelope.payload.key
      const request = (fields: Partial<{ network: string, invitation: string }>): Uint8Array =>
        signJoinRequest(joiner, { network: governance.networkId, invitation: invitation.envelope.cid, name: '', at: T0, ...fields })
      const refusal = async (keyDid: string, bytes: Uint8Array): Promise<string> => {
        const answer = decodeJoinAnswer(await membership.answerJoin(keyDid, bytes))
        return answer.ok ? 'ok' : answer.code
      }
      expect(await refusal(stranger.did, request({}))).toBe('INVITATION_UNKNOWN')
      expect(await refusal(key, request({ network: 'bafyreiothernetwork' }))).toBe('INVITATION_FOREIGN_NETWORK')
      expect(await refusal(key, request({ invitation: 'bafyreiotherinvitation' }))).toBe('INVITATION_UNKNOWN')
      expect(await refusal(key, new Uint8Array([1, 2, 3]))).toBe('INVITATION_FORGED')
      expect(governance.proposals()).toEqual([])
      node.clock.advance(60_000)
      expect(await refusal(key, request({}))).toBe('INVITATION_EXPIRED')
      expect(membership.connect(key)).toBe(false)
      expect(governance.proposals()).toEqual([])
      expect((await membership.createInvitation({})).expiresAt).toBe(T0 + 60_000 + 7 * 24 * 3600 * 1000)
      await node.close()
    })
  })

  it('lets only roles the charter allows invite', async () => {
    await withTempDir(async (dir) => {
      const clock = new ManualClock(T0)
      const governance = await openGovernance({ clock }, { path: join(dir, 'governance'), charter: charterOf() })
      const invitations = await InvitationStore.open(join(dir, 'invitations.json'))
      const asMember = new NodeMembership({ governance, invitations, keyPair: member, clock, logger: createLogger('silent') }, { charterFile: {} })
      asMember.attach({} as ActingNode, () => ADDRS, () => [], () => ({ framesFromNonMembers: 0, entriesByNonMembers: 0 }))
      await expect(asMember.createInvitation({})).rejects.toMatchObject({ code: 'NOT_PERMITTED', message: 'the charter lets steward invite; this node is a member' })
      const asStranger = new NodeMembership({ governance, invitations, keyPair: stranger, clock, logger: createLogger('silent') }, { charterFile: {} })
      await expect(asStranger.createInvitation({})).rejects.toMatchObject({ code: 'NOT_PERMITTED' })
      expect(invitations.list()).toEqual([])
      await governance.close()
    })
  })
})
