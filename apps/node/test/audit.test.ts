import { type Gossip, type GossipEntry, createEntry, encodeMessage } from '@icn/gossip'
import { type KeyPair, encode, keyPairFromSeed, sha256 } from '@icn/identity'
import { type EntryRecord, type Ledger, InvalidStateError, PERMISSIVE_POLICY, openLedger } from '@icn/ledger'
import { type SnapshotLeaf, encodeLocalState, merkleRoot } from '@icn/snapshot'
import { withTempDir } from '@icn/testkit'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type AuditInput, auditSnapshot, balancesOfRecordedLedger, ledgerEntriesOfFrame } from '../src/audit.js'
import { auditedBalances, auditedBalancesCsv } from '../src/audit-format.js'
import { LEDGER_IN_TRANSIT, TOPICS, bridgeLedger, inTransitEntries, inTransitProvider, recordChannels } from '../src/bridges.js'
import { HISTORY_TOPIC, isHistoryFrame } from '../src/history.js'
import { createLogger } from '../src/logger.js'

const [a, b, c] = [41, 42, 43].map((n) => keyPairFromSeed(new Uint8Array(32).fill(n))) as [KeyPair, KeyPair, KeyPair]
const LIMITS = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }

/** A gossip frame pushing `payload` on `topic`, as a peer's gossip sends it. */
function pushFrame (author: KeyPair, topic: string, payload: Uint8Array): Uint8Array {
  return encodeMessage({ t: 'push', entries: [createEntry(author, { topic, payload, clock: {}, timestamp: 1 }, LIMITS).bytes] })
}

async function withLedgers (fn: (ledgers: [Ledger, Ledger, Ledger]) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const ledgers = await Promise.all([0, 1, 2].map(async (i) => await openLedger({ path: join(dir, `l${i}`), trustOf: () => 1, policy: PERMISSIVE_POLICY, verifyWorkers: 0 }))) as [Ledger, Ledger, Ledger]
    try { await fn(ledgers) } finally { await Promise.all(ledgers.map(async (l) => { await l.close() })) }
  })
}

/** Participant states and the completed-snapshot record over them (real leaves and root). */
async function snapshotOf (parts: Array<{ who: KeyPair, ledger: Ledger, transit?: Uint8Array[], channels: Record<string, Uint8Array[]> }>): Promise<{ record: { snapshotId: string, root: Uint8Array, participants: string[], leaves: SnapshotLeaf[] }, states: Map<string, AuditInput> }> {
  const states = new Map<string, AuditInput>()
  const leaves: SnapshotLeaf[] = []
  for (const p of parts) {
    const localState = encodeLocalState(new Map([['ledger', await p.ledger.exportState()], [LEDGER_IN_TRANSIT, encode({ entries: p.transit ?? [] })]]))
    const channelState = encode({ channels: p.channels })
    states.set(p.who.did, { localState, channelState })
    leaves.push({ did: p.who.did, stateHash: sha256(localState), stateSize: localState.length, channelHash: sha256(channelState), channelSize: channelState.length })
  }
  return { record: { snapshotId: 'snap-1', root: merkleRoot(leaves), participants: parts.map((p) => p.who.did), leaves }, states }
}

describe('balancesOfRecordedLedger', () => {
  it('reads balances, chain heads and held entries of a recorded ledger', async () => {
    await withLedgers(async ([la, lb]) => {
      const e1 = await la.pay(a, b.did, 'ICN', 5n)
      const e2 = await la.pay(a, b.did, 'ICN', 7n)
      expect((await lb.applyEnvelope(e2.bytes)).status).toBe('pending')
      expect(balancesOfRecordedLedger(await la.exportState())).toEqual({
        balances: [{ account: a.did, currency: 'ICN', balance: -12n }, { account: b.did, currency: 'ICN', balance: 12n }].sort((x, y) => (x.account < y.account ? -1 : 1)),
        heads: [{ author: a.did, seq: 2, id: e2.id }],
        held: []
      })
      const held = balancesOfRecordedLedger(await lb.exportState())
      expect({ balances: held.balances, heads: held.heads, held: held.held.map((s) => s.id) }).toEqual({ balances: [], heads: [], held: [e2.id] })
      expect(e1.id).not.toBe(e2.id)
      expect(() => balancesOfRecordedLedger(encode({ entries: 'no' }))).toThrow(InvalidStateError)
    })
  })
})

