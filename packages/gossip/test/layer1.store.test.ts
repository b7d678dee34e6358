// Layer 1 — direct persistence: write through the storage adapter (GossipStore),
// close it, reopen it from the snapshot file, read back exact values.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { utf8 } from '@icn/identity'
import { withTempDir } from '@icn/testkit'
import { GossipStore, createEntry } from '../src/index.js'
import { keyOf } from './helpers/sim.js'

const NOW = 1_700_000_000_000
const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024, retentionMs: 30 * 86_400_000, maxEntries: 10_000 }
const alice = keyOf(0)
const bob = keyOf(1)

describe('layer 1: gossip store write → close → reopen', () => {
  it('restores exact entries, topics, vector clock and peer records', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const store = await GossipStore.open({ ...LIMITS, path, now: NOW })
      store.createTopic('ledger:tx', { kind: 'public' })
      store.createTopic('trust:attest', { kind: 'min-trust', minTrust: 0.8 })
      const entries = [
        createEntry(alice, { topic: 'ledger:tx', payload: utf8('tx-1'), clock: { [alice.did]: 1 }, timestamp: NOW - 2 }, LIMITS),
        createEntry(bob, { topic: 'ledger:tx', payload: new Uint8Array(2000).fill(7), clock: { [alice.did]: 1, [bob.did]: 1 }, timestamp: NOW - 1 }, LIMITS),
        createEntry(bob, { topic: 'trust:attest', payload: utf8('att-1'), clock: { [bob.did]: 2 }, timestamp: NOW }, LIMITS)
      ]
      for (const e of entries) expect(store.add(e, NOW)).toBe('added')
      const peer = store.peer(bob.did)
      peer.topics.add('ledger:tx')
      peer.misbehaviour = 2
      peer.lastSyncAt = NOW - 500
      expect(store.rememberNonce(bob.did, 'aa'.repeat(16), NOW - 100, 600_000)).toBe(true)
      await store.close()

      const reopened = await GossipStore.open({ ...LIMITS, path, now: NOW })
      expect([...reopened.topics.keys()]).toEqual(['ledger:tx', 'trust:attest'])
      expect(reopened.topic('trust:attest').access).toEqual({ kind: 'min-trust', minTrust: 0.8 })
      const ledger = reopened.topic('ledger:tx').log.items
      expect(ledger.map((e) => e.envelope.cid)).toEqual([entries[0]!.envelope.cid, entries[1]!.envelope.cid])
      expect(ledger.map((e) => e.idHex)).toEqual([entries[0]!.idHex, entries[1]!.idHex])
      expect(ledger[0]!.payload).toEqual(utf8('tx-1'))
      expect(ledger[1]!.payload).toEqual(new Uint8Array(2000).fill(7))
      expect(ledger[1]!.envelope.payload.encoding).toBe('deflate-raw')
      expect(ledger[1]!.envelope.payload).toMatchObject({ author: bob.did, timestamp: NOW - 1, clock: { [alice.did]: 1, [bob.did]: 1 } })
      expect(reopened.topic('trust:attest').log.items.map((e) => e.envelope.cid)).toEqual([entries[2]!.envelope.cid])
      expect([...reopened.clock.entries()]).toEqual([[alice.did, 1], [bob.did, 2]])
      const p = reopened.peers.get(bob.did)!
      expect({ topics: [...p.topics], misbehaviour: p.misbehaviour, lastSyncAt: p.lastSyncAt, nonces: [...p.nonces] })
        .toEqual({ topics: ['ledger:tx'], misbehaviour: 2, lastSyncAt: NOW - 500, nonces: [['aa'.repeat(16), NOW - 100]] })
      expect(reopened.rememberNonce(bob.did, 'aa'.repeat(16), NOW, 600_000)).toBe(false)
    })
  })

  it('forget removes a peer record and its clock component from the file; keepClock keeps the component', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const store = await GossipStore.open({ ...LIMITS, path, now: NOW })
      store.createTopic('ledger:tx', { kind: 'public' })
      store.mergeClock({ [alice.did]: 3, [bob.did]: 2 })
      store.peer(bob.did).topics.add('ledger:tx')
      store.peer(alice.did).lastSyncAt = NOW
      await store.close()
      const reopened = await GossipStore.open({ ...LIMITS, path, now: NOW })
      expect(reopened.forget(bob.did)).toBe(true)
      expect(reopened.forget(alice.did, true)).toBe(true)
      expect(reopened.forget('did:icn:zUnknown')).toBe(false)
      await reopened.close()
      const third = await GossipStore.open({ ...LIMITS, path, now: NOW })
      expect([...third.clock.entries()]).toEqual([[alice.did, 3]])
      expect([...third.peers.keys()]).toEqual([])
    })
  })

  it('keeps vector-clock components of the DIDs isMember accepts only', async () => {
    const store = await GossipStore.open({ ...LIMITS, now: NOW, isMember: (did) => did === alice.did })
    store.createTopic('ledger:tx', { kind: 'public' })
    const entry = createEntry(alice, { topic: 'ledger:tx', payload: utf8('tx'), clock: { [alice.did]: 4, [bob.did]: 9 }, timestamp: NOW }, LIMITS)
    expect(store.add(entry, NOW)).toBe('added')
    expect([...store.clock.entries()]).toEqual([[alice.did, 4]])
  })
})
