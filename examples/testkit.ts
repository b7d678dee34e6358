// @icn/testkit: a simulated network with a manual clock: FIFO links, delays, partitions.
import { utf8, fromUtf8 } from '@icn/identity'
import { SimNetwork } from '@icn/testkit'

const net = new SimNetwork({ seed: 7, defaults: { minDelayMs: 20, maxDelayMs: 20 } })
const [a, b] = [net.addNode('a'), net.addNode('b')]
b.onMessage((from, bytes) => { console.log(`b got '${fromUtf8(bytes)}' from ${from} at +${net.clock.now() - start} ms`) })
const start = net.clock.now()
a.send('b', utf8('one'))
a.send('b', utf8('two'))
await net.runFor(100)
net.partition([['a'], ['b']])
a.send('b', utf8('lost in the partition'))
await net.runFor(100)
net.heal()
a.send('b', utf8('three'))
await net.runFor(100)
console.log('stats:', JSON.stringify(net.stats))
