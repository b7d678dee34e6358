#!/usr/bin/env node
// A hostile ICN member for the chaos suite: raw libp2p streams on the network's ICN protocol, full control
// of every byte.
//   fuzz-peer.mjs <node multiaddr> <tmp dir> <hostile frames> <flood entries> <seed> <members json> <protocol prefix>
// <seed> drives the frames; <members json> names the charter members it plays (the node admits members
// only): { "flood": <seed hex>, "slow": <seed hex>, "many": <seed hex>, "batches": [<seed hex>, ...],
// "payees": { "flood": <did>, "forged": <did>, "clock": <did> } } — `flood` authors every entry, each hostile
// batch connects as the next of `batches` (the node cools a peer it cut off down for 5 s, doubling per
// offence, so one identity per batch; at most ceil(<hostile frames> / 10) batches), and the payees are
// members so that only a forged signature or an oversized clock keeps an entry out. <protocol prefix>:
// `/icn/<network id>`.
// 1. flood: <flood entries> valid new ledger payments (1 unit each to FLOOD_PAYEE), pushed as fast as the
//    stream drains; meanwhile a second peer opens the stream and never reads (slow reader), and a third
//    opens many streams at once on one connection;
// 2. hostile: <hostile frames> frames in batches, each batch on a fresh connection (the node cuts a peer
//    off at its first bad frame): random bytes, bit flips of valid frames, valid CBOR with wrong types,
//    huge claimed lengths, deflate bombs, forged signatures (gossip and ledger level), replays, oversized
//    vector clocks, snapshot messages from a non-participant.
// Prints one JSON line: what was sent per kind, the payees whose balances tell what the node applied.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { deflateRawSync } from 'node:zlib'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import { createLibp2p } from 'libp2p'
import { ENTRY_DOMAIN, createEntry, decodeMessage, encodeMessage } from '@icn/gossip'
import { encodeEnvelope, decodeEnvelope, encode, fromHex, generateKeyPair, keyPairFromSeed, sha256, signEnvelope } from '@icn/identity'
import { openLedger } from '@icn/ledger'
import { encodeMessage as encodeSnapshotMessage, signInitiation } from '@icn/snapshot'
import { readFileSync } from 'node:fs'
import { didOfPeerId, networkProtocols } from '../../dist/index.mjs' // also installs the Promise.withResolvers polyfill
import './libp2p-guard.mjs'

const trace = (what) => { if (process.env.ICN_CHAOS_TRACE === '1') process.stderr.write(`[fuzz] ${what}\n`) }
const [targetText, dir, hostileText, floodText, seedText, membersFile, prefix] = process.argv.slice(2)
if (prefix === undefined) {
  process.stderr.write('usage: fuzz-peer.mjs <node multiaddr> <tmp dir> <hostile frames> <flood entries> <seed> <members json> <protocol prefix>\n')
  process.exit(2)
}
const PROTOCOL = networkProtocols(prefix).gossip
const members = JSON.parse(readFileSync(membersFile, 'utf8'))
const target = multiaddr(targetText)
const hostileFrames = Number(hostileText)
const floodEntries = Number(floodText)

// xorshift32: the same seed gives the same frames.
let state = (Number(seedText) >>> 0) || 1
const rand = () => { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; return state / 4294967296 }
const int = (n) => Math.floor(rand() * n)
const bytes = (n) => Uint8Array.from({ length: n }, () => int(256))

const seed = fromHex(members.flood)
const keyPair = keyPairFromSeed(seed)
const limits = { compressThreshold: 1024, maxPayloadBytes: 10 * 1024 * 1024 }
const FLOOD_PAYEE = members.payees.flood
const FORGED_PAYEE = members.payees.forged
const CLOCK_PAYEE = members.payees.clock
const batchSeeds = members.batches.map(fromHex)

const nodeDid = didOfPeerId(target.getComponents().find((c) => c.name === 'p2p').value)

/**
 * A libp2p peer whose ICN streams to the node are opened the node's way: of a pair, the smaller DID
 * opens the one stream (a second one replaces the first). So `open()` dials and either opens the
 * stream (our DID is the smaller) or takes the one the node opens to us.
 */
