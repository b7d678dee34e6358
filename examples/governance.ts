// @icn/governance: a cooperative's charter, a proposal through deliberation and vote, its effect.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyPairFromSeed } from '@icn/identity'
import { cooperativeCharter, openGovernance } from '@icn/governance'
import { ManualClock } from '@icn/testkit'

const [steward, alice, bob] = [1, 2, 3].map((n) => keyPairFromSeed(new Uint8Array(32).fill(n))) as [
  ReturnType<typeof keyPairFromSeed>, ReturnType<typeof keyPairFromSeed>, ReturnType<typeof keyPairFromSeed>
]
const charter = cooperativeCharter({
  domain: 'coop:bakery',
  members: [{ did: steward.did, role: 'steward' }, { did: alice.did }, { did: bob.did }]
})
const dir = mkdtempSync(join(tmpdir(), 'icn-governance-'))
const clock = new ManualClock() // time moves only when told: deliberation and voting take a week each here
const gov = await openGovernance({ clock, trustOf: () => 0.5 }, { path: dir, charter })
try {
  gov.onEffect((record) => { console.log('effect:', JSON.stringify(record.effect)) })
  const { proposal } = await gov.propose(alice, {
    kind: 'config-change',
    title: 'Raise Bob’s credit limit',
    payload: { key: 'ledger.creditLimit', value: { currency: 'HOUR', limit: '500' }, subject: bob.did }
  })
  await gov.submit(alice, proposal)
  const { opensAt, closesAt } = gov.proposal(proposal)!
  await clock.advanceAsync(opensAt! - clock.now())
  console.log('state:', gov.proposal(proposal)!.state)
  for (const voter of [steward, alice, bob]) await gov.vote(voter, proposal, 'for')
  console.log('tally:', JSON.stringify(gov.tally(proposal)))
  await clock.advanceAsync(closesAt! - clock.now())
  await new Promise((resolve) => setImmediate(resolve)) // lets the scheduler's close run
  console.log('state:', gov.proposal(proposal)!.state)
} finally {
  await gov.close()
  rmSync(dir, { recursive: true, force: true })
}
