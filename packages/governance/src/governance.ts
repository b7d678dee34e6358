import {
  type Did, type IsMember, type KeyPair, type MembershipAt, type SignedEnvelope, decodeEnvelope, encode, IdentityError, signEnvelope, systemClock
} from '@icn/identity'
import { charterHash, validateCharter } from './charter.js'
import { ACTION_DOMAIN, PROFILE_DOMAIN, PROPOSAL_DOMAIN, STATE_FORMAT, VOTE_DOMAIN } from './constants.js'
import { type GovernanceView, checkAction, checkJoinTrust, checkProfile, checkProposal, checkVote, electorateOf, ruleOf } from './enforcement.js'
import {
  CharterMismatchError, CorruptStateError, GovernanceClosedError, InvalidCharterError,
  InvalidEnvelopeError, InvalidPayloadError, UnknownProposalError
} from './errors.js'
import { execute } from './execution.js'
import type { EffectListener, Governance, GovernanceComponents, GovernanceInit, MembershipListener, TransitionListener } from './index.js'
import { type Membership, type MembershipChange, buildMembership, grantedName } from './membership.js'
import { profileSupersedes } from './names.js'
import { parseActionPayload, parseProfilePayload, parseProposalPayload, parseVotePayload } from './payloads.js'
import { DeadlineScheduler } from './scheduler.js'
import { parseState } from './state.js'
import { GovernanceStore } from './store.js'
import { supersedes, tally } from './tally.js'
import { ACTIONABLE_KINDS, type TransitionTrigger, transition } from './transitions.js'
import type {
  ActionPayload, ApplyResult, Charter, EffectRecord, Member, ProfilePayload, Proposal, ProposalAction, ProposalInput, ProposalPayload,
  ProposalRecord, ProposalState, ProposalWithTally, TallyResult, VoteChoice, VotePayload, VoteRecord
} from './types.js'
import { verifyAs } from './utils/envelope.js'
import { isPlainMap } from '@icn/identity'

/** A charter version with its lookups, cached (charter versions never change). */
interface CharterEntry {
  readonly charter: Charter
  readonly members: ReadonlyMap<string, Member>
  readonly electorate: ReadonlySet<Did>
}

/** A validated envelope and the write it leads to (none for duplicates and superseded votes or profiles). */
interface Prepared {
  readonly result: ApplyResult
  readonly write?: () => ProposalRecord | undefined
  /** In-memory bookkeeping once the write committed. */
  readonly committed?: () => void
}

/** A charter version written by an execution, and when it executed. */
interface Amended {
  readonly charter: Charter
  readonly record: ProposalRecord
  readonly at: number
}

const corrupt = (message: string): Error => new CorruptStateError(message)

function toProposal (record: ProposalRecord): Proposal {
  const p = record.envelope.payload
  return {
    id: record.id,
    proposer: record.envelope.signer,
    domain: p.domain,
    kind: p.kind,
    payload: p.payload,
    title: p.title,
    description: p.description,
    charterVersion: p.charterVersion,
    createdAt: p.createdAt,
    deliberationMs: p.deliberationMs,
    state: record.state,
    submittedAt: record.submittedAt,
    opensAt: record.opensAt,
    closesAt: record.closesAt,
    history: record.history,
    result: record.result,
    envelope: record.envelope
  } as Proposal
}

/** Signs a locally built payload; a value that cannot be encoded canonically is the caller's bad input. */
function signLocal<T> (domain: string, payload: T, keyPair: KeyPair): SignedEnvelope<T> {
  try {
    return signEnvelope(domain, payload, keyPair)
  } catch (cause) {
    if (cause instanceof IdentityError) throw new InvalidPayloadError(`cannot sign payload: ${cause.message}`)
    throw cause
  }
}

function moveTo (record: ProposalRecord, trigger: TransitionTrigger, at: number, cause: string, to?: ProposalState): ProposalRecord {
  const state = transition(record.state, trigger, to)
  return { ...record, state, history: [...record.history, { state, at, cause }] }
}

