import type { Gossip, GossipEntry } from '@icn/gossip'
import { type KindRule, cooperativeCharter, openGovernance } from '@icn/governance'
import { type SignedEnvelope, encodeEnvelope, keyPairFromSeed } from '@icn/identity'
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { TOPICS, bridgeGovernance } from '../src/bridges.js'
import { createLogger } from '../src/logger.js'

const proposer = keyPairFromSeed(new Uint8Array(32).fill(11))
const member = keyPairFromSeed(new Uint8Array(32).fill(12))
const MINUTE = 60_000
const rule: KindRule = { proposers: ['member', 'steward'], quorumBps: 5000, approvalBps: 5000, deliberation: { defaultMs: MINUTE, minMs: 0, maxMs: 10 * MINUTE }, votingMs: MINUTE }
const charter = cooperativeCharter({
  domain: 'coop:bridge-test',
  members: [{ did: proposer.did, role: 'steward' }, { did: member.did, role: 'member' }],
  kinds: { text: rule }
})

/** Just what `bridgeGovernance` uses of gossip: validators (ignored here) and one handler per topic. */
function fakeGossip (): { gossip: Gossip, deliver: (topic: string, envelope: SignedEnvelope) => Promise<void> } {
  const handlers = new Map<string, (entry: GossipEntry) => void | Promise<void>>()
  const gossip = {
    setValidator: () => {},
    subscribe: (topic: string, handler: (entry: GossipEntry) => void | Promise<void>) => {
      handlers.set(topic, handler)
      return () => { handlers.delete(topic) }
    }
  } as unknown as Gossip
  const deliver = async (topic: string, envelope: SignedEnvelope): Promise<void> => {
    const payload = encodeEnvelope(envelope)
    await handlers.get(topic)?.({ id: envelope.cid, cid: envelope.cid, topic, author: envelope.signer, payload, timestamp: 0, clock: {} })
  }
  return { gossip, deliver }
}

describe('bridgeGovernance', () => {
  it('a vote that arrives while voting has not opened on this node\'s clock is applied when it opens', async () => {
    await withTempDir(async (dir) => {
      // The proposer's clock runs 10 s ahead of this node's.
      const start = 1_800_000_000_000
      const proposerClock = new ManualClock(start + 10_000)
      const nodeClock = new ManualClock(start)
      const origin = await openGovernance({ clock: proposerClock, trustOf: () => 1 }, { path: `${dir}/origin`, charter })
      const node = await openGovernance({ clock: nodeClock, trustOf: () => 1 }, { path: `${dir}/node`, charter })
      try {
        const proposed = await origin.propose(proposer, { kind: 'text', title: 'Paint the shed', payload: { text: 'green' } })
        const submitted = await origin.submit(proposer, proposed.proposal)
        const originOpened = new Promise<void>((resolve) => { origin.onTransition((p) => { if (p.state === 'open') resolve() }) })
        proposerClock.advance(MINUTE)
        await originOpened
        const voted = await origin.vote(proposer, proposed.proposal, 'for')

        const { gossip, deliver } = fakeGossip()
        const off = bridgeGovernance(gossip, node, createLogger('silent'))
        await deliver(TOPICS.proposal, proposed.envelope)
        await deliver(TOPICS.proposal, submitted.envelope)
        await deliver(TOPICS.vote, voted.envelope)
        // Here voting opens only a minute after the submit: 10 s of skew later than at the proposer.
        expect(node.proposal(proposed.proposal)?.state).toBe('deliberation')
        expect(node.votes(proposed.proposal)).toEqual([])

        const opened = new Promise<void>((resolve) => { node.onTransition((p) => { if (p.state === 'open') resolve() }) })
        nodeClock.advance(10_000 + MINUTE)
        await opened
        await off() // waits for the retry the transition started
        expect(node.proposal(proposed.proposal)?.state).toBe('open')
        expect(node.votes(proposed.proposal).map((v) => [v.voter, v.choice, v.cid])).toEqual([[proposer.did, 'for', voted.envelope.cid]])
      } finally {
        await origin.close()
        await node.close()
      }
    })
  })
})
