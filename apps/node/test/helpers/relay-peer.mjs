#!/usr/bin/env node
// A member relaying strangers' ledger entries: a raw ICN peer under a member's identity (read from that
// member's data dir) connects to a node and pushes, on `ledger:tx`, in this order on one stream:
//   1. STRANGER  a payment stranger → payee, signed by the stranger, in a gossip entry the stranger signed
//                (relayed as gossip relays: the member forwards an entry it did not author);
//   2. TO-STRANGER  a payment member → stranger, signed by the member, in a gossip entry the member signed
//                (gossip admits the author; the ledger must refuse the non-member counterparty);
//   3. CONTROL   a payment member → payee of `--amount`, which every node must apply: once it is applied,
//                the frames before it on the same stream have been judged.
//   relay-peer.mjs --target <multiaddr> --node-did <did> --network <network id> --member-dir <data dir>
//                  --payee <did> [--amount 3]
// Prints "READY <member did>" once the node's ICN stream is open, then one line per frame sent
// ("SENT <name> <ledger entry id> <author>"), then "DONE"; on SIGTERM closes the transport and exits 0.
import { createEntry, encodeMessage } from '@icn/gossip'
import { generateKeyPair } from '@icn/identity'
import { signEntry } from '@icn/ledger'
import { createLibp2pTransport, createLogger, loadIdentity } from '../../dist/index.mjs'
import './libp2p-guard.mjs'

const args = process.argv.slice(2)
const value = (flag, fallback) => {
  const i = args.indexOf(flag)
  return i === -1 ? fallback : args[i + 1]
}
const target = value('--target')
const nodeDid = value('--node-did')
const payee = value('--payee')
const amount = BigInt(value('--amount', '3'))
const member = await loadIdentity(value('--member-dir'))
const stranger = generateKeyPair()
const transport = await createLibp2pTransport({ keyPair: member, logger: createLogger('silent') }, { peers: [target], protocolPrefix: `/icn/${value('--network')}` })
await transport.waitForPeer(nodeDid, 20_000)
console.log(`READY ${member.did}`)

/** A push frame: the ledger payment `from` → `to`, signed by `from`, in a gossip entry signed by `gossipAuthor`. */
function pushFrame (from, to, pay, gossipAuthor, counter) {
  const now = Date.now()
  const payment = signEntry({
    author: from.did,
    seq: 1,
    timestamp: now,
    deltas: [{ account: from.did, currency: 'ICN', debit: pay }, { account: to, currency: 'ICN', credit: pay }],
    acks: []
  }, from)
  const entry = createEntry(gossipAuthor, { topic: 'ledger:tx', payload: payment.bytes, clock: { [gossipAuthor.did]: counter }, timestamp: now }, { compressThreshold: 4096, maxPayloadBytes: 1 << 20 })
  return { id: payment.id, frame: encodeMessage({ t: 'push', entries: [entry.bytes] }) }
}

// The member's own chain gets one entry at seq 1 (the TO-STRANGER payment is refused, so it stores nothing
// and the CONTROL payment is the member's first entry).
const frames = [
  ['STRANGER', stranger, pushFrame(stranger, payee, 5n, stranger, 1)],
  ['TO-STRANGER', member, pushFrame(member, stranger.did, 4n, member, 1)],
  ['CONTROL', member, pushFrame(member, payee, amount, member, 2)]
]
for (const [name, author, { id, frame }] of frames) {
  transport.send(nodeDid, frame)
  console.log(`SENT ${name} ${id} ${author.did}`)
}
console.log('DONE')

process.on('SIGTERM', () => {
  transport.close().then(() => process.exit(0), (err) => { console.error(err); process.exit(1) })
})
