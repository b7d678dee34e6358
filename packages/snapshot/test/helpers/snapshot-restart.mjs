// Layer 4 helper: `write <dir>` runs a 3-node snapshot over the simulated
// network with tokens in flight, persists every node's snapshot store under
// <dir>/<i>, and prints `snapshotId,rootHex`. `read <dir> <snapshotId> <rootHex>`
// opens node 1's store in a fresh process, restores a fresh subsystem from the
// snapshot and checks exact values; exits 1 on any mismatch. `damaged <dir> <clockMs>`
// opens node 1's store and prints what it moved aside now and what its damaged/ holds.
import { decode, encode, keyPairFromSeed, toHex } from '@icn/identity'
import { ManualClock, SeededRng, SimNetwork } from '@icn/testkit'
import { createSnapshotNode, merkleRoot, openSnapshotStore, verifyInclusion } from '../../dist/index.js'

const SEED = 4004
const keys = (() => { const rng = new SeededRng(SEED); return [0, 1, 2].map(() => keyPairFromSeed(rng.bytes(32))) })()

/** A small real subsystem: named accounts with balances, exported canonically, restored atomically. */
class Accounts {
  name = 'accounts'
  constructor (balances) { this.balances = { ...balances } }
  async exportState () { return encode({ balances: this.balances }) }
  async restoreState (bytes) {
    const value = decode(bytes)
    if (typeof value?.balances !== 'object') throw new Error('bad accounts state')
    this.balances = { ...value.balances }
  }
}

function fail (message) {
  console.error(message)
  process.exit(1)
}

async function write (dir) {
  const clock = new ManualClock()
  const net = new SimNetwork({ seed: SEED, clock, defaults: { minDelayMs: 5, maxDelayMs: 5 } })
  const stores = []
  const nodes = []
  for (const [i, keyPair] of keys.entries()) {
    const endpoint = net.addNode(keyPair.did)
    const accounts = new Accounts({ [`member-${i}`]: 100 * (i + 1), pool: 7 })
    const snapHandlers = new Set()
    let snap
    endpoint.onMessage(async (from, frame) => {
      snap?.observeIncoming(from, frame)
      if (frame[0] === 0) for (const h of snapHandlers) await h(from, frame.subarray(1))
      else accounts.balances.pool += decode(frame.subarray(1)).amount
    })
    const transport = {
      id: keyPair.did,
      send: (to, bytes) => endpoint.send(to, Uint8Array.of(0, ...bytes)),
      onMessage: (h) => { snapHandlers.add(h); return () => snapHandlers.delete(h) },
      peers: () => endpoint.peers()
    }
    const store = await openSnapshotStore({ path: `${dir}/${i}` })
    snap = createSnapshotNode({ keyPair, transport, clock, trustOf: () => 1, providers: [accounts], store })
    stores.push(store)
    nodes.push({ snap, accounts, endpoint })
  }
  const { snapshotId, outcome } = nodes[1].snap.startSnapshot()
  // Node 0 sends 25 into node 1's pool before it hears of the snapshot: recorded in flight on 0→1.
  nodes[0].accounts.balances.pool -= 25
  nodes[0].endpoint.send(keys[1].did, Uint8Array.of(1, ...encode({ amount: 25 })))
  await net.runUntilIdle()
  const result = await outcome
  if (result.status !== 'complete') fail(`snapshot failed: ${result.reason}`)
  for (const n of nodes) await n.snap.close()
  for (const s of stores) await s.close()
  console.log(`${snapshotId},${toHex(result.snapshot.root)}`)
}

async function read (dir, snapshotId, rootHex) {
  const store = await openSnapshotStore({ path: `${dir}/1` })
  const record = await store.load(snapshotId)
  const checks = [
    ['root', toHex(record.root), rootHex],
    ['recomputed root', toHex(merkleRoot(record.leaves)), rootHex],
    ['node', record.node, keys[1].did],
    ['initiator', record.initiator, keys[1].did],
    ['participants', record.participants.join(','), keys.map((k) => k.did).sort().join(',')]
  ]
  const { channels } = decode(record.channelState)
  const inFlight = channels[keys[0].did].map((f) => f[0] === 1 ? decode(f.subarray(1)).amount : -1)
  checks.push(['in flight 0→1', JSON.stringify(inFlight), '[25]'], ['in flight 2→1', JSON.stringify(channels[keys[2].did]), '[]'])
  // Restore a fresh subsystem through a fresh node in this process.
  const accounts = new Accounts({})
  const idle = { id: keys[1].did, send: () => {}, onMessage: () => () => {}, peers: () => [] }
  const snap = createSnapshotNode({ keyPair: keys[1], transport: idle, clock: new ManualClock(), trustOf: () => 1, providers: [accounts], store })
  await snap.restore(snapshotId)
  const sorted = (o) => JSON.stringify(Object.entries(o).sort(([a], [b]) => a < b ? -1 : 1))
  checks.push(['restored balances', sorted(accounts.balances), sorted({ 'member-1': 200, pool: 7 })])
  const proof = snap.inclusionProof(snapshotId)
  checks.push(['inclusion proof', String(verifyInclusion(proof) && toHex(proof.root) === rootHex), 'true'])
  await snap.close()
  await store.close()
  const wrong = checks.filter(([, got, want]) => got !== want)
  if (wrong.length > 0) fail(wrong.map(([what, got, want]) => `${what}: got ${got}, want ${want}`).join('\n'))
  console.log('ok')
}

/** Opens node 1's store with the clock at `at` and prints what it reported, what it lists as damaged, and the snapshot ids it holds. */
async function damaged (dir, at) {
  const reported = []
  const store = await openSnapshotStore({ path: `${dir}/1`, clock: new ManualClock(Number(at)), onDamaged: (d) => reported.push(d) })
  const ids = (await store.list()).map((s) => s.snapshotId)
  console.log(JSON.stringify({ reported, damaged: store.damaged(), ids }))
  await store.close()
}

const [mode, dir, ...rest] = process.argv.slice(2)
if (mode === 'write' && dir) await write(dir)
else if (mode === 'read' && dir && rest.length === 2) await read(dir, rest[0], rest[1])
else if (mode === 'damaged' && dir && rest.length === 1) await damaged(dir, rest[0])
else fail('usage: snapshot-restart.mjs write <dir> | read <dir> <snapshotId> <rootHex> | damaged <dir> <clockMs>')
