#!/usr/bin/env node
// A peer that hangs up on the node's ICN stream while the node is reading it:
//   reset-peer.mjs <node multiaddr> open|accept|silent
// Plain libp2p (TCP, noise, yamux) with an ed25519 key, so the node accepts it as a peer.
//   open    this peer opens /icn/gossip/1.0.0 (its DID is chosen smaller than the node's, so by
//           the ICN rule the node never opens one itself); it does not serve the protocol.
//   accept  this peer only serves /icn/gossip/1.0.0 and the node opens the stream (its DID is
//           chosen larger than the node's); every stream it accepts prints "ACCEPTED <n>".
//   silent  like accept, but it does not serve the protocol at all: the node's attempts to open the
//           stream fail; it prints "HUNG-UP" and exits 0 when the node closes the connection.
// Prints "READY <did>" once connected (open: once its stream is open). On SIGUSR1 it aborts
// (stream reset) every ICN stream it holds, keeping the connection up, and prints "RESET".
// On SIGTERM it stops and exits 0. It never sends a frame and discards what it receives.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { GOSSIP_PROTOCOL, didOfPeerId } from '../../dist/index.js'
import './libp2p-guard.mjs'

const [target, mode] = process.argv.slice(2)
if (mode !== 'open' && mode !== 'accept' && mode !== 'silent' && mode !== 'half-close') {
  process.stderr.write('usage: reset-peer.mjs <node multiaddr> open|accept|silent|half-close\n')
  process.exit(2)
}
const nodeAddr = multiaddr(target)
const nodeDid = didOfPeerId(nodeAddr.getComponents().find((c) => c.name === 'p2p').value)

// A key on the wanted side of the node's DID (each try is a coin flip).
let privateKey
let did
do {
  privateKey = await generateKeyPair('Ed25519')
  did = didOfPeerId(peerIdFromPrivateKey(privateKey))
} while (mode === 'open' || mode === 'half-close' ? did >= nodeDid : did <= nodeDid) // accept, silent: the node opens

const node = await createLibp2p({
  privateKey,
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() }
})
const streams = new Set()
const hold = (stream) => {
  streams.add(stream)
  stream.addEventListener('message', () => {}) // read and discard the node's gossip
  stream.addEventListener('close', () => { streams.delete(stream) }, { once: true })
}

if (mode === 'accept') {
  let accepted = 0
  let ready = false
  await node.handle(GOSSIP_PROTOCOL, (stream) => {
    hold(stream)
    console.log(`ACCEPTED ${++accepted}`)
    if (!ready) { ready = true; console.log(`READY ${did}`) }
  })
  await node.dial(nodeAddr)
} else if (mode === 'silent') {
  node.addEventListener('peer:disconnect', () => {
    console.log('HUNG-UP')
    node.stop().then(() => process.exit(0), (err) => { console.error(err); process.exit(1) })
  }, { once: true })
  await node.dial(nodeAddr)
  console.log(`READY ${did}`)
} else if (mode === 'half-close') {
  // Opens the ICN stream, then closes its own write side only: the node's read loop ends, and the node
  // must end the stream too (not leave it open until the connection goes). Prints "ENDED" when it does.
  const stream = await node.dialProtocol(nodeAddr, GOSSIP_PROTOCOL)
  stream.addEventListener('message', () => {})
  stream.addEventListener('close', () => { console.log('ENDED') }, { once: true })
  console.log(`READY ${did}`)
  await stream.close()
  console.log('HALF-CLOSED')
} else {
  hold(await node.dialProtocol(nodeAddr, GOSSIP_PROTOCOL))
  console.log(`READY ${did}`)
}

process.on('SIGUSR1', () => {
  for (const stream of streams) stream.abort(new Error('reset-peer hangs up'))
  console.log('RESET')
})
process.on('SIGTERM', () => {
  node.stop().then(() => process.exit(0), (err) => { console.error(err); process.exit(1) })
})
