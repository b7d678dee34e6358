import { type SignedEnvelope, decode, decodeEnvelope, encodeEnvelope, IdentityError } from '@icn/identity'
import { ACTION_DOMAIN, PROFILE_DOMAIN, PROPOSAL_DOMAIN, VOTE_DOMAIN } from './constants.js'
import { CorruptStateError, GovernanceError } from './errors.js'
import { parseActionPayload, parseProfilePayload, parseProposalPayload, parseVotePayload } from './payloads.js'
import type { ActionPayload, ProfilePayload, ProposalPayload, ProposalRecord, ProposalState, TallyResult, Transition, VotePayload, VoteRecord } from './types.js'
import { verifyAs } from './utils/envelope.js'
import { checkInteger, checkOneOf, checkFields, isPlainMap } from '@icn/identity'

const corrupt = (message: string): Error => new CorruptStateError(message)

export const PROPOSAL_STATES: readonly ProposalState[] = [
  'draft', 'deliberation', 'open', 'accepted', 'rejected', 'no-quorum', 'cancelled', 'vetoed', 'force-closed', 'executed'
]

/** A proposal as its DAG-CBOR document: envelopes travel as their canonical wire bytes. */
export interface ProposalDoc {
  readonly id: string
  readonly envelope: Uint8Array
  readonly state: ProposalState
  readonly submittedAt: number | null
  readonly opensAt: number | null
  readonly closesAt: number | null
  readonly history: readonly Transition[]
  readonly actions: readonly Uint8Array[]
  readonly result: TallyResult | null
}

/** A vote as its document; choice, castAt and cid repeat the envelope so tallies need not decode it. */
export interface VoteDoc {
  readonly proposal: string
  readonly voter: string
  readonly choice: VoteRecord['choice']
  readonly castAt: number
  readonly cid: string
  readonly envelope: Uint8Array
}

/** Decodes stored bytes, turning any failure into `CorruptStateError`. */
export function decodeStored (bytes: Uint8Array, what: string): unknown {
  try {
    return decode(bytes)
  } catch (cause) {
    throw new CorruptStateError(`${what} does not decode: ${(cause as Error).message}`, { cause })
  }
}

export function proposalToDoc (record: ProposalRecord): ProposalDoc {
  return {
    id: record.id,
    envelope: encodeEnvelope(record.envelope),
    state: record.state,
    submittedAt: record.submittedAt,
    opensAt: record.opensAt,
    closesAt: record.closesAt,
    history: record.history,
    actions: record.actions.map((a) => encodeEnvelope(a)),
    result: record.result
  }
}

export function voteToDoc (record: VoteRecord): VoteDoc {
  return { proposal: record.proposal, voter: record.voter, choice: record.choice, castAt: record.castAt, cid: record.cid, envelope: encodeEnvelope(record.envelope) }
}

/**
 * Reads an envelope's wire bytes. With `verify`, the signature and payload are
 * checked too (restoring foreign state); without, only shape and CID (own store).
 */
function readEnvelope<T> (bytes: unknown, domain: string, parse: (payload: unknown) => T, verify: boolean): SignedEnvelope<T> {
  if (!(bytes instanceof Uint8Array)) throw corrupt('envelope must be bytes')
  try {
    const envelope = decodeEnvelope(bytes)
    if (verify) {
      verifyAs(envelope, domain)
      parse(envelope.payload)
    } else if (envelope.domain !== domain) {
      throw corrupt(`envelope domain '${envelope.domain}' is not '${domain}'`)
    }
    return envelope as SignedEnvelope<T>
  } catch (cause) {
    if (cause instanceof CorruptStateError) throw cause
    if (cause instanceof IdentityError || cause instanceof GovernanceError) throw new CorruptStateError(`bad stored envelope: ${cause.message}`, { cause })
    throw cause
  }
}

const nullableTime = (value: unknown, what: string): number | null => (value === null ? null : checkInteger(value, what, corrupt))

