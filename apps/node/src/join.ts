import { readFile } from 'node:fs/promises'
import { type CooperativeCharterInit, cooperativeCharter, networkIdOf } from '@icn/governance'
import { type Clock, type KeyPair, systemClock } from '@icn/identity'
import { writeFileAtomic } from '@icn/identity/fs'
import { charterPath, writeCharterFile } from './charter.js'
import { dataDirLayout, initDataDir, loadIdentity, pathExists } from './data-dir.js'
import { InvitationError } from './errors.js'
import { checkDisplayName, checkNotExpired, decodeInvitationCode, decodeJoinAnswer, signJoinRequest } from './invitations.js'
import { networkPrefix, requestAdmission } from '@icn/transport'

/** What `icn-node join` did. */
export interface JoinResult {
  did: string
  network: string
  domain: string
  inviter: string
  /** The membership proposal the inviter raised (null: already a member). */
  proposal: string | null
}

/** The network id of the genesis charter a data directory holds, if any. */
async function networkOfDataDir (dataDir: string): Promise<string | undefined> {
  if (!(await pathExists(charterPath(dataDir)))) return undefined
  try {
    return networkIdOf(cooperativeCharter(JSON.parse(await readFile(charterPath(dataDir), 'utf8')) as CooperativeCharterInit))
  } catch {
    return undefined
  }
}

/**
 * Joins a network with an invitation code: checks the code (typed `InvitationError`s), creates the data
 * directory's identity if it has none, presents a join request signed with it to the inviter (connecting
 * under the invitation's key), checks that the genesis charter the inviter sends is the invitation's network,
 * and writes `charter.json` and `config.json` (the inviter as peer and sponsor). The node then runs as usual.
 */
export async function joinNetwork (dataDir: string, code: string, options: { name?: string, clock?: Clock } = {}): Promise<JoinResult> {
  const clock = options.clock ?? systemClock
  const invitation = decodeInvitationCode(code)
  const payload = invitation.envelope.payload
  checkNotExpired(payload, clock.now())
  const name = options.name === undefined ? '' : checkDisplayName(options.name)
  const existing = await networkOfDataDir(dataDir)
  if (existing !== undefined && existing !== payload.network) {
    throw new InvitationError('INVITATION_FOREIGN_NETWORK', `${dataDir} already belongs to network ${existing}; this invitation is for ${payload.network} (use a new data directory)`)
  }
  const keyPair: KeyPair = (await pathExists(dataDirLayout(dataDir).identity)) ? await loadIdentity(dataDir) : await initDataDir(dataDir)
  const request = signJoinRequest(keyPair, { network: payload.network, invitation: invitation.envelope.cid, name, at: clock.now() })
  let answerBytes: Uint8Array
  try {
    answerBytes = await requestAdmission(payload.addrs, invitation.seed, networkPrefix(payload.network), request)
  } catch (cause) {
    throw new InvitationError('INVITATION_UNREACHABLE', `could not reach the inviter at ${payload.addrs.join(', ')}: ${(cause as Error).message}`, { cause })
  }
  const answer = decodeJoinAnswer(answerBytes)
  if (!answer.ok) throw new InvitationError(answer.code === 'NOT_PERMITTED' ? 'INVITATION_UNKNOWN' : answer.code, `the inviter refused: ${answer.message}`)
  let charterFile: CooperativeCharterInit
  try {
    charterFile = answer.charter as CooperativeCharterInit
    if (networkIdOf(cooperativeCharter(charterFile)) !== payload.network) throw new Error('its hash is not the network id')
  } catch (cause) {
    throw new InvitationError('INVITATION_FOREIGN_NETWORK', `the inviter sent a genesis charter that is not network ${payload.network}: ${(cause as Error).message}`, { cause })
  }
  await writeCharterFile(dataDir, charterFile)
  const layout = dataDirLayout(dataDir)
  let config: Record<string, unknown> = {}
  try {
    config = JSON.parse(await readFile(layout.config, 'utf8')) as Record<string, unknown>
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const peers = [...new Set([...(Array.isArray(config.peers) ? config.peers as string[] : []), ...payload.addrs])]
  config = { ...config, peers, sponsor: payload.inviter }
  await writeFileAtomic(layout.config, new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n'))
  return { did: keyPair.did, network: payload.network, domain: charterFile.domain, inviter: payload.inviter, proposal: answer.proposal }
}
