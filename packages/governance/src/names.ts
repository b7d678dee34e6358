import type { Did, SignedEnvelope } from '@icn/identity'
import type { ProfilePayload } from './types.js'

/** True when profile `a` replaces `b`: later `at`, or the same time and the greater CID (a total order). */
export function profileSupersedes (a: SignedEnvelope<ProfilePayload>, b: SignedEnvelope<ProfilePayload>): boolean {
  return a.payload.at > b.payload.at || (a.payload.at === b.payload.at && a.cid > b.cid)
}

/**
 * Pure: members' display names. Two sources: the `name` of an executed membership
 * addition (at its effective time) and the member's own signed profile (at its `at`).
 * A DID's name is the later of the two; at the same millisecond the profile wins.
 * Names stay after a member leaves, so history still shows who they were.
 */
export class NameBook {
  private readonly granted = new Map<Did, { readonly name: string, readonly at: number }>()
  private readonly current = new Map<Did, SignedEnvelope<ProfilePayload>>()

  /** Records the name a membership addition gave `did`, effective at `at` (called in version order). */
  grant (did: Did, name: string, at: number): void {
    this.granted.set(did, { name, at })
  }

  /** Keeps `envelope` if it is the signer's latest profile; returns whether it did. */
  setProfile (envelope: SignedEnvelope<ProfilePayload>): boolean {
    const stored = this.current.get(envelope.signer)
    if (stored !== undefined && !profileSupersedes(envelope, stored)) return false
    this.current.set(envelope.signer, envelope)
    return true
  }

  /** The signer's current profile envelope. */
  profile (did: Did): SignedEnvelope<ProfilePayload> | undefined {
    return this.current.get(did)
  }

  /** Every current profile envelope, sorted by signer DID. */
  profiles (): Array<SignedEnvelope<ProfilePayload>> {
    return [...this.current.values()].sort((a, b) => (a.signer < b.signer ? -1 : 1))
  }

  nameOf (did: Did): string | undefined {
    const profile = this.current.get(did)
    const granted = this.granted.get(did)
    if (profile !== undefined && (granted === undefined || profile.payload.at >= granted.at)) return profile.payload.name.trim()
    return granted?.name
  }

  /** Every named DID and its name, in DID order (a fresh map). */
  names (): Map<Did, string> {
    const dids = [...new Set([...this.granted.keys(), ...this.current.keys()])].sort()
    return new Map(dids.map((did) => [did, this.nameOf(did) as string]))
  }
}
