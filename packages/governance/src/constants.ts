/** One hour and one day in milliseconds (charter durations are milliseconds). */
export const HOUR_MS = 3_600_000
export const DAY_MS = 24 * HOUR_MS

/** Basis points: shares (quorum, approval) are integers out of 10,000 so tallies never touch floats. */
export const BPS = 10_000

/** Envelope domains: a signature for one can never be replayed as another. */
export const PROPOSAL_DOMAIN = 'icn/governance/proposal/v1'
export const VOTE_DOMAIN = 'icn/governance/vote/v1'
export const ACTION_DOMAIN = 'icn/governance/action/v1'
/** A member's own profile (display name). */
export const PROFILE_DOMAIN = 'icn/governance/profile/v1'

/** Tag of the `exportState()` document (v2 adds `profiles`; a v1 document still restores, with none). */
export const STATE_FORMAT = 'icn-governance-state/v2'
export const STATE_FORMAT_V1 = 'icn-governance-state/v1'

/** Longest title and description accepted in a proposal. */
export const MAX_TITLE_LENGTH = 200
export const MAX_DESCRIPTION_LENGTH = 20_000
/** Longest member display name, in Unicode code points after trimming. */
export const MAX_NAME_LENGTH = 64
