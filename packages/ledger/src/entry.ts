import {
  type Did, type KeyPair, type SignedEnvelope, IdentityError, decode, encodeEnvelope, envelopeBodyFromBytes, isDid,
  isPlainMap, publicKeyFromDid, sealEnvelope, sha256, toHex, verify
} from '@icn/identity'
import { CURRENCY_PATTERN, LEDGER_DOMAIN, MAX_ACKS, MAX_AMOUNT, MAX_DELTAS, MAX_REFERENCE_LENGTH } from './constants.js'
import { AmountOutOfRangeError, InvalidArgumentError, MalformedEntryError } from './errors.js'

/** One line of a journal entry. `debit` lowers the account's balance, `credit` raises it. */
export interface AccountDelta {
  readonly account: Did
  readonly currency: string
  readonly debit?: bigint
  readonly credit?: bigint
}

/** The signed content of a journal entry (the envelope payload). */
export interface JournalEntry {
  readonly author: Did
  /** Position in the author's chain, from 1. */
  readonly seq: number
  /** Id of the author's entry `seq − 1`; absent exactly when `seq` is 1. */
  readonly prev?: string
  /** Author's clock, milliseconds since the epoch (informational; orders account history). */
  readonly timestamp: number
  readonly deltas: readonly AccountDelta[]
  readonly reference?: string
  /** Ids of other authors' entries crediting the author that this entry acknowledges (see docs/ledger.md). */
  readonly acks: readonly string[]
}

/** A decoded journal entry with its identity and the bytes its signature covers (checked or not: see `hasValidSignature`). */
export interface SignedEntry {
  /** sha-256 (hex) of `bytes`. */
  readonly id: string
  readonly entry: JournalEntry
  /** Canonical wire bytes (`encodeEnvelope`: domain, payload, signer, signature). */
  readonly bytes: Uint8Array
  /** The author's ed25519 signature… */
  readonly signature: Uint8Array
  /** …over these bytes (`envelopeSigningBytes(LEDGER_DOMAIN, payload, author)`). */
  readonly body: Uint8Array
}

const DELTA_KEYS = new Set(['account', 'currency', 'debit', 'credit'])
const ENTRY_KEYS = new Set(['v', 'author', 'seq', 'prev', 'timestamp', 'deltas', 'reference', 'acks'])

/** Normalises an amount from the API (`bigint`) or from decoding (`number` when safe); throws on anything else. */
export function toAmount (value: unknown, what: string): bigint {
  let amount: bigint
  if (typeof value === 'bigint') amount = value
  else if (typeof value === 'number' && Number.isSafeInteger(value)) amount = BigInt(value)
  else if (typeof value === 'number') throw new AmountOutOfRangeError(`${what} must be an integer, got ${value}`)
  else throw new MalformedEntryError(`${what} must be an integer amount, got ${typeof value}`)
  if (amount < 0n || amount > MAX_AMOUNT) throw new AmountOutOfRangeError(`${what} ${amount} is outside [0, 2^63 − 1]`)
  return amount
}

/** The canonical form of an amount: a safe integer as `number` (what decoding yields), larger as `bigint`. */
function wireAmount (amount: bigint): number | bigint {
  return amount <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(amount) : amount
}

export function checkCurrency (currency: unknown, what = 'currency'): string {
  if (typeof currency !== 'string' || !CURRENCY_PATTERN.test(currency)) {
    throw new InvalidArgumentError(`${what} must match ${String(CURRENCY_PATTERN)}, got ${String(currency).slice(0, 40)}`)
  }
  return currency
}

export function checkAccount (account: unknown, what = 'account'): Did {
  if (!isDid(account)) throw new InvalidArgumentError(`${what} must be a did:icn DID, got ${String(account).slice(0, 80)}`)
  return account
}

