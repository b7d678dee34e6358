#!/usr/bin/env node
// A misbehaving peer: dials <multiaddr> with plain libp2p, opens the ICN stream and writes <mode>
// bytes: "oversized" announces a 100 MB frame, "badvarint" sends a varint that never ends.
// Prints "CLOSED" once the node has cut the stream off.
//   garbage-peer.mjs <multiaddr> oversized|badvarint [<seed hex> <protocol prefix>]
// Against a node, <seed> is a member's key (the node admits members only) and <protocol prefix> the
// network's (`/icn/<network id>`); without them (a bare transport, open to all): a random key and '/icn'.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { fromHex } from '@icn/identity'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { tcp } from '@libp2p/tcp'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { networkProtocols } from '../../dist/index.js' // also installs the Promise.withResolvers polyfill
import './libp2p-guard.mjs'

const [target, mode, seed, prefix = '/icn'] = process.argv.slice(2)
const node = await createLibp2p({
  ...(seed === undefined ? {} : { privateKey: await generateKeyPairFromSeed('Ed25519', fromHex(seed)) }),
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() }
})
const stream = await node.dialProtocol(multiaddr(target), networkProtocols(prefix).gossip)
const closed = new Promise((resolve) => stream.addEventListener('close', resolve, { once: true }))
const payload = mode === 'oversized'
  ? Uint8Array.from([0x80, 0x80, 0x80, 0x32, 1, 2, 3]) // varint 100 MiB, then a few bytes
  : Uint8Array.from(new Array(16).fill(0xff)) // a varint longer than any frame length
stream.send(payload)
let timer
const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), 10_000) })
const outcome = await Promise.race([closed.then(() => 'closed'), timeout])
clearTimeout(timer)
console.log(outcome === 'closed' ? 'CLOSED' : 'STILL-OPEN')
await node.stop()
