// History sync across real node processes: more payments than gossip's per-topic window, then a fresh
// node joins, an offline node comes back, and a payer is SIGKILLed right after its 200 while its only
// peer is down. Gossip's window is lowered to 40 entries per topic through config.json.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { KindRule } from '@icn/governance'
import type { Did } from '@icn/identity'
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { writeCharterFile } from '../src/charter.js'
import { initDataDir } from '../src/data-dir.js'
import { type MeshNode, eventually, ledgerOf, startMeshNode } from './helpers/cluster.js'

const WINDOW = 40

interface SyncStatus { sync: { peers: Array<{ peer: string, state: string, behind: number, applied: number, refused: number, sessions: number }> } }

/** Data dirs of one cooperative (every node a member; text proposals vote for 1.5 s), gossip window `WINDOW`. */
async function initCoop (root: string, count: number): Promise<string[]> {
  const dirs = Array.from({ length: count }, (_, i) => join(root, `node${i}`))
  const dids: Did[] = []
  for (const dir of dirs) dids.push((await initDataDir(dir)).did)
  const quick: KindRule = { proposers: ['member', 'steward'], quorumBps: 5000, approvalBps: 5000, deliberation: { defaultMs: 0, minMs: 0, maxMs: 60_000 }, votingMs: 1500 }
  for (const dir of dirs) {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], gossipMaxEntriesPerTopic: WINDOW, historySyncIntervalMs: 600_000 }))
    await writeCharterFile(dir, { domain: 'coop:history', name: 'History test', members: dids.map((did) => ({ did, role: 'member' })), kinds: { text: quick } })
  }
  return dirs
}

async function connect (from: MeshNode, to: MeshNode): Promise<void> {
  await from.api.post('/peers', { multiaddr: to.runtime.multiaddrs[0] })
  await eventually(`node${from.index} ↔ node${to.index}`, [from.api, to.api], async () => {
    const peers = await from.api.get('/peers') as Array<{ did: string }>
    return peers.some((p) => p.did === to.did) ? true : undefined
  })
}

/** `count` payments of 1 from `from` to `to`, 10 in flight at a time; resolves when every one answered 200. */
async function payMany (from: MeshNode, to: MeshNode, count: number): Promise<void> {
  for (let done = 0; done < count; done += 10) {
    await Promise.all(Array.from({ length: Math.min(10, count - done) }, async () => await from.api.post('/pay', { to: to.did, amount: '1' })))
  }
}

async function sameLedger (nodes: MeshNode[], entries: number): Promise<string> {
  return await eventually(`${entries} entries and one ledger root on ${nodes.length} nodes`, nodes.map((n) => n.api), async () => {
    const ledgers = await Promise.all(nodes.map(ledgerOf))
    return ledgers.every((l) => l.entries === entries && l.stateRoot === ledgers[0]?.stateRoot) ? ledgers[0]?.stateRoot : undefined
  }, 60_000)
}

const balances = async (node: MeshNode): Promise<unknown> => await node.api.get('/balances')
const proposals = async (node: MeshNode): Promise<unknown> => await node.api.get('/proposals')
const attestations = async (node: MeshNode): Promise<unknown> => await node.api.get('/trust/attestations')

