// Hole punching over WebRTC, in one process: two members meet through a member's relay, then connect
// directly over WebRTC (signalled through the relayed connection) and the relayed one is closed. The
// membership gate holds on WebRTC: a member removed while connected through the relay is refused when
// it tries WebRTC (the encrypted-connection hook, counted), and `refreshAdmission` hangs up a WebRTC link.
import '../src/polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { webRTC } from '@libp2p/webrtc'
import { multiaddr } from '@multiformats/multiaddr'
import { type KeyPair, generateKeyPair } from '@icn/identity'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { type Libp2pTransport, type PeerAdmission, createLibp2pTransport, peerIdOfDid } from '../src/index.js'

/** No STUN server answers here: on one host the ICE checks succeed between host candidates. */
const STUN = ['stun:127.0.0.1:9']
const iceServers = STUN.map((urls) => ({ urls }))
const open: Array<{ stop: () => Promise<void> }> = []
afterEach(async () => { for (const n of open.splice(0).reverse()) await n.stop() })

function admitting (members: Set<string>): PeerAdmission {
  return { connect: (did) => members.has(did), stream: (did) => members.has(did) }
}

async function start (keyPair: KeyPair, admission: PeerAdmission, init: Parameters<typeof createLibp2pTransport>[1], withWebRTC = true): Promise<Libp2pTransport> {
  const components = { keyPair, admission, ...(withWebRTC ? { webRTC: webRTC({ rtcConfiguration: { iceServers } }) } : {}) }
  const transport = await createLibp2pTransport(components, { listen: ['/ip4/127.0.0.1/tcp/0'], redialMinMs: 50, ...init })
  open.push({ stop: async () => { await transport.close() } })
  return transport
}

/**
 * Resolves once `check` holds, re-checked on every own-address or peer change of `transports` (a link
 * moving from relayed to direct is a `moved` peer change).
 */
async function until<T> (transports: Libp2pTransport[], check: () => T | undefined): Promise<T> {
  return await new Promise<T>((resolve) => {
    const offs: Array<() => void> = []
    const test = (): void => {
      const value = check()
      if (value === undefined) return
      for (const off of offs) off()
      resolve(value)
    }
    for (const t of transports) offs.push(t.onAddressesChange(test), t.onPeerChange(test))
    test()
  })
}

function viaOf (t: Libp2pTransport, did: string): { via: string, remoteAddr: string } | undefined {
  const peer = t.connectedPeers().find((p) => p.did === did)
  return peer === undefined ? undefined : { via: peer.via, remoteAddr: peer.remoteAddr }
}

/**
 * A relay member and bob (WebRTC on) holding a reservation on it, both admitting `other` too; resolves once
 * bob's plain circuit address and its WebRTC one are known.
 */
async function relayAndBob (other: KeyPair): Promise<{ members: Set<string>, relay: Libp2pTransport, bob: Libp2pTransport, circuit: string, webrtc: string }> {
  const [relayKey, bobKey] = [generateKeyPair(), generateKeyPair()]
  const members = new Set([relayKey.did, bobKey.did, other.did])
  const relay = await start(relayKey, admitting(members), { relay: {}, natTraversal: false }, false)
  const bob = await start(bobKey, admitting(members), { peers: relay.multiaddrs() })
  const [circuit, webrtc] = await until([bob], () => {
    const addrs = bob.multiaddrs()
    const plain = addrs.find((a) => a.endsWith(`/p2p-circuit/p2p/${bob.peerId}`))
    const rtc = addrs.find((a) => a.endsWith(`/p2p-circuit/webrtc/p2p/${bob.peerId}`))
    return plain !== undefined && rtc !== undefined ? [plain, rtc] : undefined
  })
  return { members, relay, bob, circuit, webrtc }
}

describe('hole punching over WebRTC (the webRTC component given)', () => {
  it('two members behind a relay move to a direct WebRTC connection; the relayed one is closed', async () => {
    const aliceKey = generateKeyPair()
    const { members, relay, bob, circuit, webrtc } = await relayAndBob(aliceKey)
    expect(bob.reachability().relayed).toEqual([circuit])

    const alice = await start(aliceKey, admitting(members), { peers: [...relay.multiaddrs(), circuit] })
    const relayed = await until([alice], () => viaOf(alice, bob.id))
    expect(relayed).toEqual({ via: 'relayed', remoteAddr: circuit })

    const moves: string[] = []
    alice.onPeerChange((did, change) => { moves.push(`alice ${change} ${did === bob.id ? 'bob' : did}`) })
    alice.addPeer(webrtc)
    const direct = await until([alice, bob], () => {
      const a = viaOf(alice, bob.id)
      const b = viaOf(bob, alice.id)
      return a?.via === 'direct' && b?.via === 'direct' ? { a, b } : undefined
    })
    expect(direct.a.remoteAddr).toBe(webrtc)
    // The move is a peer change of its own: alice's stream to bob moved, and bob never left her peers.
    expect(moves).toEqual(['alice moved bob'])
    // The accepting side knows no address of the dialler's: libp2p names the connection by its peer only.
    expect(direct.b.remoteAddr).toBe(`/webrtc/p2p/${alice.peerId}`)
    const heard = new Promise<string>((resolve) => { bob.onMessage((from, bytes) => { resolve(`${from} ${new TextDecoder().decode(bytes)}`) }) })
    alice.send(bob.id, new TextEncoder().encode('direct'))
    expect(await heard).toBe(`${alice.id} direct`)
    expect([alice.stats.refusedInbound, alice.stats.refusedOutbound, bob.stats.refusedInbound, bob.stats.refusedOutbound]).toEqual([0, 0, 0, 0])

    // Alice removed from bob's members: refreshAdmission hangs up the WebRTC connection too.
    members.delete(alice.id)
    await bob.refreshAdmission()
    expect(bob.peers()).toEqual([relay.id])
  }, 60_000)

  it('a member removed while connected through the relay is refused at WebRTC\'s encrypted-connection gate', async () => {
    const removedKey = generateKeyPair()
    const { members, relay, bob, circuit, webrtc } = await relayAndBob(removedKey)
    // The removed member as a plain libp2p node, so that it dials WebRTC exactly once.
    const removed = await createLibp2p({
      privateKey: await generateKeyPairFromSeed('Ed25519', removedKey.seed),
      transports: [tcp(), circuitRelayTransport(), webRTC({ rtcConfiguration: { iceServers } })],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    open.push({ stop: async () => { await removed.stop() } })
    const viaRelay = await removed.dial(multiaddr(circuit))
    expect(viaRelay.remoteAddr.toString()).toBe(circuit)
    members.delete(removedKey.did)
    await expect(removed.dial(multiaddr(webrtc), { signal: AbortSignal.timeout(20_000) })).rejects.toThrow()
    expect(bob.stats.refusedInbound).toBe(1)
    expect(bob.connectedPeers().map((p) => p.did)).toEqual([relay.id])
    expect(removed.getConnections(viaRelay.remotePeer).map((c) => c.remoteAddr.toString())).not.toContain(webrtc)
    expect(peerIdOfDid(removedKey.did)).toBe(removed.peerId.toString())
  }, 60_000)
})