/** The production handle: validation, persistence, the deadline scheduler and effects. */
export class GovernanceHandle implements Governance {
  private readonly charterCache = new Map<number, CharterEntry>()
  /** Due time of every proposal waiting on the clock (deliberation → opensAt, open → closesAt). */
  private readonly deadlines = new Map<string, number>()
  private readonly listeners = new Set<EffectListener>()
  private readonly transitionListeners = new Set<TransitionListener>()
  private readonly membershipListeners = new Set<MembershipListener>()
  /** The membership timeline and names, kept in step with every commit that changes them. */
  private membership: Membership
  readonly networkId: string
  /** Applies queued for the next write transaction: close() lets them finish. */
  private readonly inFlight = new Set<Promise<unknown>>()
  private readonly scheduler: DeadlineScheduler
  private readonly clock
  private readonly maxClockSkewMs: number
  private closing: Promise<void> | undefined

  private constructor (private readonly store: GovernanceStore, private readonly components: GovernanceComponents, init: GovernanceInit) {
    const genesis = store.charter(1)
    if (genesis === undefined) throw corrupt('charter v1 is missing')
    this.networkId = charterHash(genesis)
    this.membership = buildMembership(store.charters(), (id) => store.proposal(id), store.profiles())
    this.clock = components.clock ?? systemClock
    this.maxClockSkewMs = init.maxClockSkewMs ?? 60_000
    this.scheduler = new DeadlineScheduler(this.clock, {
      nextDeadline: () => this.nextDeadline(),
      runDue: () => { this.runDue() },
      onError: (err) => { this.reportError(err) }
    })
  }

  static async open (components: GovernanceComponents, init: GovernanceInit): Promise<GovernanceHandle> {
    const store = GovernanceStore.open(init.path)
    try {
      const genesis = store.charter(1)
      if (genesis === undefined) {
        if (init.charter === undefined) throw new InvalidCharterError(`${init.path} holds no charter: pass the genesis charter`)
        const charter = validateCharter(init.charter)
        if (charter.version !== 1) throw new InvalidCharterError(`a genesis charter has version 1, not ${charter.version}`)
        store.transaction(() => { store.putCharter(charter) })
      } else if (init.charter !== undefined && charterHash(genesis) !== charterHash(init.charter)) {
        throw new CharterMismatchError(`${init.path} was created with genesis charter ${charterHash(genesis)}, not ${charterHash(init.charter)}`)
      }
      const handle = new GovernanceHandle(store, components, init)
      handle.loadDeadlines()
      if (init.holdDeadlines !== true) handle.releaseDeadlines()
      return handle
    } catch (err) {
      await store.close()
      throw err
    }
  }

  get domain (): string {
    return this.charter().domain
  }

  // ── charters and members ────────────────────────────────────────────────

  charter (): Charter {
    this.assertOpen()
    return this.currentCharter()
  }

  charterAt (version: number): Charter | undefined {
    this.assertOpen()
    return this.findEntry(version)?.charter
  }

  charterHistory (): Charter[] {
    this.assertOpen()
    return this.store.charters()
  }

  members (): readonly Member[] {
    return this.charter().members
  }

  // ── membership timeline and names (in memory: called for every ledger entry) ──

  readonly membershipAt: MembershipAt = (did, at) => this.membership.timeline.statusAt(did, at)

  readonly isMember: IsMember = (did) => this.membership.timeline.status(did) === 'member'

  onMembershipChange (listener: MembershipListener): () => void {
    this.membershipListeners.add(listener)
    return () => { this.membershipListeners.delete(listener) }
  }

  nameOf (did: Did): string | undefined {
    this.assertOpen()
    return this.membership.names.nameOf(did)
  }

  names (): ReadonlyMap<Did, string> {
    this.assertOpen()
    return this.membership.names.names()
  }

  profiles (): Array<SignedEnvelope<ProfilePayload>> {
    this.assertOpen()
    return this.membership.names.profiles()
  }

  // ── local actions: sign with a key pair, then the same path as remote envelopes ──

  async propose (keyPair: KeyPair, input: ProposalInput): Promise<ApplyResult<ProposalPayload>> {
    const charter = this.charter()
    const payload = {
      domain: charter.domain,
      kind: input.kind,
      title: input.title,
      description: input.description ?? '',
      payload: input.payload,
      charterVersion: charter.version,
      createdAt: this.clock.now(),
      deliberationMs: input.deliberationMs ?? charter.rules.kinds[input.kind]?.deliberation.defaultMs ?? 0
    } as ProposalPayload
    // The candidate's trust is the proposer's judgement, checked here only (see checkJoinTrust).
    parseProposalPayload(payload)
    checkJoinTrust(this.view(), payload)
    return await this.apply(signLocal(PROPOSAL_DOMAIN, payload, keyPair)) as ApplyResult<ProposalPayload>
  }

