import type { Governance, Member } from '@icn/governance'
import type { Clock, Did, KeyPair } from '@icn/identity'
import { type ActingNode, attest, castVote, raiseProposal } from './actions.js'
import { InvitationError, NotPermittedError } from './errors.js'
import {
  type InvitationRecord, type InvitationStore, type JoinAnswer, checkDisplayName, createInvitation, encodeJoinAnswer, openJoinRequest
} from './invitations.js'
import type { Logger } from './logger.js'
import type { PeerAdmission } from '@icn/transport'

/** Proposal states in which an invitee may stay connected to its inviter ('accepted' executes right after). */
const PROPOSAL_STILL_OPEN: ReadonlySet<string> = new Set(['draft', 'deliberation', 'open', 'accepted'])

/** How long an invitation lasts unless the inviter says otherwise. */
export const DEFAULT_INVITATION_MS = 7 * 24 * 3600 * 1000
/** The social trust an inviter attests for the DID that used its invitation: the invitation is the inviter's word for it. */
export const INVITER_VOUCH = 1

/** Why this node refused a connection, a stream or an entry. */
export interface RefusalCounts {
  /** Connections from or to a DID that is neither a member nor admitted as an invitee. */
  notAMember: number
  /** Connections from a DID in its cool-down (refused before, or cut off for misbehaviour). */
  coolDown: number
  /** ICN streams refused to a connected invitee that is not a member yet. */
  streams: number
}

/** What gossip refused of non-members: frames from non-member peers, entries by non-member authors. */
export interface GossipRefusals {
  framesFromNonMembers: number
  entriesByNonMembers: number
}

/** A member as `GET /members` lists it. */
export interface MemberView {
  did: Did
  name: string | null
  role: Member['role']
  frozen: boolean
  self: boolean
  connected: boolean
}

/** `GET /members`. */
export interface MembersView {
  networkId: string
  domain: string
  charterVersion: number
  members: MemberView[]
  /** DIDs that used one of this node's invitations and are not members yet. */
  candidates: Array<{ did: Did, name: string | null, invitation: string, proposal: string | null, usedAt: number | null }>
  invitations: Array<Omit<InvitationRecord, 'key'>>
  refused: RefusalCounts & GossipRefusals
}

export interface NodeMembershipComponents {
  governance: Governance
  invitations: InvitationStore
  keyPair: KeyPair
  clock: Clock
  logger: Logger
}

export interface NodeMembershipInit {
  /** The genesis charter as `charter.json` holds it: what a joiner receives to found its own copy of the network. */
  charterFile: unknown
  /** The member whose invitation this node joined with: it may connect before this node's governance knows it is a member. */
  sponsor?: Did
}

/**
 * The node's one answer to "is this DID a member now?", for the transport (who connects, who exchanges
 * frames) and gossip; and the inviter's side of invitations (create, answer a join, raise the membership
 * proposal). Everything it asks comes from governance (`isMember`) and the invitation store.
 */
export class NodeMembership implements PeerAdmission {
  readonly refusedCounts: RefusalCounts = { notAMember: 0, coolDown: 0, streams: 0 }
  private actions: ActingNode | undefined
  private addrs: () => string[] = () => []
  private connected: () => string[] = () => []
  private gossipRefusals: () => GossipRefusals = () => ({ framesFromNonMembers: 0, entriesByNonMembers: 0 })

  constructor (private readonly components: NodeMembershipComponents, private readonly init: NodeMembershipInit) {}

  get networkId (): string {
    return this.components.governance.networkId
  }

  /** Late wiring: what a join needs once gossip runs (to publish the proposal) and the transport's addresses. */
  attach (actions: ActingNode, addrs: () => string[], connected: () => string[], gossipRefusals: () => GossipRefusals): void {
    this.actions = actions
    this.addrs = addrs
    this.connected = connected
    this.gossipRefusals = gossipRefusals
  }

  /** Everything refused to non-members, by reason. */
  refusals (): RefusalCounts & GossipRefusals {
    return { ...this.refusedCounts, ...this.gossipRefusals() }
  }

  isMember (did: string): boolean {
    return this.components.governance.isMember(did as Did)
  }

