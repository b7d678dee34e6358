import type { Did, MembershipStatus, SignedEnvelope } from '@icn/identity'
import { CorruptStateError } from './errors.js'
import { NameBook } from './names.js'
import { parseName } from './payloads.js'
import type { Charter, Member, ProfilePayload, ProposalRecord } from './types.js'

/** One DID whose status under the charter in force changed, and the version that changed it. */
export interface MembershipChange {
  readonly did: Did
  readonly status: MembershipStatus
  readonly version: number
}

/** From `at` (ms) on, until the DID's next step, the DID has `status`. */
interface Step {
  readonly at: number
  readonly status: MembershipStatus
}

const statusOf = (member: Member | undefined): MembershipStatus =>
  member === undefined ? 'none' : member.frozen ? 'frozen' : 'member'

/** Index of the last element whose time is `<= at` in a list sorted by time (-1 if none): the latest wins a tie. */
function lastAtOrBefore<T> (list: readonly T[], timeOf: (item: T) => number, at: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (timeOf(list[mid] as T) <= at) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}

/**
 * Pure: which charter version is in force at a time, and each DID's status under it.
 *
 * Version 1 is in force from −∞. Version v ≥ 2 takes effect at the execution time
 * of the proposal that made it (its `closesAt`), raised if needed to the time of
 * version v − 1 (a version holds every change before it, so it never takes effect
 * earlier). Versions taking effect at the same millisecond: the later version wins.
 *
 * Lookups are a binary search over the DID's own status steps (a DID changes status
 * a handful of times), so `statusAt` costs O(log steps) whatever the charter's size.
 */
export class MembershipTimeline {
  /** Effective time of version `i + 1`. */
  private readonly times: number[] = []
  /** Each DID's status steps, in version order (times nondecreasing). */
  private readonly steps = new Map<Did, Step[]>()
  /** Members of the latest version. */
  private current: ReadonlyMap<Did, Member> = new Map()

  /** A timeline holding `genesis` (version 1) only. */
  constructor (genesis: Charter) {
    if (genesis.version !== 1) throw new RangeError(`a timeline starts at charter v1, not v${genesis.version}`)
    this.append(genesis, Number.NEGATIVE_INFINITY)
  }

  /** Builds the timeline of a whole charter history (oldest first); `executedAt(charter)` is called for v ≥ 2. */
  static fromHistory (charters: readonly Charter[], executedAt: (charter: Charter) => number): MembershipTimeline {
    const [genesis, ...later] = charters
    if (genesis === undefined) throw new RangeError('a charter history holds at least version 1')
    const timeline = new MembershipTimeline(genesis)
    for (const charter of later) timeline.append(charter, executedAt(charter))
    return timeline
  }

  /** The latest version. */
  get version (): number {
    return this.times.length
  }

  /**
   * Adds the next version, executed at `executedAt`; returns the DIDs whose status it
   * changed, sorted by DID. Throws `RangeError` unless `charter.version` is `version + 1`.
   */
  append (charter: Charter, executedAt: number): MembershipChange[] {
    if (charter.version !== this.times.length + 1) throw new RangeError(`charter v${charter.version} does not follow v${this.times.length}`)
    const last = this.times[this.times.length - 1]
    const at = last === undefined || executedAt > last ? executedAt : last
    this.times.push(at)
    const next = new Map(charter.members.map((m) => [m.did, m]))
    const changes: MembershipChange[] = []
    const step = (did: Did, status: MembershipStatus): void => {
      const steps = this.steps.get(did)
      if (steps === undefined) this.steps.set(did, [{ at, status }])
      else steps.push({ at, status })
      changes.push({ did, status, version: charter.version })
    }
    for (const member of charter.members) {
      const status = statusOf(member)
      if (status !== statusOf(this.current.get(member.did))) step(member.did, status)
    }
    for (const did of this.current.keys()) if (!next.has(did)) step(did, 'none')
    this.current = next
    return changes.sort((a, b) => (a.did < b.did ? -1 : a.did > b.did ? 1 : 0))
  }

  /** When `version` takes effect (−∞ for version 1), or undefined for a version it does not hold. */
  effectiveAt (version: number): number | undefined {
    return this.times[version - 1]
  }

  /** The charter version in force at `at` (0 for NaN). */
  versionAt (at: number): number {
    return lastAtOrBefore(this.times, (t) => t, at) + 1
  }

  /** Status of `did` under the version in force at `at`: 'member', 'frozen' (a member, frozen) or 'none'. */
  statusAt (did: Did, at: number): MembershipStatus {
    const steps = this.steps.get(did)
    if (steps === undefined) return 'none'
    const i = lastAtOrBefore(steps, (s) => s.at, at)
    return i < 0 ? 'none' : (steps[i] as Step).status
  }

  /** Status of `did` under the latest version. */
  status (did: Did): MembershipStatus {
    return statusOf(this.current.get(did))
  }

  /** DIDs whose latest status differs between `before` and this timeline, with their status here, sorted by DID. */
  changesSince (before: MembershipTimeline): MembershipChange[] {
    const dids = new Set([...before.current.keys(), ...this.current.keys()])
    const changes: MembershipChange[] = []
    for (const did of dids) {
      const status = this.status(did)
      if (status !== before.status(did)) changes.push({ did, status, version: this.version })
    }
    return changes.sort((a, b) => (a.did < b.did ? -1 : a.did > b.did ? 1 : 0))
  }
}

/** When an executed proposal executed (its `executed` transition); throws `CorruptStateError` if it has not. */
export function executedAt (record: ProposalRecord): number {
  const step = record.state === 'executed' ? record.history.find((h) => h.state === 'executed') : undefined
  if (step === undefined) throw new CorruptStateError(`proposal ${record.id} made a charter version but is '${record.state}', not executed`)
  return step.at
}

/** The member and display name an executed membership addition carries, if it names one. */
export function grantedName (record: ProposalRecord): { readonly did: Did, readonly name: string } | undefined {
  const p = record.envelope.payload
  if (p.kind !== 'membership' || p.payload.action !== 'add' || p.payload.name === undefined) return undefined
  return { did: p.payload.member, name: parseName(p.payload.name) }
}

/** The membership timeline and the names of a governance history. */
export interface Membership {
  readonly timeline: MembershipTimeline
  readonly names: NameBook
}

/**
 * Builds the timeline and names from the charter history (oldest first), the proposal
 * records (`proposalOf`) and the stored profiles. Throws `CorruptStateError` when a
 * version's amending proposal is missing or not executed.
 */
export function buildMembership (
  charters: readonly Charter[],
  proposalOf: (id: string) => ProposalRecord | undefined,
  profiles: Iterable<SignedEnvelope<ProfilePayload>>
): Membership {
  const amending = (charter: Charter): ProposalRecord => {
    const record = charter.amendedBy === null ? undefined : proposalOf(charter.amendedBy)
    if (record === undefined) throw new CorruptStateError(`charter v${charter.version} names unknown proposal ${String(charter.amendedBy)}`)
    return record
  }
  const timeline = MembershipTimeline.fromHistory(charters, (charter) => executedAt(amending(charter)))
  const names = new NameBook()
  for (const charter of charters.slice(1)) {
    const granted = grantedName(amending(charter))
    if (granted !== undefined) names.grant(granted.did, granted.name, timeline.effectiveAt(charter.version) as number)
  }
  for (const profile of profiles) names.setProfile(profile)
  return { timeline, names }
}
