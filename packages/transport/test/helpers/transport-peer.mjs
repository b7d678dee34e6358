#!/usr/bin/env node
// One transport process for the multi-process transport test. Scripted, no stdin:
//   --seed <hex>             node key seed (32 bytes hex)
//   --peer <multiaddr>       peer to dial (repeatable)
//   --send <did>=<n>         once a stream to <did> is open, send n frames "seq:<i>"
//   --expect <did>=<n>       print "COMPLETE <did> <n> ordered|unordered" after n frames from <did>
// Prints "READY <did> <peerId> <multiaddr>" when listening; on SIGTERM prints
// "PEERS <json>" and "STATS <json>", closes the transport and exits 0.
import { createLibp2pTransport } from '../../dist/index.js'
import { keyPairFromSeed, fromHex, fromUtf8, utf8 } from '@icn/identity'
import './libp2p-guard.mjs'

const args = process.argv.slice(2)
const values = (flag) => args.flatMap((a, i) => a === flag ? [args[i + 1]] : [])
const keyPair = keyPairFromSeed(fromHex(values('--seed')[0]))
const listen = values('--listen')
const transport = await createLibp2pTransport({ keyPair }, { peers: values('--peer'), listen: listen.length > 0 ? listen : undefined, redialMinMs: 100, maxFrameBytes: 64 * 1024 })

const received = new Map()
const expected = new Map(values('--expect').map((v) => { const [did, n] = v.split('='); return [did, Number(n)] }))
transport.onMessage((from, bytes) => {
  const state = received.get(from) ?? { count: 0, ordered: true }
  const seq = Number(fromUtf8(bytes).split(':')[1])
  if (seq !== state.count) state.ordered = false
  state.count++
  received.set(from, state)
  if (expected.get(from) === state.count) console.log(`COMPLETE ${from} ${state.count} ${state.ordered ? 'ordered' : 'unordered'}`)
})
console.log(`READY ${transport.id} ${transport.peerId} ${transport.multiaddrs()[0]}`)

for (const spec of values('--send')) {
  const [did, n] = spec.split('=')
  await transport.waitForPeer(did, 20_000)
  for (let i = 0; i < Number(n); i++) transport.send(did, utf8(`seq:${i}`))
  console.log(`SENT ${did} ${n}`)
}

process.on('SIGTERM', () => {
  console.log(`PEERS ${JSON.stringify(transport.connectedPeers())}`)
  console.log(`STATS ${JSON.stringify(transport.stats)}`)
  transport.close().then(() => process.exit(0), (err) => { console.error(err); process.exit(1) })
})
