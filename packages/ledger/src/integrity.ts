import { type Did, decode, isDid, isPlainMap, sha256, toHex } from '@icn/identity'
import { CURRENCY_PATTERN, MAX_AMOUNT } from './constants.js'
import { type JournalEntry, type SignedEntry, decodeEntry, hasValidSignature } from './entry.js'
import { CorruptStoreError, LedgerError } from './errors.js'
import { type BalanceRow, type ChainCredit, type ChainHead, type QuarantineReason, checkEntryRules, computeStateRoot, isSelfPayment } from './rules.js'
import { JournalTotals } from './state.js'
import { type ChainRecord, LEDGER_TABLES, type LedgerStore, type LedgerTable, type RawRow, type StoreReader } from './store.js'

/** One thing wrong in a ledger store: where (table and key within it) and what. */
export interface LedgerProblem {
  /** The table holding the record, or `store` for a key outside every table or an LMDB read error. */
  readonly table: LedgerTable | 'store'
  /** The record's key within its table, as read (damage included); for a whole-table fact, what it is about (e.g. a currency). */
  readonly key: string
  readonly problem: string
}

/** What `verifyLedger` found. */
export interface LedgerCheckReport {
  readonly path: string
  /** True when no problem was found. */
  readonly ok: boolean
  /** Rows read per table (well-formed or not). */
  readonly rows: Readonly<Record<LedgerTable, number>>
  /** Distinct accounts of the balance rows. */
  readonly accounts: number
  /** Signatures verified: every applied, held and chained-quarantined entry, and each fork proof's second entry. */
  readonly signatures: number
  /** The state root of the stored balances and chain heads: what the ledger reports (`stateRoot()`). */
  readonly stateRoot: string
  /** The state root recomputed from the applied entries and the chains they form. */
  readonly expectedStateRoot: string
  /** Every problem found (the list holds the first `maxProblems`). */
  readonly problemCount: number
  readonly problems: readonly LedgerProblem[]
}

/** Reports one problem; at open it throws (the first problem refuses the store), in a check it collects. */
type Report = (table: LedgerTable | 'store', key: string, problem: string) => void

