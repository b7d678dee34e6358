#!/usr/bin/env node
// Layer 4 for the composed node. Runs the real node (built dist/) in this process on a data dir.
//   write <dir>           init the dir in a cooperative of the node and the payee (a payment moves members'
//                         accounts only), start the node, write through every subsystem, stop; print the state as JSON
//   read <dir> <json>     start a fresh node on the same dir, read the same fields, exit 1 unless they equal <json>
import { encodeEnvelope, keyPairFromSeed, toJson } from '@icn/identity'
import { createAttestation } from '@icn/trust'
import { TOPICS, createLogger, initDataDir, loadConfig, startNode, writeCharterFile } from '../../dist/index.mjs'

const [mode, dir, expected] = process.argv.slice(2)
const payee = keyPairFromSeed(new Uint8Array(32).fill(42)).did

function observe (node, tokens) {
  const proposal = node.governance.proposal(tokens.proposalId)
  return {
    did: node.did,
    entryId: tokens.entryId,
    ledgerRoot: node.ledger.stateRoot(),
    ledgerEntries: node.ledger.entryCount(),
    payerBalance: node.ledger.balance(node.did, 'ICN').toString(),
    payeeBalance: node.ledger.balance(payee, 'ICN').toString(),
    storedEntry: node.ledger.entry(tokens.entryId)?.id ?? null,
    attestationCid: node.trust.edge(node.did, payee, 'economic')?.cid ?? null,
    edgeScore: node.trust.edge(node.did, payee, 'economic')?.payload.score ?? null,
    // Computed, with age decay in whole minutes: equal across processes up to that decay (a read in the next minute differs by ~1e-8).
    trustScore: node.trust.trustOf(node.did, payee, 'economic'),
    proposalId: tokens.proposalId,
    proposalTitle: proposal?.title ?? null,
    proposalState: proposal?.state ?? null,
    // Gossip persists its topics and clock; its entries are a cache of recent ones, and the stores
    // serve history: this node's own chain as history sync hands it to a peer catching up.
    gossipTopics: node.gossip.topics().map((t) => t.name),
    servedChain: node.ledger.chainRange(node.did, 1).entries.map((bytes) => Buffer.from(bytes).toString('hex'))
  }
}

const logger = createLogger('silent')
if (mode === 'write') {
  const { did } = await initDataDir(dir)
  await writeCharterFile(dir, { domain: 'coop:layer4', members: [{ did, role: 'steward' }, { did: payee, role: 'member' }] })
  const node = await startNode({ logger }, await loadConfig(dir))
  const entry = await node.ledger.pay(node.keyPair, payee, 'ICN', 1234n, 'layer4')
  await node.gossip.publish(TOPICS.ledger, entry.bytes)
  const attestation = createAttestation(node.keyPair, { target: payee, graph: 'economic', score: 0.75, createdAt: Date.now() })
  await node.trust.attest(attestation)
  await node.gossip.publish(TOPICS.trust, encodeEnvelope(attestation))
  const proposed = await node.governance.propose(node.keyPair, { kind: 'text', title: 'Layer 4 proposal', payload: { text: 'persisted across processes' } })
  const state = observe(node, { entryId: entry.id, proposalId: proposed.proposal })
  await node.stop()
  process.stdout.write(toJson(state) + '\n')
} else if (mode === 'read') {
  const want = JSON.parse(expected)
  const node = await startNode({ logger }, await loadConfig(dir))
  const got = JSON.parse(toJson(observe(node, want)))
  await node.stop()
  const same = (k) => k === 'trustScore' ? Math.abs(want[k] - got[k]) < 1e-6 : JSON.stringify(want[k]) === JSON.stringify(got[k])
  const mismatches = Object.keys(want).filter((k) => !same(k))
  if (mismatches.length > 0 || Object.keys(got).length !== Object.keys(want).length) {
    process.stderr.write(`mismatch in ${mismatches.join(', ')}:\nwant ${JSON.stringify(want)}\ngot  ${JSON.stringify(got)}\n`)
    process.exit(1)
  }
  process.stdout.write('OK\n')
} else {
  process.stderr.write('usage: node-state.mjs write <dir> | read <dir> <json>\n')
  process.exit(2)
}
