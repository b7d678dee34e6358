import { fileURLToPath } from 'node:url'
import { keyPairFromSeed } from '@icn/identity'
import { type RunningSubprocess, runSubprocess, startSubprocess } from '@icn/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { didOfPeerId, peerIdOfDid } from '../src/index.js'

const peerScript = fileURLToPath(new URL('./helpers/transport-peer.mjs', import.meta.url))
const garbageScript = fileURLToPath(new URL('./helpers/garbage-peer.mjs', import.meta.url))
const seed = (byte: number): string => byte.toString(16).padStart(2, '0').repeat(32)
const didOfSeed = (byte: number): string => keyPairFromSeed(Uint8Array.from(new Array(32).fill(byte))).did

const running: RunningSubprocess[] = []
afterEach(async () => {
  for (const p of running.splice(0)) p.kill('SIGKILL')
})

async function startPeer (args: string[]): Promise<{ proc: RunningSubprocess, did: string, peerId: string, addr: string }> {
  const proc = startSubprocess(peerScript, args)
  running.push(proc)
  await proc.waitForOutput('READY ')
  const [, did, peerId, addr] = proc.stdout().split('\n').find((l) => l.startsWith('READY '))!.split(' ')
  return { proc, did: did!, peerId: peerId!, addr: addr! }
}

async function stop (proc: RunningSubprocess): Promise<{ peers: Array<{ did: string, peerId: string }>, stats: Record<string, number> }> {
  proc.kill('SIGTERM')
  expect(await proc.exited).toBe(0)
  const line = (prefix: string): string => proc.stdout().split('\n').find((l) => l.startsWith(prefix))!.slice(prefix.length)
  return { peers: JSON.parse(line('PEERS ')), stats: JSON.parse(line('STATS ')) }
}

describe('DID ↔ PeerId', () => {
  it('maps a DID to its ed25519 PeerId and back', () => {
    const did = didOfSeed(7)
    const peerId = peerIdOfDid(did)
    expect(peerId.startsWith('12D3KooW')).toBe(true)
    expect(didOfPeerId(peerId)).toBe(did)
  })
})

describe('libp2p transport across OS processes on loopback', () => {
  it('delivers frames FIFO between three processes, maps peers to DIDs, and cuts off a garbage-sending peer while serving the others', async () => {
    const a = await startPeer(['--seed', seed(1), '--expect', `${didOfSeed(2)}=400`, '--expect', `${didOfSeed(3)}=300`])
    expect(a.did).toBe(didOfSeed(1))
    expect(a.peerId).toBe(peerIdOfDid(a.did))
    const b = await startPeer(['--seed', seed(2), '--peer', a.addr, '--send', `${a.did}=400`])
    await a.proc.waitForOutput(`COMPLETE ${b.did} 400 ordered`)

    // Two kinds of broken framing: each misbehaving connection is closed by A.
    expect(await runSubprocess(garbageScript, [a.addr, 'oversized'], { timeoutMs: 30_000 })).toBe('CLOSED')
    expect(await runSubprocess(garbageScript, [a.addr, 'badvarint'], { timeoutMs: 30_000 })).toBe('CLOSED')

    // A keeps serving: a third process connects to both and its frames arrive in order.
    const c = await startPeer(['--seed', seed(3), '--peer', a.addr, '--peer', b.addr, '--send', `${a.did}=300`])
    await a.proc.waitForOutput(`COMPLETE ${c.did} 300 ordered`)

    const aState = await stop(a.proc)
    expect(aState.peers).toEqual([
      { did: b.did, peerId: b.peerId, remoteAddr: expect.stringContaining('/ip4/127.0.0.1/tcp/') as string, via: 'direct' },
      { did: c.did, peerId: c.peerId, remoteAddr: expect.stringContaining('/ip4/127.0.0.1/tcp/') as string, via: 'direct' }
    ].sort((x, y) => x.did < y.did ? -1 : 1))
    expect(aState.stats.framesReceived).toBe(700)
    const cState = await stop(c.proc)
    expect(cState.stats.framesSent).toBe(300)
    const bState = await stop(b.proc)
    expect(bState.stats.framesSent).toBe(400)
    expect(aState.stats.protocolViolations).toBe(2)
    // Peer changes: A saw B and C join and each garbage peer join and leave; C (stopped second) saw A and B
    // join and A leave; B saw A and C join and both leave.
    expect([aState.stats.peerChanges, cState.stats.peerChanges, bState.stats.peerChanges]).toEqual([6, 3, 4])
  })

  it('redials a configured peer that was not up yet, with backoff', async () => {
    // B starts first and dials A's fixed address before A listens; A comes up later on that port.
    const port = 40_000 + Math.floor(Math.random() * 10_000)
    const aDid = didOfSeed(4)
    const aAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdOfDid(aDid)}`
    const b = await startPeer(['--seed', seed(5), '--peer', aAddr, '--send', `${aDid}=50`])
    const a = await startPeer(['--seed', seed(4), '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--expect', `${b.did}=50`])
    await a.proc.waitForOutput(`COMPLETE ${b.did} 50 ordered`)
    const bState = await stop(b.proc)
    expect(bState.stats.dialFailures).toBeGreaterThanOrEqual(1)
    expect(bState.stats.dials).toBe((bState.stats.dialFailures ?? 0) + 1)
    await stop(a.proc)
  })
})