const HEX_ID = /^[0-9a-f]{64}$/
/** Ids an entry may acknowledge (`isEntryId` of entry.ts): the ones a wait can be keyed by. */
const ACK_ID = /^[a-z0-9]{8,128}$/
const INTEGER = /^-?(0|[1-9][0-9]*)$/
const NATURAL = /^(0|[1-9][0-9]*)$/
const PADDED = /^[0-9]{16}$/
const REASONS: ReadonlySet<string> = new Set<QuarantineReason>([
  'invalid-signature', 'unbalanced', 'unauthorized', 'exceeds-credit-limit', 'fork', 'charter-violation', 'rejected-by-hook'
])
const utf8 = new TextDecoder('utf-8', { fatal: true })
const pad = (n: number): string => n.toString().padStart(16, '0')
const idOf = (bytes: Uint8Array): string => toHex(sha256(bytes))
const quote = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}…` : s)

/** A text value, or undefined when it is not UTF-8. */
function textOf (value: Uint8Array): string | undefined {
  try { return utf8.decode(value) } catch { return undefined }
}

/** A key split into exactly `n` space-separated parts, or undefined. */
function parts (key: string, n: number): string[] | undefined {
  const p = key.split(' ')
  return p.length === n ? p : undefined
}

const seqOf = (text: string): number | undefined => {
  if (!PADDED.test(text)) return undefined
  const n = Number(text)
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined
}

/** A positive safe integer written in decimal, or undefined. */
const positive = (text: string | undefined): number | undefined => {
  if (text === undefined || !NATURAL.test(text)) return undefined
  const n = Number(text)
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined
}

/** An entry read back: hashes to `id` and decodes, else the problem. */
function readEntry (bytes: Uint8Array, id: string): SignedEntry | string {
  const actual = idOf(bytes)
  if (actual !== id) return `bytes hash to ${actual}, not to their id`
  try {
    return decodeEntry(bytes)
  } catch (err) {
    if (err instanceof LedgerError) return `bytes do not decode as an entry: ${err.message}`
    throw err
  }
}

/** A stored quarantine record, or the problem. */
function readQuarantine (value: Uint8Array, id: string): { reason: QuarantineReason, chained: boolean, signed: SignedEntry } | string {
  let record: unknown
  try { record = decode(value) } catch (err) { return `record does not decode: ${(err as Error).message}` }
  if (!isPlainMap(record)) return 'record is not a map'
  const { reason, detail, chained, bytes } = record
  if (typeof reason !== 'string' || !REASONS.has(reason) || typeof detail !== 'string' || typeof chained !== 'boolean' || !(bytes instanceof Uint8Array)) {
    return 'record lacks a known reason, a detail, a chained flag or the entry bytes'
  }
  const signed = readEntry(bytes, id)
  return typeof signed === 'string' ? `entry ${signed}` : { reason: reason as QuarantineReason, chained, signed }
}

/**
 * Walks a table's rows, counting them in `rows`: a key out of place (damaged) and an LMDB read error
 * are reported, not thrown (unless `report` throws).
 */
function walker (reader: StoreReader, report: Report, rows?: Record<LedgerTable, number>): (table: LedgerTable) => Generator<RawRow> {
  return function * (table) {
    try {
      for (const row of reader.rows(table, (key, after) => { report(table, key, `key out of place${after === undefined ? '' : ` (after ${quote(after)})`}`) })) {
        if (rows !== undefined) rows[table]++
        yield row
      }
    } catch (err) {
      if (err instanceof CorruptStoreError) throw err
      report('store', table, `LMDB cannot read table ${table}: ${(err as Error).message}`)
    }
  }
}

/** The derived tables as stored, parsed: what the open check reads, and what a full check compares with the journal. */
export interface StoredTables {
  readonly chains: Map<Did, ChainRecord>
  /** Keyed `account currency`. */
  readonly balances: Map<string, BalanceRow>
  /** Keyed `author currency`. */
  readonly credit: Map<string, ChainCredit>
  /** Keyed `account id`. */
  readonly unacked: Map<string, Map<string, bigint>>
  readonly rows: Record<LedgerTable, number>
}

/**
 * Reads every row of the tables the ledger judges and answers from — chains, balances, credit, unacked
 * credits, held entries, waits, overrides, floors — and checks that each decodes and is well-formed, and
 * the cheap cross-checks: each chain head is its slot's entry, hashes to its id and names that author and
 * seq; balances sum to zero per currency; every balance's account has history; credit rows belong to
 * chains; unacknowledged credits name applied entries; floors lie above their chain; no key lies outside
 * the tables. Cost: a few lookups per account, chain and sparse row (not per entry of history).
 */
export function checkDerivedTables (reader: StoreReader, report: Report): StoredTables {
  const rows = Object.fromEntries(LEDGER_TABLES.map((t) => [t, 0])) as Record<LedgerTable, number>
  const walk = walker(reader, report, rows)
  const did = (table: LedgerTable, key: string, value: string | undefined, what: string): value is Did => {
    if (isDid(value)) return true
    report(table, key, `${what} ${quote(String(value))} is not a did:icn DID`)
    return false
  }
  const currency = (table: LedgerTable, key: string, value: string | undefined): value is string => {
    if (value !== undefined && CURRENCY_PATTERN.test(value)) return true
    report(table, key, `currency ${quote(String(value))} is not a currency code`)
    return false
  }

  const chains = new Map<Did, ChainRecord>()
  for (const { key, value } of walk('chains')) {
    if (!did('chains', key, key, 'author')) continue
    const text = textOf(value)
    const [seqText, appliedText, head, ...extra] = (text ?? '').split(' ')
    const seq = positive(seqText)
    const applied = appliedText === undefined || !NATURAL.test(appliedText) ? -1 : Number(appliedText)
    if (seq === undefined || applied < 0 || applied > seq || head === undefined || !HEX_ID.test(head) || extra.length > 0) {
      report('chains', key, `record ${quote(text ?? '(not UTF-8)')} is not "seq applied head" (seq ≥ 1, 0 ≤ applied ≤ seq, head an entry id)`)
      continue
    }
    chains.set(key, { seq, applied, head })
    const slot = reader.get('slots', `${key} ${pad(seq)}`)
    const slotText = slot === undefined ? undefined : textOf(slot)
    if (slotText !== head) report('chains', key, `head ${head} is not the entry of slot ${seq}, which holds ${slotText === undefined ? 'nothing readable' : quote(slotText)}`)
    const bytes = reader.get('entries', head)
    let signed: SignedEntry | string
    if (bytes !== undefined) {
      signed = readEntry(bytes, head)
    } else {
      const q = reader.get('quarantine', head)
      const record = q === undefined ? `is neither applied nor quarantined` : readQuarantine(q, head)
      signed = typeof record === 'string' ? record : record.chained ? record.signed : 'is quarantined without using its chain slot'
    }
    if (typeof signed === 'string') report('chains', key, `head entry ${head} ${signed}`)
    else if (signed.entry.author !== key || signed.entry.seq !== seq) report('chains', key, `head entry ${head} is ${signed.entry.author}'s entry ${signed.entry.seq}, not this chain's entry ${seq}`)
  }

  const balances = new Map<string, BalanceRow>()
  const sums = new Map<string, bigint>()
  let lastAccount: string | undefined
  for (const { key, value } of walk('balances')) {
    const [account, cur] = parts(key, 2) ?? []
    if (!did('balances', key, account, 'account') || !currency('balances', key, cur)) continue
    const text = textOf(value)
    if (text === undefined || !INTEGER.test(text)) {
      report('balances', key, `balance ${quote(text ?? '(not UTF-8)')} is not an integer`)
      continue
    }
    const balance = BigInt(text)
    balances.set(key, { account, currency: cur, balance })
    sums.set(cur, (sums.get(cur) ?? 0n) + balance)
    if (account !== lastAccount && reader.first('history', account) === undefined) report('balances', key, 'the account has no history: no applied entry touched it')
    lastAccount = account
  }
  // Double entry: every applied entry is balanced per currency, so the balances of a currency sum to zero.
  for (const [cur, sum] of sums) if (sum !== 0n) report('balances', cur, `the balances of ${cur} sum to ${sum}, not 0`)

  const credit = new Map<string, ChainCredit>()
  for (const { key, value } of walk('credit')) {
    const [author, cur] = parts(key, 2) ?? []
    if (!did('credit', key, author, 'author') || !currency('credit', key, cur)) continue
    const text = textOf(value)
    const [known, volume, ...extra] = (text ?? '').split(' ')
    if (known === undefined || !INTEGER.test(known) || volume === undefined || !NATURAL.test(volume) || extra.length > 0) {
      report('credit', key, `record ${quote(text ?? '(not UTF-8)')} is not "known volume" (integers, volume ≥ 0)`)
      continue
    }
    credit.set(key, { known: BigInt(known), volume: BigInt(volume) })
    if (!chains.has(author)) report('credit', key, 'the author has no chain')
  }

  const unacked = new Map<string, Map<string, bigint>>()
  for (const { key, value } of walk('unacked')) {
    const [account, id] = parts(key, 2) ?? []
    if (!did('unacked', key, account, 'account')) continue
    if (id === undefined || !HEX_ID.test(id)) {
      report('unacked', key, `entry id ${quote(String(id))} is not an entry id`)
      continue
    }
    const text = textOf(value)
    const fields = (text ?? '').split(' ')
    const credits = new Map<string, bigint>()
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const [cur, amount] = [fields[i] as string, fields[i + 1] as string]
      if (!CURRENCY_PATTERN.test(cur) || !NATURAL.test(amount) || BigInt(amount) === 0n || credits.has(cur)) break
      credits.set(cur, BigInt(amount))
    }
    if (fields.length % 2 !== 0 || credits.size !== fields.length / 2) {
      report('unacked', key, `record ${quote(text ?? '(not UTF-8)')} is not "currency amount …" (amounts > 0)`)
      continue
    }
    unacked.set(key, credits)
    if (reader.get('entries', id) === undefined) report('unacked', key, `entry ${id} is not applied`)
  }

  for (const { key, value } of walk('pending')) {
    const [author, seqText, id] = parts(key, 3) ?? []
    if (!did('pending', key, author, 'author')) continue
    const seq = seqOf(seqText ?? '')
    if (seq === undefined || id === undefined || !HEX_ID.test(id)) {
      report('pending', key, 'key is not "author seq id"')
      continue
    }
    const signed = readEntry(value, id)
    if (typeof signed === 'string') report('pending', key, `held entry ${signed}`)
    else if (signed.entry.author !== author || signed.entry.seq !== seq) report('pending', key, `held entry is ${signed.entry.author}'s entry ${signed.entry.seq}`)
  }

  for (const { key, value } of walk('waits')) {
    const [ackId, author] = parts(key, 2) ?? []
    if (ackId === undefined || !ACK_ID.test(ackId)) report('waits', key, 'key is not "acknowledged-id author"')
    else if (did('waits', key, author, 'author') && (value.length !== 1 || value[0] !== 1)) report('waits', key, 'marker is not the byte 1')
  }

  for (const { key, value } of walk('overrides')) {
    const [account, cur] = parts(key, 2) ?? []
    if (!did('overrides', key, account, 'account') || !currency('overrides', key, cur)) continue
    let record: unknown
    try { record = decode(value) } catch (err) {
      report('overrides', key, `record does not decode: ${(err as Error).message}`)
      continue
    }
    const limit = isPlainMap(record) && typeof record.limit === 'string' && NATURAL.test(record.limit) ? BigInt(record.limit) : -1n
    if (!isPlainMap(record) || limit < 0n || limit > MAX_AMOUNT || typeof record.reference !== 'string' || record.reference.length === 0) {
      report('overrides', key, 'record is not { limit in [0, 2^63 − 1], reference }')
    }
  }

  for (const { key, value } of walk('floors')) {
    if (!did('floors', key, key, 'author')) continue
    const text = textOf(value)
    const floor = positive(text)
    const head = chains.get(key)?.seq ?? 0
    if (floor === undefined) report('floors', key, `floor ${quote(text ?? '(not UTF-8)')} is not a positive integer`)
    else if (floor <= head) report('floors', key, `floor ${floor} is not above the chain head ${head}`)
  }

  try {
    for (const key of reader.gapKeys(100)) report('store', key, 'key outside every table')
  } catch (err) {
    if (err instanceof CorruptStoreError) throw err
    report('store', '', `LMDB cannot read the store: ${(err as Error).message}`)
  }
  return { chains, balances, credit, unacked, rows }
}

