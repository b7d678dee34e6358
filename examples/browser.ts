// Identity and gossip in any runtime (the pack test runs it on Node and, bundled, in Chromium):
// sign and verify, then two gossip nodes exchange an entry over an in-memory transport.
import { fromUtf8, keyPairFromSeed, sign, systemClock, utf8, verify } from '@icn/identity'
import { type MessageTransport, createGossip } from '@icn/gossip'

type Handler = (from: string, bytes: Uint8Array) => void | Promise<void>

/** Two transports joined back to back; `setTimeout` keeps each direction in order. */
function joined (a: string, b: string): [MessageTransport, MessageTransport] {
  const handlers = new Map<string, Handler>()
  const end = (self: string, other: string): MessageTransport => ({
    id: self,
    send: (peer, bytes) => { setTimeout(() => { void handlers.get(peer)?.(self, bytes) }, 1) },
    onMessage: (handler) => { handlers.set(self, handler); return () => { handlers.delete(self) } },
    peers: () => [other]
  })
  return [end(a, b), end(b, a)]
}

const [alice, bob] = [keyPairFromSeed(new Uint8Array(32).fill(1)), keyPairFromSeed(new Uint8Array(32).fill(2))]
const signature = sign(utf8('hello'), alice)
console.log('signature verifies:', verify(signature, utf8('hello'), alice.publicKey))
console.log('tampered verifies:', verify(signature, utf8('hellO'), alice.publicKey))

const [toBob, toAlice] = joined(alice.did, bob.did)
const nodeA = await createGossip({ transport: toBob, clock: systemClock, keyPair: alice })
const nodeB = await createGossip({ transport: toAlice, clock: systemClock, keyPair: bob })
nodeA.createTopic('notices')
nodeB.createTopic('notices')
const received = new Promise<string>((resolve) => { nodeB.subscribe('notices', (entry) => { resolve(fromUtf8(entry.payload)) }) })
// 2 KiB of text: over the compression threshold, so the entry travels deflated. Published right after
// createTopic, it arrives at the next anti-entropy exchange (about 2 s).
await nodeA.publish('notices', utf8('bread is ready. '.repeat(128)))
const text = await received
console.log(`bob received ${text.length} characters: '${text.slice(0, 15)}'`)
await nodeA.close()
await nodeB.close()
console.log('done')