describe('auditSnapshot', () => {
  it('an entry on the payee\'s recorded channel balances the payer\'s recorded debit; without it the currency is off by its amount', async () => {
    await withLedgers(async ([la, lb, lc]) => {
      const e1 = await la.pay(a, b.did, 'ICN', 5n)
      const e2 = await la.pay(a, b.did, 'ICN', 7n)
      const e3 = await lb.pay(b, c.did, 'EUR', 3n)
      await lc.applyEnvelope(e3.bytes)
      await lb.applyEnvelope(e2.bytes) // held: seq 1 is still on the channel from a
      const frame = pushFrame(a, TOPICS.ledger, encode([e1.bytes]))
      const parts = (channel: Uint8Array[]): Parameters<typeof snapshotOf>[0] => [
        { who: a, ledger: la, channels: { [b.did]: [], [c.did]: [] } },
        { who: b, ledger: lb, channels: { [a.did]: channel, [c.did]: [pushFrame(c, TOPICS.trust, new Uint8Array([1]))] } },
        { who: c, ledger: lc, channels: { [a.did]: [], [b.did]: [] } }
      ]

      const { record, states } = await snapshotOf(parts([frame]))
      const audit = auditSnapshot(record, states)
      expect({ complete: audit.complete, balanced: audit.balanced, notes: audit.notes }).toEqual({ complete: true, balanced: true, notes: [] })
      expect(audit.currencies).toEqual([
        { currency: 'EUR', recorded: '0', inFlight: '0', total: '0', balanced: true },
        { currency: 'ICN', recorded: '-12', inFlight: '12', total: '0', balanced: true }
      ])
      const byDid = new Map(audit.participants.map((p) => [p.did, p]))
      expect(byDid.get(b.did)).toMatchObject({
        available: true, leafMatches: true, inRoot: true,
        channelFrames: { [a.did]: 1, [c.did]: 1 },
        audited: [{ currency: 'EUR', recorded: '-3', inFlight: '0', audited: '-3' }, { currency: 'ICN', recorded: '0', inFlight: '12', audited: '12' }]
      })
      expect(byDid.get(b.did)?.inFlight).toEqual([
        { channel: a.did, id: e1.id, author: a.did, seq: 1, deltas: [{ account: a.did, currency: 'ICN', net: '-5' }, { account: b.did, currency: 'ICN', net: '5' }] },
        { channel: 'held', id: e2.id, author: a.did, seq: 2, deltas: [{ account: a.did, currency: 'ICN', net: '-7' }, { account: b.did, currency: 'ICN', net: '7' }] }
      ])
      expect(byDid.get(a.did)?.audited).toEqual([{ currency: 'ICN', recorded: '-12', inFlight: '0', audited: '-12' }])
      expect(auditedBalances(audit)).toEqual([
        { snapshot: 'snap-1', participant: a.did, currency: 'ICN', recorded: '-12', inFlight: '0', audited: '-12' },
        { snapshot: 'snap-1', participant: b.did, currency: 'EUR', recorded: '-3', inFlight: '0', audited: '-3' },
        { snapshot: 'snap-1', participant: b.did, currency: 'ICN', recorded: '0', inFlight: '12', audited: '12' },
        { snapshot: 'snap-1', participant: c.did, currency: 'EUR', recorded: '3', inFlight: '0', audited: '3' }
      ].sort((x, y) => (x.participant < y.participant ? -1 : x.participant > y.participant ? 1 : 0)))
      expect(auditedBalancesCsv(audit).split('\n')[0]).toBe('snapshot,participant,currency,recorded,in_flight,audited')

      // The entry was in no recorded place: 5 ICN are missing.
      const lost = await snapshotOf(parts([]))
      const broken = auditSnapshot(lost.record, lost.states)
      expect({ complete: broken.complete, balanced: broken.balanced }).toEqual({ complete: true, balanced: false })
      expect(broken.currencies.find((x) => x.currency === 'ICN')).toEqual({ currency: 'ICN', recorded: '-12', inFlight: '7', total: '-5', balanced: false })

      // Recorded by the payer as in transit at its cut instead: balanced again.
      const transit = await snapshotOf([{ ...parts([])[0]!, transit: [e1.bytes] }, ...parts([]).slice(1)])
      expect(auditSnapshot(transit.record, transit.states).balanced).toBe(true)
    })
  })

  it('an unavailable participant, a state that does not hash to its leaf and accounts outside the snapshot make it incomplete', async () => {
    await withLedgers(async ([la, lb, lc]) => {
      const e1 = await la.pay(a, b.did, 'ICN', 5n)
      await lb.applyEnvelope(e1.bytes)
      const { record, states } = await snapshotOf([
        { who: a, ledger: la, channels: {} }, { who: b, ledger: lb, channels: {} }, { who: c, ledger: lc, channels: {} }
      ])
      const gone = auditSnapshot(record, new Map([...states, [c.did, { error: 'state not fetched: timed out' }]]))
      expect({ complete: gone.complete, balanced: gone.balanced, notes: gone.notes }).toEqual({ complete: false, balanced: false, notes: [`${c.did}: state not fetched: timed out`] })
      expect(gone.participants.find((p) => p.did === c.did)).toMatchObject({ available: false, reason: 'state not fetched: timed out', leafMatches: false, inRoot: true, audited: [] })

      const swapped = auditSnapshot(record, new Map([...states, [c.did, states.get(b.did) as AuditInput]]))
      expect(swapped.notes).toEqual([`${c.did}'s recorded state does not hash to its leaf`])
      expect(swapped.participants.find((p) => p.did === c.did)?.leafMatches).toBe(false)

      const outsider = keyPairFromSeed(new Uint8Array(32).fill(44))
      await la.pay(a, outsider.did, 'ICN', 2n)
      const out = await snapshotOf([{ who: a, ledger: la, channels: {} }, { who: b, ledger: lb, channels: {} }])
      expect(auditSnapshot(out.record, out.states).notes).toEqual([`balances of accounts outside the snapshot: ${outsider.did}`])
    })
  })

  it('reads ledger entries from pushed and pulled ledger frames only', () => {
    const entry = new Uint8Array([0xa0])
    expect(ledgerEntriesOfFrame(pushFrame(a, TOPICS.trust, entry))).toEqual([])
    expect(ledgerEntriesOfFrame(new Uint8Array([1, 2, 3]))).toEqual([])
    expect(ledgerEntriesOfFrame(encodeMessage({ t: 'topics', topics: ['ledger:tx'] }))).toEqual([])
  })
})