/** The open check: the store's derived tables (`checkDerivedTables`); throws `CorruptStoreError` on the first problem. */
export async function checkStoreAtOpen (store: LedgerStore): Promise<void> {
  await store.read((reader) => {
    checkDerivedTables(reader, (table, key, problem) => { throw new CorruptStoreError(store.path, table, key, problem) })
  })
}

/** What a full check keeps of each applied or chained-quarantined entry (not its bytes). */
interface EntryFacts {
  readonly author: Did
  readonly seq: number
  readonly prev: string | undefined
  readonly timestamp: number
  readonly applied: boolean
  /** Distinct accounts of the deltas: each has a history row of the entry. */
  readonly accounts: ReadonlySet<string>
  historyRows: number
  slotted: boolean
}

const factsOf = (entry: JournalEntry, applied: boolean): EntryFacts => ({
  author: entry.author,
  seq: entry.seq,
  prev: entry.prev,
  timestamp: entry.timestamp,
  applied,
  accounts: new Set(entry.deltas.map((d) => d.account)),
  historyRows: 0,
  slotted: false
})

/**
 * The full check of a store: `checkDerivedTables`, then every entry (applied, quarantined, held, fork
 * proofs): bytes hash to the id, decode, signature verifies (the entries whose signature was checked
 * before they were stored), applied entries keep the entry rules; every chain is slots 1…head, each
 * holding its author's entry of that seq, linked by prev; and the balances, credit views, unacknowledged
 * credits, chain records and history recomputed from the applied entries equal the stored ones.
 */
