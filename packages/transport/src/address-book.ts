import { type Did, type KeyPair, IdentityError, checkFields, checkInteger, isPlainMap, openEnvelope, sealEnvelope } from '@icn/identity'
import { CorruptFileError, readJsonSnapshot, writeJsonSnapshot } from '@icn/identity/fs'
import { multiaddr } from '@multiformats/multiaddr'
import { AddressRecordError } from './errors.js'
import { peerIdOfDid } from './transport.js'

/** Signature domain of an address record: no other signed object can be replayed as one. */
export const ADDRESS_RECORD_DOMAIN = 'icn/address-record/1'
/** Most addresses one record may carry. */
export const MAX_RECORD_ADDRS = 16
/** Longest address text in a record. */
const MAX_ADDR_CHARS = 512

/**
 * Where a member says it can be reached, signed by that member: its multiaddrs (each ending in its own
 * `/p2p/<peer id>`) and when it said so. A newer record of the same DID replaces an older one.
 */
export interface AddressRecord {
  readonly did: Did
  readonly addrs: readonly string[]
  /** Milliseconds since the epoch, by the signer's clock. */
  readonly issuedAt: number
  /** The signed envelope's canonical bytes: what is stored and sent. */
  readonly bytes: Uint8Array
}

function checkAddrs (did: Did, addrs: unknown): string[] {
  if (!Array.isArray(addrs) || addrs.length === 0 || addrs.length > MAX_RECORD_ADDRS) throw new AddressRecordError(`addrs must be a list of 1-${MAX_RECORD_ADDRS} multiaddrs`)
  const suffix = `/p2p/${peerIdOfDid(did)}`
  return addrs.map((addr: unknown) => {
    if (typeof addr !== 'string' || addr.length > MAX_ADDR_CHARS || !addr.endsWith(suffix)) throw new AddressRecordError(`every address must be a multiaddr ending in ${suffix}`)
    try {
      multiaddr(addr)
    } catch (cause) {
      throw new AddressRecordError(`'${addr}' is not a multiaddr`, { cause })
    }
    return addr
  })
}

/** Signs this node's address record. Throws `AddressRecordError` for addresses that are not its own multiaddrs. */
export function signAddressRecord (keyPair: KeyPair, addrs: readonly string[], issuedAt: number): AddressRecord {
  const checked = checkAddrs(keyPair.did, [...addrs])
  checkInteger(issuedAt, 'issuedAt', (m) => new AddressRecordError(m))
  const sealed = sealEnvelope(ADDRESS_RECORD_DOMAIN, { addrs: checked, issuedAt }, keyPair)
  return { did: keyPair.did, addrs: checked, issuedAt, bytes: sealed.bytes }
}

/** Checks a record's bytes (canonical envelope, domain, signature, fields). Throws `AddressRecordError`. */
export function openAddressRecord (bytes: Uint8Array): AddressRecord {
  let envelope
  try {
    envelope = openEnvelope(bytes, ADDRESS_RECORD_DOMAIN)
  } catch (cause) {
    if (cause instanceof IdentityError) throw new AddressRecordError(`not a signed address record: ${cause.message}`, { cause })
    throw cause
  }
  const fail = (m: string): AddressRecordError => new AddressRecordError(m)
  const payload = checkFields(envelope.payload, 'address record', ['addrs', 'issuedAt'], [], fail)
  const issuedAt = checkInteger(payload.issuedAt, 'issuedAt', fail)
  return { did: envelope.signer, addrs: checkAddrs(envelope.signer, payload.addrs), issuedAt, bytes }
}

/** What the address book file holds. */
export interface AddressBookContents {
  /** The newest record of each DID, sorted by DID. */
  records: AddressRecord[]
  /** Addresses an operator added by hand (`icn-node peers --add`), in the order added. */
  manual: string[]
}

const FILE_VERSION = 1

/**
 * Reads an address book file. `undefined` when there is none; `CorruptFileError` when it is damaged or
 * holds a record that does not verify (checksummed JSON: a flipped byte is caught before parsing).
 */
export async function readAddressBookFile (path: string): Promise<AddressBookContents | undefined> {
  const data = await readJsonSnapshot(path)
  if (data === undefined) return undefined
  if (!isPlainMap(data) || data.version !== FILE_VERSION || !Array.isArray(data.records) || !Array.isArray(data.manual)) {
    throw new CorruptFileError(path, `not an address book (version ${FILE_VERSION} with records and manual lists)`)
  }
  const records = data.records.map((bytes: unknown, i: number) => {
    if (!(bytes instanceof Uint8Array)) throw new CorruptFileError(path, `record ${i} is not bytes`)
    try {
      return openAddressRecord(bytes)
    } catch (cause) {
      throw new CorruptFileError(path, `record ${i}: ${(cause as Error).message}`, { cause })
    }
  })
  const manual = data.manual.map((addr: unknown, i: number) => {
    if (typeof addr !== 'string') throw new CorruptFileError(path, `manual address ${i} is not a string`)
    return addr
  })
  return { records, manual }
}