describe('channel recording and the in-transit record', () => {
  it('history-sync frames are not recorded; other frames are, while a snapshot records', () => {
    let observer: (from: string, bytes: Uint8Array) => void = () => {}
    const gossip = { onIngress: (o: typeof observer) => { observer = o; return () => {} } } as unknown as Pick<Gossip, 'onIngress'>
    const recorded: Uint8Array[] = []
    const stats = { active: 1 }
    recordChannels(gossip, { stats: stats as never, observeIncoming: (_from, bytes) => { recorded.push(bytes) } }, isHistoryFrame)
    const history = encodeMessage({ t: 'direct', topic: HISTORY_TOPIC, id: 1, payload: new Uint8Array(10) })
    const ledgerPush = pushFrame(a, TOPICS.ledger, new Uint8Array([1]))
    const snapshotDirect = encodeMessage({ t: 'direct', topic: TOPICS.snapshot, id: 2, payload: new Uint8Array(3) })
    for (const frame of [history, ledgerPush, snapshotDirect]) observer(a.did, frame)
    expect(recorded).toEqual([ledgerPush, snapshotDirect])
    stats.active = 0
    observer(a.did, ledgerPush)
    expect(recorded).toHaveLength(2)
    expect([isHistoryFrame(history), isHistoryFrame(ledgerPush), isHistoryFrame(new Uint8Array([0xff]))]).toEqual([true, false, false])
  })

  it('records a local write not yet published and a received entry not yet applied; hands committed ones to gossip first', async () => {
    await withLedgers(async ([la, lb]) => {
      const published: Uint8Array[] = []
      let deliver: (entry: GossipEntry) => Promise<void> = async () => {}
      const gossip = {
        setValidator: () => {},
        subscribe: (_topic: string, handler: typeof deliver) => { deliver = handler; return () => {} },
        publish: async (_topic: string, payload: Uint8Array) => { published.push(payload) }
      } as unknown as Gossip
      const bridge = bridgeLedger(gossip, la, createLogger('silent'))
      try {
        // A write called before the capture: recorded (its commit lands after the capture was called).
        const writing = bridge.commitLocal(la.pay(a, b.did, 'ICN', 5n), () => {})
        const atCapture = bridge.inTransit()
        const record: EntryRecord = await writing
        expect(await atCapture).toEqual([record.bytes])
        // Committed and waiting for its batch: handed to gossip inside the capture's step, so not in transit.
        expect(published).toEqual([])
        expect(await bridge.inTransit()).toEqual([])
        expect(published).toEqual([record.bytes])
        expect(await inTransitProvider(() => bridge, la).exportState()).toEqual(encode({ entries: [] }))

        // A peer's entry whose apply has not committed yet at the capture.
        const theirs = await lb.pay(b, a.did, 'ICN', 2n)
        const handled = deliver({ id: 'x', cid: 'x', topic: TOPICS.ledger, author: b.did, payload: theirs.bytes, timestamp: 0, clock: {} } as unknown as GossipEntry)
        const received = bridge.inTransit()
        await handled
        expect(await received).toEqual([theirs.bytes])
        expect(inTransitEntries(encode({ entries: [theirs.bytes] }))).toEqual([theirs.bytes])

        // The provider records exactly that, and a restore delivers what was in transit to the ledger.
        const provider = inTransitProvider(() => bridge, lb)
        expect(provider.name).toBe(LEDGER_IN_TRANSIT)
        await provider.restoreState(encode({ entries: [record.bytes] }))
        expect(lb.entry(record.id)?.bytes).toEqual(record.bytes)
        expect(lb.balance(a.did, 'ICN')).toBe(2n - 5n)
        expect(() => inTransitEntries(encode({ entries: [1] }))).toThrow(TypeError)
      } finally {
        await bridge.stop()
      }
    })
  })
})