  /**
   * Members exchange frames; so does the sponsor of a node that joined, while this node's governance does
   * not count this node itself as a member yet (it learns that, and the sponsor's standing, from the sponsor).
   */
  stream (did: string): boolean {
    return this.isMember(did) || (did === this.init.sponsor && !this.isMember(this.components.keyPair.did))
  }

  /**
   * A member, the sponsor, an unexpired invitation's key (to present a join request: a used one is let in to
   * hear `INVITATION_USED`, never to get a stream) or a DID that used one of this node's invitations.
   */
  connect (did: string): boolean {
    if (this.stream(did)) return true
    const { invitations, clock } = this.components
    return invitations.unexpiredByKey(did, clock.now()) !== undefined || this.candidate(did) !== undefined
  }

  refused (did: string, what: 'inbound' | 'outbound' | 'stream'): void {
    if (what === 'stream') this.refusedCounts.streams++
    else if (this.connect(did)) this.refusedCounts.coolDown++
    else this.refusedCounts.notAMember++
  }

  /** The used invitation of a DID that is not a member yet, while its membership proposal may still pass. */
  private candidate (did: string): InvitationRecord | undefined {
    const record = this.components.invitations.usedBy(did)
    if (record === undefined || this.isMember(did)) return undefined
    const state = record.proposal === undefined ? undefined : this.components.governance.proposal(record.proposal)?.state
    return state === undefined || PROPOSAL_STILL_OPEN.has(state) ? record : undefined
  }

  /** Throws `NotPermittedError` unless this node's role may raise membership proposals under the charter in force. */
  checkMayInvite (): void {
    const { governance, keyPair } = this.components
    const charter = governance.charter()
    const me = charter.members.find((m) => m.did === keyPair.did)
    if (me === undefined || me.frozen) throw new NotPermittedError(`this node (${keyPair.did}) is not an active member of ${charter.domain}, so it cannot invite`)
    const rule = charter.rules.kinds.membership
    if (rule === undefined) throw new NotPermittedError(`the charter of ${charter.domain} allows no membership proposals, so nobody can invite`)
    if (!rule.proposers.includes(me.role)) throw new NotPermittedError(`the charter lets ${rule.proposers.join(' and ')} invite; this node is a ${me.role}`)
  }

  /** Signs a new invitation and records it; returns the code to hand to the new member. */
  async createInvitation (options: { expiresInMs?: number, name?: string }): Promise<{ code: string, id: string, expiresAt: number }> {
    this.checkMayInvite()
    const { keyPair, clock, invitations } = this.components
    const addrs = this.addrs()
    if (addrs.length === 0) throw new NotPermittedError('this node listens on no address a new member could dial')
    const name = options.name === undefined ? '' : checkDisplayName(options.name)
    const now = clock.now()
    const expiresAt = now + (options.expiresInMs ?? DEFAULT_INVITATION_MS)
    const { code, invitation } = createInvitation(keyPair, { network: this.networkId, addrs: addrs.slice(0, 16), createdAt: now, expiresAt, name })
    await invitations.add({ id: invitation.envelope.cid, key: invitation.envelope.payload.key, name, createdAt: now, expiresAt, state: 'pending' }, now)
    return { code, id: invitation.envelope.cid, expiresAt }
  }

  /**
   * The inviter's side of the admission protocol. `keyDid` is the DID the connection's handshake proved:
   * the invitation's key, so only whoever holds the code gets here. Checks the join request, marks the
   * invitation used, vouches for the new member (social trust) and raises the membership proposal.
   */
  async answerJoin (keyDid: string, request: Uint8Array): Promise<Uint8Array> {
    let answer: JoinAnswer
    try {
      answer = await this.admit(keyDid, request)
    } catch (err) {
      const code = err instanceof InvitationError || err instanceof NotPermittedError ? err.code : undefined
      if (code === undefined) this.components.logger.warn({ err: (err as Error).message }, 'join request failed')
      answer = { ok: false, code: (code ?? 'INVITATION_MALFORMED') as Extract<JoinAnswer, { ok: false }>['code'], message: (err as Error).message }
    }
    return encodeJoinAnswer(answer)
  }

