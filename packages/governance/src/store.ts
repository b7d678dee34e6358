import { type Did, type SignedEnvelope, encode } from '@icn/identity'
import { type Database, type RootDatabase, open } from 'lmdb'
import { validateCharter } from './charter.js'
import { decodeStored, profileFromDoc, profileToDoc, proposalFromDoc, proposalToDoc, voteFromDoc, voteToDoc } from './codec.js'
import { CorruptStateError } from './errors.js'
import type { Ballot } from './tally.js'
import type { Charter, EffectRecord, ProfilePayload, ProposalRecord, ProposalState, VoteRecord } from './types.js'
import { VOTE_CHOICES } from './types.js'
import { checkInteger, checkOneOf, checkFields, checkString } from '@icn/identity'

const corrupt = (message: string): Error => new CorruptStateError(message)
const asBytes = (value: Uint8Array): Uint8Array => new Uint8Array(value)
const PROPOSAL_CACHE_SIZE = 1_024

/** Everything the store holds, as plain records (the `exportState` content). */
export interface StoreContents {
  readonly charters: readonly Charter[]
  readonly proposals: readonly ProposalRecord[]
  readonly votes: readonly VoteRecord[]
  readonly effects: readonly EffectRecord[]
  /** Each member's current profile envelope, sorted by signer DID. */
  readonly profiles: ReadonlyArray<SignedEnvelope<ProfilePayload>>
}

/**
 * The LMDB storage adapter: one environment per directory, values are
 * canonical DAG-CBOR. Sub-databases: `charters` (version → charter),
 * `proposals` (id → proposal), `states` (`state/id` index), `votes`
 * (`proposal/voter` → latest vote), `ballots` (same key → `castAt|choice|cid`,
 * the tally's compact index of `votes`), `effects` (seq → effect record),
 * `profiles` (signer DID → their current profile envelope's wire bytes).
 * Writes must run inside `transaction` so each change is one atomic commit.
 */
export class GovernanceStore {
  private constructor (
    private readonly root: RootDatabase,
    private readonly charterDb: Database<Uint8Array, number>,
    private readonly proposalDb: Database<Uint8Array, string>,
    private readonly stateDb: Database<string, string>,
    private readonly voteDb: Database<Uint8Array, string>,
    private readonly ballotDb: Database<string, string>,
    private readonly effectDb: Database<Uint8Array, number>,
    private readonly profileDb: Database<Uint8Array, string>
  ) {}

  /**
   * Decoded proposals by id (every vote reads its proposal). Only reads made inside a write
   * transaction use and fill it: a read outside one sees the last commit, which may be older than
   * an asynchronous transaction whose callback already ran, and caching that would hand the next
   * transaction a stale record (a scheduler step then saw a submitted proposal as a draft, did
   * nothing and dropped its deadline: voting never opened on that node). An entry is dropped
   * whenever that proposal is written, and the whole cache when a transaction fails.
   */
  private readonly proposalCache = new Map<string, ProposalRecord>()
  /** Write-transaction callbacks running now (their reads see the transaction's own state). */
  private writing = 0

  /** Opens (creating if needed) the store in directory `path`. */
  static open (path: string): GovernanceStore {
    const root = open({ path, maxDbs: 8 })
    const binary = { encoding: 'binary' as const }
    return new GovernanceStore(
      root,
      root.openDB<Uint8Array, number>('charters', binary),
      root.openDB<Uint8Array, string>('proposals', binary),
      root.openDB<string, string>('states', { encoding: 'string' }),
      root.openDB<Uint8Array, string>('votes', binary),
      root.openDB<string, string>('ballots', { encoding: 'string' }),
      root.openDB<Uint8Array, number>('effects', binary),
      root.openDB<Uint8Array, string>('profiles', binary)
    )
  }

  /** Runs `fn` in one synchronous write transaction, committed on return (lmdb-js flushes it to disk just after, off the event loop); a throw aborts every write in it. */
  transaction<T> (fn: () => T): T {
    try {
      return this.root.transactionSync(this.writingWith(fn))
    } catch (err) {
      this.proposalCache.clear()
      throw err
    }
  }

