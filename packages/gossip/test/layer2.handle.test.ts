// Layer 2 — production handle: write through the Gossip handle a node uses
// (publish, receive, announcements), close it, reopen the storage adapter,
// and find the same exact state.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { utf8 } from '@icn/identity'
import { withTempDir } from '@icn/testkit'
import { GossipStore, createEntry, createGossip, encodeMessage } from '../src/index.js'
import { ManualClock, captureTransport, keyOf } from './helpers/sim.js'

const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024, retentionMs: 30 * 86_400_000, maxEntries: 10_000 }
const alice = keyOf(0)
const bob = keyOf(1)

describe('layer 2: Gossip handle write → close → reopen the store', () => {
  it('persists published and received entries, topics and peer knowledge exactly', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const clock = new ManualClock()
      const wire = captureTransport(alice.did, [bob.did])
      const gossip = await createGossip({ transport: wire.transport, clock, keyPair: alice }, { path })
      gossip.createTopic('governance:vote', { kind: 'participants', participants: [alice.did, bob.did] })
      const mine = await gossip.publish('governance:vote', utf8('vote yes'))
      clock.advance(5)
      const theirs = createEntry(bob, { topic: 'governance:vote', payload: utf8('vote no'), clock: { [bob.did]: 1 }, timestamp: clock.now() }, LIMITS)
      await wire.deliver(bob.did, encodeMessage({ t: 'topics', topics: ['governance:vote'] }))
      await wire.deliver(bob.did, encodeMessage({ t: 'push', entries: [theirs.bytes] }))
      await wire.deliver(bob.did, encodeMessage({ t: 'push', entries: [new Uint8Array([1, 2, 3])] }))
      const handleView = gossip.entries('governance:vote')
      await gossip.close()

      const store = await GossipStore.open({ ...LIMITS, path, now: clock.now() })
      const items = store.topic('governance:vote').log.items
      expect(items.map((e) => e.envelope.cid)).toEqual([mine.cid, theirs.envelope.cid])
      expect(items.map((e) => e.envelope.cid)).toEqual(handleView.map((e) => e.cid))
      expect(items.map((e) => new TextDecoder().decode(e.payload))).toEqual(['vote yes', 'vote no'])
      expect(store.topic('governance:vote').access).toEqual({ kind: 'participants', participants: [alice.did, bob.did].sort() })
      expect(Object.fromEntries(store.clock)).toEqual({ [alice.did]: 1, [bob.did]: 1 })
      const peer = store.peers.get(bob.did)!
      expect([...peer.topics]).toEqual(['governance:vote'])
      expect(peer.misbehaviour).toBe(1)
    })
  })
})
