#!/usr/bin/env node
// Same-stack anchors for the node bench, one OS process each (libp2p 3 + TCP + noise + yamux, as the node):
//   ping                        echo every length-prefixed frame on /bench/ping/1.0.0
//   ping-client <multiaddr> <n> n sequential 64 B round trips; prints { pingMs: [...] }
//   gossipsub <count>           @libp2p/gossipsub 17 peer: reads { peers } then { go } on stdin, publishes
//                               <count> signed 200 B messages, prints { done } once it has also received
//                               every other peer's (total given in the go line)
// Control lines are JSON on stdin/stdout; the first stdout line is { addr }.
import '../dist/index.mjs' // installs the Promise.withResolvers polyfill libp2p needs on Node 20
import { createInterface } from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'

const PING = '/bench/ping/1.0.0'
const [mode, ...args] = process.argv.slice(2)
const say = (value) => { process.stdout.write(JSON.stringify(value) + '\n') }
const stack = { addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] }

if (mode === 'ping') {
  const node = await createLibp2p({ ...stack, services: { identify: identify() } })
  await node.handle(PING, async (stream) => {
    const lp = lpStream(stream)
    try { for (;;) await lp.write(await lp.read()) } catch { /* the client closed the stream */ }
  })
  say({ addr: node.getMultiaddrs()[0].toString() })
  createInterface({ input: process.stdin }).on('close', () => { void node.stop() })
} else if (mode === 'ping-client') {
  const [addr, n] = args
  const node = await createLibp2p({ ...stack, addresses: { listen: [] }, services: { identify: identify() } })
  const lp = lpStream(await node.dialProtocol(multiaddr(addr), PING))
  const payload = new Uint8Array(64).fill(7)
  const pingMs = []
  for (let i = 0; i < Number(n) + 50; i++) {
    const started = performance.now()
    await lp.write(payload)
    await lp.read()
    if (i >= 50) pingMs.push(performance.now() - started) // the first 50 warm the stream up
  }
  say({ pingMs })
  await node.stop()
} else if (mode === 'gossipsub') {
  const count = Number(args[0])
  const node = await createLibp2p({ ...stack, services: { identify: identify(), pubsub: gossipsub({ emitSelf: false, allowPublishToZeroTopicPeers: false }) } })
  const pubsub = node.services.pubsub
  let received = 0
  let expected = Infinity
  let startedAt = 0
  let finish = () => {}
  const finished = new Promise((resolve) => { finish = resolve })
  pubsub.addEventListener('message', () => { if (++received >= expected) finish() })
  pubsub.subscribe('bench')
  say({ addr: `${node.getMultiaddrs()[0].toString()}` })
  for await (const line of createInterface({ input: process.stdin })) {
    const msg = JSON.parse(line)
    if (msg.peers !== undefined) {
      for (const peer of msg.peers) await node.dial(multiaddr(peer))
      const deadline = Date.now() + 20_000
      while (pubsub.getSubscribers('bench').length < msg.subscribers && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      say({ meshed: pubsub.getSubscribers('bench').length })
    } else if (msg.go !== undefined) {
      expected = msg.go
      startedAt = performance.now()
      const body = new Uint8Array(200).fill(1)
      let next = 0
      // 16 publishes in flight, like the node bench's concurrent API clients
      await Promise.all(Array.from({ length: 16 }, async () => { while (next < count) { next++; await pubsub.publish('bench', body) } }))
      if (received >= expected) finish()
      await finished
      say({ done: performance.now() - startedAt, received })
    } else if (msg.stop !== undefined) {
      break
    }
  }
  await node.stop()
} else {
  process.stderr.write('usage: anchor-peer.mjs ping | ping-client <multiaddr> <n> | gossipsub <count>\n')
  process.exit(2)
}