  /**
   * Queues `fn` to run in the next asynchronous write transaction; calls made in
   * the same event turn share one commit (and one disk flush). Resolves with
   * `fn`'s value once flushed to disk. `fn` must finish its checks before its first
   * write: a throw rejects only this call, and writes made before it would stay.
   */
  async transactionAsync<T> (fn: () => T): Promise<T> {
    try {
      const result = await this.root.transaction(this.writingWith(fn))
      // Committed is not yet on disk under lmdb-js's default overlappingSync: resolve once flushed.
      await this.root.flushed
      return result
    } catch (err) {
      this.proposalCache.clear()
      throw err
    }
  }

  private writingWith<T> (fn: () => T): () => T {
    return () => {
      this.writing++
      try {
        return fn()
      } finally {
        this.writing--
      }
    }
  }

  charter (version: number): Charter | undefined {
    const bytes = this.charterDb.get(version)
    if (bytes === undefined) return undefined
    try {
      return validateCharter(decodeStored(asBytes(bytes), `charter v${version}`), { verifyDids: false })
    } catch (cause) {
      throw cause instanceof CorruptStateError ? cause : new CorruptStateError(`charter v${version}: ${(cause as Error).message}`, { cause })
    }
  }

  /** Highest stored charter version, or 0 for an empty store. */
  latestCharterVersion (): number {
    for (const key of this.charterDb.getKeys({ reverse: true, limit: 1 })) return key
    return 0
  }

  charters (): Charter[] {
    const latest = this.latestCharterVersion()
    const out: Charter[] = []
    for (let v = 1; v <= latest; v++) {
      const charter = this.charter(v)
      if (charter === undefined) throw corrupt(`charter v${v} is missing`)
      out.push(charter)
    }
    return out
  }

  putCharter (charter: Charter): void {
    this.charterDb.putSync(charter.version, encode(charter))
  }

  proposal (id: string): ProposalRecord | undefined {
    const cacheable = this.writing > 0
    const cached = cacheable ? this.proposalCache.get(id) : undefined
    if (cached !== undefined) return cached
    const bytes = this.proposalDb.get(id)
    if (bytes === undefined) return undefined
    const record = proposalFromDoc(decodeStored(asBytes(bytes), `proposal ${id}`), false)
    if (cacheable) {
      if (this.proposalCache.size >= PROPOSAL_CACHE_SIZE) this.proposalCache.clear()
      this.proposalCache.set(id, record)
    }
    return record
  }

  /** Stores a proposal and keeps the state index in step (`previous` = its state before, if stored). */
  putProposal (record: ProposalRecord, previous?: ProposalState): void {
    if (previous !== undefined) this.stateDb.removeSync(`${previous}/${record.id}`)
    this.stateDb.putSync(`${record.state}/${record.id}`, '')
    this.proposalCache.delete(record.id)
    this.proposalDb.putSync(record.id, encode(proposalToDoc(record)))
  }

  /** Proposal ids in one state (or all), in id order. */
  proposalIds (state?: ProposalState): string[] {
    if (state === undefined) return [...this.proposalDb.getKeys()]
    return [...this.stateDb.getKeys({ start: `${state}/`, end: `${state}0` })].map((key) => key.slice(state.length + 1))
  }

  proposals (state?: ProposalState): ProposalRecord[] {
    return this.proposalIds(state).map((id) => {
      const record = this.proposal(id)
      if (record === undefined) throw corrupt(`state index names missing proposal ${id}`)
      return record
    })
  }

  vote (proposal: string, voter: string): VoteRecord | undefined {
    const bytes = this.voteDb.get(`${proposal}/${voter}`)
    return bytes === undefined ? undefined : voteFromDoc(decodeStored(asBytes(bytes), `vote ${proposal}/${voter}`), false)
  }

  /** Replaces the voter's stored vote on the proposal. */
  putVote (record: VoteRecord): void {
    const key = `${record.proposal}/${record.voter}`
    this.voteDb.putSync(key, encode(voteToDoc(record)))
    this.ballotDb.putSync(key, `${record.castAt}|${record.choice}|${record.cid}`)
  }

  votes (proposal: string): VoteRecord[] {
    return this.voteRange(proposal).map(({ value, key }) => voteFromDoc(decodeStored(asBytes(value), `vote ${key}`), false))
  }