  async submit (keyPair: KeyPair, proposal: string): Promise<ApplyResult<ActionPayload>> {
    return await this.act(keyPair, proposal, 'submit')
  }

  async cancel (keyPair: KeyPair, proposal: string): Promise<ApplyResult<ActionPayload>> {
    return await this.act(keyPair, proposal, 'cancel')
  }

  async vote (keyPair: KeyPair, proposal: string, choice: VoteChoice): Promise<ApplyResult<VotePayload>> {
    const payload: VotePayload = { domain: this.domain, proposal, choice, castAt: this.clock.now() }
    return await this.apply(signLocal(VOTE_DOMAIN, payload, keyPair)) as ApplyResult<VotePayload>
  }

  async setName (keyPair: KeyPair, name: string): Promise<ApplyResult<ProfilePayload>> {
    // Signed trimmed, so the signed name is the one shown; a non-string fails the payload check.
    const payload: ProfilePayload = { domain: this.domain, name: typeof name === 'string' ? name.trim() : name, at: this.clock.now() }
    return await this.apply(signLocal(PROFILE_DOMAIN, payload, keyPair)) as ApplyResult<ProfilePayload>
  }

  private async act (keyPair: KeyPair, proposal: string, action: ProposalAction): Promise<ApplyResult<ActionPayload>> {
    const payload: ActionPayload = { domain: this.domain, action, proposal, at: this.clock.now() }
    return await this.apply(signLocal(ACTION_DOMAIN, payload, keyPair)) as ApplyResult<ActionPayload>
  }

  // ── envelopes from anywhere ─────────────────────────────────────────────

  async apply (envelope: SignedEnvelope): Promise<ApplyResult> {
    this.assertOpen()
    // Deadlines that fell due since the last tick apply first, so every check sees the state at `now`.
    this.runDue()
    // Checks run inside the write transaction, so envelopes applied concurrently are checked
    // against each other's writes; concurrent calls share one commit.
    const task = this.store.transactionAsync(() => {
      const prepared = this.prepare(envelope)
      return { result: prepared.result, record: prepared.write?.(), wrote: prepared.write !== undefined, committed: prepared.committed }
    })
    this.inFlight.add(task)
    try {
      const { result, record, wrote, committed } = await task
      committed?.()
      if (wrote && this.closing === undefined) {
        if (record !== undefined) this.trackDeadline(record)
        this.scheduler.wake()
        // A submit whose deliberation is already over (emergency kinds) opens at once.
        this.runDue()
      }
      return result
    } finally {
      this.inFlight.delete(task)
    }
  }

  async applyBytes (bytes: Uint8Array): Promise<ApplyResult> {
    let envelope: SignedEnvelope
    try {
      envelope = decodeEnvelope(bytes)
    } catch (cause) {
      if (cause instanceof IdentityError) throw new InvalidEnvelopeError(`envelope bytes: ${cause.message}`, { cause })
      throw cause
    }
    return await this.apply(envelope)
  }

  check (envelope: SignedEnvelope): ApplyResult {
    this.assertOpen()
    this.runDue()
    return this.prepare(envelope).result
  }

  /** Validates an envelope against the stored state; never writes (the returned `write` does). */
  private prepare (envelope: SignedEnvelope): Prepared {
    if (!isPlainMap(envelope)) throw new InvalidEnvelopeError('not a signed envelope')
    switch (envelope.domain) {
      case PROPOSAL_DOMAIN: return this.prepareProposal(envelope)
      case VOTE_DOMAIN: return this.prepareVote(envelope)
      case ACTION_DOMAIN: return this.prepareAction(envelope)
      case PROFILE_DOMAIN: return this.prepareProfile(envelope)
      default: throw new InvalidEnvelopeError(`envelope domain '${String(envelope.domain)}' is not a governance domain`)
    }
  }