function parseDelta (value: unknown, index: number): AccountDelta {
  const at = `deltas[${index}]`
  if (!isPlainMap(value)) throw new MalformedEntryError(`${at} must be a map`)
  for (const key of Object.keys(value)) if (!DELTA_KEYS.has(key)) throw new MalformedEntryError(`${at} has unknown field '${key}'`)
  const wrap = <T>(fn: () => T): T => {
    try { return fn() } catch (err) {
      if (err instanceof InvalidArgumentError) throw new MalformedEntryError(`${at}: ${err.message}`)
      throw err
    }
  }
  const account = wrap(() => checkAccount(value.account, 'account'))
  const currency = wrap(() => checkCurrency(value.currency))
  const debit = value.debit === undefined ? undefined : toAmount(value.debit, `${at}.debit`)
  const credit = value.credit === undefined ? undefined : toAmount(value.credit, `${at}.credit`)
  if (debit === undefined && credit === undefined) throw new MalformedEntryError(`${at} has neither debit nor credit`)
  return { account, currency, ...(debit === undefined ? {} : { debit }), ...(credit === undefined ? {} : { credit }) }
}

function isEntryId (value: unknown): value is string {
  return typeof value === 'string' && value.length >= 8 && value.length <= 128 && /^[a-z0-9]+$/.test(value)
}

/**
 * Checks the shape and types of an entry payload (from the API or from decoded
 * bytes) and normalises amounts to `bigint`. Throws `MalformedEntryError` or
 * `AmountOutOfRangeError`; does not judge balance or limits (those are rules).
 */
export function parseEntry (value: unknown): JournalEntry {
  if (!isPlainMap(value)) throw new MalformedEntryError('entry must be a map')
  for (const key of Object.keys(value)) if (!ENTRY_KEYS.has(key)) throw new MalformedEntryError(`entry has unknown field '${key}'`)
  if (value.v !== 1) throw new MalformedEntryError(`entry version must be 1, got ${String(value.v)}`)
  if (!isDid(value.author)) throw new MalformedEntryError('entry author must be a did:icn DID')
  const { seq, prev, timestamp, deltas, reference, acks } = value
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new MalformedEntryError('entry seq must be an integer ≥ 1')
  if (seq === 1 ? prev !== undefined : !isEntryId(prev)) throw new MalformedEntryError('entry prev must be absent at seq 1 and an entry id after')
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) throw new MalformedEntryError('entry timestamp must be a non-negative integer')
  if (!Array.isArray(deltas) || deltas.length < 2 || deltas.length > MAX_DELTAS) throw new MalformedEntryError(`entry deltas must be a list of 2..${MAX_DELTAS}`)
  if (reference !== undefined && (typeof reference !== 'string' || reference.length > MAX_REFERENCE_LENGTH)) {
    throw new MalformedEntryError(`entry reference must be a string of at most ${MAX_REFERENCE_LENGTH} characters`)
  }
  if (acks !== undefined && (!Array.isArray(acks) || acks.length === 0 || acks.length > MAX_ACKS || !acks.every(isEntryId))) {
    throw new MalformedEntryError(`entry acks must be absent or a list of 1..${MAX_ACKS} entry ids`)
  }
  if (acks !== undefined && new Set(acks).size !== acks.length) throw new MalformedEntryError('entry acks must not repeat an id')
  return {
    author: value.author,
    seq,
    ...(prev === undefined ? {} : { prev: prev as string }),
    timestamp,
    deltas: deltas.map(parseDelta),
    ...(reference === undefined ? {} : { reference: reference as string }),
    acks: (acks as string[] | undefined) ?? []
  }
}

/** The payload that is signed: canonical field names, safe amounts as numbers, empty optionals left out. */
export function entryPayload (entry: JournalEntry): Record<string, unknown> {
  return {
    v: 1,
    author: entry.author,
    seq: entry.seq,
    prev: entry.prev,
    timestamp: entry.timestamp,
    deltas: entry.deltas.map((d) => ({
      account: d.account,
      currency: d.currency,
      debit: d.debit === undefined ? undefined : wireAmount(d.debit),
      credit: d.credit === undefined ? undefined : wireAmount(d.credit)
    })),
    reference: entry.reference,
    acks: entry.acks.length === 0 ? undefined : [...entry.acks]
  }
}

