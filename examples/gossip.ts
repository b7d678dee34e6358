// @icn/gossip: two nodes over the testkit's simulated network; a publish reaches the subscriber.
import { fromUtf8, keyPairFromSeed, utf8 } from '@icn/identity'
import { createGossip } from '@icn/gossip'
import { SimNetwork } from '@icn/testkit'

const net = new SimNetwork({ seed: 1 })
const [alice, bob] = [keyPairFromSeed(new Uint8Array(32).fill(1)), keyPairFromSeed(new Uint8Array(32).fill(2))]
const nodeA = await createGossip({ transport: net.addNode(alice.did), clock: net.clock, keyPair: alice })
const nodeB = await createGossip({ transport: net.addNode(bob.did), clock: net.clock, keyPair: bob })
nodeA.createTopic('notices')
nodeB.createTopic('notices')
nodeB.subscribe('notices', (entry) => {
  console.log(`bob received '${fromUtf8(entry.payload)}' from ${entry.author === alice.did ? 'alice' : entry.author}`)
})
// Published before bob's announcement of the topic reached alice: bob gets it at alice's next
// anti-entropy exchange with him (every 2 s); later publications are pushed at once.
await nodeA.publish('notices', utf8('bread is ready'))
await net.runFor(2_500)
console.log('bob holds:', nodeB.entries('notices').length)
await nodeA.close()
await nodeB.close()