async function peer (keySeed) {
  const libp2p = await createLibp2p({
    privateKey: await generateKeyPairFromSeed('Ed25519', keySeed),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() }
  })
  const did = keyPairFromSeed(keySeed).did
  const inbox = []
  const waiting = []
  await libp2p.handle(PROTOCOL, (stream) => { const w = waiting.shift(); if (w !== undefined) w(stream); else inbox.push(stream) }, { maxInboundStreams: 64 })
  const open = async () => {
    if (did < nodeDid) return await libp2p.dialProtocol(target, PROTOCOL)
    inbox.length = 0
    waiting.length = 0
    let timer
    const next = new Promise((resolve, reject) => {
      waiting.push(resolve)
      timer = setTimeout(() => { waiting.length = 0; reject(new Error('the node opened no stream to us within 10 s')) }, 10_000)
    })
    try {
      await libp2p.dial(target)
      return await next
    } catch (err) {
      waiting.length = 0
      throw err
    } finally {
      clearTimeout(timer)
      next.catch(() => {})
    }
  }
  return { libp2p, open, did }
}

const fuzz = await peer(seed)
const node = fuzz.libp2p

/** Sends raw bytes on a stream, waiting for drain when its buffer is full; false once the stream is gone. */
async function write (stream, data) {
  if (stream.status !== 'open' || stream.writeStatus !== 'writable') return false
  try {
    if (!stream.send(data)) await stream.onDrain()
    return true
  } catch {
    return false
  }
}

/** Resolves when `stream` has closed (either side, reset or abort). */
const closed = (stream) => stream.status !== 'open' ? Promise.resolve() : new Promise((resolve) => stream.addEventListener('close', () => resolve(), { once: true }))

const topicsFrame = encodeMessage({ t: 'topics', topics: ['ledger:tx', 'trust:attest', 'governance:proposal', 'governance:vote', 'snapshot:coordinate'] })
const ledger = await openLedger({ path: `${dir}/ledger` })
// A second ledger with the same key for entries that must never be applied (forged, oversized clock):
// its chain forks the real one, so even an accepted one would show in the payees' balances.
const shadow = await openLedger({ path: `${dir}/shadow` })
let clock = 0
const entryOf = async (payee, which = ledger) => {
  const record = await which.pay(keyPair, payee, 'ICN', 1n)
  clock++
  return createEntry(keyPair, { topic: 'ledger:tx', payload: record.bytes, clock: { [keyPair.did]: clock }, timestamp: Date.now() }, limits)
}
const push = (entries) => encodeMessage({ t: 'push', entries: entries.map((e) => e.bytes ?? e) })
const syncFrame = () => encodeMessage({ t: 'sync', topic: 'ledger:tx', nonce: bytes(16), at: Date.now(), round: 0, lower: { ts: 0, id: new Uint8Array(0) }, ranges: [{ upper: null, mode: 'fp', fingerprint: bytes(16) }] })
const wantFrame = () => encodeMessage({ t: 'want', topic: 'ledger:tx', nonce: bytes(16), ids: [bytes(32)] })

const sent = { flood: 0, random: 0, bitflip: 0, wrongTypes: 0, hugeLength: 0, deflateBomb: 0, forgedGossip: 0, forgedLedger: 0, oversizedClock: 0, replayedDigest: 0, snapshot: 0, replayedEntry: 0, unknownPull: 0, streamsOpened: 0, streamsRefused: 0, slowReaderBytesQueued: 0 }

// ── 1. flood, with a slow reader and many streams alongside ─────────────────────────────────────
const slow = await peer(fromHex(members.slow))
const slowStream = await slow.open()
await write(slowStream, lp.encode.single(topicsFrame).subarray())
// Never read: nothing iterates slowStream.

const many = await peer(fromHex(members.many))
const manyStreams = (async () => {
  await many.libp2p.dial(target)
  const opens = await Promise.allSettled(Array.from({ length: 64 }, async () => await many.libp2p.dialProtocol(target, PROTOCOL)))
  for (const o of opens) { if (o.status === 'fulfilled') sent.streamsOpened++; else sent.streamsRefused++ }
  for (const o of opens) if (o.status === 'fulfilled') o.value.abort(new Error('done'))
})()

trace('slow reader and many streams started')
const floodStream = await fuzz.open()
await write(floodStream, lp.encode.single(topicsFrame).subarray())
const floodValid = []
for (let i = 0; i < floodEntries; i++) {
  const entry = await entryOf(FLOOD_PAYEE)
  floodValid.push(entry)
  if (!(await write(floodStream, lp.encode.single(push([entry])).subarray()))) break
  sent.flood++
}
trace(`flood sent ${sent.flood}`)
await manyStreams
trace('many streams done')
// The node handles one peer stream's frames in order: its answer to a pull of the last entry, sent
// after the flood, means it has handled every flood frame.
const last = floodValid.at(-1)
const pullNonce = bytes(16)
await write(floodStream, lp.encode.single(encodeMessage({ t: 'want', topic: 'ledger:tx', nonce: pullNonce, ids: [last.key.id] })).subarray())
let answered = false
for await (const frame of lp.decode(floodStream, { maxDataLength: 16 * 1024 * 1024 })) {
  if (frame.byteLength === 0) continue
  const message = decodeMessage(frame.subarray())
  if (message.t === 'entries' && message.re.length === pullNonce.length && message.re.every((b, i) => b === pullNonce[i])) { answered = message.entries.length === 1; break }
}
if (!answered) throw new Error('the node did not answer the pull after the flood')
trace('flood handled')
floodStream.abort(new Error('flood done'))
await node.hangUp(target).catch(() => {})

