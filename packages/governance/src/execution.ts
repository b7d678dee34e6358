import { charterHash, nextCharter } from './charter.js'
import { parseName } from './payloads.js'
import { isOpenEnded } from './transitions.js'
import type { Charter, GovernanceEffect, Member, ProposalRecord, ProposalState } from './types.js'

/** What executing one accepted proposal changes. */
export interface Execution {
  /** The new charter version, when the proposal changes the charter. */
  readonly charter: Charter | null
  /** A proposal the execution closes (veto, force-close). */
  readonly closes: { readonly target: string, readonly trigger: 'veto' | 'force-close' } | null
  readonly effect: GovernanceEffect
  /** False when the change no longer fitted the state at execution time. */
  readonly applied: boolean
}

const replaceMember = (members: readonly Member[], did: string, change: Partial<Member> | null): Member[] =>
  members.flatMap((m) => (m.did !== did ? [m] : change === null ? [] : [{ ...m, ...change }]))

/**
 * Pure: the consequences of executing accepted proposal `record` against the
 * charter in force and the current state of other proposals.
 */
export function execute (record: ProposalRecord, current: Charter, stateOf: (id: string) => ProposalState | undefined): Execution {
  const p = record.envelope.payload
  const id = record.id
  const none = (effect: GovernanceEffect, applied = true): Execution => ({ charter: null, closes: null, effect, applied })
  const amend = (charter: Charter, effect: GovernanceEffect): Execution => ({ charter, closes: null, effect, applied: true })
  const isMember = (did: string): Member | undefined => current.members.find((m) => m.did === did)

  switch (p.kind) {
    case 'charter-amendment': {
      const charter = nextCharter(current, id, { rules: p.payload.rules })
      return amend(charter, { type: 'charter-amended', version: charter.version, hash: charterHash(charter) })
    }
    case 'membership': {
      const { member } = p.payload
      if (p.payload.action === 'add') {
        const effect: GovernanceEffect = p.payload.name === undefined
          ? { type: 'member-added', member, role: p.payload.role }
          : { type: 'member-added', member, role: p.payload.role, name: parseName(p.payload.name) }
        if (isMember(member) !== undefined) return none(effect, false)
        return amend(nextCharter(current, id, { members: [...current.members, { did: member, role: p.payload.role, frozen: false }] }), effect)
      }
      const effect: GovernanceEffect = { type: 'member-removed', member }
      if (isMember(member) === undefined) return none(effect, false)
      return amend(nextCharter(current, id, { members: replaceMember(current.members, member, null) }), effect)
    }
    case 'freeze':
    case 'unfreeze': {
      const { member } = p.payload
      const frozen = p.kind === 'freeze'
      const effect: GovernanceEffect = { type: frozen ? 'member-frozen' : 'member-unfrozen', member }
      const existing = isMember(member)
      if (existing === undefined || existing.frozen === frozen) return none(effect, false)
      return amend(nextCharter(current, id, { members: replaceMember(current.members, member, { frozen }) }), effect)
    }
    case 'veto':
    case 'force-close': {
      const { target } = p.payload
      const effect: GovernanceEffect = { type: p.kind === 'veto' ? 'proposal-vetoed' : 'proposal-force-closed', target }
      const state = stateOf(target)
      if (state === undefined || !isOpenEnded(state)) return none(effect, false)
      return { charter: null, closes: { target, trigger: p.kind }, effect, applied: true }
    }
    case 'config-change':
      return none(p.payload.subject === undefined
        ? { type: 'config-change', key: p.payload.key, value: p.payload.value }
        : { type: 'config-change', key: p.payload.key, value: p.payload.value, subject: p.payload.subject })
    case 'budget':
      return none({ type: 'budget', ...p.payload })
    case 'treasury-withdrawal':
      return none({ type: 'treasury-withdrawal', ...p.payload })
    case 'spending-rule':
      return none({ type: 'spending-rule', ...p.payload })
    case 'ledger-rollback':
      return none({ type: 'ledger-rollback', ...p.payload })
    case 'text':
      throw new RangeError('text proposals are not actionable')
  }
}
