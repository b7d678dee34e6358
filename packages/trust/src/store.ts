import { fromUtf8, utf8 } from '@icn/identity'
import { open, type Database, type RootDatabase } from 'lmdb'
import { type TrustAttestation, type TrustEdge, validateEdge } from './attestation.js'
import { TRUST_ATTESTATION_DOMAIN, type TrustGraphName } from './constants.js'
import { ClosedError, CorruptStoreError, TrustError } from './errors.js'

/** Format tag kept in the environment so a directory written by something else is refused. */
const STORE_FORMAT = 'icn-trust-lmdb/2'
const FORMAT_KEY = 'format'

type EdgeKey = [TrustGraphName, string, string]

function keyOf (attestation: TrustAttestation): EdgeKey {
  const { graph, source, target } = attestation.payload
  return [graph, source, target]
}

/** A stored record: the attestation without its constant domain (msgpack-encoded by LMDB). */
interface StoredRecord {
  readonly cid: string
  readonly signature: Uint8Array
  readonly payload: TrustEdge
}

function toRecord (attestation: TrustAttestation): StoredRecord {
  return { cid: attestation.cid, signature: attestation.signature, payload: attestation.payload }
}

/**
 * Rebuilds an attestation from a stored record. Records were fully verified
 * before they were written, so loading re-checks shape and fields but neither
 * the signature nor the DIDs' curve points (tens of µs each: seconds for a
 * large graph on every open).
 */
function fromRecord (value: unknown, key: unknown): TrustAttestation {
  try {
    if (typeof value !== 'object' || value === null) throw new CorruptStoreError('record is not a map')
    const { cid, signature, payload } = value as Record<string, unknown>
    if (typeof cid !== 'string' || !(signature instanceof Uint8Array) || signature.length !== 64) {
      throw new CorruptStoreError('record lacks a cid or a 64-byte signature')
    }
    const edge = validateEdge(payload, { checkDids: false })
    return { domain: TRUST_ATTESTATION_DOMAIN, payload: edge, signer: edge.source, signature: new Uint8Array(signature), cid }
  } catch (cause) {
    throw new CorruptStoreError(`stored trust record ${JSON.stringify(key)} is invalid: ${(cause as Error).message}`, { cause })
  }
}

/** Runs an LMDB read, turning a record msgpack cannot decode into `CorruptStoreError`. */
function readRecord<T> (read: () => T, key: unknown): T {
  try {
    return read()
  } catch (cause) {
    if (cause instanceof TrustError) throw cause
    throw new CorruptStoreError(`stored trust record ${JSON.stringify(key)} cannot be decoded: ${(cause as Error).message}`, { cause })
  }
}

/**
 * LMDB storage adapter: one record per (graph, source, target) holding the
 * current attestation (CID, signature, signed edge). The lowest persistence layer (L1).
 */
export interface TrustStore {
  readonly path: string
  /** The stored attestation for a key. */
  get(graph: TrustGraphName, source: string, target: string): TrustAttestation | undefined
  /** Every stored attestation, in key order. Throws `CorruptStoreError` on an undecodable record. */
  all(): TrustAttestation[]
  /** Writes one record (batched with other writes of the same event-loop turn); resolves once flushed to disk. */
  put(attestation: TrustAttestation): Promise<void>
  /** Replaces every record in one transaction. */
  replaceAll(attestations: readonly TrustAttestation[]): void
  /** Resolves once every write issued so far is flushed to disk. */
  flushed(): Promise<void>
  /** Awaits pending writes and closes the environment. Idempotent. */
  close(): Promise<void>
}

class LmdbTrustStore implements TrustStore {
  private closing: Promise<void> | undefined
  private readonly pending = new Set<Promise<unknown>>()

  constructor (
    readonly path: string,
    private readonly root: RootDatabase<Uint8Array, string>,
    private readonly edges: Database<StoredRecord, EdgeKey>
  ) {}

  get (graph: TrustGraphName, source: string, target: string): TrustAttestation | undefined {
    this.assertOpen()
    const key: EdgeKey = [graph, source, target]
    const value = readRecord(() => this.edges.get(key), key)
    return value === undefined ? undefined : fromRecord(value, key)
  }

  all (): TrustAttestation[] {
    this.assertOpen()
    const out: TrustAttestation[] = []
    readRecord(() => {
      for (const { key, value } of this.edges.getRange()) out.push(fromRecord(value, key))
    }, 'range')
    return out
  }

  async put (attestation: TrustAttestation): Promise<void> {
    this.assertOpen()
    // Committed is not yet on disk under lmdb-js's default overlappingSync: resolve once flushed.
    const write = this.edges.put(keyOf(attestation), toRecord(attestation)).then(async () => { await this.root.flushed })
    this.pending.add(write)
    try {
      await write
    } finally {
      this.pending.delete(write)
    }
  }

  replaceAll (attestations: readonly TrustAttestation[]): void {
    this.assertOpen()
    const records = attestations.map((a) => [keyOf(a), toRecord(a)] as const)
    this.root.transactionSync(() => {
      for (const key of this.edges.getKeys()) this.edges.removeSync(key)
      for (const [key, record] of records) this.edges.putSync(key, record)
    })
  }

  async flushed (): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }

  async close (): Promise<void> {
    this.closing ??= (async () => {
      await this.flushed()
      await this.root.close()
    })()
    await this.closing
  }

  private assertOpen (): void {
    if (this.closing !== undefined) throw new ClosedError('trust store is closed')
  }
}

/** Opens (creating if needed) the trust store in directory `path`. */
export async function openTrustStore (path: string): Promise<TrustStore> {
  let root: RootDatabase<Uint8Array, string>
  try {
    root = open<Uint8Array, string>({ path, encoding: 'binary', maxDbs: 4 })
  } catch (cause) {
    throw new CorruptStoreError(`cannot open trust store at ${path}: ${(cause as Error).message}`, { cause })
  }
  try {
    const format = root.getBinary(FORMAT_KEY)
    if (format === undefined) await root.put(FORMAT_KEY, utf8(STORE_FORMAT))
    else if (fromUtf8(new Uint8Array(format)) !== STORE_FORMAT) {
      throw new CorruptStoreError(`${path} holds '${fromUtf8(new Uint8Array(format)).slice(0, 40)}', not a ${STORE_FORMAT} store`)
    }
    const edges = root.openDB<StoredRecord, EdgeKey>({ name: 'edges', encoding: 'msgpack' })
    return new LmdbTrustStore(path, root, edges)
  } catch (cause) {
    await root.close()
    if (cause instanceof TrustError) throw cause
    throw new CorruptStoreError(`cannot open trust store at ${path}: ${(cause as Error).message}`, { cause })
  }
}