  private prepareProposal (raw: SignedEnvelope): Prepared {
    const envelope = verifyAs(raw, PROPOSAL_DOMAIN) as SignedEnvelope<ProposalPayload>
    parseProposalPayload(envelope.payload)
    const result: ApplyResult = { envelope, type: 'proposal', proposal: envelope.cid, status: 'recorded' }
    if (this.store.proposal(envelope.cid) !== undefined) return { result: { ...result, status: 'duplicate' } }
    checkProposal(this.view(), envelope)
    const record: ProposalRecord = {
      id: envelope.cid,
      envelope,
      state: 'draft',
      submittedAt: null,
      opensAt: null,
      closesAt: null,
      history: [{ state: 'draft', at: envelope.payload.createdAt, cause: envelope.cid }],
      actions: [],
      result: null
    }
    return { result, write: () => { this.store.putProposal(record); return record } }
  }

  private prepareAction (raw: SignedEnvelope): Prepared {
    const envelope = verifyAs(raw, ACTION_DOMAIN) as SignedEnvelope<ActionPayload>
    const { proposal: id, at } = parseActionPayload(envelope.payload)
    const record = this.requireRecord(id)
    const result: ApplyResult = { envelope, type: 'action', proposal: id, status: 'recorded' }
    if (record.actions.some((a) => a.cid === envelope.cid)) return { result: { ...result, status: 'duplicate' } }
    checkAction(this.view(), record, envelope)
    let next = moveTo({ ...record, actions: [...record.actions, envelope] }, envelope.payload.action, at, envelope.cid)
    if (next.state === 'deliberation') {
      const p = record.envelope.payload
      const opensAt = at + p.deliberationMs
      next = { ...next, submittedAt: at, opensAt, closesAt: opensAt + ruleOf(this.entry(p.charterVersion).charter, p).votingMs }
    }
    return { result, write: () => { this.store.putProposal(next, record.state); return next } }
  }

  private prepareVote (raw: SignedEnvelope): Prepared {
    const envelope = verifyAs(raw, VOTE_DOMAIN) as SignedEnvelope<VotePayload>
    const { proposal: id, choice, castAt } = parseVotePayload(envelope.payload)
    const record = this.requireRecord(id)
    const result: ApplyResult = { envelope, type: 'vote', proposal: id, status: 'recorded' }
    const stored = this.store.vote(id, envelope.signer)
    if (stored?.cid === envelope.cid) return { result: { ...result, status: 'duplicate' } }
    checkVote(this.view(), record, envelope)
    const vote: VoteRecord = { proposal: id, voter: envelope.signer, choice, castAt, cid: envelope.cid, envelope }
    if (stored !== undefined && !supersedes(vote, stored)) return { result: { ...result, status: 'superseded' } }
    return { result, write: () => { this.store.putVote(vote); return undefined } }
  }

  private prepareProfile (raw: SignedEnvelope): Prepared {
    const envelope = verifyAs(raw, PROFILE_DOMAIN) as SignedEnvelope<ProfilePayload>
    parseProfilePayload(envelope.payload)
    const result: ApplyResult = { envelope, type: 'profile', proposal: envelope.signer, status: 'recorded' }
    // Read from the store inside the write transaction: concurrent profiles are judged against each other.
    const stored = this.store.profile(envelope.signer)
    if (stored?.cid === envelope.cid) return { result: { ...result, status: 'duplicate' } }
    checkProfile(this.view(), envelope)
    if (stored !== undefined && !profileSupersedes(envelope, stored)) return { result: { ...result, status: 'superseded' } }
    return {
      result,
      write: () => { this.store.putProfile(envelope); return undefined },
      committed: () => { this.membership.names.setProfile(envelope) }
    }
  }

  // ── queries ─────────────────────────────────────────────────────────────

  proposal (id: string): ProposalWithTally | undefined {
    this.assertOpen()
    const record = this.store.proposal(id)
    return record === undefined ? undefined : { ...toProposal(record), tally: record.result ?? this.liveTally(record) }
  }

  proposals (state?: ProposalState): Proposal[] {
    this.assertOpen()
    return this.store.proposals(state).map(toProposal)
  }

  votes (proposal: string): VoteRecord[] {
    this.assertOpen()
    return this.store.votes(proposal)
  }

