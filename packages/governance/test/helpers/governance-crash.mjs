// Crash helper: runs the BUILT package in a fresh OS process.
//   churn <dir>          → applies vote bursts forever, printing "committed <n>" after each burst's commit (killed by the test)
//   verify <dir> <min>   → opens what the killed process left, checks it holds together, exits 1 otherwise
import { isDeepStrictEqual } from 'node:util'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyPairFromSeed, signEnvelope, verifyEnvelope } from '@icn/identity'
import { COOPERATIVE_KIND_RULES, cooperativeCharter, latestBallots, openGovernance, tally, VOTE_DOMAIN } from '../../dist/index.js'

const START = 1_700_000_000_000
const WEEK = 7 * 24 * 3_600_000
const MEMBERS = 120
const key = (i) => { const seed = new Uint8Array(32); seed[0] = 0xc4; seed[31] = i; return keyPairFromSeed(seed) }
const keys = Array.from({ length: MEMBERS }, (_, i) => key(i))
const charter = cooperativeCharter({ domain: 'coop:crash', members: keys.map((k) => ({ did: k.did })) })
const fixedClock = (now) => ({ now: () => now, setTimeout: () => () => {} })
const open = (dir, now) => openGovernance({ clock: fixedClock(now) }, { path: dir, charter })
const fail = (message) => { process.stderr.write(`${message}\n`); process.exit(1) }

const [mode, dir, min] = process.argv.slice(2)
if (mode === 'churn') {
  let gov = await open(dir, START)
  const { proposal } = await gov.propose(keys[0], { kind: 'text', title: 'crash', payload: { text: '' } })
  await gov.submit(keys[0], proposal)
  await gov.shutdown()
  gov = await open(dir, START + WEEK + 1_000_000)
  const choices = ['for', 'against', 'abstain']
  let committed = 0
  for (let round = 0; ; round++) {
    const burst = keys.slice(0, 20).map((k, i) => signEnvelope(VOTE_DOMAIN, {
      domain: 'coop:crash', proposal, choice: choices[(round + i) % 3], castAt: START + WEEK + round * 20 + i
    }, keys[(round * 20 + i) % MEMBERS]))
    await Promise.all(burst.map((e) => gov.apply(e)))
    committed += burst.length
    process.stdout.write(`committed ${committed} ${proposal}\n`)
  }
} else if (mode === 'verify') {
  const gov = await open(dir, START + WEEK + 1_000_000)
  const [p] = gov.proposals('open')
  if (p === undefined) fail('no open proposal survived')
  const votes = gov.votes(p.id)
  for (const v of votes) {
    verifyEnvelope(v.envelope, VOTE_DOMAIN)
    if (v.voter !== v.envelope.signer || v.choice !== v.envelope.payload.choice || v.castAt !== v.envelope.payload.castAt) fail(`vote ${v.cid} disagrees with its envelope`)
  }
  // Every acknowledged burst covers distinct voters until all members voted once.
  const expectedVoters = Math.min(MEMBERS, Number(min))
  if (votes.length < expectedVoters) fail(`only ${votes.length} voters survived, ${expectedVoters} were acknowledged`)
  const expected = tally(latestBallots(votes.map((v) => ({ voter: v.voter, choice: v.choice, castAt: v.castAt, cid: v.cid }))).values(), new Set(keys.map((k) => k.did)), COOPERATIVE_KIND_RULES.text)
  if (!isDeepStrictEqual(gov.tally(p.id), expected)) fail(`stored tally ${JSON.stringify(gov.tally(p.id))} is not ${JSON.stringify(expected)}`)
  // The full export validates as a snapshot (every signature, every reference).
  const state = await gov.exportState()
  await gov.shutdown()
  const other = await mkdtemp(join(tmpdir(), 'icn-gov-crash-'))
  try {
    const copy = await openGovernance({ clock: fixedClock(START + WEEK + 1_000_000) }, { path: other, charter })
    await copy.restoreState(state)
    if (copy.votes(p.id).length !== votes.length) fail('restored copy lost votes')
    await copy.shutdown()
  } finally {
    await rm(other, { recursive: true, force: true })
  }
  process.stdout.write(`ok ${votes.length}\n`)
} else {
  fail('usage: governance-crash.mjs churn|verify <dir> [min]')
}
