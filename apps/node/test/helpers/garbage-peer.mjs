#!/usr/bin/env node
// A misbehaving peer: dials <multiaddr> with plain libp2p, opens /icn/gossip/1.0.0 and
// writes <mode> bytes: "oversized" announces a 100 MB frame, "badvarint" sends a
// varint that never ends. Prints "CLOSED" once the node has cut the stream off.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import '../../dist/index.js' // installs the Promise.withResolvers polyfill
import './libp2p-guard.mjs'

const [target, mode] = process.argv.slice(2)
const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() }
})
const stream = await node.dialProtocol(multiaddr(target), '/icn/gossip/1.0.0')
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
