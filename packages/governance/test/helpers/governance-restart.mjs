// Layer 4 helper: runs the BUILT package in a fresh OS process.
//   write <dir>                          → builds state, prints "<proposalId>,<charterHash>,<aliceVoteCid>,<joinId>"
//   read <dir> open|executed <tokens>    → opens the store fresh, asserts exact values (proposals, votes, charter,
//                                          membership timeline, names and profiles), exits 1 on mismatch
import { isDeepStrictEqual } from 'node:util'
import { keyPairFromSeed } from '@icn/identity'
import { charterHash, cooperativeCharter, openGovernance } from '../../dist/index.js'

const START = 1_700_000_000_000
const WEEK = 7 * 24 * 3_600_000
const key = (i) => { const seed = new Uint8Array(32); seed[0] = 0x60; seed[31] = i; return keyPairFromSeed(seed) }
const [steward, alice, bob, carol, dave] = [key(1), key(2), key(3), key(4), key(5)]
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
  const { proposal: join } = await gov.propose(bob, {
    kind: 'membership', title: 'dave joins', payload: { action: 'add', member: dave.did, role: 'member', name: ' Dave ' }
  })
  await gov.submit(bob, join)
  await gov.setName(alice, 'Alice')
  await gov.shutdown()
  gov = await open(dir, START + WEEK)
  const vote = await gov.vote(alice, proposal, 'for')
  await gov.vote(bob, proposal, 'for')
  await gov.vote(carol, proposal, 'against')
  for (const k of [alice, bob, carol]) await gov.vote(k, join, 'for')
  await gov.setName(carol, 'Carol')
  const hash = charterHash(gov.charter())
  await gov.shutdown()
  process.stdout.write(`${proposal},${hash},${vote.envelope.cid},${join}\n`)
} else if (mode === 'read') {
  const [expected, tokens] = args
  const [id, hash, voteCid, join] = tokens.split(',')
  const executed = expected === 'executed'
  const gov = await open(dir, executed ? START + 2 * WEEK : START + WEEK)
  const p = gov.proposal(id)
  check('charter hash', charterHash(gov.charterAt(1)), hash)
  check('network id', gov.networkId, hash)
  check('charter version', gov.charter().version, executed ? 2 : 1)
  check('join state', gov.proposal(join)?.state, expected)
  // The timeline: dave is a member from the join's execution (START + 2 weeks) on, once it executed.
  const times = [START - 1, START + 2 * WEEK - 1, START + 2 * WEEK, START + 3 * WEEK]
  check('dave timeline', times.map((t) => gov.membershipAt(dave.did, t)), executed ? ['none', 'none', 'member', 'member'] : ['none', 'none', 'none', 'none'])
  check('carol timeline', times.map((t) => gov.membershipAt(carol.did, t)), ['member', 'member', 'member', 'member'])
  check('isMember', [alice, dave, key(99)].map((k) => gov.isMember(k.did)), [true, executed, false])
  check('names', [...gov.names()], [[alice.did, 'Alice'], [carol.did, 'Carol'], ...(executed ? [[dave.did, 'Dave']] : [])].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
  check('nameOf', [alice, carol, dave, bob].map((k) => gov.nameOf(k.did)), ['Alice', 'Carol', executed ? 'Dave' : undefined, undefined])
  check('profiles', gov.profiles().map((e) => [e.signer, e.payload]), [
    [alice.did, { domain: 'coop:l4', name: 'Alice', at: START }],
    [carol.did, { domain: 'coop:l4', name: 'Carol', at: START + WEEK }]
  ].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
  check('state', p?.state, expected)
  check('proposer', p?.proposer, alice.did)
  check('window', [p?.submittedAt, p?.opensAt, p?.closesAt], [START, START + WEEK, START + 2 * WEEK])
  check('payload', p?.payload, { key: 'ledger.creditLimit', subject: bob.did, value: { currency: 'hours', limit: '750' } })
  check('votes', gov.votes(id).map((v) => [v.voter, v.choice]).sort(), [[alice.did, 'for'], [bob.did, 'for'], [carol.did, 'against']].sort())
  check('alice vote cid', gov.votes(id).find((v) => v.voter === alice.did)?.cid, voteCid)
  check('tally', p?.tally, { electorate: 4, for: 2, against: 1, abstain: 0, quorumReached: true, approved: true, outcome: 'accepted' })
  // Both close at START + 2 weeks: deadlines at the same time run in id order.
  check('effects', gov.effects(), !executed ? [] : [
    { proposal: id, at: START + 2 * WEEK, applied: true, effect: { key: 'ledger.creditLimit', type: 'config-change', value: { currency: 'hours', limit: '750' }, subject: bob.did } },
    { proposal: join, at: START + 2 * WEEK, applied: true, effect: { type: 'member-added', member: dave.did, role: 'member', name: 'Dave' } }
  ].sort((a, b) => (a.proposal < b.proposal ? -1 : 1)).map((e, i) => ({ seq: i + 1, ...e })))
  await gov.shutdown()
} else {
  failures.push(`usage: governance-restart.mjs write|read <dir> ...`)
}
if (failures.length > 0) {
  process.stderr.write(`${failures.join('\n')}\n`)
  process.exit(1)
}
