// @icn/snapshot over a network: three nodes agree on one snapshot of their state, then verify it.
import { type KeyPair, decode, encode, keyPairFromSeed } from '@icn/identity'
import { type SnapshotNode, type StateProvider, createSnapshotNode } from '@icn/snapshot'
import { SimNetwork } from '@icn/testkit'

// Any subsystem is a state provider: it exports its state as bytes and restores from them.
class Counter implements StateProvider {
  readonly name = 'counter'
  constructor (public value: number) {}
  async exportState (): Promise<Uint8Array> { return encode({ value: this.value }) }
  async restoreState (state: Uint8Array): Promise<void> { this.value = (decode(state) as { value: number }).value }
}

// A simulated FIFO network (@icn/testkit); over a real one, give each node an @icn/transport instead.
const net = new SimNetwork({ seed: 1, defaults: { minDelayMs: 5, maxDelayMs: 20 } })
const keys: KeyPair[] = [1, 2, 3].map((n) => keyPairFromSeed(new Uint8Array(32).fill(n)))
const counters = keys.map((_, i) => new Counter(10 * (i + 1)))
const nodes: SnapshotNode[] = keys.map((keyPair, i) => createSnapshotNode({
  keyPair,
  transport: net.addNode(keyPair.did),
  clock: net.clock,
  trustOf: () => 1, // every participant trusted (a node asks its trust graph here)
  providers: [counters[i]!]
}))

const { snapshotId, outcome } = nodes[0]!.startSnapshot()
await net.runUntilIdle()
const result = await outcome
if (result.status !== 'complete') throw new Error(`snapshot failed: ${result.reason}`)
console.log('snapshot:', result.status, 'participants:', result.snapshot.participants.length)
const roots = await Promise.all(nodes.map(async (node) => await node.waitForSnapshot(snapshotId)))
console.log('same root on every node:', roots.every((r) => r.status === 'complete' && Buffer.compare(r.snapshot.root, result.snapshot.root) === 0))

counters[1]!.value = 999 // the state moves on…
const verifying = nodes[2]!.verify(snapshotId)
await net.runUntilIdle()
console.log('verified by every participant:', (await verifying).valid)
const restoring = nodes[1]!.restore(snapshotId)
await net.runUntilIdle()
await restoring
console.log('restored counter:', counters[1]!.value)
for (const node of nodes) await node.close()