function readResult (value: unknown): TallyResult | null {
  if (value === null) return null
  const r = checkFields(value, 'tally', ['electorate', 'for', 'against', 'abstain', 'quorumReached', 'approved', 'outcome'], [], corrupt)
  for (const key of ['electorate', 'for', 'against', 'abstain']) checkInteger(r[key], `tally ${key}`, corrupt)
  if (typeof r.quorumReached !== 'boolean' || typeof r.approved !== 'boolean') throw corrupt('tally flags must be booleans')
  checkOneOf(r.outcome, ['accepted', 'rejected', 'no-quorum'] as const, 'tally outcome', corrupt)
  return value as TallyResult
}

/** A proposal document back to a record; `verify` re-checks every signature (for restored state). */
export function proposalFromDoc (value: unknown, verify: boolean): ProposalRecord {
  const doc = checkFields(value, 'proposal', ['id', 'envelope', 'state', 'submittedAt', 'opensAt', 'closesAt', 'history', 'actions', 'result'], [], corrupt)
  const envelope = readEnvelope<ProposalPayload>(doc.envelope, PROPOSAL_DOMAIN, parseProposalPayload, verify)
  if (envelope.cid !== doc.id) throw corrupt(`proposal id ${String(doc.id)} is not its envelope's CID ${envelope.cid}`)
  const state = checkOneOf(doc.state, PROPOSAL_STATES, 'proposal state', corrupt)
  if (!Array.isArray(doc.history) || !Array.isArray(doc.actions)) throw corrupt('proposal history and actions must be lists')
  for (const step of doc.history) {
    const t = checkFields(step, 'transition', ['state', 'at', 'cause'], [], corrupt)
    checkOneOf(t.state, PROPOSAL_STATES, 'transition state', corrupt)
    checkInteger(t.at, 'transition time', corrupt)
    if (typeof t.cause !== 'string') throw corrupt('transition cause must be a string')
  }
  const last = doc.history[doc.history.length - 1] as unknown
  if (!isPlainMap(last) || last.state !== state) throw corrupt(`proposal ${envelope.cid} history does not end in its state '${state}'`)
  const actions = doc.actions.map((bytes) => readEnvelope<ActionPayload>(bytes, ACTION_DOMAIN, parseActionPayload, verify))
  return {
    id: envelope.cid,
    envelope,
    state,
    submittedAt: nullableTime(doc.submittedAt, 'submittedAt'),
    opensAt: nullableTime(doc.opensAt, 'opensAt'),
    closesAt: nullableTime(doc.closesAt, 'closesAt'),
    history: doc.history as Transition[],
    actions,
    result: readResult(doc.result)
  }
}

/** A vote document back to a record; `verify` re-checks the signature and that the fields repeat the envelope. */
export function voteFromDoc (value: unknown, verify: boolean): VoteRecord {
  const doc = checkFields(value, 'vote', ['proposal', 'voter', 'choice', 'castAt', 'cid', 'envelope'], [], corrupt)
  const envelope = readEnvelope<VotePayload>(doc.envelope, VOTE_DOMAIN, parseVotePayload, verify)
  const p = envelope.payload
  if (doc.proposal !== p.proposal || doc.voter !== envelope.signer || doc.choice !== p.choice || doc.castAt !== p.castAt || doc.cid !== envelope.cid) {
    throw corrupt(`vote ${envelope.cid} fields do not match its envelope`)
  }
  return { proposal: p.proposal, voter: envelope.signer, choice: p.choice, castAt: p.castAt, cid: envelope.cid, envelope }
}


/** A profile's document is its envelope's canonical wire bytes. */
export function profileToDoc (envelope: SignedEnvelope<ProfilePayload>): Uint8Array {
  return encodeEnvelope(envelope)
}

/** A profile document back to its envelope; `verify` re-checks the signature and payload (for restored state). */
export function profileFromDoc (value: unknown, verify: boolean): SignedEnvelope<ProfilePayload> {
  return readEnvelope<ProfilePayload>(value, PROFILE_DOMAIN, parseProfilePayload, verify)
}
