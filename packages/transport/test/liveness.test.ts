// Liveness of a quiet link: every peer stream carries a heartbeat (an empty frame) every `heartbeatMs`, and a
// peer not heard from for `silenceTimeoutMs` is hung up. A mute peer (a plain libp2p node that holds the ICN
// stream open and never writes, as a half-open connection or a frozen process looks) is hung up; a real ICN
// peer connected over the same span is kept by its heartbeats.
import '../src/polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { tcp } from '@libp2p/tcp'
import { type KeyPair, generateKeyPair } from '@icn/identity'
import { type Libp2p, createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { type Libp2pTransport, type PeerAdmission, createLibp2pTransport, networkProtocols } from '../src/index.js'

const HEARTBEAT_MS = 250
const SILENCE_MS = 1500
const PROTOCOL = networkProtocols('/icn').gossip

const open: Array<{ stop: () => Promise<void> | void }> = []
afterEach(async () => {
  for (const node of open.splice(0).reverse()) await node.stop()
})

async function icnNode (keyPair: KeyPair, admitted: ReadonlySet<string>): Promise<Libp2pTransport> {
  const admission: PeerAdmission = { connect: (did) => admitted.has(did), stream: (did) => admitted.has(did) }
  const transport = await createLibp2pTransport({ keyPair, admission }, {
    listen: ['/ip4/127.0.0.1/tcp/0'], natTraversal: false, heartbeatMs: HEARTBEAT_MS, silenceTimeoutMs: SILENCE_MS
  })
  open.push({ stop: async () => { await transport.close() } })
  return transport
}

/** A plain libp2p node that accepts (or opens) the ICN stream and never writes on it. */
async function muteNode (keyPair: KeyPair): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: await generateKeyPairFromSeed('Ed25519', keyPair.seed),
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  await node.handle(PROTOCOL, () => { /* holds the stream, says nothing */ })
  open.push(node)
  return node
}

function nextChange (transport: Libp2pTransport, did: string, change: 'connected' | 'disconnected'): Promise<number> {
  return new Promise((resolve) => {
    const off = transport.onPeerChange((who, what) => {
      if (who === did && what === change) { off(); resolve(Date.now()) }
    })
  })
}

describe('liveness by heartbeat', () => {
  it('hangs up on a peer silent for silenceTimeoutMs and keeps one whose heartbeats arrive', async () => {
    const [aKey, bKey, muteKey] = [generateKeyPair(), generateKeyPair(), generateKeyPair()]
    const admitted = new Set([aKey.did, bKey.did, muteKey.did])
    const a = await icnNode(aKey, admitted)
    const b = await icnNode(bKey, admitted)

    const bConnected = nextChange(a, bKey.did, 'connected')
    b.addPeer(a.multiaddrs()[0]!)
    await bConnected

    const mute = await muteNode(muteKey)
    const muteConnected = nextChange(a, muteKey.did, 'connected')
    const muteGone = nextChange(a, muteKey.did, 'disconnected')
    // The side with the lower DID opens the ICN stream: the mute node opens it itself when that is its side.
    const muteClosed = new Promise<void>((resolve) => { mute.addEventListener('connection:close', () => { resolve() }, { once: true }) })
    const connection = await mute.dial(multiaddr(a.multiaddrs()[0]!))
    if (muteKey.did < aKey.did) await connection.newStream(PROTOCOL)
    const connectedAt = await muteConnected
    const goneAt = await muteGone

    expect(goneAt - connectedAt).toBeGreaterThanOrEqual(SILENCE_MS)
    expect(a.stats.silentHangUps).toBe(1)
    expect(a.peers()).toEqual([bKey.did])
    expect(b.peers()).toEqual([aKey.did])
    expect(b.stats.silentHangUps).toBe(0)
    await muteClosed
    expect(mute.getConnections().length).toBe(0)
  })
})