const ENVELOPE_KEYS = 'domain,payload,signature,signer'
/** Checks a decoded envelope map and its payload; computes id and signed body once (the signer passes the body it signed). */
function fromWire (value: unknown, bytes: Uint8Array, body: Uint8Array = envelopeBodyFromBytes(bytes)): SignedEntry {
  if (!isPlainMap(value) || Object.keys(value).sort().join(',') !== ENVELOPE_KEYS) {
    throw new MalformedEntryError(`entry envelope must be a map of ${ENVELOPE_KEYS}`)
  }
  const { domain, payload, signer, signature } = value
  if (domain !== LEDGER_DOMAIN) throw new MalformedEntryError(`envelope domain '${String(domain)}' is not '${LEDGER_DOMAIN}'`)
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw new MalformedEntryError('envelope signature must be 64 bytes')
  const entry = parseEntry(payload)
  if (entry.author !== signer) throw new MalformedEntryError('entry author is not the envelope signer')
  for (const delta of entry.deltas) Object.freeze(delta)
  Object.freeze(entry.deltas)
  Object.freeze(entry.acks)
  const signed: SignedEntry = Object.freeze({ id: toHex(sha256(bytes)), entry: Object.freeze(entry), bytes, signature, body })
  decodedEntries.add(signed)
  return signed
}

// Entries this module decoded (frozen): handed back to decodeEntry they are used as they are, not decoded again.
const decodedEntries = new WeakSet<object>()

/** Signs `entry` with `keyPair` (which must be the author's) through `sealEnvelope` under `LEDGER_DOMAIN`. */
export function signEntry (entry: JournalEntry, keyPair: KeyPair): SignedEntry {
  if (keyPair.did !== entry.author) throw new InvalidArgumentError('the signing key is not the entry author')
  // The envelope's fields are checked as the decoded bytes would be (parseEntry takes the payload object
  // as it is), so the new entry is not decoded back, and its signed body is the one just signed.
  const { envelope: { domain, payload, signer, signature }, bytes, body } = sealEnvelope(LEDGER_DOMAIN, entryPayload(entry), keyPair)
  return fromWire({ domain, payload, signer, signature }, bytes, body)
}

/**
 * Parses wire bytes (or an envelope object) into a `SignedEntry`. Checks
 * canonical encoding, shape, types, amounts and domain — not the signature
 * (`hasValidSignature`). Throws `MalformedEntryError` / `AmountOutOfRangeError`.
 * A `SignedEntry` this function returned before (they are frozen) comes back
 * as it is, so a caller that decoded an entry to check it passes it on without
 * a second decode.
 */
export function decodeEntry (input: Uint8Array | SignedEnvelope | SignedEntry): SignedEntry {
  if (decodedEntries.has(input)) return input as SignedEntry
  try {
    if (input instanceof Uint8Array) {
      const bytes = new Uint8Array(input)
      return fromWire(decode(bytes), bytes)
    }
    if (!isPlainMap(input)) throw new MalformedEntryError('entry input must be bytes or a signed envelope')
    const bytes = encodeEnvelope(input as SignedEnvelope)
    return fromWire(decode(bytes), bytes)
  } catch (err) {
    if (err instanceof IdentityError) throw new MalformedEntryError(`not a ledger envelope: ${err.message}`, { cause: err })
    throw err
  }
}

/**
 * True when the signature verifies for the author: exactly `verifyEnvelope`'s
 * check (ed25519 over `envelopeSigningBytes`), without recomputing the
 * envelope CID, which the ledger does not use as the entry id.
 */
export function hasValidSignature (signed: SignedEntry): boolean {
  return verify(signed.signature, signed.body, publicKeyFromDid(signed.entry.author))
}

/** Net balance change per account and currency (credit − debit), keyed `account\0currency`. */
export function netChanges (entry: JournalEntry): Map<string, { account: Did, currency: string, net: bigint }> {
  const out = new Map<string, { account: Did, currency: string, net: bigint }>()
  for (const d of entry.deltas) {
    const key = `${d.account}\u0000${d.currency}`
    const change = (d.credit ?? 0n) - (d.debit ?? 0n)
    const row = out.get(key)
    if (row === undefined) out.set(key, { account: d.account, currency: d.currency, net: change })
    else row.net += change
  }
  return out
}
