import {
  type Did, type KeyPair, type SignedEnvelope, checkDid, checkFields, checkInteger, checkString, decode, encode,
  encodeEnvelope, generateKeyPair, keyPairFromSeed, openEnvelope, signEnvelope
} from '@icn/identity'
import { CorruptFileError, readJsonSnapshot, writeJsonSnapshot } from '@icn/identity/fs'
import { DataDirCorruptError, InvitationError, type InvitationErrorCode } from './errors.js'

/** Envelope domain of an invitation (signed by the inviter). */
export const INVITATION_DOMAIN = 'icn/node/invitation/v1'
/** Envelope domain of a join request (signed by the new member's own key). */
export const JOIN_DOMAIN = 'icn/node/join/v1'
/** What an invitation code starts with, so a pasted code is recognisable and a typo fails early. */
export const INVITATION_PREFIX = 'icn-invite:'
/** Longest display name. */
export const MAX_NAME_LENGTH = 64
/** Invitation records kept this long after they expired or were used (then pruned). */
const RECORD_RETENTION_MS = 30 * 24 * 3600 * 1000

/** What the inviter signs: which network, who invites, how to reach them, until when, and the invitation's key. */
export interface InvitationPayload {
  readonly network: string
  readonly inviter: Did
  /** The DID of the invitation's own key pair: the joiner connects under it once, to present the join request. */
  readonly key: Did
  readonly addrs: readonly string[]
  readonly createdAt: number
  readonly expiresAt: number
  /** The name the inviter proposes for the new member ('' for none; the joiner may give its own). */
  readonly name: string
}

/** A decoded invitation code: the signed invitation and the secret seed of its key. */
export interface Invitation {
  readonly envelope: SignedEnvelope<InvitationPayload>
  readonly seed: Uint8Array
}

/** What a joiner sends over the admission protocol, signed with its own (new member's) key. */
export interface JoinRequest {
  readonly network: string
  /** The invitation's CID. */
  readonly invitation: string
  readonly name: string
  readonly at: number
}

/** The inviter's answer. */
export type JoinAnswer =
  | { readonly ok: true, readonly network: string, readonly charter: unknown, readonly inviter: Did, readonly proposal: string | null }
  | { readonly ok: false, readonly code: InvitationErrorCode | 'NOT_PERMITTED', readonly message: string }

const malformed = (message: string): Error => new InvitationError('INVITATION_MALFORMED', message)

/** Checks a display name: trimmed, 1–64 characters, no control characters. Returns it trimmed. */
export function checkDisplayName (value: unknown, fail: (message: string) => Error = malformed): string {
  if (typeof value !== 'string') throw fail('a name must be a string')
  const name = value.trim()
  // eslint-disable-next-line no-control-regex
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(name)) {
    throw fail(`a name must be 1–${MAX_NAME_LENGTH} characters without control characters`)
  }
  return name
}

function parseInvitationPayload (value: unknown): InvitationPayload {
  const p = checkFields(value, 'invitation', ['network', 'inviter', 'key', 'addrs', 'createdAt', 'expiresAt', 'name'], [], malformed)
  checkString(p.network, 'network', malformed, { min: 1, max: 200 })
  checkDid(p.inviter, 'inviter', malformed)
  checkDid(p.key, 'invitation key', malformed)
  if (!Array.isArray(p.addrs) || p.addrs.length === 0 || p.addrs.length > 16) throw malformed('an invitation lists 1–16 addresses of its inviter')
  for (const addr of p.addrs) checkString(addr, 'address', malformed, { min: 1, max: 300 })
  checkInteger(p.createdAt, 'createdAt', malformed)
  checkInteger(p.expiresAt, 'expiresAt', malformed)
  checkString(p.name, 'name', malformed, { max: MAX_NAME_LENGTH })
  return value as InvitationPayload
}