// ── 2. hostile frames, in batches on fresh connections ─────────────────────────────────────────
const valid = () => {
  const kind = int(4)
  if (kind === 0) return topicsFrame
  if (kind === 1) return push([floodValid[int(floodValid.length)] ?? floodValid[0]])
  if (kind === 2) return syncFrame()
  return wantFrame()
}
const wrongTypes = () => encode(rand() < 0.5
  ? { t: ['push', 'entries', 'sync', 'want', 'topics', 'direct'][int(6)], entries: int(5), topic: int(9), nonce: 'x', ids: {}, ranges: 'r', lower: [1, 2, 3], at: -1, round: 'x', topics: [1], id: -5, payload: 'p' }
  : [int(100), 'push', { t: 7 }, null, true])
const bombData = new Uint8Array(deflateRawSync(Buffer.alloc(64 * 1024 * 1024)))
const bomb = () => {
  // 64 MiB of zeros deflated to ~64 KiB, signed correctly, claiming either its true size (over the node's
  // 10 MiB bound) or 100 bytes (only the bounded inflate stops it).
  const data = bombData
  const body = { topic: 'ledger:tx', author: keyPair.did, clock: { [keyPair.did]: clock + 1 }, timestamp: Date.now(), id: bytes(32), encoding: 'deflate-raw', size: rand() < 0.5 ? 100 : 64 * 1024 * 1024, data }
  return push([encodeEnvelope(signEnvelope(ENTRY_DOMAIN, body, keyPair))])
}
const forgedGossip = async () => {
  const entry = await entryOf(FORGED_PAYEE, shadow)
  const envelope = decodeEnvelope(entry.bytes)
  const signature = Uint8Array.from(envelope.signature)
  signature[int(signature.length)] ^= 1 << int(8)
  return push([encodeEnvelope({ ...envelope, signature })])
}
const forgedLedger = async () => {
  const record = await shadow.pay(keyPair, FORGED_PAYEE, 'ICN', 1n)
  const envelope = decodeEnvelope(record.bytes)
  const signature = Uint8Array.from(envelope.signature)
  signature[0] ^= 1
  clock++
  return push([createEntry(keyPair, { topic: 'ledger:tx', payload: encodeEnvelope({ ...envelope, signature }), clock: { [keyPair.did]: clock }, timestamp: Date.now() }, limits)])
}
const oversizedClock = async () => {
  const record = await shadow.pay(keyPair, CLOCK_PAYEE, 'ICN', 1n)
  const big = {}
  for (let i = 0; i < 5000; i++) big[`did:icn:z${i}`] = i + 1
  big[keyPair.did] = ++clock
  return push([createEntry(keyPair, { topic: 'ledger:tx', payload: record.bytes, clock: big, timestamp: Date.now() }, limits)])
}
let directId = 0
const snapshotFrame = () => {
  const snapshotId = Array.from(bytes(16), (b) => b.toString(16).padStart(2, '0')).join('')
  const participants = [keyPair.did, generateKeyPair().did].sort()
  const initiation = signInitiation({ type: 'InitiateSnapshot', snapshotId, initiator: keyPair.did, timestamp: Date.now(), participants }, keyPair)
  const messages = [
    { type: 'Marker', snapshotId, sender: keyPair.did, initiation },
    { type: 'SnapshotAck', snapshotId, node: keyPair.did, stateHash: bytes(32), stateSize: 10, channelHash: bytes(32), channelSize: 10 },
    { type: 'RequestState', snapshotId, requester: keyPair.did }
  ]
  return encodeMessage({ t: 'direct', topic: 'snapshot:coordinate', id: directId++, payload: encodeSnapshotMessage(messages[int(messages.length)], keyPair) })
}

