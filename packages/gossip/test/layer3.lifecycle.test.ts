// Layer 3 — same-process lifecycle: shut the handle down (timers stopped,
// saves awaited), open a brand-new handle on the same file, and the fresh
// handle restores exact state and resumes background work.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { decode, utf8 } from '@icn/identity'
import { readJsonSnapshot } from '@icn/identity/fs'
import { withTempDir } from '@icn/testkit'
import { createEntry, createGossip, encodeMessage } from '../src/index.js'
import { ManualClock, captureTransport, keyOf } from './helpers/sim.js'

const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }
const alice = keyOf(0)
const bob = keyOf(1)

describe('layer 3: shutdown → new handle in the same process', () => {
  it('restores exact entries and topics, and resumes the vector clock and anti-entropy', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const clock = new ManualClock()
      const first = await createGossip({ transport: captureTransport(alice.did).transport, clock, keyPair: alice, trustOf: () => 0.9 }, { path, saveDelayMs: 50 })
      first.createTopic('trust:attest', { kind: 'min-trust', minTrust: 0.5 })
      first.createTopic('ledger:tx')
      const published = []
      for (let i = 0; i < 5; i++) {
        published.push(await first.publish(i % 2 === 0 ? 'ledger:tx' : 'trust:attest', utf8(`entry ${i}`)))
        clock.advance(100)
      }
      await first.shutdown()
      expect(clock.pendingTimers).toBe(0)

      const wire = captureTransport(alice.did, [bob.did])
      const second = await createGossip({ transport: wire.transport, clock, keyPair: alice, trustOf: () => 1 }, { path })
      expect(second.topics()).toEqual([
        { name: 'ledger:tx', access: { kind: 'public' }, entries: 3 },
        { name: 'trust:attest', access: { kind: 'min-trust', minTrust: 0.5 }, entries: 2 }
      ])
      expect(second.entries('ledger:tx')).toEqual([published[0], published[2], published[4]])
      expect(second.entries('trust:attest')).toEqual([published[1], published[3]])
      const next = await second.publish('ledger:tx', utf8('after restart'))
      expect(next.clock).toEqual({ [alice.did]: 6 })
      clock.advance(2000)
      expect(wire.sent.filter((s) => s.to === bob.did).length).toBeGreaterThan(0)
      expect(clock.pendingTimers).toBeGreaterThan(0)
      await second.close()
      expect(clock.pendingTimers).toBe(0)
    })
  })

  it('persistEntries false: a fresh handle restores topics and the vector clock, not the entries (the subsystems hold them)', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const clock = new ManualClock()
      const first = await createGossip({ transport: captureTransport(alice.did, [bob.did]).transport, clock, keyPair: alice }, { path, persistEntries: false })
      first.createTopic('ledger:tx')
      for (let i = 0; i < 3; i++) await first.publish('ledger:tx', utf8(`entry ${i}`))
      expect(first.entries('ledger:tx').length).toBe(3)
      // what a snapshot records: the topics and rules, not the entries (the stores' cut holds those)
      const exported = await first.exportState()
      expect(decode(exported)).toEqual({ version: 1, topics: [{ name: 'ledger:tx', access: { kind: 'public' }, entries: [] }] })
      await first.shutdown()
      expect(clock.pendingTimers).toBe(0)
      const saved = await readJsonSnapshot(path) as { clock: unknown, topics: unknown }
      expect(saved.clock).toEqual([[alice.did, 3]])
      expect(saved.topics).toEqual([{ name: 'ledger:tx', access: { kind: 'public' }, entries: [] }])

      const second = await createGossip({ transport: captureTransport(alice.did).transport, clock, keyPair: alice }, { path, persistEntries: false })
      expect(second.topics()).toEqual([{ name: 'ledger:tx', access: { kind: 'public' }, entries: 0 }])
      const next = await second.publish('ledger:tx', utf8('after restart'))
      expect(next.clock).toEqual({ [alice.did]: 4 })
      await second.restoreState(exported)
      expect(second.entries('ledger:tx')).toEqual([])
      expect(await second.exportState()).toEqual(exported)
      await second.close()
    })
  })

  it('a peer forgotten before shutdown is gone from the fresh handle: no record, no clock component', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'gossip.json')
      const clock = new ManualClock()
      const wire = captureTransport(alice.did, [bob.did])
      const first = await createGossip({ transport: wire.transport, clock, keyPair: alice }, { path })
      first.createTopic('ledger:tx')
      await wire.deliver(bob.did, encodeMessage({ t: 'topics', topics: ['ledger:tx'] }))
      await wire.deliver(bob.did, encodeMessage({ t: 'push', entries: [new Uint8Array([1])] }))
      await wire.deliver(bob.did, encodeMessage({
        t: 'push', entries: [createEntry(bob, { topic: 'ledger:tx', payload: utf8('b'), clock: { [bob.did]: 5 }, timestamp: clock.now() }, LIMITS).bytes]
      }))
      expect(first.misbehaviour(bob.did)).toBe(1)
      first.forgetPeer(bob.did)
      await first.shutdown()
      const saved = await readJsonSnapshot(path) as { clock: unknown, peers: unknown }
      expect(saved.clock).toEqual([])
      expect(saved.peers).toEqual([])

      const second = await createGossip({ transport: captureTransport(alice.did).transport, clock, keyPair: alice }, { path })
      expect(second.misbehaviour(bob.did)).toBe(0)
      expect((await second.publish('ledger:tx', utf8('mine'))).clock).toEqual({ [alice.did]: 1 })
      await second.close()
    })
  })
})
