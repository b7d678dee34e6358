import { decodeEnvelope, encodeEnvelope, fromUtf8, utf8 } from '@icn/identity'
import { open, type Database, type RootDatabase } from 'lmdb'
import { type TrustAttestation, validateEdge } from './attestation.js'
import { TRUST_ATTESTATION_DOMAIN, type TrustGraphName } from './constants.js'
import { ClosedError, CorruptStoreError, TrustError } from './errors.js'

/** Format tag kept in the environment so a directory written by something else is refused. */
const STORE_FORMAT = 'icn-trust-lmdb/1'
const FORMAT_KEY = 'format'

type EdgeKey = [TrustGraphName, string, string]

function keyOf (attestation: TrustAttestation): EdgeKey {
  const { graph, source, target } = attestation.payload
  return [graph, source, target]
}

/**
 * Decodes a stored record. Signatures were verified before the record was
 * written, so loading re-checks shape, domain and fields (cheap) but not the
 * signature (about 50 µs each, seconds for a large graph).
 */
function decodeRecord (bytes: Uint8Array, key: unknown): TrustAttestation {
  try {
    const envelope = decodeEnvelope(bytes)
    if (envelope.domain !== TRUST_ATTESTATION_DOMAIN) throw new CorruptStoreError(`record ${String(key)} has domain '${envelope.domain}'`)
    const edge = validateEdge(envelope.payload)
    if (envelope.signer !== edge.source) throw new CorruptStoreError(`record ${String(key)} is not signed by its source`)
    return { ...envelope, payload: edge }
  } catch (cause) {
    if (cause instanceof CorruptStoreError) throw cause
    throw new CorruptStoreError(`stored trust record ${String(key)} cannot be decoded: ${(cause as Error).message}`, { cause })
  }
}

/**
 * LMDB storage adapter: one record per (graph, source, target), the current
 * attestation's canonical envelope bytes. The lowest persistence layer (L1).
 */
export interface TrustStore {
  readonly path: string
  /** The stored attestation for a key. */
  get(graph: TrustGraphName, source: string, target: string): TrustAttestation | undefined
  /** Every stored attestation, in key order. Throws `CorruptStoreError` on an undecodable record. */
  all(): TrustAttestation[]
  /** Writes one record (batched with other writes of the same event-loop turn); resolves once committed. */
  put(attestation: TrustAttestation): Promise<void>
  /** Replaces every record in one transaction. */
  replaceAll(attestations: readonly TrustAttestation[]): void
  /** Resolves once every write issued so far is committed. */
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
    private readonly edges: Database<Uint8Array, EdgeKey>
  ) {}

  get (graph: TrustGraphName, source: string, target: string): TrustAttestation | undefined {
    this.assertOpen()
    const key: EdgeKey = [graph, source, target]
    const bytes = this.edges.getBinary(key)
    return bytes === undefined ? undefined : decodeRecord(new Uint8Array(bytes), key)
  }

  all (): TrustAttestation[] {
    this.assertOpen()
    const out: TrustAttestation[] = []
    for (const { key, value } of this.edges.getRange()) out.push(decodeRecord(new Uint8Array(value), key))
    return out
  }

  async put (attestation: TrustAttestation): Promise<void> {
    this.assertOpen()
    const write = this.edges.put(keyOf(attestation), encodeEnvelope(attestation))
    this.pending.add(write)
    try {
      await write
    } finally {
      this.pending.delete(write)
    }
  }

  replaceAll (attestations: readonly TrustAttestation[]): void {
    this.assertOpen()
    const records = attestations.map((a) => [keyOf(a), encodeEnvelope(a)] as const)
    this.root.transactionSync(() => {
      for (const key of this.edges.getKeys()) this.edges.removeSync(key)
      for (const [key, bytes] of records) this.edges.putSync(key, bytes)
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
    const edges = root.openDB<Uint8Array, EdgeKey>({ name: 'edges', encoding: 'binary' })
    return new LmdbTrustStore(path, root, edges)
  } catch (cause) {
    await root.close()
    if (cause instanceof TrustError) throw cause
    throw new CorruptStoreError(`cannot open trust store at ${path}: ${(cause as Error).message}`, { cause })
  }
}
