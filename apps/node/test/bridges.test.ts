import type { Gossip, GossipEntry } from '@icn/gossip'
import { type KindRule, cooperativeCharter, openGovernance } from '@icn/governance'
import { type SignedEnvelope, decodeEnvelope, encode, encodeEnvelope, keyPairFromSeed } from '@icn/identity'
import { openLedger } from '@icn/ledger'
import { join } from 'node:path'
import { ManualClock, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { MAX_LEDGER_BATCH, TOPICS, bridgeGovernance, bridgeLedger, ledgerEntriesOf } from '../src/bridges.js'
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

describe('bridgeLedger', () => {
  const payer = keyPairFromSeed(new Uint8Array(32).fill(21))
  const payee = keyPairFromSeed(new Uint8Array(32).fill(22))

  /** What `bridgeLedger` uses of gossip: one validator, one handler, and the publishes it makes. */
  function recordingGossip (): { gossip: Gossip, published: Uint8Array[], verdicts: boolean[], check: (author: string, payload: Uint8Array) => boolean, deliver: (author: string, payload: Uint8Array) => Promise<void> } {
    let validator: ((entry: GossipEntry) => boolean) | undefined
    let handler: ((entry: GossipEntry) => void | Promise<void>) | undefined
    const published: Uint8Array[] = []
    const verdicts: boolean[] = []
    const entry = (author: string, payload: Uint8Array): GossipEntry => ({ id: 'x', cid: 'x', topic: TOPICS.ledger, author, payload, timestamp: 0, clock: {} })
    const gossip = {
      setValidator: (_topic: string, v: (entry: GossipEntry) => boolean) => { validator = v },
      subscribe: (_topic: string, h: (entry: GossipEntry) => void | Promise<void>) => { handler = h; return () => { handler = undefined } },
      // As @icn/gossip does: the validator runs on a copy of the payload, inside publish, before its first await.
      publish: async (_topic: string, payload: Uint8Array) => {
        verdicts.push(validator?.(entry(payer.did, Uint8Array.from(payload))) === true)
        published.push(payload)
      }
    } as unknown as Gossip
    return {
      gossip,
      published,
      verdicts,
      check: (author, payload) => { try { return validator?.(entry(author, payload)) === true } catch { return false } },
      deliver: async (author, payload) => { await handler?.(entry(author, payload)) }
    }
  }

  it('entries published in one turn travel as one batch, are checked as a whole and applied each', async () => {
    await withTempDir(async (dir) => {
      const source = await openLedger({ path: join(dir, 'source') })
      const target = await openLedger({ path: join(dir, 'target') })
      const other = await openLedger({ path: join(dir, 'other') })
      const sent = recordingGossip()
      const bridge = bridgeLedger(sent.gossip, other, createLogger('silent'))
      try {
        const records = [await source.pay(payer, payee.did, 'HOUR', 1n), await source.pay(payer, payee.did, 'HOUR', 2n), await source.pay(payer, payee.did, 'HOUR', 3n)]
        await Promise.all(records.map(async (r) => { await bridge.publish(r.bytes) }))
        await bridge.publish(records[0]!.bytes)
        expect(sent.published).toEqual([encode(records.map((r) => r.bytes)), records[0]!.bytes])
        expect(ledgerEntriesOf(sent.published[0]!).map((e) => e.id)).toEqual(records.map((r) => r.id))
        expect(sent.verdicts).toEqual([true, true])
        // A byte bound splits a turn's entries into batches (a lone entry still goes as its own bytes).
        const bounded = recordingGossip()
        const small = bridgeLedger(bounded.gossip, other, createLogger('silent'), () => {}, records[0]!.bytes.length + records[1]!.bytes.length)
        await Promise.all(records.map(async (r) => { await small.publish(r.bytes) }))
        await small.stop()
        expect(bounded.published).toEqual([encode([records[0]!.bytes, records[1]!.bytes]), records[2]!.bytes])

        const received = recordingGossip()
        const applied: number[] = []
        const receiver = bridgeLedger(received.gossip, target, createLogger('silent'), () => { applied.push(target.entryCount()) })
        const batch = sent.published[0]!
        expect(received.check(payer.did, batch)).toBe(true)
        expect(received.check(payee.did, batch)).toBe(false)
        const forged = encode([records[0]!.bytes, encodeEnvelope({ ...decodeEnvelope(records[1]!.bytes), signature: new Uint8Array(64).fill(1) })])
        expect(received.check(payer.did, forged)).toBe(false)
        for (const bad of [encode([]), encode(Array.from({ length: MAX_LEDGER_BATCH + 1 }, () => records[0]!.bytes)), encode([records[0]!.bytes, 7])]) {
          expect(received.check(payer.did, bad)).toBe(false)
        }
        await received.deliver(payer.did, batch)
        await receiver.stop()
        expect(applied).toHaveLength(3)
        expect(target.balance(payee.did, 'HOUR')).toBe(6n)
        expect(target.stateRoot()).toBe(source.stateRoot())

        // A node's own batch is not decoded again while it is published (its ledger signed and committed those
        // entries); the same bytes from anywhere else, or checked after that publish, take the full check.
        const own = recordingGossip()
        const publisher = bridgeLedger(own.gossip, other, createLogger('silent'))
        const garbage = Uint8Array.of(0xa1, 0x61, 0x78, 0x01)
        await publisher.publish(garbage)
        await publisher.stop()
        expect(own.published).toEqual([garbage])
        expect(own.verdicts).toEqual([true])
        expect(own.check(payer.did, garbage)).toBe(false)
      } finally {
        await bridge.stop()
        await Promise.all([source.close(), target.close(), other.close()])
      }
    })
  })
})