/** A hostile frame the node must cut the peer off for (framed bytes ready to write). */
async function cutting () {
  const kind = int(9)
  switch (kind) {
    case 0: sent.random++; return lp.encode.single(bytes(1 + int(512))).subarray()
    case 1: {
      sent.bitflip++
      const frame = Uint8Array.from(valid())
      for (let k = 0, n = 1 + int(3); k < n; k++) frame[int(frame.length)] ^= 1 << int(8)
      return lp.encode.single(frame).subarray()
    }
    case 2: sent.wrongTypes++; return lp.encode.single(wrongTypes()).subarray()
    case 3: {
      sent.hugeLength++
      // A length prefix of 2^28 to 2^49 bytes, then a little data.
      const claimed = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff].slice(0, 4 + int(4))
      claimed[claimed.length - 1] &= 0x7f
      return Uint8Array.from([...claimed, ...bytes(16)])
    }
    case 4: sent.deflateBomb++; return lp.encode.single(bomb()).subarray()
    case 5: sent.forgedGossip++; return lp.encode.single(await forgedGossip()).subarray()
    case 6: sent.forgedLedger++; return lp.encode.single(await forgedLedger()).subarray()
    case 7: sent.oversizedClock++; return lp.encode.single(await oversizedClock()).subarray()
    default: {
      // A replayed digest: the same sync nonce twice.
      sent.replayedDigest++
      const framed = lp.encode.single(syncFrame()).subarray()
      return Uint8Array.from([...framed, ...framed])
    }
  }
}

/** A hostile frame the node handles without cutting the peer off: snapshot messages from a non-participant, replayed entries, pulls of unknown ids. */
function tolerated () {
  const kind = int(3)
  if (kind === 0) { sent.snapshot++; return lp.encode.single(snapshotFrame()).subarray() }
  if (kind === 1) { sent.replayedEntry++; return lp.encode.single(push([floodValid[int(floodValid.length)] ?? floodValid[0]])).subarray() }
  sent.unknownPull++
  return lp.encode.single(wantFrame()).subarray()
}

/** Resolves once `node` has no connection left to the node (it talks to the node only). */
async function disconnected (node) {
  if (node.getConnections().length === 0) return
  await new Promise((resolve) => {
    const check = () => { if (node.getConnections().length === 0) { node.removeEventListener('peer:disconnect', check); resolve() } }
    node.addEventListener('peer:disconnect', check)
    check()
  })
}

let batches = 0
let notCutOff = 0
let dialsRefused = 0
let remaining = hostileFrames
while (remaining > 0) {
  // A batch: tolerated hostile frames, then one the node must cut us off for; written at once, then we wait for the cut.
  const frames = []
  const size = Math.min(remaining, 10 + int(60))
  for (let k = 0; k < size - 1; k++) frames.push(tolerated())
  frames.push(await cutting())
  remaining -= frames.length
  batches++
  trace(`batch ${batches} (${remaining} left)`)
  const batchSeed = batchSeeds[batches - 1]
  if (batchSeed === undefined) throw new Error(`batch ${batches}: <members json> names only ${batchSeeds.length} batch identities`)
  const batchPeer = await peer(batchSeed)
  // libp2p refuses a host's inbound connections over its rate (ECONNRESET): back off and dial again.
  let stream
  for (let backoff = 50; stream === undefined; backoff = Math.min(1000, backoff * 2)) {
    try {
      stream = await batchPeer.open()
    } catch (err) {
      trace(`dial refused: ${err.message}`)
      dialsRefused++
      await new Promise((resolve) => { setTimeout(resolve, backoff) })
    }
  }
  await write(stream, lp.encode.single(topicsFrame).subarray())
  // A frame that is never valid CBOR (a lone break code) last: every batch must end in a cut-off.
  frames.push(lp.encode.single(Uint8Array.of(0xff, ...bytes(int(32)))).subarray())
  sent.random++
  let written = 0
  for (const frame of frames) { if (!(await write(stream, frame))) break; written++ }
  trace(`wrote ${written}/${frames.length}, stream ${stream.status}`)
  // Ten seconds without the cut is a failure the test sees (notCutOff).
  let timer
  const cut = await Promise.race([closed(stream).then(() => true), new Promise((resolve) => { timer = setTimeout(() => resolve(false), 10_000) })])
  clearTimeout(timer)
  if (!cut) { notCutOff++; stream.abort(new Error('not cut off')) }
  await batchPeer.libp2p.hangUp(target).catch(() => {})
  await disconnected(batchPeer.libp2p)
  await batchPeer.libp2p.stop()
}
sent.slowReaderBytesQueued = slowStream.readBufferLength ?? 0
slowStream.abort(new Error('done'))

console.log(JSON.stringify({ did: keyPair.did, floodPayee: FLOOD_PAYEE, forgedPayee: FORGED_PAYEE, clockPayee: CLOCK_PAYEE, batches, notCutOff, dialsRefused, sent }))
await ledger.close()
await shadow.close()
await Promise.all([node.stop(), slow.libp2p.stop(), many.libp2p.stop()])