  private async admit (keyDid: string, bytes: Uint8Array): Promise<JoinAnswer> {
    const { invitations, clock, governance, logger } = this.components
    const now = clock.now()
    const record = invitations.list().find((r) => r.key === keyDid)
    if (record === undefined) throw new InvitationError('INVITATION_UNKNOWN', 'this node issued no such invitation')
    if (record.state === 'used') throw new InvitationError('INVITATION_USED', `the invitation was already used${record.usedAt === undefined ? '' : ` at ${new Date(record.usedAt).toISOString()}`}`)
    if (now >= record.expiresAt) throw new InvitationError('INVITATION_EXPIRED', `the invitation expired at ${new Date(record.expiresAt).toISOString()}`)
    const request = openJoinRequest(bytes)
    if (request.payload.network !== this.networkId) throw new InvitationError('INVITATION_FOREIGN_NETWORK', `the join request is for network ${request.payload.network}, this is ${this.networkId}`)
    if (request.payload.invitation !== record.id) throw new InvitationError('INVITATION_UNKNOWN', 'the join request names another invitation')
    const joiner = request.signer
    const name = request.payload.name !== '' ? checkDisplayName(request.payload.name) : record.name
    if (this.actions === undefined) throw new Error('the node is still starting')
    this.checkMayInvite()
    let proposal: string | null = null
    if (!governance.isMember(joiner)) {
      // Used before anything else: a second join with the same code is refused even if what follows fails.
      await invitations.markUsed(record.id, joiner, now, undefined)
      await attest(this.actions, joiner, 'social', INVITER_VOUCH)
      const raised = await raiseProposal(this.actions, {
        kind: 'membership',
        title: `Admit ${name === '' ? joiner : name} (invited by ${this.components.keyPair.did})`,
        description: `Invitation ${record.id}`,
        payload: { action: 'add', member: joiner, role: 'member', ...(name === '' ? {} : { name }) }
      })
      proposal = raised.id
      await invitations.markUsed(record.id, joiner, now, proposal)
      // The inviter's vote counts as soon as voting opens (at once when the charter's rule has no deliberation).
      if (governance.proposal(proposal)?.state === 'open') await castVote(this.actions, proposal, 'for')
      else this.pendingVotes.add(proposal)
      logger.info({ joiner, name, invitation: record.id, proposal }, 'invitation used: membership proposal raised')
    }
    return { ok: true, network: this.networkId, charter: this.init.charterFile, inviter: this.components.keyPair.did, proposal }
  }

  /** Proposals this node raised for an invitee whose voting had not opened yet: voted for when it opens. */
  private readonly pendingVotes = new Set<string>()

  /** Casts the inviter's vote on invitation proposals whose voting has opened (called on every governance transition). */
  async voteOnOpenedInvitations (): Promise<void> {
    if (this.actions === undefined) return
    for (const id of [...this.pendingVotes]) {
      const state = this.components.governance.proposal(id)?.state
      if (state === 'open') {
        this.pendingVotes.delete(id)
        await castVote(this.actions, id, 'for')
      } else if (state !== 'deliberation' && state !== 'draft') {
        this.pendingVotes.delete(id)
      }
    }
  }

  view (): MembersView {
    const { governance, keyPair, invitations } = this.components
    const charter = governance.charter()
    const connected = new Set(this.connected())
    const nameOf = (did: Did): string | null => governance.nameOf(did) ?? null
    return {
      networkId: this.networkId,
      domain: charter.domain,
      charterVersion: charter.version,
      members: charter.members.map((m) => ({ did: m.did, name: nameOf(m.did), role: m.role, frozen: m.frozen, self: m.did === keyPair.did, connected: connected.has(m.did) })),
      candidates: invitations.list()
        .filter((r) => r.usedBy !== undefined && !charter.members.some((m) => m.did === r.usedBy))
        .map((r) => ({ did: r.usedBy!, name: r.name === '' ? null : r.name, invitation: r.id, proposal: r.proposal ?? null, usedAt: r.usedAt ?? null })),
      invitations: invitations.list().map(({ key: _key, ...rest }) => rest),
      refused: this.refusals()
    }
  }
}
