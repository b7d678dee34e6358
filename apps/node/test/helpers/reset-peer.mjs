#!/usr/bin/env node
// A member peer that hangs up on the node's ICN stream while the node is reading it:
//   reset-peer.mjs <node multiaddr> open|accept|silent|half-close <seed hex> <protocol prefix>
// Plain libp2p (TCP, noise, yamux) under the ed25519 key of <seed> (a member of the node's charter, so
// the node admits it), speaking the network's ICN protocol (<protocol prefix>/gossip/1.0.0).
//   open    this peer opens the ICN stream (the test picks its DID smaller than the node's, so by
//           the ICN rule the node never opens one itself); it does not serve the protocol.
//   accept  this peer only serves the ICN protocol and the node opens the stream (the test picks its DID
//           larger than the node's); every stream it accepts prints "ACCEPTED <n>".
//   silent  like accept, but it does not serve the protocol at all: the node's attempts to open the
//           stream fail; it prints "HUNG-UP" and exits 0 when the node closes the connection.
//   half-close  opens the stream (DID smaller than the node's), then closes its own write side.
// Prints "READY <did>" once connected (open: once its stream is open). On SIGUSR1 it aborts
// (stream reset) every ICN stream it holds, keeping the connection up, and prints "RESET".
// On SIGTERM it stops and exits 0. It never sends a frame and discards what it receives.
import { fromHex } from '@icn/identity'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { didOfPeerId, networkProtocols } from '../../dist/index.mjs'
import './libp2p-guard.mjs'

const [target, mode, seed, prefix] = process.argv.slice(2)
if ((mode !== 'open' && mode !== 'accept' && mode !== 'silent' && mode !== 'half-close') || seed === undefined || prefix === undefined) {
  process.stderr.write('usage: reset-peer.mjs <node multiaddr> open|accept|silent|half-close <seed hex> <protocol prefix>\n')
  process.exit(2)
}
const nodeAddr = multiaddr(target)
const protocol = networkProtocols(prefix).gossip
const privateKey = await generateKeyPairFromSeed('Ed25519', fromHex(seed))
const did = didOfPeerId(peerIdFromPrivateKey(privateKey))

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
  await node.handle(protocol, (stream) => {
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
  const stream = await node.dialProtocol(nodeAddr, protocol)
  stream.addEventListener('message', () => {})
  stream.addEventListener('close', () => { console.log('ENDED') }, { once: true })
  console.log(`READY ${did}`)
  await stream.close()
  console.log('HALF-CLOSED')
} else {
  hold(await node.dialProtocol(nodeAddr, protocol))
  console.log(`READY ${did}`)
}

process.on('SIGUSR1', () => {
  for (const stream of streams) stream.abort(new Error('reset-peer hangs up'))
  console.log('RESET')
})
process.on('SIGTERM', () => {
  node.stop().then(() => process.exit(0), (err) => { console.error(err); process.exit(1) })
})