describe('history sync from the subsystems\' own stores (real processes)', () => {
  it('a fresh node joining after more payments than gossip keeps gets every entry, attestation and proposal; an offline node catches up', async () => {
    await withTempDir(async (root) => {
      const dirs = await initCoop(root, 4)
      const started: MeshNode[] = []
      try {
        const a = await startMeshNode(dirs[0] as string, 0)
        const b = await startMeshNode(dirs[1] as string, 1)
        const c = await startMeshNode(dirs[2] as string, 2)
        started.push(a, b, c)
        await connect(b, a)
        await connect(c, a)
        await connect(c, b)
        for (const [x, y] of [[a, b], [b, a], [a, c], [c, a], [b, c], [c, b]] as Array<[MeshNode, MeshNode]>) {
          for (const graph of ['economic', 'social', 'technical']) await x.api.post('/trust', { subject: y.did, score: 0.9, graph })
        }
        await eventually('18 attestations on A, B, C', [a.api, b.api, c.api], async () => {
          const counts = await Promise.all([a, b, c].map(async (n) => (await n.api.get('/status') as { trust: { attestations: number } }).trust.attestations))
          return counts.every((n) => n === 18) ? true : undefined
        })
        const { id } = await a.api.post('/proposals', { kind: 'text', title: 'history', payload: { text: 'we keep history' } }) as { id: string }
        await eventually('the proposal open on A and B', [a.api, b.api], async () => {
          const states = await Promise.all([a, b].map(async (n) => (await n.api.get('/proposals') as Array<{ state: string }>)[0]?.state))
          return states.every((s) => s === 'open') ? true : undefined
        })
        await a.api.post('/votes', { proposal: id, choice: 'for' })
        await b.api.post('/votes', { proposal: id, choice: 'for' })
        await eventually('the proposal accepted on A, B, C', [a.api, b.api, c.api], async () => {
          const states = await Promise.all([a, b, c].map(async (n) => (await n.api.get(`/proposals/${id}`) as { state: string }).state))
          return states.every((s) => s === 'accepted') ? true : undefined
        })

        // A second proposal is open everywhere when C goes offline; A and B vote for it and it closes while C is down.
        const { id: second } = await a.api.post('/proposals', { kind: 'text', title: 'while C is away', payload: { text: 'decided without C' } }) as { id: string }
        await eventually('the second proposal open on A, B, C', [a.api, b.api, c.api], async () => {
          const states = await Promise.all([a, b, c].map(async (n) => (await n.api.get(`/proposals/${second}`).catch(() => ({ state: 'unknown' })) as { state: string }).state))
          return states.every((s) => s === 'open') ? true : undefined
        })
        expect(await c.stop()).toBe(0)
        started.splice(started.indexOf(c), 1)
        await a.api.post('/votes', { proposal: second, choice: 'for' })
        await b.api.post('/votes', { proposal: second, choice: 'for' })
        await eventually('the second proposal accepted on A and B', [a.api, b.api], async () => {
          const states = await Promise.all([a, b].map(async (n) => (await n.api.get(`/proposals/${second}`) as { state: string }).state))
          return states.every((s) => s === 'accepted') ? true : undefined
        })

        // C is offline; A and B make 2 × 60 payments: three times what gossip keeps per topic.
        await Promise.all([payMany(a, b, 60), payMany(b, a, 60)])
        const root1 = await sameLedger([a, b], 120)

        // A fresh node D joins through A only.
        const d = await startMeshNode(dirs[3] as string, 3)
        started.push(d)
        await connect(d, a)
        expect(await sameLedger([a, d], 120)).toBe(root1)
        expect(await balances(d)).toEqual(await balances(a))
        await eventually('D holds every attestation and the proposal as A does', [d.api], async () => {
          const [pd, pa] = [await proposals(d), await proposals(a)]
          const [td, ta] = [await d.api.get('/status') as { trust: { attestations: number } }, await a.api.get('/status') as { trust: { attestations: number } }]
          return td.trust.attestations === ta.trust.attestations && JSON.stringify(pd) === JSON.stringify(pa) ? true : undefined
        })
        const onD = await proposals(d) as Array<{ id: string, state: string, result: { for: number } }>
        expect(onD.map((p) => p.id).sort()).toEqual([id, second].sort())
        for (const proposal of [id, second]) expect(onD.find((p) => p.id === proposal)).toMatchObject({ id: proposal, state: 'accepted', result: { for: 2, against: 0, outcome: 'accepted' } })
        expect(await attestations(d)).toEqual(await attestations(a))
        const dSync = await d.api.get('/status') as SyncStatus
        const fromA = dSync.sync.peers.find((p) => p.peer === a.did)
        // 18 attestations + 120 entries + the proposal's 4 envelopes (proposal, submit, 2 votes), nothing refused.
        // D learns B's address from A (peer exchange) and syncs with B as well: the two sessions share the work.
        expect(fromA).toMatchObject({ state: 'idle', behind: 0, refused: 0 })
        for (const p of dSync.sync.peers) expect(p).toMatchObject({ state: 'idle', behind: 0, refused: 0 })
        expect(dSync.sync.peers.map((p) => p.peer).every((peer) => peer === a.did || peer === b.did)).toBe(true)
        expect(dSync.sync.peers.reduce((sum, p) => sum + p.applied, 0)).toBeGreaterThanOrEqual(120)
        expect(d.proc.stdout()).toContain('"msg":"history sync finished"')

        // C comes back: it catches up 120 entries it missed while offline. Its governance holds the voting
        // deadlines until it has synced with a peer, so the second proposal, whose window ended while C was down,
        // is tallied with A's and B's votes as everywhere else (closed at once, it would be no-quorum on C).
        const c2 = await startMeshNode(dirs[2] as string, 2)
        started.push(c2)
        await connect(c2, b)
        expect(await sameLedger([a, b, c2, d], 120)).toBe(root1)
        expect(await balances(c2)).toEqual(await balances(a))
        const onA = await a.api.get(`/proposals/${second}`) as { state: string, result: unknown }
        expect(onA).toMatchObject({ state: 'accepted', tally: { for: 2, against: 0, outcome: 'accepted' } })
        await eventually('the second proposal accepted on C as on A', [c2.api], async () => {
          const onC = await c2.api.get(`/proposals/${second}`) as { state: string, result: unknown }
          return onC.state !== 'open' ? onC : undefined
        })
        expect(await c2.api.get(`/proposals/${second}`)).toEqual(onA)
        expect((await c2.api.get('/status') as { governance: { deadlinesHeld: boolean } }).governance.deadlinesHeld).toBe(false)
        expect(c2.proc.stdout()).toContain('"reason":"caught up with a peer"')
      } finally {
        await Promise.all(started.map(async (n) => await n.stop()))
      }
    })
  }, 120_000)

  it('a payer SIGKILLed right after its 200 while its only peer is down: after both restart the peer applies that payment and the next', async () => {
    await withTempDir(async (root) => {
      const [dirA, dirB] = await initCoop(root, 2) as [string, string]
      const started: MeshNode[] = []
      try {
        const a = await startMeshNode(dirA, 0)
        const b = await startMeshNode(dirB, 1)
        started.push(a, b)
        await connect(b, a)
        for (const [x, y] of [[a, b], [b, a]]) await (x as MeshNode).api.post('/trust', { subject: (y as MeshNode).did, score: 0.9, graph: 'economic' })
        await a.api.post('/pay', { to: b.did, amount: '7' })
        await sameLedger([a, b], 1)
        expect(await b.stop()).toBe(0)
        started.splice(started.indexOf(b), 1)
        const paid = await a.api.post('/pay', { to: b.did, amount: '5' }) as { id: string, balance: string }
        expect(paid.balance).toBe('-12')
        a.proc.kill('SIGKILL')
        expect(await a.proc.exited).toBe('SIGKILL')
        started.splice(started.indexOf(a), 1)

        const b2 = await startMeshNode(dirB, 1)
        started.push(b2)
        const a2 = await startMeshNode(dirA, 0)
        started.push(a2)
        expect((await a2.api.get(`/balance?account=${a2.did}`) as { balance: string }).balance).toBe('-12')
        await connect(a2, b2)
        await sameLedger([a2, b2], 2)
        const next = await a2.api.post('/pay', { to: b2.did, amount: '3' }) as { id: string }
        await sameLedger([a2, b2], 3)
        const onB = await b2.api.get(`/balance?account=${b2.did}`) as { balance: string }
        expect(onB.balance).toBe('15')
        const status = await b2.api.get('/status') as { ledger: { pending: number, quarantined: number } }
        expect(status.ledger).toMatchObject({ pending: 0, quarantined: 0 })
        expect(next.id).toMatch(/^[0-9a-f]{64}$/)
        expect(paid.id).not.toBe(next.id)
      } finally {
        await Promise.all(started.map(async (n) => await n.stop()))
      }
    })
  }, 90_000)
})