/** Signs a new invitation: a fresh key pair whose secret travels in the code. */
export function createInvitation (inviter: KeyPair, fields: Omit<InvitationPayload, 'inviter' | 'key'>): { code: string, invitation: Invitation } {
  const key = generateKeyPair()
  const envelope = signEnvelope<InvitationPayload>(INVITATION_DOMAIN, { ...fields, inviter: inviter.did, key: key.did }, inviter)
  const invitation = { envelope, seed: key.seed }
  return { code: encodeInvitationCode(invitation), invitation }
}

export function encodeInvitationCode (invitation: Invitation): string {
  return INVITATION_PREFIX + Buffer.from(encode({ v: 1, invitation: encodeEnvelope(invitation.envelope), seed: invitation.seed })).toString('base64url')
}

/**
 * Decodes and checks an invitation code: its shape, that the inviter signed it and that its seed is the
 * invitation's key. Throws `InvitationError` (MALFORMED, FORGED). Expiry is the caller's check (`checkUsable`).
 */
export function decodeInvitationCode (code: string): Invitation {
  const text = code.trim()
  if (!text.startsWith(INVITATION_PREFIX)) throw malformed(`an invitation code starts with '${INVITATION_PREFIX}'`)
  let outer: Record<string, unknown>
  try {
    outer = checkFields(decode(new Uint8Array(Buffer.from(text.slice(INVITATION_PREFIX.length), 'base64url'))), 'invitation code', ['v', 'invitation', 'seed'], [], malformed)
  } catch (cause) {
    if (cause instanceof InvitationError) throw cause
    throw new InvitationError('INVITATION_MALFORMED', 'the invitation code is damaged (copy it again, whole)', { cause })
  }
  if (outer.v !== 1) throw malformed(`invitation code version ${String(outer.v)} is not supported`)
  if (!(outer.invitation instanceof Uint8Array) || !(outer.seed instanceof Uint8Array) || outer.seed.length !== 32) throw malformed('the invitation code is damaged (copy it again, whole)')
  let envelope: SignedEnvelope
  try {
    envelope = openEnvelope(outer.invitation, INVITATION_DOMAIN)
  } catch (cause) {
    throw new InvitationError('INVITATION_FORGED', `the invitation's signature does not verify: ${(cause as Error).message}`, { cause })
  }
  const payload = parseInvitationPayload(envelope.payload)
  if (envelope.signer !== payload.inviter) throw new InvitationError('INVITATION_FORGED', `the invitation names ${payload.inviter} as inviter but ${envelope.signer} signed it`)
  if (keyPairFromSeed(outer.seed).did !== payload.key) throw new InvitationError('INVITATION_FORGED', 'the invitation code\'s secret is not the invitation\'s key')
  return { envelope: envelope as SignedEnvelope<InvitationPayload>, seed: outer.seed }
}

/** Throws `INVITATION_EXPIRED` when `now` is past the invitation's expiry. */
export function checkNotExpired (payload: InvitationPayload, now: number): void {
  if (now >= payload.expiresAt) throw new InvitationError('INVITATION_EXPIRED', `the invitation expired at ${new Date(payload.expiresAt).toISOString()}; ask ${payload.inviter} for a new one`)
}

/** Signs a join request with the joiner's own key. */
export function signJoinRequest (joiner: KeyPair, request: JoinRequest): Uint8Array {
  return encodeEnvelope(signEnvelope(JOIN_DOMAIN, request, joiner))
}

/** Opens a join request: signature and shape. Throws `InvitationError` (MALFORMED, FORGED). */
export function openJoinRequest (bytes: Uint8Array): SignedEnvelope<JoinRequest> {
  let envelope: SignedEnvelope
  try {
    envelope = openEnvelope(bytes, JOIN_DOMAIN)
  } catch (cause) {
    throw new InvitationError('INVITATION_FORGED', `the join request does not verify: ${(cause as Error).message}`, { cause })
  }
  const p = checkFields(envelope.payload, 'join request', ['network', 'invitation', 'name', 'at'], [], malformed)
  checkString(p.network, 'network', malformed, { min: 1, max: 200 })
  checkString(p.invitation, 'invitation', malformed, { min: 1, max: 200 })
  checkString(p.name, 'name', malformed, { max: MAX_NAME_LENGTH })
  checkInteger(p.at, 'at', malformed)
  return envelope as SignedEnvelope<JoinRequest>
}