export async function checkStore (store: LedgerStore, maxProblems: number): Promise<LedgerCheckReport> {
  const problems: LedgerProblem[] = []
  let problemCount = 0
  const report: Report = (table, key, problem) => {
    problemCount++
    if (problems.length < maxProblems) problems.push({ table, key, problem })
  }
  return await store.read((reader) => {
    const stored = checkDerivedTables(reader, report)
    const { rows } = stored
    const walk = walker(reader, report, rows)
    let signatures = 0
    const verified = (signed: SignedEntry): boolean => {
      signatures++
      return hasValidSignature(signed)
    }

    const facts = new Map<string, EntryFacts>()
    const totals = new JournalTotals()
    for (const { key, value } of walk('entries')) {
      if (!HEX_ID.test(key)) {
        report('entries', key, 'key is not an entry id')
        continue
      }
      const signed = readEntry(value, key)
      if (typeof signed === 'string') {
        report('entries', key, signed)
        continue
      }
      if (!verified(signed)) report('entries', key, `signature does not verify for ${signed.entry.author}`)
      const broken = checkEntryRules(signed.entry)
      if (broken !== undefined) report('entries', key, `breaks a rule (${broken.reason}): ${broken.detail}`)
      else if (isSelfPayment(signed.entry)) report('entries', key, 'is a self-payment, which is refused')
      facts.set(key, factsOf(signed.entry, true))
      totals.add(key, signed.entry)
    }

    for (const { key, value } of walk('quarantine')) {
      if (!HEX_ID.test(key)) {
        report('quarantine', key, 'key is not an entry id')
        continue
      }
      const record = readQuarantine(value, key)
      if (typeof record === 'string') {
        report('quarantine', key, record)
        continue
      }
      // Every quarantined entry but a forgery was signature-checked before it was stored.
      if (record.reason !== 'invalid-signature' && !verified(record.signed)) report('quarantine', key, `signature does not verify for ${record.signed.entry.author}`)
      if (facts.has(key)) report('quarantine', key, 'the entry is also applied')
      else if (record.chained) facts.set(key, factsOf(record.signed.entry, false))
    }

    // Held entries were read (hash, shape) by checkDerivedTables: only their signatures here.
    for (const { key, value } of walker(reader, () => {})('pending')) {
      const id = key.split(' ')[2] ?? ''
      try {
        const signed = decodeEntry(value)
        if (signed.id === id && !verified(signed)) report('pending', key, `signature does not verify for ${signed.entry.author}`)
      } catch (err) {
        if (!(err instanceof LedgerError)) throw err // reported by checkDerivedTables
      }
    }

    for (const { key, value } of walk('forks')) {
      const [author, seqText, id] = parts(key, 3) ?? []
      const seq = seqOf(seqText ?? '')
      if (!isDid(author) || seq === undefined || id === undefined || !HEX_ID.test(id)) {
        report('forks', key, 'key is not "author seq id"')
        continue
      }
      let record: unknown
      try { record = decode(value) } catch (err) {
        report('forks', key, `record does not decode: ${(err as Error).message}`)
        continue
      }
      if (!isPlainMap(record) || !(record.first instanceof Uint8Array) || !(record.second instanceof Uint8Array)) {
        report('forks', key, 'record is not { first, second } entry bytes')
        continue
      }
      const second = readEntry(record.second, id)
      if (typeof second === 'string') report('forks', key, `second entry ${second}`)
      else if (second.entry.author !== author || second.entry.seq !== seq) report('forks', key, `second entry is ${second.entry.author}'s entry ${second.entry.seq}`)
      else if (!verified(second)) report('forks', key, `second entry's signature does not verify for ${author}`)
    }

    // Chains: the applied and chained-quarantined entries fill slots 1…head of each author, linked by prev.
    const bySlot = new Map<string, string>()
    for (const [id, f] of facts) {
      const slot = `${f.author} ${pad(f.seq)}`
      const holder = bySlot.get(slot)
      if (holder !== undefined) report('slots', slot, `entries ${holder} and ${id} both claim this slot`)
      else bySlot.set(slot, id)
    }
    for (const { key, value } of walk('slots')) {
      const [author, seqText] = parts(key, 2) ?? []
      if (!isDid(author) || seqOf(seqText ?? '') === undefined) {
        report('slots', key, 'key is not "author seq"')
        continue
      }
      const id = textOf(value)
      const expected = bySlot.get(key)
      const holder = id === undefined ? undefined : facts.get(id)
      if (holder !== undefined && id === expected) holder.slotted = true
      else if (expected === undefined) report('slots', key, `holds ${quote(id ?? '(not UTF-8)')}, but no applied or chained-quarantined entry has this slot`)
      else report('slots', key, `holds ${quote(id ?? '(not UTF-8)')}, not ${expected}, the entry of this slot`)
    }
    const derivedChains = new Map<Did, { seq: number, head: string, applied: number }>()
    for (const [id, f] of facts) {
      if (!f.slotted && bySlot.get(`${f.author} ${pad(f.seq)}`) === id) report('slots', `${f.author} ${pad(f.seq)}`, `missing: entry ${id} holds this slot`)
      const c = derivedChains.get(f.author) ?? { seq: 0, head: '', applied: 0 }
      if (f.seq > c.seq) { c.seq = f.seq; c.head = id }
      if (f.applied) c.applied++
      derivedChains.set(f.author, c)
    }
    for (const [author, c] of derivedChains) {
      for (let seq = 1; seq <= c.seq; seq++) {
        const id = bySlot.get(`${author} ${pad(seq)}`)
        if (id === undefined) {
          report('slots', `${author} ${pad(seq)}`, `gap: no entry holds slot ${seq} of a chain at ${c.seq}`)
          continue
        }
        const prev = seq === 1 ? undefined : bySlot.get(`${author} ${pad(seq - 1)}`)
        const f = facts.get(id) as EntryFacts
        if (seq > 1 && prev !== undefined && f.prev !== prev) report(f.applied ? 'entries' : 'quarantine', id, `prev ${String(f.prev)} is not ${prev}, the author's entry ${seq - 1}`)
      }
      const s = stored.chains.get(author)
      if (s === undefined) report('chains', author, `missing: the entries make a chain at ${c.seq} (head ${c.head}, ${c.applied} applied)`)
      else if (s.seq !== c.seq || s.head !== c.head || s.applied !== c.applied) {
        report('chains', author, `stored ${s.seq} ${s.applied} ${s.head}, the entries give ${c.seq} ${c.applied} ${c.head}`)
      }
    }
    for (const author of stored.chains.keys()) if (!derivedChains.has(author)) report('chains', author, 'no applied or chained-quarantined entry of this author')

    // History: one row per applied entry and each distinct account of its deltas.
    for (const { key, value } of walk('history')) {
      const [account, tsText, id] = parts(key, 3) ?? []
      const f = id === undefined ? undefined : facts.get(id)
      if (!isDid(account) || tsText === undefined || !PADDED.test(tsText) || id === undefined || !HEX_ID.test(id)) report('history', key, 'key is not "account timestamp id"')
      else if (value.length !== 1 || value[0] !== 1) report('history', key, 'marker is not the byte 1')
      else if (f === undefined || !f.applied) report('history', key, `entry ${id} is not applied`)
      else if (!f.accounts.has(account) || Number(tsText) !== f.timestamp) report('history', key, `entry ${id} is at ${f.timestamp} and does not move this account`)
      else f.historyRows++
    }
    for (const [id, f] of facts) {
      if (f.applied && f.historyRows !== f.accounts.size) report('history', id, `entry ${id} is in the history of ${f.historyRows} of its ${f.accounts.size} accounts`)
    }

    // Balances, credit views and unacknowledged credits recomputed from the applied entries.
    const derived = totals.finish()
    const balanceRows: BalanceRow[] = []
    const seenBalances = new Set<string>()
    for (const b of derived.balances.values()) {
      const key = `${b.account} ${b.currency}`
      balanceRows.push(b)
      seenBalances.add(key)
      const s = stored.balances.get(key)
      if (s === undefined) report('balances', key, `missing: the entries give ${b.balance}`)
      else if (s.balance !== b.balance) report('balances', key, `stored ${s.balance}, the entries give ${b.balance}`)
    }
    for (const [key, s] of stored.balances) if (!seenBalances.has(key)) report('balances', key, `stored ${s.balance}, but no applied entry moves it`)
    const seenCredit = new Set<string>()
    for (const c of derived.credit.values()) {
      const key = `${c.author} ${c.currency}`
      seenCredit.add(key)
      const s = stored.credit.get(key)
      if (s === undefined) report('credit', key, `missing: the entries give ${c.credit.known} ${c.credit.volume}`)
      else if (s.known !== c.credit.known || s.volume !== c.credit.volume) report('credit', key, `stored ${s.known} ${s.volume}, the entries give ${c.credit.known} ${c.credit.volume}`)
    }
    for (const key of stored.credit.keys()) if (!seenCredit.has(key)) report('credit', key, 'stored, but no applied entry gives it')
    const seenUnacked = new Set<string>()
    const credits = (m: ReadonlyMap<string, bigint>): string => [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, a]) => `${c} ${a}`).join(' ')
    for (const u of derived.unacked) {
      const key = `${u.account} ${u.id}`
      seenUnacked.add(key)
      const s = stored.unacked.get(key)
      if (s === undefined) report('unacked', key, `missing: the entries give ${credits(u.credits)}`)
      else if (credits(s) !== credits(u.credits)) report('unacked', key, `stored ${credits(s)}, the entries give ${credits(u.credits)}`)
    }
    for (const key of stored.unacked.keys()) if (!seenUnacked.has(key)) report('unacked', key, 'stored, but the credit is acknowledged or unknown')

    const heads = (chains: ReadonlyMap<Did, { seq: number, head: string }>): ChainHead[] => [...chains].map(([author, c]) => ({ author, seq: c.seq, id: c.head }))
    const stateRoot = computeStateRoot([...stored.balances.values()], heads(stored.chains))
    const expectedStateRoot = computeStateRoot(balanceRows, heads(derivedChains))
    if (stateRoot !== expectedStateRoot) report('store', 'state root', `the stored balances and heads give ${stateRoot}, the entries give ${expectedStateRoot}`)
    return {
      path: store.path,
      ok: problemCount === 0,
      rows,
      accounts: new Set([...stored.balances.values()].map((b) => b.account)).size,
      signatures,
      stateRoot,
      expectedStateRoot,
      problemCount,
      problems
    }
  })
}
