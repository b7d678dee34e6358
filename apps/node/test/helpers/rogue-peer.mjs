#!/usr/bin/env node
// A misbehaving ICN peer with a real libp2p transport and real gossip:
//   rogue-peer.mjs <node multiaddr> <node did> <tmp dir> <seed hex> <protocol prefix> [replay|garbage]
// It runs as the member whose key is <seed> (the node admits members only) on the network's
// protocols (<protocol prefix>, `/icn/<network id>`).
// 1. publishes a valid payment to the node's member on ledger:tx (it must be applied once),
// 2. with a last argument "replay": replays every frame it has sent so far (nothing may be
//    applied twice; a replayed digest nonce gets it cut off); otherwise publishes a payment
//    whose signature is forged (a flipped bit),
// then prints "DISCONNECTED" once the node has cut it off (or "STILL-CONNECTED" after 10 s).
// Before step 2 it waits until it has sent the node the honest entry and at least one
// anti-entropy digest (a `sync` frame, whose nonce a replay repeats).
// With a last argument "garbage" it instead sends one frame of random bytes.
import { decodeEnvelope, encodeEnvelope, fromHex, keyPairFromSeed, randomBytes } from '@icn/identity'
import { createGossip, decodeMessage } from '@icn/gossip'
import { openLedger } from '@icn/ledger'
import { createLibp2pTransport, createLogger } from '../../dist/index.mjs'
import './libp2p-guard.mjs'

const [target, nodeDid, dir, seed, protocolPrefix, mode] = process.argv.slice(2)
const keyPair = keyPairFromSeed(fromHex(seed))
const logger = createLogger('silent')
const transport = await createLibp2pTransport({ keyPair, logger }, { peers: [target], protocolPrefix })
await transport.waitForPeer(nodeDid, 20_000)

/** Resolves with `onTimeout` after `ms` unless `settle` is called first; one timer, cleared either way. */
function withDeadline (ms, onTimeout, start) {
  return new Promise((resolve) => {
    let settled = false
    let stop = () => {}
    const settle = (value) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      stop()
      resolve(value)
    }
    const timer = setTimeout(() => { settle(onTimeout) }, ms)
    const unsubscribe = start(settle) ?? (() => {})
    if (settled) unsubscribe()
    else stop = unsubscribe
  })
}

/** "DISCONNECTED" when the transport reports the node's stream gone, "STILL-CONNECTED" after 10 s. */
async function waitForDisconnect () {
  if (!transport.peers().includes(nodeDid)) return 'DISCONNECTED'
  return await withDeadline(10_000, 'STILL-CONNECTED', (settle) => transport.onPeerChange((did, change) => {
    if (did === nodeDid && change === 'disconnected') settle('DISCONNECTED')
  }))
}

if (mode === 'garbage') {
  transport.send(nodeDid, randomBytes(200))
  console.log(await waitForDisconnect())
} else {
  const sent = []
  // What has gone to the node so far: an entry (pushed or answering a want) and a digest.
  const seen = { entry: false, digest: false }
  let onSent = () => {}
  const noteSent = (peer, bytes) => {
    if (peer !== nodeDid) return
    const message = decodeMessage(bytes)
    if (message.t === 'sync') seen.digest = true
    if ((message.t === 'push' || message.t === 'entries') && message.entries.length > 0) seen.entry = true
    onSent()
  }
  const recording = {
    id: transport.id,
    send: (peer, bytes) => { sent.push([peer, bytes]); transport.send(peer, bytes); noteSent(peer, bytes) },
    onMessage: (handler) => transport.onMessage(handler),
    peers: () => transport.peers()
  }
  const gossip = await createGossip({ transport: recording, clock: { now: () => Date.now(), setTimeout: (cb, ms) => { const t = setTimeout(cb, ms); return () => clearTimeout(t) } }, keyPair }, { antiEntropyIntervalMs: 200 })
  gossip.createTopic('ledger:tx', { kind: 'public' })
  const ledger = await openLedger({ path: dir })
  // A payment must move members' accounts only: the node's.
  const payee = nodeDid
  const honest = await ledger.pay(keyPair, payee, 'ICN', 5n)
  await gossip.publish('ledger:tx', honest.bytes)
  console.log(`HONEST ${honest.id}`)
  const ready = await withDeadline(20_000, false, (settle) => {
    onSent = () => { if (seen.entry && seen.digest) settle(true) }
    onSent()
    return () => { onSent = () => {} }
  })
  if (!ready) {
    console.log(`NOT-SENT ${JSON.stringify(seen)}`)
    process.exit(1)
  }
  if (mode === 'replay') {
    // Stop our own anti-entropy first, so only replayed frames reach the node.
    await gossip.close()
    for (const [peer, bytes] of sent.splice(0)) transport.send(peer, bytes)
    console.log('REPLAYED')
    console.log(await waitForDisconnect())
    await ledger.close()
    await transport.close()
    process.exit(0)
  }
  const second = await ledger.pay(keyPair, payee, 'ICN', 6n)
  const envelope = decodeEnvelope(second.bytes)
  const signature = Uint8Array.from(envelope.signature)
  signature[0] ^= 1
  await gossip.publish('ledger:tx', encodeEnvelope({ ...envelope, signature }))
  console.log('FORGED')
  console.log(await waitForDisconnect())
  await gossip.close()
  await ledger.close()
}
await transport.close()
