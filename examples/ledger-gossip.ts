// Two packages wired together: ledger entries travel between two nodes over gossip.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyPairFromSeed } from '@icn/identity'
import { createGossip } from '@icn/gossip'
import { openLedger } from '@icn/ledger'
import { SimNetwork } from '@icn/testkit'

const TOPIC = 'ledger:entries'
const net = new SimNetwork({ seed: 2 })
const dir = mkdtempSync(join(tmpdir(), 'icn-ledger-gossip-'))
const nodes = await Promise.all([1, 2].map(async (n) => {
  const keyPair = keyPairFromSeed(new Uint8Array(32).fill(n))
  const ledger = await openLedger({ path: join(dir, `node${n}`), clock: net.clock })
  const gossip = await createGossip({ transport: net.addNode(keyPair.did), clock: net.clock, keyPair })
  gossip.createTopic(TOPIC)
  // Every entry that arrives is applied to the local ledger (duplicates are harmless).
  gossip.subscribe(TOPIC, async (entry) => { await ledger.applyEnvelope(entry.payload) })
  return { keyPair, ledger, gossip }
}))
const [alice, bob] = nodes as [typeof nodes[0], typeof nodes[0]]
try {
  const paid = await alice.ledger.pay(alice.keyPair, bob.keyPair.did, 'HOUR', 120n, 'delivery')
  await alice.gossip.publish(TOPIC, paid.bytes)
  await net.runFor(2_500) // the first entry on a fresh topic travels by anti-entropy (docs/gossip.md)
  const back = await bob.ledger.pay(bob.keyPair, alice.keyPair.did, 'HOUR', 20n)
  await bob.gossip.publish(TOPIC, back.bytes)
  await net.runFor(200)
  for (const [name, node] of [['alice', alice], ['bob', bob]] as const) {
    console.log(`${name}'s node: alice ${node.ledger.balance(alice.keyPair.did, 'HOUR')}, bob ${node.ledger.balance(bob.keyPair.did, 'HOUR')}`)
  }
  console.log('same state root:', alice.ledger.stateRoot() === bob.ledger.stateRoot())
} finally {
  for (const node of nodes) {
    await node.gossip.close()
    await node.ledger.close()
  }
  rmSync(dir, { recursive: true, force: true })
}
