import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  type Charter, type ProposalState, charterHash, COOPERATIVE_KIND_RULES, cooperativeCharter, DAY_MS, findTransition, HOUR_MS,
  InvalidCharterError, InvalidTransitionError, TRANSITIONS, validateCharter
} from '../src/index.js'
import { transition } from '../src/transitions.js'
import { alice, bob, steward } from './fixtures.js'

describe('charter', () => {
  it('cooperative profile defaults', () => {
    const charter = cooperativeCharter({ domain: 'coop:x', members: [{ did: alice.did }, { did: steward.did, role: 'steward' }] })
    expect(charter.version).toBe(1)
    expect(charter.previous).toBeNull()
    expect(charter.amendedBy).toBeNull()
    expect(charter.rules.name).toBe('coop:x')
    expect(charter.rules.minJoinTrust).toBe(0.3)
    expect(charter.members).toEqual([alice.did, steward.did].sort().map((did) => ({ did, role: did === steward.did ? 'steward' : 'member', frozen: false })))
    expect(charter.rules.kinds.text).toEqual({
      proposers: ['member', 'steward'], quorumBps: 5000, approvalBps: 5000,
      deliberation: { defaultMs: 7 * DAY_MS, minMs: DAY_MS, maxMs: 30 * DAY_MS }, votingMs: 7 * DAY_MS
    })
    for (const kind of ['freeze', 'unfreeze', 'veto', 'force-close'] as const) {
      expect(charter.rules.kinds[kind]).toEqual({ proposers: ['steward'], quorumBps: 6700, approvalBps: 7500, deliberation: { defaultMs: 0, minMs: 0, maxMs: 0 }, votingMs: 24 * HOUR_MS })
    }
    expect([COOPERATIVE_KIND_RULES['ledger-rollback'].quorumBps, COOPERATIVE_KIND_RULES['ledger-rollback'].approvalBps]).toEqual([7500, 8000])
    expect([COOPERATIVE_KIND_RULES.budget.quorumBps, COOPERATIVE_KIND_RULES.budget.approvalBps]).toEqual([5000, 5000])
    expect([COOPERATIVE_KIND_RULES['treasury-withdrawal'].quorumBps, COOPERATIVE_KIND_RULES['treasury-withdrawal'].approvalBps]).toEqual([6000, 6700])
    expect([COOPERATIVE_KIND_RULES['spending-rule'].quorumBps, COOPERATIVE_KIND_RULES['spending-rule'].approvalBps]).toEqual([6000, 6700])
    expect(Object.keys(charter.rules.kinds)).toHaveLength(12)
  })

  it('hash is stable and independent of member input order; a disallowed kind is absent', () => {
    const a = cooperativeCharter({ domain: 'coop:x', members: [{ did: alice.did }, { did: bob.did }], kinds: { budget: null } })
    const b = cooperativeCharter({ domain: 'coop:x', members: [{ did: bob.did }, { did: alice.did }], kinds: { budget: null } })
    expect(charterHash(a)).toBe(charterHash(b))
    expect(charterHash(a)).toMatch(/^bafyrei/)
    expect(a.rules.kinds.budget).toBeUndefined()
  })

  it('refuses malformed charters with InvalidCharterError', () => {
    const good = cooperativeCharter({ domain: 'coop:x', members: [{ did: alice.did }, { did: bob.did }] })
    const bad: Array<[string, unknown]> = [
      ['duplicate member', { ...good, members: [good.members[0], good.members[0]] }],
      ['unsorted members', { ...good, members: [...good.members].reverse() }],
      ['bad DID', { ...good, members: [{ did: 'did:icn:nope', role: 'member', frozen: false }] }],
      ['quorum 0', { ...good, rules: { ...good.rules, kinds: { text: { ...COOPERATIVE_KIND_RULES.text, quorumBps: 0 } } } }],
      ['approval over 100 %', { ...good, rules: { ...good.rules, kinds: { text: { ...COOPERATIVE_KIND_RULES.text, approvalBps: 10_001 } } } }],
      ['default outside range', { ...good, rules: { ...good.rules, kinds: { text: { ...COOPERATIVE_KIND_RULES.text, deliberation: { defaultMs: 0, minMs: DAY_MS, maxMs: 2 * DAY_MS } } } } }],
      ['unknown kind', { ...good, rules: { ...good.rules, kinds: { lottery: COOPERATIVE_KIND_RULES.text } } }],
      ['trust above 1', { ...good, rules: { ...good.rules, minJoinTrust: 1.5 } }],
      ['v2 without previous', { ...good, version: 2 }],
      ['extra field', { ...good, motto: 'x' }]
    ]
    for (const [what, value] of bad) expect(() => validateCharter(value as Charter), what).toThrow(InvalidCharterError)
  })
})

describe('transition table', () => {
  it('is exactly the documented state machine', () => {
    expect(TRANSITIONS.map((t) => `${t.from} -${t.trigger}-> ${t.to}`)).toEqual([
      'draft -submit-> deliberation',
      'deliberation -voting-opens-> open',
      'open -voting-closes-> accepted',
      'open -voting-closes-> rejected',
      'open -voting-closes-> no-quorum',
      'draft -cancel-> cancelled', 'deliberation -cancel-> cancelled', 'open -cancel-> cancelled',
      'draft -veto-> vetoed', 'deliberation -veto-> vetoed', 'open -veto-> vetoed',
      'draft -force-close-> force-closed', 'deliberation -force-close-> force-closed', 'open -force-close-> force-closed',
      'accepted -execute-> executed'
    ])
  })

  it('refuses every pair not in the table', () => {
    const terminal: ProposalState[] = ['rejected', 'no-quorum', 'cancelled', 'vetoed', 'force-closed', 'executed']
    for (const state of terminal) {
      for (const trigger of ['submit', 'cancel', 'veto', 'force-close', 'voting-opens', 'execute'] as const) {
        expect(findTransition(state, trigger)).toBeUndefined()
        expect(() => transition(state, trigger)).toThrow(InvalidTransitionError)
      }
    }
    expect(() => transition('deliberation', 'submit')).toThrow(InvalidTransitionError)
    expect(() => transition('open', 'voting-closes', 'executed')).toThrow(InvalidTransitionError)
    expect(transition('open', 'voting-closes', 'no-quorum')).toBe('no-quorum')
  })

  it('docs/governance.md reproduces the table row for row', () => {
    const doc = readFileSync(new URL('../../../docs/governance.md', import.meta.url), 'utf8')
    const section = doc.slice(doc.indexOf('| from | trigger | to |'))
    const lines = section.split('\n')
    const table = lines.slice(2, lines.findIndex((line) => !line.startsWith('|')))
    const rows = table.map((line) => line.split('|').slice(1, 4).map((c) => c.trim()))
    expect(rows).toEqual(TRANSITIONS.map((t) => [t.from, t.trigger, t.to]))
  })
})
