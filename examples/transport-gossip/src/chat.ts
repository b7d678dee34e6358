/**
 * A two-member chat over ICN gossip and the libp2p transport, as another app would write it: only the
 * public entry points of `@icn/identity`, `@icn/transport` and `@icn/gossip`.
 *
 *   node dist/chat.js --seed <hex> --member <did> [--peer <multiaddr>] [--say <text>]... [--expect <n>]
 *
 * Each process listens on a loopback port and admits the listed members only (the transport's gater
 * refuses everyone else after the noise handshake proved who they are). It prints
 * `LISTENING <did> <multiaddr>`, then publishes each `--say` once a member is connected, prints
 * `HEARD <author> <text>` for each message from another member, and exits after `--expect` of them
 * (a speaker: once its listeners have hung up).
 */
import { parseArgs } from 'node:util'
import { createGossip } from '@icn/gossip'
import { fromHex, fromUtf8, keyPairFromSeed, systemClock, utf8 } from '@icn/identity'
import { type PeerAdmission, createLibp2pTransport } from '@icn/transport'

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    member: { type: 'string', multiple: true, default: [] },
    peer: { type: 'string', multiple: true, default: [] },
    say: { type: 'string', multiple: true, default: [] },
    expect: { type: 'string', default: '0' }
  }
})
if (values.seed === undefined) throw new Error('--seed <64 hex digits> is required')

const keyPair = keyPairFromSeed(fromHex(values.seed))
const members = new Set([keyPair.did, ...values.member])
const admission: PeerAdmission = { connect: (did) => members.has(did), stream: (did) => members.has(did) }

const transport = await createLibp2pTransport({ keyPair, admission }, { listen: ['/ip4/127.0.0.1/tcp/0'], peers: values.peer })
const gossip = await createGossip({ transport, clock: systemClock, keyPair, isMember: (did) => members.has(did) })
gossip.createTopic('chat')

const expected = Number(values.expect)
let heard = 0
const done = new Promise<void>((resolve) => {
  if (expected === 0) resolve()
  gossip.subscribe('chat', (entry) => {
    console.log(`HEARD ${entry.author} ${fromUtf8(entry.payload)}`)
    if (++heard === expected) resolve()
  })
})
console.log(`LISTENING ${transport.id} ${transport.multiaddrs()[0] ?? ''}`)

if (values.say.length > 0) {
  await Promise.any([...members].filter((did) => did !== keyPair.did).map(async (did) => { await transport.waitForPeer(did, 30_000) }))
  for (const text of values.say) await gossip.publish('chat', utf8(text))
}
await done
// A speaker stays until its listeners have heard it (they hang up when done): the first entries on a
// fresh topic may reach them only through anti-entropy, a moment later.
if (values.say.length > 0 && transport.peers().length > 0) {
  await new Promise<void>((resolve) => { transport.onPeerChange(() => { if (transport.peers().length === 0) resolve() }) })
}
await gossip.close()
await transport.close()
