import { InvalidTransitionError } from './errors.js'
import type { ProposalKind, ProposalState } from './types.js'

/** What moves a proposal from one state to another. */
export type TransitionTrigger =
  | 'submit'          // the proposer's signed submit action
  | 'voting-opens'    // the scheduler, at opensAt
  | 'voting-closes'   // the scheduler, at closesAt, by the tally's outcome
  | 'cancel'          // the proposer's signed cancel action
  | 'veto'            // execution of an accepted `veto` proposal naming it
  | 'force-close'     // execution of an accepted `force-close` proposal naming it
  | 'execute'         // immediately after acceptance, for actionable kinds

export interface TransitionRule {
  readonly from: ProposalState
  readonly to: ProposalState
  readonly trigger: TransitionTrigger
}

const NON_TERMINAL: readonly ProposalState[] = ['draft', 'deliberation', 'open']

/**
 * The proposal state machine, as data. Code consults it for every state change
 * and `docs/governance.md` reproduces it. Every pair not listed is refused.
 */
export const TRANSITIONS: readonly TransitionRule[] = [
  { from: 'draft', to: 'deliberation', trigger: 'submit' },
  { from: 'deliberation', to: 'open', trigger: 'voting-opens' },
  { from: 'open', to: 'accepted', trigger: 'voting-closes' },
  { from: 'open', to: 'rejected', trigger: 'voting-closes' },
  { from: 'open', to: 'no-quorum', trigger: 'voting-closes' },
  ...NON_TERMINAL.map((from) => ({ from, to: 'cancelled' as const, trigger: 'cancel' as const })),
  ...NON_TERMINAL.map((from) => ({ from, to: 'vetoed' as const, trigger: 'veto' as const })),
  ...NON_TERMINAL.map((from) => ({ from, to: 'force-closed' as const, trigger: 'force-close' as const })),
  { from: 'accepted', to: 'executed', trigger: 'execute' }
]

/** Kinds whose acceptance is followed by execution (an effect); `text` stays `accepted`. */
export const ACTIONABLE_KINDS: ReadonlySet<ProposalKind> = new Set<ProposalKind>([
  'charter-amendment', 'membership', 'config-change', 'budget', 'treasury-withdrawal',
  'spending-rule', 'ledger-rollback', 'freeze', 'unfreeze', 'veto', 'force-close'
])

/** The state `trigger` moves `from` to, or undefined when the table has no such row (for `voting-closes`, pass the outcome as `to`). */
export function findTransition (from: ProposalState, trigger: TransitionTrigger, to?: ProposalState): TransitionRule | undefined {
  return TRANSITIONS.find((t) => t.from === from && t.trigger === trigger && (to === undefined || t.to === to))
}

/** The target state of `trigger` from `from`; throws `InvalidTransitionError` when the table does not allow it. */
export function transition (from: ProposalState, trigger: TransitionTrigger, to?: ProposalState): ProposalState {
  const rule = findTransition(from, trigger, to)
  if (rule === undefined) throw new InvalidTransitionError(`'${trigger}' is not allowed from state '${from}'${to === undefined ? '' : ` to '${to}'`}`)
  return rule.to
}

/** States a proposal can still leave other than by execution. */
export function isOpenEnded (state: ProposalState): boolean {
  return NON_TERMINAL.includes(state)
}
