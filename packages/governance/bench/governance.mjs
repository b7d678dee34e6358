#!/usr/bin/env node
// Prints vote recording throughput and tally times for one proposal in a
// domain of ICN_BENCH_MEMBERS members (default 10,000), every member voting.
// Runs the built package: `pnpm build && pnpm bench`.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyPairFromSeed, signEnvelope } from '@icn/identity'
import { flushMicrotasks, ManualClock } from '@icn/testkit'
import { COOPERATIVE_KIND_RULES, cooperativeCharter, DAY_MS, openGovernance, tally, VOTE_DOMAIN } from '../dist/index.js'

const MEMBERS = Number(process.env.ICN_BENCH_MEMBERS ?? 10_000)
const SEQUENTIAL = Math.min(MEMBERS, Number(process.env.ICN_BENCH_SEQUENTIAL ?? 300))
const BURST = Number(process.env.ICN_BENCH_BURST ?? 250)
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const key = (i) => { const seed = new Uint8Array(32); seed[0] = 0xbe; seed[29] = i >> 16; seed[30] = (i >> 8) & 0xff; seed[31] = i & 0xff; return keyPairFromSeed(seed) }

const dir = await mkdtemp(join(tmpdir(), 'icn-gov-bench-'))
try {
  let t = process.hrtime.bigint()
  const keys = Array.from({ length: MEMBERS }, (_, i) => key(i))
  const charter = cooperativeCharter({ domain: 'coop:bench', members: keys.map((k, i) => ({ did: k.did, role: i === 0 ? 'steward' : 'member' })) })
  const setupMs = ms(t)

  const clock = new ManualClock(1_700_000_000_000)
  t = process.hrtime.bigint()
  const gov = await openGovernance({ clock }, { path: dir, charter })
  const openMs = ms(t)
  const { proposal } = await gov.propose(keys[1], { kind: 'text', title: 'bench', payload: { text: 'all vote' } })
  await gov.submit(keys[1], proposal)
  await clock.advanceAsync(7 * DAY_MS)
  const castAt = clock.now()
  const choices = ['for', 'for', 'against', 'abstain']

  t = process.hrtime.bigint()
  const envelopes = keys.map((k, i) => signEnvelope(VOTE_DOMAIN, { domain: 'coop:bench', proposal, choice: choices[i % 4], castAt }, k))
  const signMs = ms(t)

  // One at a time, each awaited: one durable commit (disk flush) per vote.
  const sequential = envelopes.slice(0, SEQUENTIAL)
  t = process.hrtime.bigint()
  for (const envelope of sequential) await gov.apply(envelope)
  const sequentialMs = ms(t)

  // The rest arrive in bursts (as gossip delivers them): each burst shares one commit.
  const rest = envelopes.slice(SEQUENTIAL)
  t = process.hrtime.bigint()
  for (let i = 0; i < rest.length; i += BURST) await Promise.all(rest.slice(i, i + BURST).map((e) => gov.apply(e)))
  const burstMs = ms(t)

  const ballots = envelopes.map((e) => ({ voter: e.signer, choice: e.payload.choice, castAt: e.payload.castAt, cid: e.cid }))
  const electorate = new Set(keys.map((k) => k.did))
  const pure = []
  for (let i = 0; i < 20; i++) { t = process.hrtime.bigint(); tally(ballots, electorate, COOPERATIVE_KIND_RULES.text); pure.push(ms(t)) }
  const stored = []
  let live
  for (let i = 0; i < 5; i++) { t = process.hrtime.bigint(); live = gov.tally(proposal); stored.push(ms(t)) }

  t = process.hrtime.bigint()
  clock.advance(7 * DAY_MS)
  await flushMicrotasks()
  const closeMs = ms(t)
  const closed = gov.proposal(proposal)
  const exportStart = process.hrtime.bigint()
  const state = await gov.exportState()
  const exportMs = ms(exportStart)
  await gov.close()

  const rate = (n, millis) => `${Math.round(n / (millis / 1000)).toLocaleString('en')} /s`
  console.log(`\n@icn/governance — one proposal, ${MEMBERS.toLocaleString('en')} members, every member votes`)
  console.log(`keys + genesis charter: ${setupMs.toFixed(0)} ms; open store: ${openMs.toFixed(0)} ms`)
  console.log(['measure', 'figure'].join(' | '))
  console.log(`sign vote envelopes | ${rate(MEMBERS, signMs)}`)
  console.log(`record votes one at a time (verify + enforce + 1 durable commit each), ${SEQUENTIAL} votes | ${rate(SEQUENTIAL, sequentialMs)}`)
  console.log(`record votes in bursts of ${BURST} (1 durable commit per burst), ${rest.length} votes | ${rate(rest.length, burstMs)}`)
  console.log(`ratio burst/one-at-a-time | ${((rest.length / burstMs) / (SEQUENTIAL / sequentialMs)).toFixed(1)}x`)
  console.log(`tally, pure (in-memory ballots) | median ${median(pure).toFixed(2)} ms`)
  console.log(`tally, from LMDB (gov.tally) | median ${median(stored).toFixed(1)} ms`)
  console.log(`close at deadline (scheduler: tally + commit) | ${closeMs.toFixed(1)} ms`)
  console.log(`exportState (${(state.length / 1024 / 1024).toFixed(1)} MiB) | ${exportMs.toFixed(0)} ms`)
  console.log(`ratio stored/pure tally | ${(median(stored) / median(pure)).toFixed(1)}x`)
  console.log(`result: ${closed.state}, for ${closed.result.for}, against ${closed.result.against}, abstain ${closed.result.abstain} (live tally before close: ${live.for}/${live.against}/${live.abstain})`)
} finally {
  await rm(dir, { recursive: true, force: true })
}