  envelopes (proposal: string): SignedEnvelope[] {
    this.assertOpen()
    const record = this.store.proposal(proposal)
    if (record === undefined) return []
    return [record.envelope, ...record.actions, ...this.store.votes(proposal).map((v) => v.envelope)]
  }

  tally (proposal: string): TallyResult {
    this.assertOpen()
    const record = this.requireRecord(proposal)
    return record.result ?? this.liveTally(record)
  }

  effects (after = 0): EffectRecord[] {
    this.assertOpen()
    return this.store.effects(after)
  }

  onEffect (listener: EffectListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  onTransition (listener: TransitionListener): () => void {
    this.transitionListeners.add(listener)
    return () => { this.transitionListeners.delete(listener) }
  }

  // ── snapshots ───────────────────────────────────────────────────────────

  async exportState (): Promise<Uint8Array> {
    this.assertOpen()
    // Stored values are already the canonical documents, sorted by key.
    return encode({ format: STATE_FORMAT, ...this.store.documents() })
  }

  async restoreState (state: Uint8Array): Promise<void> {
    this.assertOpen()
    const contents = parseState(state)
    const genesis = contents.charters[0] as Charter
    if (charterHash(genesis) !== this.networkId) {
      throw new CharterMismatchError(`state is of network ${charterHash(genesis)}, this store of ${this.networkId}`)
    }
    const byId = new Map(contents.proposals.map((p) => [p.id, p]))
    const membership = buildMembership(contents.charters, (id) => byId.get(id), contents.profiles)
    this.store.replace(contents)
    const before = this.membership.timeline
    this.membership = membership
    this.charterCache.clear()
    this.deadlines.clear()
    this.loadDeadlines()
    this.scheduler.wake()
    for (const change of membership.timeline.changesSince(before)) this.notify(this.membershipListeners, change)
  }

  // ── lifecycle ───────────────────────────────────────────────────────────

  get deadlinesHeld (): boolean {
    return !this.scheduler.started
  }

  releaseDeadlines (): void {
    if (this.closing === undefined) this.scheduler.start()
  }

  async close (): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.inFlight])
      await this.scheduler.shutdown()
      this.listeners.clear()
      this.membershipListeners.clear()
      await this.store.close()
    })()
    await this.closing
  }

  async shutdown (): Promise<void> {
    await this.close()
  }

  // ── internals ───────────────────────────────────────────────────────────

  private assertOpen (): void {
    if (this.closing !== undefined) throw new GovernanceClosedError()
  }

  private currentCharter (): Charter {
    return this.entry(this.store.latestCharterVersion()).charter
  }

  private findEntry (version: number): CharterEntry | undefined {
    const cached = this.charterCache.get(version)
    if (cached !== undefined) return cached
    const charter = this.store.charter(version)
    if (charter === undefined) return undefined
    const entry: CharterEntry = { charter, members: new Map(charter.members.map((m) => [m.did, m])), electorate: electorateOf(charter) }
    this.charterCache.set(version, entry)
    return entry
  }

  private entry (version: number): CharterEntry {
    const entry = this.findEntry(version)
    if (entry === undefined) throw corrupt(`charter v${version} is missing`)
    return entry
  }

  private view (): GovernanceView {
    return {
      now: this.clock.now(),
      maxClockSkewMs: this.maxClockSkewMs,
      charter: this.currentCharter(),
      member: (version, did) => this.findEntry(version)?.members.get(did),
      proposal: (id) => this.store.proposal(id),
      trustOf: (did) => (this.components.trustOf === undefined ? 1 : this.components.trustOf(did)),
      membershipAt: this.membershipAt
    }
  }

  private requireRecord (id: string): ProposalRecord {
    const record = this.store.proposal(id)
    if (record === undefined) throw new UnknownProposalError(`proposal ${id} is unknown`)
    return record
  }

  private liveTally (record: ProposalRecord): TallyResult {
    const p = record.envelope.payload
    const entry = this.entry(p.charterVersion)
    return tally(this.store.ballots(record.id), entry.electorate, ruleOf(entry.charter, p))
  }

  private loadDeadlines (): void {
    for (const state of ['deliberation', 'open'] as const) {
      for (const record of this.store.proposals(state)) this.trackDeadline(record)
    }
  }

  private trackDeadline (record: ProposalRecord): void {
    const due = record.state === 'deliberation' ? record.opensAt : record.state === 'open' ? record.closesAt : null
    if (due === null) this.deadlines.delete(record.id)
    else this.deadlines.set(record.id, due)
  }

  private nextDeadline (): number | undefined {
    let next: number | undefined
    for (const due of this.deadlines.values()) if (next === undefined || due < next) next = due
    return next
  }

  /** Applies every clock-driven transition due now, earliest first (ties by id), one transaction each. */
  private runDue (): void {
    // Held (`holdDeadlines`): nothing moves by the clock until released, here or in the scheduler.
    if (this.deadlinesHeld) return
    const now = this.clock.now()
    for (;;) {
      let id: string | undefined
      let at = Number.POSITIVE_INFINITY
      for (const [candidate, due] of this.deadlines) {
        if (due <= now && (due < at || (due === at && id !== undefined && candidate < id))) { id = candidate; at = due }
      }
      if (id === undefined) return
      this.step(id)
    }
  }

  /** Opens or closes (and executes) one proposal at its deadline. */
  private step (id: string): void {
    const changed: ProposalRecord[] = []
    const emitted: EffectRecord[] = []
    const amended: Amended[] = []
    try {
      this.writeStep(id, changed, emitted, amended)
    } catch (err) {
      // The cache may hold a charter version read inside the aborted transaction.
      this.charterCache.clear()
      throw err
    }
    // Whatever happened, this proposal no longer waits on this deadline.
    this.deadlines.delete(id)
    for (const record of changed) this.trackDeadline(record)
    const memberChanges = amended.flatMap((a) => this.advanceMembership(a))
    for (const effect of emitted) this.emit(effect)
    for (const change of memberChanges) this.notify(this.membershipListeners, change)
    for (const record of changed) this.notify(this.transitionListeners, toProposal(record))
  }

  /** Adds a committed charter version to the timeline (and the name its membership addition gives). */
  private advanceMembership ({ charter, record, at }: Amended): MembershipChange[] {
    const { timeline, names } = this.membership
    const changes = timeline.append(charter, at)
    const granted = grantedName(record)
    if (granted !== undefined) names.grant(granted.did, granted.name, timeline.effectiveAt(charter.version) as number)
    return changes
  }

  private writeStep (id: string, changed: ProposalRecord[], emitted: EffectRecord[], amended: Amended[]): void {
    this.store.transaction(() => {
      const record = this.requireRecord(id)
      if (record.state === 'deliberation' && record.opensAt !== null) {
        const opened = moveTo(record, 'voting-opens', record.opensAt, 'scheduler')
        this.store.putProposal(opened, record.state)
        changed.push(opened)
        return
      }
      if (record.state !== 'open' || record.closesAt === null) return
      const at = record.closesAt
      const result = this.liveTally(record)
      let closed: ProposalRecord = { ...moveTo(record, 'voting-closes', at, 'scheduler', result.outcome), result }
      if (closed.state === 'accepted' && ACTIONABLE_KINDS.has(record.envelope.payload.kind)) {
        const execution = execute(closed, this.currentCharter(), (target) => this.store.proposal(target)?.state)
        if (execution.charter !== null) {
          this.store.putCharter(execution.charter)
          amended.push({ charter: execution.charter, record, at })
        }
        if (execution.closes !== null) {
          const target = this.requireRecord(execution.closes.target)
          const ended = moveTo(target, execution.closes.trigger, at, id)
          this.store.putProposal(ended, target.state)
          changed.push(ended)
        }
        const effect: EffectRecord = { seq: this.store.lastEffectSeq() + 1, proposal: id, at, applied: execution.applied, effect: execution.effect }
        this.store.putEffect(effect)
        emitted.push(effect)
        closed = moveTo(closed, 'execute', at, 'scheduler')
      }
      this.store.putProposal(closed, record.state)
      changed.push(closed)
    })
  }

  private emit (effect: EffectRecord): void { this.notify(this.listeners, effect) }

  private notify<T> (listeners: ReadonlySet<(value: T) => void>, value: T): void {
    for (const listener of listeners) {
      try {
        listener(value)
      } catch (err) {
        this.reportError(err)
      }
    }
  }

  private reportError (err: unknown): void {
    if (this.components.onError !== undefined) this.components.onError(err)
    else console.error('[@icn/governance]', err)
  }
}
