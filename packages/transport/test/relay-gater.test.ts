// The members-only gater's circuit relay hooks, exercised through real libp2p nodes on loopback: a relay
// (`relay: {}`) and a node behind it (NAT traversal on) are ICN transports; the members, the removed member
// and the relay probing the node are plain libp2p nodes speaking circuit relay v2's hop and stop protocols, so
// each answer is the status code the hook decided. A stranger never gets a connection (the encrypted-connection
// gate), so the hooks guard peers connected while admitted: the test removes one from the admitted set, as a
// membership removal does before `refreshAdmission()` hangs up on it.
import '../src/polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { type KeyPair, generateKeyPair } from '@icn/identity'
import { type Libp2p, createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { type Libp2pTransport, type PeerAdmission, createLibp2pTransport, peerIdOfDid } from '../src/index.js'

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
const STOP = '/libp2p/circuit/relay/0.2.0/stop'
/** Circuit relay v2 status codes (libp2p/specs relay/circuit-v2.md). */
const OK = 100
const PERMISSION_DENIED = 202

// The few protobuf fields the probes send and read (circuit-v2.proto): HopMessage { type = 1; peer = 2; status = 5 },
// StopMessage { type = 1; peer = 2; status = 4 }, Peer { id = 1 }. Every length here is below 128: one-byte varints.
const HOP_RESERVE = 0
const HOP_CONNECT = 1
const STOP_CONNECT = 0
const STOP_STATUS = 1

function field (tag: number, bytes: Uint8Array): number[] {
  if (bytes.length >= 128) throw new Error('a one-byte length was expected')
  return [tag, bytes.length, ...bytes]
}
/** `type`, then the peer named by `did` (its PeerId's multihash) when given. */
function message (type: number, did?: string): Uint8Array {
  const peer = did === undefined ? [] : field(0x12, Uint8Array.from(field(0x0a, peerIdFromString(peerIdOfDid(did)).toMultihash().bytes)))
  return Uint8Array.from([0x08, type, ...peer])
}
/** The varint of field `number` in a protobuf message (other fields skipped). */
function varintField (bytes: Uint8Array, number: number): number | undefined {
  let pos = 0
  const varint = (): number => {
    let value = 0
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[pos++]!
      value += (byte & 0x7f) * 2 ** shift
      if (byte < 0x80) return value
    }
  }
  while (pos < bytes.length) {
    const key = varint()
    const wire = key & 7
    if (wire === 0) {
      const value = varint()
      if (key >>> 3 === number) return value
    } else if (wire === 2) {
      const length = varint()
      pos += length
    } else {
      throw new Error(`unexpected wire type ${wire}`)
    }
  }
  return undefined
}

const open: Array<{ stop: () => Promise<void> | void }> = []
afterEach(async () => {
  for (const node of open.splice(0).reverse()) await node.stop()
})

/** A plain libp2p node (TCP, noise, yamux, identify) under `keyPair`'s key: a member's or a removed member's. */
async function plainNode (keyPair: KeyPair): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: await generateKeyPairFromSeed('Ed25519', keyPair.seed),
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
  open.push(node)
  return node
}

/** An ICN transport admitting exactly the DIDs in `admitted` (read at each question); no ICN streams. */
async function icnNode (keyPair: KeyPair, admitted: Set<string>, init: { relay?: { maxReservations?: number }, natTraversal: boolean }): Promise<Libp2pTransport> {
  const admission: PeerAdmission = { connect: (did) => admitted.has(did), stream: () => false }
  const transport = await createLibp2pTransport({ keyPair, admission }, { listen: ['/ip4/127.0.0.1/tcp/0'], ...init })
  open.push({ stop: async () => { await transport.close() } })
  return transport
}

/** Sends one request on a new `protocol` stream from `from` to the peer at `addr` and answers the status it gets back. */
async function statusOf (from: Libp2p, addr: string, protocol: typeof HOP | typeof STOP, request: Uint8Array): Promise<number | undefined> {
  const stream = await from.dialProtocol(multiaddr(addr), protocol)
  const framed = lpStream(stream)
  await framed.write(request)
  const answer = (await framed.read()).subarray()
  stream.abort(new Error('probe done'))
  return varintField(answer, protocol === HOP ? 5 : 4)
}

describe('the members-only gater\'s circuit relay hooks, through real libp2p nodes', () => {
  it('the relay reserves for members only and relays only between members', async () => {
    const [relayKey, member, other, removed] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()]
    const admitted = new Set([member.did, other.did, removed.did])
    const relay = await icnNode(relayKey, admitted, { relay: {}, natTraversal: false })
    const at = relay.multiaddrs()[0]!
    const [m, o, r] = [await plainNode(member), await plainNode(other), await plainNode(removed)]
    // The other member answers the relay's stop request, so a relayed connection to it can be made.
    await o.handle(STOP, async (stream) => {
      const framed = lpStream(stream)
      await framed.read()
      await framed.write(Uint8Array.from([0x08, STOP_STATUS, 0x20, OK]))
    })

    // denyInboundRelayReservation: members reserve (the removed one too, while still a member).
    expect(await statusOf(m, at, HOP, message(HOP_RESERVE))).toBe(OK)
    expect(await statusOf(o, at, HOP, message(HOP_RESERVE))).toBe(OK)
    expect(await statusOf(r, at, HOP, message(HOP_RESERVE))).toBe(OK)
    admitted.delete(removed.did)
    expect(await statusOf(r, at, HOP, message(HOP_RESERVE))).toBe(PERMISSION_DENIED)
    expect(await statusOf(m, at, HOP, message(HOP_RESERVE))).toBe(OK)

    // denyOutboundRelayedConnection: member → member is relayed; from or to the removed one (its earlier
    // reservation still held by the relay) it is refused.
    expect(await statusOf(m, at, HOP, message(HOP_CONNECT, other.did))).toBe(OK)
    expect(await statusOf(r, at, HOP, message(HOP_CONNECT, other.did))).toBe(PERMISSION_DENIED)
    expect(await statusOf(m, at, HOP, message(HOP_CONNECT, removed.did))).toBe(PERMISSION_DENIED)
    // Every refusal came from the relay hooks: the connection gate refused nobody.
    expect([relay.stats.refusedInbound, relay.stats.refusedOutbound]).toEqual([0, 0])
  })

  it('a node behind a relay takes relayed connections only from a member, through a member\'s relay', async () => {
    const [nodeKey, relayMember, member, stranger] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()]
    const admitted = new Set([relayMember.did, member.did])
    const node = await icnNode(nodeKey, admitted, { natTraversal: true })
    const at = node.multiaddrs()[0]!
    const relay = await plainNode(relayMember)

    // denyInboundRelayedConnection(relay, remote): a member through a member's relay is accepted; a stranger is not.
    expect(await statusOf(relay, at, STOP, message(STOP_CONNECT, member.did))).toBe(OK)
    expect(await statusOf(relay, at, STOP, message(STOP_CONNECT, stranger.did))).toBe(PERMISSION_DENIED)
    // The relay's own member removed: nothing comes through it any more, even from a member.
    admitted.delete(relayMember.did)
    expect(await statusOf(relay, at, STOP, message(STOP_CONNECT, member.did))).toBe(PERMISSION_DENIED)
    expect([node.stats.refusedInbound, node.stats.refusedOutbound]).toEqual([0, 0])
  })
})
