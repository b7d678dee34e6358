import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { type MeshNode, eventually, ledgerOf, memberIdentity, networkPrefixOf, startMesh, writeSharedCharter } from './helpers/cluster.js'

const rogue = fileURLToPath(new URL('./helpers/rogue-peer.mjs', import.meta.url))

interface Status {
  peers: number
  transport: { protocolViolations: number }
  gossip: { duplicates: number, rejected: Record<string, number> }
  ledger: { entries: number }
}

describe('a misbehaving member\'s peer against a running node', () => {
  it('applies honest entries once, cuts the peer off for a forged signature, a replayed digest or a garbage frame, and keeps serving the others', async () => {
    await withTempDir(async (dir) => {
      // Three member identities with no node: each rogue run is one of them (the nodes admit members only).
      const [forger, replayer, garbler] = [memberIdentity(), memberIdentity(), memberIdentity()]
      const nodes = await startMesh(dir, 2, undefined, async (dirs, dids) => { await writeSharedCharter(dirs, [...dids, forger.did, replayer.did, garbler.did]) })
      const [a, b] = nodes as [MeshNode, MeshNode]
      const prefix = await networkPrefixOf(a.dataDir)
      try {
        const out = await runSubprocess(rogue, [a.runtime.multiaddrs[0]!, a.did, join(dir, 'rogue-ledger'), forger.seed, prefix], { timeoutMs: 60_000 })
        const lines = out.split('\n')
        expect(lines[0]).toMatch(/^HONEST /)
        expect(lines.slice(1)).toEqual(['FORGED', 'DISCONNECTED'])
        const statusA = await a.api.get('/status') as Status
        expect(statusA.ledger.entries).toBe(1)
        expect((await a.api.get('/balances') as Array<{ balance: bigint | number }>).map((r) => BigInt(r.balance)).sort()).toEqual([-5n, 5n])
        expect(statusA.gossip.rejected.validator).toBe(1)

        // A second rogue replays its own earlier frames: nothing is applied twice and the replayed
        // digest nonces get it cut off.
        const replay = await runSubprocess(rogue, [a.runtime.multiaddrs[0]!, a.did, join(dir, 'rogue-replay'), replayer.seed, prefix, 'replay'], { timeoutMs: 60_000 })
        const replayLines = replay.split('\n')
        expect(replayLines[0]).toMatch(/^HONEST /)
        expect(replayLines.slice(1)).toEqual(['REPLAYED', 'DISCONNECTED'])
        const afterReplay = await a.api.get('/status') as Status
        expect(afterReplay.ledger.entries).toBe(2)
        expect(afterReplay.gossip.rejected['replayed-nonce']).toBeGreaterThanOrEqual(1)
        // The honest entry reached B too, exactly once.
        await eventually('B to apply both honest entries', b.api, async () => (await ledgerOf(b)).entries === 2 ? true : undefined)

        const garbage = await runSubprocess(rogue, [a.runtime.multiaddrs[0]!, a.did, join(dir, 'rogue2'), garbler.seed, prefix, 'garbage'], { timeoutMs: 60_000 })
        expect(garbage).toBe('DISCONNECTED')
        const after = await a.api.get('/status') as Status
        expect(after.gossip.rejected.malformed).toBeGreaterThanOrEqual(1)

        // Still serving: B is connected and its payment reaches A.
        expect((await a.api.get('/peers') as Array<{ did: string }>).map((p) => p.did)).toEqual([b.did])
        await b.api.post('/pay', { to: a.did, amount: '3' })
        // The entry count moves when the apply writes (the store counts its puts), the state root once the write has
        // committed: both are awaited.
        const rootOfB = (await ledgerOf(b)).stateRoot
        await eventually('A to apply B\'s payment', a.api, async () => {
          const ledger = await ledgerOf(a)
          return ledger.entries === 3 && ledger.stateRoot === rootOfB ? true : undefined
        })
        expect(await ledgerOf(a)).toMatchObject({ entries: 3, stateRoot: rootOfB })
      } finally {
        for (const n of nodes) expect(await n.stop()).toBe(0)
      }
    })
  }, 120_000)
})
