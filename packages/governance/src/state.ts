import type { Charter, EffectRecord } from './types.js'
import { charterHash, validateCharter } from './charter.js'
import { decodeStored, profileFromDoc, proposalFromDoc, voteFromDoc } from './codec.js'
import { STATE_FORMAT, STATE_FORMAT_V1 } from './constants.js'
import { CorruptStateError } from './errors.js'
import { buildMembership } from './membership.js'
import type { StoreContents } from './store.js'
import { checkInteger, checkFields, isPlainMap } from '@icn/identity'

const corrupt = (message: string): Error => new CorruptStateError(message)

/** Validates an `exportState` document completely before anything is replaced. Throws `CorruptStateError`. */
export function parseState (bytes: Uint8Array): StoreContents {
  const doc = checkFields(decodeStored(bytes, 'governance state'), 'governance state', ['format', 'charters', 'proposals', 'votes', 'effects'], ['profiles'], corrupt)
  if (doc.format !== STATE_FORMAT && doc.format !== STATE_FORMAT_V1) throw corrupt(`state format '${String(doc.format)}' is not '${STATE_FORMAT}'`)
  // v1 predates profiles: it has none; v2 always lists them.
  if ((doc.format === STATE_FORMAT) !== (doc.profiles !== undefined)) throw corrupt(`a '${doc.format}' state ${doc.format === STATE_FORMAT ? 'lists' : 'has no'} profiles`)
  const profileDocs = doc.profiles ?? []
  if (!Array.isArray(doc.charters) || !Array.isArray(doc.proposals) || !Array.isArray(doc.votes) || !Array.isArray(doc.effects) || !Array.isArray(profileDocs)) {
    throw corrupt('charters, proposals, votes, effects and profiles must be lists')
  }
  const charters = doc.charters.map((value, i) => {
    let charter: Charter
    try {
      charter = validateCharter(value)
    } catch (cause) {
      throw new CorruptStateError(`charter #${i}: ${(cause as Error).message}`, { cause })
    }
    return charter
  })
  if (charters.length === 0) throw corrupt('state holds no charter')
  charters.forEach((charter, i) => {
    const before = charters[i - 1]
    if (charter.version !== i + 1) throw corrupt(`charter #${i} has version ${charter.version}`)
    if (before !== undefined && (charter.previous !== charterHash(before) || charter.domain !== before.domain)) throw corrupt(`charter v${charter.version} does not follow v${before.version}`)
  })
  const domain = (charters[0] as Charter).domain
  const proposals = doc.proposals.map((value) => proposalFromDoc(value, true))
  const ids = new Set<string>()
  let lastId = ''
  for (const p of proposals) {
    if (p.id <= lastId) throw corrupt('proposals must be sorted by id without duplicates')
    if (p.envelope.payload.domain !== domain) throw corrupt(`proposal ${p.id} belongs to domain '${p.envelope.payload.domain}'`)
    lastId = p.id
    ids.add(p.id)
  }
  for (const charter of charters) {
    if (charter.amendedBy !== null && !ids.has(charter.amendedBy)) throw corrupt(`charter v${charter.version} names unknown proposal ${charter.amendedBy}`)
  }
  const votes = doc.votes.map((value) => voteFromDoc(value, true))
  let lastKey = ''
  for (const v of votes) {
    const key = `${v.proposal}/${v.voter}`
    if (key <= lastKey) throw corrupt('votes must be sorted by proposal and voter without duplicates')
    if (!ids.has(v.proposal)) throw corrupt(`vote ${v.cid} is for unknown proposal ${v.proposal}`)
    lastKey = key
  }
  const effects = doc.effects.map((value, i) => {
    const e = checkFields(value, 'effect', ['seq', 'proposal', 'at', 'applied', 'effect'], [], corrupt)
    if (checkInteger(e.seq, 'effect seq', corrupt) !== i + 1) throw corrupt(`effect #${i} has seq ${String(e.seq)}`)
    checkInteger(e.at, 'effect time', corrupt)
    if (typeof e.proposal !== 'string' || !ids.has(e.proposal)) throw corrupt(`effect ${i + 1} names unknown proposal`)
    if (typeof e.applied !== 'boolean' || !isPlainMap(e.effect) || typeof e.effect.type !== 'string') throw corrupt(`effect ${i + 1} is malformed`)
    return value as unknown as EffectRecord
  })
  const profiles = profileDocs.map((value) => profileFromDoc(value, true))
  const byId = new Map(proposals.map((p) => [p.id, p]))
  // Every version's amending proposal executed (it fixes when the version took effect).
  const { timeline } = buildMembership(charters, (id) => byId.get(id), [])
  let lastSigner = ''
  for (const profile of profiles) {
    if (profile.signer <= lastSigner) throw corrupt('profiles must be sorted by signer without duplicates')
    if (profile.payload.domain !== domain) throw corrupt(`profile ${profile.cid} belongs to domain '${profile.payload.domain}'`)
    if (timeline.statusAt(profile.signer, profile.payload.at) === 'none') throw corrupt(`profile ${profile.cid} is signed by ${profile.signer}, not a member at ${profile.payload.at}`)
    lastSigner = profile.signer
  }
  return { charters, proposals, votes, effects, profiles }
}

