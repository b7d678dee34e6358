import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type RunningSubprocess, runSubprocess, startSubprocess, withTempDir } from '@icn/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import type { ApiClient } from '../src/client.js'
import { isClosedStreamRace, networkProtocols } from '@icn/transport'
import { type MeshNode, eventually, initNode, memberIdentity, networkPrefixOf, startMesh, startMeshNode, versionOf, writeSharedCharter } from './helpers/cluster.js'

const resetScript = fileURLToPath(new URL('./helpers/reset-peer.mjs', import.meta.url))
const garbageScript = fileURLToPath(new URL('../../../packages/transport/test/helpers/garbage-peer.mjs', import.meta.url))

interface Status { version: number, transport: { protocolViolations: number } }

const statusOf = async (api: ApiClient): Promise<Status> => await api.get('/status') as Status
const violationsOf = async (api: ApiClient): Promise<number> => (await statusOf(api)).transport.protocolViolations
const peerDids = async (api: ApiClient): Promise<string[]> => (await api.get('/peers') as Array<{ did: string }>).map((p) => p.did)

const running: RunningSubprocess[] = []
afterEach(() => {
  for (const p of running.splice(0)) p.kill('SIGKILL')
})

/** A member identity a raw peer runs under, and the network's protocol prefix it speaks. */
interface RawPeer { seed: string, did: string, prefix: string }

/** Starts reset-peer.mjs as `peer` against `node` and waits until the node holds an ICN stream to it. */
async function startResetPeer (node: MeshNode, mode: 'open' | 'accept', peer: RawPeer): Promise<{ proc: RunningSubprocess, did: string }> {
  const proc = startSubprocess(resetScript, [node.runtime.multiaddrs[0]!, mode, peer.seed, peer.prefix])
  running.push(proc)
  await proc.waitForOutput('READY ')
  const did = proc.stdout().split('\n').find((l) => l.startsWith('READY '))!.slice('READY '.length)
  expect(did).toBe(peer.did)
  await eventually('the node to hold the peer\'s ICN stream', node.api, async () => (await peerDids(node.api)).includes(did) ? true : undefined)
  return { proc, did }
}

/**
 * One fresh node for `fn`, in a cooperative with one member identity per raw peer `fn` runs: each
 * `sides` item puts that peer's DID below the node's (the peer opens the ICN stream) or above it (the
 * node does). Stopped afterwards (exit code 0 asserted).
 */
async function withOneNode (sides: ReadonlyArray<'below' | 'above'>, fn: (node: MeshNode, peers: RawPeer[]) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const dataDir = join(dir, 'n')
    const nodeDid = (await initNode(dataDir)).trim()
    const identities = sides.map((side) => memberIdentity((did) => side === 'below' ? did < nodeDid : did > nodeDid))
    await writeSharedCharter([dataDir], [nodeDid, ...identities.map((m) => m.did)])
    const prefix = await networkPrefixOf(dataDir)
    const node = await startMeshNode(dataDir, 0)
    try {
      await fn(node, identities.map((m) => ({ ...m, prefix })))
    } finally {
      expect(await node.stop()).toBe(0)
    }
  })
}

async function stopResetPeer (proc: RunningSubprocess): Promise<void> {
  proc.kill('SIGTERM')
  expect(await proc.exited).toBe(0)
}

describe('protocolViolations counts protocol violations, not a peer hanging up', () => {
  it('a peer resets the ICN stream it opened while the node waits for a frame: a normal stream end (0 violations); an oversized and a malformed length prefix are 1 violation each', async () => {
    await withOneNode(['below', 'below'], async (node, [opener, garbler]) => {
      const rogue = await startResetPeer(node, 'open', opener!)
      rogue.proc.kill('SIGUSR1')
      await rogue.proc.waitForOutput('RESET')
      // The node drops the stream (its DID is the larger one, so it does not reopen it).
      const violations = await eventually('the node to drop the reset stream', node.api, async () => {
        const count = await violationsOf(node.api)
        return count > 0 || !(await peerDids(node.api)).includes(rogue.did) ? count : undefined
      })
      expect(violations).toBe(0)
      await stopResetPeer(rogue.proc)

      // Real framing violations are still counted, exactly once each.
      expect(await runSubprocess(garbageScript, [node.runtime.multiaddrs[0]!, 'oversized', garbler!.seed, garbler!.prefix], { timeoutMs: 30_000 })).toBe('CLOSED')
      expect(await violationsOf(node.api)).toBe(1)
      expect(await runSubprocess(garbageScript, [node.runtime.multiaddrs[0]!, 'badvarint', garbler!.seed, garbler!.prefix], { timeoutMs: 30_000 })).toBe('CLOSED')
      expect(await violationsOf(node.api)).toBe(2)
    })
  }, 60_000)

  it('a peer resets the ICN stream the node opened to it: not a violation, and the node reopens the stream over the connection that is still up', async () => {
    await withOneNode(['above'], async (node, [acceptor]) => {
      const rogue = await startResetPeer(node, 'accept', acceptor!)
      expect(rogue.proc.stdout()).toContain('ACCEPTED 1')
      const before = await versionOf(node.api)
      rogue.proc.kill('SIGUSR1')
      await rogue.proc.waitForOutput('RESET')
      // Two changes: the stream closed, then the node's new stream opened (a violation ends the wait early).
      const status = await eventually('the node to reopen its stream', node.api, async () => {
        const s = await statusOf(node.api)
        return s.transport.protocolViolations > 0 || (s.version >= before + 2 && (await peerDids(node.api)).includes(rogue.did)) ? s : undefined
      })
      expect(status.transport.protocolViolations).toBe(0)
      await rogue.proc.waitForOutput('ACCEPTED 2')
      await stopResetPeer(rogue.proc)
    })
  }, 60_000)

  it('a node cutting its link to another (POST /peers/block: stream reset, then hang-up) costs neither side a violation, and the link heals', async () => {
    await withTempDir(async (dir) => {
      const nodes = await startMesh(dir, 2)
      const [a, b] = nodes as [MeshNode, MeshNode]
      try {
        await a.api.post('/peers/block', { did: b.did, ms: 1500 })
        const violations = await eventually('B to see its stream to A end', b.api, async () => {
          const count = await violationsOf(b.api)
          return count > 0 || (await peerDids(b.api)).length === 0 ? count : undefined
        })
        expect(violations).toBe(0)
        // B redials A (a configured peer) once the block has expired.
        await eventually('the link to heal', [a.api, b.api], async () => (await peerDids(a.api)).includes(b.did) && (await peerDids(b.api)).includes(a.did) ? true : undefined)
        expect(await violationsOf(a.api)).toBe(0)
        expect(await violationsOf(b.api)).toBe(0)
      } finally {
        for (const n of nodes) expect(await n.stop()).toBe(0)
      }
    })
  }, 60_000)
})

