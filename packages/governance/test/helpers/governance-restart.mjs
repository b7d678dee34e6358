// Layer 4 helper: runs the BUILT package in a fresh OS process.
//   write <dir>                          → builds state, prints "<proposalId>,<charterHash>,<aliceVoteCid>"
//   read <dir> open|executed <tokens>    → opens the store fresh, asserts exact values, exits 1 on mismatch
import { isDeepStrictEqual } from 'node:util'
import { keyPairFromSeed } from '@icn/identity'
import { charterHash, cooperativeCharter, openGovernance } from '../../dist/index.js'

const START = 1_700_000_000_000
const WEEK = 7 * 24 * 3_600_000
const key = (i) => { const seed = new Uint8Array(32); seed[0] = 0x60; seed[31] = i; return keyPairFromSeed(seed) }
const [steward, alice, bob, carol] = [key(1), key(2), key(3), key(4)]
const charter = cooperativeCharter({
  domain: 'coop:l4',
  members: [{ did: steward.did, role: 'steward' }, { did: alice.did }, { did: bob.did }, { did: carol.did }]
})
// The scheduler's catch-up at open does the clock-driven work; no timer needs to fire in these short runs.
const fixedClock = (now) => ({ now: () => now, setTimeout: () => () => {} })
const open = (dir, now) => openGovernance({ clock: fixedClock(now), trustOf: () => 0.5 }, { path: dir, charter })

const failures = []
const check = (what, actual, expected) => {
  if (!isDeepStrictEqual(actual, expected)) failures.push(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`)
}

const [mode, dir, ...args] = process.argv.slice(2)
if (mode === 'write') {
  let gov = await open(dir, START)
  const { proposal } = await gov.propose(alice, {
    kind: 'config-change', title: 'credit limit for bob',
    payload: { key: 'ledger.creditLimit', value: { currency: 'hours', limit: '750' }, subject: bob.did }
  })
  await gov.submit(alice, proposal)
  await gov.shutdown()
  gov = await open(dir, START + WEEK)
  const vote = await gov.vote(alice, proposal, 'for')
  await gov.vote(bob, proposal, 'for')
  await gov.vote(carol, proposal, 'against')
  const hash = charterHash(gov.charter())
  await gov.shutdown()
  process.stdout.write(`${proposal},${hash},${vote.envelope.cid}\n`)
} else if (mode === 'read') {
  const [expected, tokens] = args
  const [id, hash, voteCid] = tokens.split(',')
  const gov = await open(dir, expected === 'open' ? START + WEEK : START + 2 * WEEK)
  const p = gov.proposal(id)
  check('charter hash', charterHash(gov.charter()), hash)
  check('charter version', gov.charter().version, 1)
  check('state', p?.state, expected)
  check('proposer', p?.proposer, alice.did)
  check('window', [p?.submittedAt, p?.opensAt, p?.closesAt], [START, START + WEEK, START + 2 * WEEK])
  check('payload', p?.payload, { key: 'ledger.creditLimit', subject: bob.did, value: { currency: 'hours', limit: '750' } })
  check('votes', gov.votes(id).map((v) => [v.voter, v.choice]).sort(), [[alice.did, 'for'], [bob.did, 'for'], [carol.did, 'against']].sort())
  check('alice vote cid', gov.votes(id).find((v) => v.voter === alice.did)?.cid, voteCid)
  check('tally', p?.tally, { electorate: 4, for: 2, against: 1, abstain: 0, quorumReached: true, approved: true, outcome: 'accepted' })
  check('effects', gov.effects(), expected === 'open' ? [] : [{
    seq: 1, proposal: id, at: START + 2 * WEEK, applied: true,
    effect: { key: 'ledger.creditLimit', type: 'config-change', value: { currency: 'hours', limit: '750' }, subject: bob.did }
  }])
  await gov.shutdown()
} else {
  failures.push(`usage: governance-restart.mjs write|read <dir> ...`)
}
if (failures.length > 0) {
  process.stderr.write(`${failures.join('\n')}\n`)
  process.exit(1)
}