/** Writes an address book file atomically (temp file, fsync, rename; checksummed). */
export async function writeAddressBookFile (path: string, contents: AddressBookContents): Promise<void> {
  await writeJsonSnapshot(path, { version: FILE_VERSION, records: contents.records.map((r) => r.bytes), manual: contents.manual })
}

/** Members' signed address records and the operator's own additions, persisted in one file. */
export interface AddressBook {
  /** The newest record held for `did`. */
  record(did: string): AddressRecord | undefined
  /** Every record held, sorted by DID. */
  records(): AddressRecord[]
  /** Whether `record` is newer than the one held for its DID (what `accept` keeps). */
  isNewer(record: AddressRecord): boolean
  /** Keeps `record` when it is newer than the one held for its DID; resolves once persisted, true if kept. */
  accept(record: AddressRecord): Promise<boolean>
  /** Operator-added addresses, in the order added. */
  manual(): string[]
  /** Adds an operator address (checked to be a multiaddr); resolves once persisted, true if new. */
  addManual(addr: string): Promise<boolean>
  /** Drops `did`'s record (a member removed); resolves once persisted, true if there was one. */
  forget(did: string): Promise<boolean>
  /** Waits for pending writes. The book stays usable (it holds no handle between writes). */
  close(): Promise<void>
  /** Times the file was written: changes made while a write is under way share the next one. */
  readonly writes: number
}

export interface AddressBookInit {
  /** The file (checksummed JSON). @default none: memory only */
  path?: string
}

class FileAddressBook implements AddressBook {
  private readonly byDid = new Map<string, AddressRecord>()
  private readonly manualAddrs: string[] = []
  private writing: Promise<void> = Promise.resolve()
  /** The write that will hold every change made from now until it starts. */
  private queued: Promise<void> | undefined
  writes = 0

  constructor (private readonly path: string | undefined, contents: AddressBookContents | undefined) {
    for (const r of contents?.records ?? []) this.byDid.set(r.did, r)
    this.manualAddrs.push(...(contents?.manual ?? []))
  }

  record (did: string): AddressRecord | undefined { return this.byDid.get(did) }

  records (): AddressRecord[] {
    return [...this.byDid.values()].sort((a, b) => a.did < b.did ? -1 : a.did > b.did ? 1 : 0)
  }

  manual (): string[] { return [...this.manualAddrs] }

  isNewer (record: AddressRecord): boolean {
    const held = this.byDid.get(record.did)
    return held === undefined || held.issuedAt < record.issuedAt
  }

  async accept (record: AddressRecord): Promise<boolean> {
    if (!this.isNewer(record)) return false
    this.byDid.set(record.did, record)
    await this.persist()
    return true
  }

  async addManual (addr: string): Promise<boolean> {
    try {
      multiaddr(addr)
    } catch (cause) {
      throw new AddressRecordError(`'${addr}' is not a multiaddr`, { cause })
    }
    if (this.manualAddrs.includes(addr)) return false
    this.manualAddrs.push(addr)
    await this.persist()
    return true
  }

  async forget (did: string): Promise<boolean> {
    if (!this.byDid.delete(did)) return false
    await this.persist()
    return true
  }

  async close (): Promise<void> { await this.writing }

  /**
   * Resolves once the book as it is now is on disk. The whole book is written after any write already
   * under way (writes never interleave), and every change made before that next write starts shares it:
   * a message of 50 records costs one write, not 50.
   */
  private async persist (): Promise<void> {
    const path = this.path
    if (path === undefined) return
    this.queued ??= (async () => {
      await this.writing.catch(() => undefined)
      this.queued = undefined
      const write = writeAddressBookFile(path, { records: this.records(), manual: this.manual() })
      this.writing = write
      this.writes++
      await write
    })()
    await this.queued
  }
}

/** Opens (or starts) an address book. Throws `CorruptFileError` for a damaged file: nothing is overwritten. */
export async function openAddressBook (init: AddressBookInit = {}): Promise<AddressBook> {
  const contents = init.path === undefined ? undefined : await readAddressBookFile(init.path)
  return new FileAddressBook(init.path, contents)
}