describe('a member\'s libp2p peer that does not serve the ICN protocol', () => {
  it('gets 4 attempts to open the ICN stream (250, 500, 1000 ms apart), then the node hangs up: no polling for as long as the connection lasts, no violation', async () => {
    await withOneNode(['above'], async (node, [silent]) => {
      const peer = startSubprocess(resetScript, [node.runtime.multiaddrs[0]!, 'silent', silent!.seed, silent!.prefix])
      running.push(peer)
      await peer.waitForOutput('HUNG-UP')
      expect(await peer.exited).toBe(0)
      const did = peer.stdout().split('\n').find((l) => l.startsWith('READY '))!.slice('READY '.length)
      expect(await peerDids(node.api)).toEqual([])
      expect(await violationsOf(node.api)).toBe(0)
      const hangUps = node.proc.stdout().split('\n').filter((l) => l.includes('hanging up')).map((l) => JSON.parse(l) as { peer: string, attempts: number, msg: string })
      expect(did).toBe(silent!.did)
      expect(hangUps.map(({ peer: p, attempts, msg }) => ({ peer: p, attempts, msg }))).toEqual([{ peer: did, attempts: 4, msg: `peer does not serve ${networkProtocols(silent!.prefix).gossip} to this node: hanging up` }])
    })
  }, 60_000)
})

describe('a peer that half-closes the ICN stream', () => {
  it('the node ends its side too (the stream does not stay half-open until the connection goes) and counts no violation', async () => {
    await withOneNode(['below'], async (node, [halfCloser]) => {
      const peer = startSubprocess(resetScript, [node.runtime.multiaddrs[0]!, 'half-close', halfCloser!.seed, halfCloser!.prefix])
      running.push(peer)
      await peer.waitForOutput('HALF-CLOSED')
      await peer.waitForOutput('ENDED')
      const did = peer.stdout().split('\n').find((l) => l.startsWith('READY '))!.slice('READY '.length)
      expect(await violationsOf(node.api)).toBe(0)
      expect(did).toBe(halfCloser!.did)
      const closed = node.proc.stdout().split('\n').filter((l) => l.includes('"peer stream closed"')).map((l) => JSON.parse(l) as { peer: string })
      expect(closed.map((l) => l.peer)).toEqual([did])
      await stopResetPeer(peer)
    })
  }, 60_000)
})

describe('the one libp2p error a node process survives', () => {
  it('is exactly libp2p\'s write to a stream whose connection closed meanwhile (StreamStateError); anything else stays fatal', () => {
    const named = (name: string, message: string): Error => Object.assign(new Error(message), { name })
    expect(isClosedStreamRace(named('StreamStateError', 'Cannot write to a stream that is closed'))).toBe(true)
    expect(isClosedStreamRace(named('StreamStateError', 'Cannot write to a stream that is closing'))).toBe(true)
    expect(isClosedStreamRace(named('StreamStateError', 'Cannot read from a stream that is closed'))).toBe(false)
    expect(isClosedStreamRace(named('Error', 'Cannot write to a stream that is closed'))).toBe(false)
    expect(isClosedStreamRace(named('TypeError', 'x is undefined'))).toBe(false)
    expect(isClosedStreamRace('Cannot write to a stream that is closed')).toBe(false)
    expect(isClosedStreamRace(undefined)).toBe(false)
  })
})