  /** The ballots of a proposal from the compact index (the tally's hot path). */
  ballots (proposal: string): Ballot[] {
    return [...this.ballotDb.getRange({ start: `${proposal}/`, end: `${proposal}0` })].map(({ key, value }) => {
      const [castAt, choice, cid] = value.split('|')
      return {
        voter: key.slice(proposal.length + 1) as Did,
        choice: checkOneOf(choice, VOTE_CHOICES, `ballot ${key} choice`, corrupt),
        castAt: checkInteger(Number(castAt), `ballot ${key} castAt`, corrupt),
        cid: checkString(cid, `ballot ${key} cid`, corrupt, { min: 1, max: 200 })
      }
    })
  }

  private voteRange (proposal: string): Array<{ key: string, value: Uint8Array }> {
    return [...this.voteDb.getRange({ start: `${proposal}/`, end: `${proposal}0` })]
  }

  /** Sequence number of the last effect, 0 when none. */
  lastEffectSeq (): number {
    for (const key of this.effectDb.getKeys({ reverse: true, limit: 1 })) return key
    return 0
  }

  putEffect (record: EffectRecord): void {
    this.effectDb.putSync(record.seq, encode(record))
  }

  /** Effects with `seq > after`, in order. */
  effects (after = 0): EffectRecord[] {
    return [...this.effectDb.getRange({ start: after + 1 })].map(({ key, value }) => {
      const record = checkFields(decodeStored(asBytes(value), `effect ${key}`), 'effect', ['seq', 'proposal', 'at', 'applied', 'effect'], [], corrupt)
      if (record.seq !== key) throw corrupt(`effect ${key} holds seq ${String(record.seq)}`)
      return record as unknown as EffectRecord
    })
  }

  /** The signer's stored (current) profile envelope. */
  profile (did: string): SignedEnvelope<ProfilePayload> | undefined {
    const bytes = this.profileDb.get(did)
    return bytes === undefined ? undefined : this.readProfile(did, bytes)
  }

  /** Replaces the signer's stored profile. */
  putProfile (envelope: SignedEnvelope<ProfilePayload>): void {
    this.profileDb.putSync(envelope.signer, profileToDoc(envelope))
  }

  /** Every stored profile envelope, sorted by signer DID. */
  profiles (): Array<SignedEnvelope<ProfilePayload>> {
    return [...this.profileDb.getRange()].map(({ key, value }) => this.readProfile(key, value))
  }

  private readProfile (did: string, bytes: Uint8Array): SignedEnvelope<ProfilePayload> {
    const envelope = profileFromDoc(asBytes(bytes), false)
    if (envelope.signer !== did) throw corrupt(`profile stored under ${did} is signed by ${envelope.signer}`)
    return envelope
  }

  /** Every record, for `exportState`. */
  contents (): StoreContents {
    return {
      charters: this.charters(),
      proposals: this.proposals(),
      votes: [...this.voteDb.getRange()].map(({ key, value }) => voteFromDoc(decodeStored(asBytes(value), `vote ${key}`), false)),
      effects: this.effects(),
      profiles: this.profiles()
    }
  }

  /**
   * Every record as its stored document (`proposalToDoc` / `voteToDoc` / `profileToDoc` form),
   * decoded without re-reading the envelopes inside: the `exportState` path.
   */
  documents (): { charters: Charter[], proposals: unknown[], votes: unknown[], effects: EffectRecord[], profiles: Uint8Array[] } {
    return {
      charters: this.charters(),
      proposals: [...this.proposalDb.getRange()].map(({ key, value }) => decodeStored(asBytes(value), `proposal ${key}`)),
      votes: [...this.voteDb.getRange()].map(({ key, value }) => decodeStored(asBytes(value), `vote ${key}`)),
      effects: this.effects(),
      profiles: [...this.profileDb.getRange()].map(({ value }) => asBytes(value))
    }
  }

  /** Replaces everything with `contents` in one transaction. */
  replace (contents: StoreContents): void {
    this.transaction(() => {
      for (const db of [this.charterDb, this.proposalDb, this.stateDb, this.voteDb, this.ballotDb, this.effectDb, this.profileDb]) db.clearSync()
      this.proposalCache.clear()
      for (const charter of contents.charters) this.putCharter(charter)
      for (const proposal of contents.proposals) this.putProposal(proposal)
      for (const vote of contents.votes) this.putVote(vote)
      for (const effect of contents.effects) this.putEffect(effect)
      for (const profile of contents.profiles) this.putProfile(profile)
    })
  }

  /** Closes the LMDB environment (awaits pending writes). */
  async close (): Promise<void> {
    await this.root.close()
  }
}