export function encodeJoinAnswer (answer: JoinAnswer): Uint8Array {
  return encode(answer)
}

export function decodeJoinAnswer (bytes: Uint8Array): JoinAnswer {
  const value = decode(bytes) as Record<string, unknown>
  if (typeof value !== 'object' || value === null || typeof value.ok !== 'boolean') throw malformed('the inviter\'s answer is not a join answer')
  return value as unknown as JoinAnswer
}

/** One invitation as its inviter's node keeps it (never the secret). */
export interface InvitationRecord {
  readonly id: string
  readonly key: Did
  readonly name: string
  readonly createdAt: number
  readonly expiresAt: number
  readonly state: 'pending' | 'used'
  /** The new member's DID, once the invitation was used. */
  readonly usedBy?: Did
  readonly usedAt?: number
  /** The membership proposal raised for the new member. */
  readonly proposal?: string
}

interface InvitationsFile { version: 1, invitations: InvitationRecord[] }

/**
 * The inviter's invitations, in `<data-dir>/invitations.json` (checksummed, written atomically): which
 * invitation keys may connect (pending, unexpired), who used which, and which DIDs are candidates
 * (used an invitation, not a member yet). Records are pruned 30 days after expiry.
 */
export class InvitationStore {
  private constructor (private readonly path: string, private records: InvitationRecord[]) {}

  static async open (path: string): Promise<InvitationStore> {
    let data: unknown
    try {
      data = await readJsonSnapshot(path)
    } catch (err) {
      if (err instanceof CorruptFileError) throw new DataDirCorruptError(path, err.message, { cause: err })
      throw err
    }
    if (data === undefined) return new InvitationStore(path, [])
    const file = data as Partial<InvitationsFile>
    if (file.version !== 1 || !Array.isArray(file.invitations)) throw new DataDirCorruptError(path, 'not an invitations file')
    return new InvitationStore(path, file.invitations)
  }

  list (): readonly InvitationRecord[] {
    return this.records
  }

  get (id: string): InvitationRecord | undefined {
    return this.records.find((r) => r.id === id)
  }

  /** A pending, unexpired invitation whose key is `did`. */
  pendingByKey (did: string, now: number): InvitationRecord | undefined {
    return this.records.find((r) => r.key === did && r.state === 'pending' && now < r.expiresAt)
  }

  /** An unexpired invitation (pending or used) whose key is `did`. */
  unexpiredByKey (did: string, now: number): InvitationRecord | undefined {
    return this.records.find((r) => r.key === did && now < r.expiresAt)
  }

  /** The used invitation that made `did` a candidate. */
  usedBy (did: string): InvitationRecord | undefined {
    return this.records.find((r) => r.usedBy === did)
  }

  async add (record: InvitationRecord, now: number): Promise<void> {
    this.records = [...this.records.filter((r) => Math.max(r.expiresAt, r.usedAt ?? 0) + RECORD_RETENTION_MS > now), record]
    await this.save()
  }

  async markUsed (id: string, usedBy: Did, usedAt: number, proposal: string | undefined): Promise<InvitationRecord> {
    const record = this.get(id)
    if (record === undefined) throw new InvitationError('INVITATION_UNKNOWN', `no invitation ${id}`)
    const used: InvitationRecord = { ...record, state: 'used', usedBy, usedAt, ...(proposal === undefined ? {} : { proposal }) }
    this.records = this.records.map((r) => (r.id === id ? used : r))
    await this.save()
    return used
  }

  private async save (): Promise<void> {
    const file: InvitationsFile = { version: 1, invitations: this.records }
    await writeJsonSnapshot(this.path, file)
  }
}
