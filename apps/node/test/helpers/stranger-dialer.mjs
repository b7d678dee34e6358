#!/usr/bin/env node
// Strangers knocking on a member's door: throw-away ed25519 identities (none of them a member) dial a
// node with a plain libp2p stack (TCP, noise, yamux: the node's own), try to open the network's ICN
// stream and push a signed ledger payment from that identity to `--payee`.
//   stranger-dialer.mjs --target <multiaddr> --network <network id> --payee <did>
//                       [--identities 20] [--attempts <n, default = identities>] [--concurrency 8] [--hosts 0]
//                       [--identity-dir <data dir>] [--relay]
// Attempt i is made by identity i % identities. With `--identity-dir` the one identity is that data dir's
// (e.g. a node whose membership has not passed yet) instead of fresh ones. `--hosts K` (K > 0) spreads the attempts over K loopback
// source addresses (127.77.x.y, in turn, one per TCP connection): the node lets one host start at most
// 5 connections a second (libp2p's inbound threshold), so a crowd of strangers on one host would mostly be
// stopped before the handshake; from many addresses, as many hosts would, every attempt reaches the
// handshake and the membership gate. `--relay` adds the circuit relay transport, so `--target` may be a
// `/p2p-circuit` address through a member's relay. Prints one JSON line:
//   { attempts, identities, dialsResolved, keptOpen, streams, framesSent, established: [did, ...],
//     errors: { name: n }, perIdentity: [{ did, established, stream }], wallMs }
// `dialsResolved`: dials that resolved on this side. The dialer finishes its half of the handshake and picks
// the muxer optimistically before the node's refusal (right after the node's half) reaches it, so a refused
// dial may still resolve; what counts is what follows. An identity is `established` when it opened an ICN
// stream or its connection was still open after trying to (`keptOpen`).
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { encodeMessage, createEntry } from '@icn/gossip'
import { generateKeyPair } from '@icn/identity'
import { signEntry } from '@icn/ledger'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { loadIdentity } from '../../dist/index.mjs'
import { multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import { createLibp2p } from 'libp2p'
import './libp2p-guard.mjs'

const args = process.argv.slice(2)
const value = (flag, fallback) => {
  const i = args.indexOf(flag)
  return i === -1 ? fallback : args[i + 1]
}
const target = multiaddr(value('--target'))
const gossipProtocol = `/icn/${value('--network')}/gossip/1.0.0`
const payee = value('--payee')
const identityDir = value('--identity-dir')
const identities = identityDir === undefined ? Number(value('--identities', '20')) : 1
const attempts = Number(value('--attempts', String(identities)))
const concurrency = Number(value('--concurrency', '8'))
const hosts = Number(value('--hosts', '0'))
const viaRelay = args.includes('--relay')
// Longer than the node's own 10 s handshake limit: on a loaded machine the dialer never abandons an
// attempt the node is still working through (it would then never reach the node's gate).
const DIAL_TIMEOUT_MS = 30_000

/** Loopback source address number `i` (127.77.0.1, 127.77.0.2, …): all of 127/8 is local on Linux. */
const hostAddress = (i) => `127.77.${Math.floor(i / 250)}.${1 + (i % 250)}`

let connections = 0
/**
 * libp2p's TCP transport spreads `dialOpts` into the options of every `net.connect` (per-dial options do not
 * reach it), so a getter there gives each new TCP connection the next source address in turn.
 */
const sourceAddress = { get localAddress () { return hostAddress(connections++ % hosts) } }

/** A stranger: its key pair, a libp2p node under that key, and the ICN push frame carrying its signed payment. */
async function stranger () {
  const keyPair = identityDir === undefined ? generateKeyPair() : await loadIdentity(identityDir)
  const now = Date.now()
  const payment = signEntry({
    author: keyPair.did,
    seq: 1,
    timestamp: now,
    deltas: [{ account: keyPair.did, currency: 'ICN', debit: 5n }, { account: payee, currency: 'ICN', credit: 5n }],
    acks: []
  }, keyPair)
  const entry = createEntry(keyPair, { topic: 'ledger:tx', payload: payment.bytes, clock: { [keyPair.did]: 1 }, timestamp: now }, { compressThreshold: 4096, maxPayloadBytes: 1 << 20 })
  const frame = lp.encode.single(encodeMessage({ t: 'push', entries: [entry.bytes] }))
  const node = await createLibp2p({
    privateKey: await generateKeyPairFromSeed('Ed25519', keyPair.seed),
    addresses: { listen: [] },
    transports: [tcp(hosts > 0 ? { dialOpts: sourceAddress } : {}), ...(viaRelay ? [circuitRelayTransport()] : [])],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The relay transport learns which peers relay through identify.
    ...(viaRelay ? { services: { identify: identify() } } : {})
  })
  return { did: keyPair.did, node, frame, keptOpen: false, stream: false }
}

const started = performance.now()
const peers = []
for (let i = 0; i < identities; i++) peers.push(await stranger())
const errors = {}
const counts = { dialsResolved: 0, keptOpen: 0, streams: 0, framesSent: 0 }
let next = 0

/** One dial: a connection (the gate let the handshake through), then the ICN stream and the payment frame. */
async function attempt (i) {
  const peer = peers[i % identities]
  const signal = AbortSignal.timeout(DIAL_TIMEOUT_MS)
  let connection
  try {
    connection = await peer.node.dial(target, { signal })
    counts.dialsResolved++
    const stream = await connection.newStream(gossipProtocol, { signal })
    counts.streams++
    peer.stream = true
    stream.send(peer.frame)
    counts.framesSent++
    await stream.close()
  } catch (err) {
    const name = err?.name ?? 'Error'
    errors[name] = (errors[name] ?? 0) + 1
  }
  if (connection !== undefined) {
    if (connection.status === 'open') { counts.keptOpen++; peer.keptOpen = true }
    await connection.close().catch(() => {})
  }
}

await Promise.all(Array.from({ length: Math.min(concurrency, attempts) }, async () => {
  while (next < attempts) await attempt(next++)
}))
const wallMs = Math.round(performance.now() - started)
await Promise.all(peers.map(async (p) => { await p.node.stop() }))
const established = peers.filter((p) => p.keptOpen || p.stream).map((p) => p.did)
process.stdout.write(JSON.stringify({
  attempts,
  identities,
  ...counts,
  established,
  errors,
  perIdentity: peers.map((p) => ({ did: p.did, established: p.keptOpen || p.stream, stream: p.stream })),
  wallMs
}) + '\n')
process.exit(0)
