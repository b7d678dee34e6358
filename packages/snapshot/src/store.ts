import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { bytesEqual, fromHex, isDid, sha256, toHex, utf8 } from '@icn/identity'
import { CorruptFileError, parseJsonSnapshot, writeFileAtomic, writeJsonSnapshot } from '@icn/identity/fs'
import type { CompletedSnapshot } from './coordinator.js'
import { CorruptSnapshotError, InvalidConfigError, SnapshotClosedError, SnapshotNotFoundError } from './errors.js'
import { type SnapshotLeaf, merkleRoot } from './merkle.js'
import { isSnapshotId } from './messages.js'

/** The metadata of a stored snapshot (without its leaves and state blobs). */
export type SnapshotSummary = Pick<CompletedSnapshot, 'snapshotId' | 'node' | 'initiator' | 'timestamp' | 'completedAt' | 'participants' | 'root'>

/** A blob's entry in the metadata file. */
interface BlobRef { file: string, sha256: string, size: number }

/** The body of `<id>.snapshot`. */
interface SnapshotFile {
  format: 'icn-snapshot'
  version: 1
  snapshotId: string
  node: string
  initiator: string
  timestamp: number
  completedAt: number
  participants: string[]
  root: Uint8Array
  leaves: SnapshotLeaf[]
  localState: BlobRef
  channelState: BlobRef
}

/** File names of one stored snapshot. The `.sha256` sidecar is written last: it is the commit marker. */
export function snapshotFileNames (snapshotId: string): { meta: string, checksum: string, local: string, channels: string } {
  return { meta: `${snapshotId}.snapshot`, checksum: `${snapshotId}.snapshot.sha256`, local: `${snapshotId}.local.bin`, channels: `${snapshotId}.channels.bin` }
}

function checkId (snapshotId: string): void {
  if (!isSnapshotId(snapshotId)) throw new InvalidConfigError(`'${String(snapshotId).slice(0, 80)}' is not a valid snapshot id`)
}

/**
 * Writes a completed snapshot to `dir` (the storage adapter, Layer 1): state
 * blobs first (atomic), then the checksummed metadata file `<id>.snapshot`
 * (atomic), then its `<id>.snapshot.sha256` sidecar (atomic). A crash at any
 * point leaves either no committed snapshot or a complete one.
 */
export async function writeSnapshotFiles (dir: string, record: CompletedSnapshot): Promise<void> {
  checkId(record.snapshotId)
  const names = snapshotFileNames(record.snapshotId)
  await writeFileAtomic(join(dir, names.local), record.localState)
  await writeFileAtomic(join(dir, names.channels), record.channelState)
  const body: SnapshotFile = {
    format: 'icn-snapshot',
    version: 1,
    snapshotId: record.snapshotId,
    node: record.node,
    initiator: record.initiator,
    timestamp: record.timestamp,
    completedAt: record.completedAt,
    participants: [...record.participants],
    root: record.root,
    leaves: [...record.leaves],
    localState: { file: names.local, sha256: toHex(sha256(record.localState)), size: record.localState.length },
    channelState: { file: names.channels, sha256: toHex(sha256(record.channelState)), size: record.channelState.length }
  }
  await writeJsonSnapshot(join(dir, names.meta), body)
  const metaBytes = await readFile(join(dir, names.meta))
  await writeFileAtomic(join(dir, names.checksum), utf8(`${toHex(sha256(metaBytes))}  ${names.meta}\n`))
}

async function readOptional (path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

function isHash (v: unknown): v is Uint8Array { return v instanceof Uint8Array && v.length === 32 }
function isCount (v: unknown): v is number { return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 }

function parseMeta (path: string, value: unknown, snapshotId: string): SnapshotFile {
  const bad = (what: string): never => { throw new CorruptSnapshotError(path, what) }
  if (typeof value !== 'object' || value === null) bad('metadata is not an object')
  const f = value as Partial<SnapshotFile>
  if (f.format !== 'icn-snapshot' || f.version !== 1) bad(`unknown format ${String(f.format)} v${String(f.version)}`)
  if (f.snapshotId !== snapshotId) bad(`metadata names snapshot ${String(f.snapshotId)}`)
  if (!isDid(f.node) || !isDid(f.initiator)) bad('node and initiator must be DIDs')
  if (!isCount(f.timestamp) || !isCount(f.completedAt)) bad('timestamp and completedAt must be integers')
  if (!Array.isArray(f.participants) || !f.participants.every(isDid)) bad('participants must be DIDs')
  if (!isHash(f.root)) bad('root must be 32 bytes')
  if (!Array.isArray(f.leaves) || f.leaves.length !== f.participants?.length) bad('leaves must be one per participant')
  for (const [i, leaf] of (f.leaves as SnapshotLeaf[]).entries()) {
    if (leaf?.did !== f.participants?.[i] || !isHash(leaf.stateHash) || !isHash(leaf.channelHash) || !isCount(leaf.stateSize) || !isCount(leaf.channelSize)) bad(`leaves[${i}] is malformed`)
  }
  for (const blob of [f.localState, f.channelState]) {
    if (typeof blob?.file !== 'string' || typeof blob.sha256 !== 'string' || !isCount(blob.size)) bad('blob references are malformed')
  }
  return f as SnapshotFile
}

async function readMeta (dir: string, snapshotId: string): Promise<SnapshotFile> {
  checkId(snapshotId)
  const names = snapshotFileNames(snapshotId)
  const metaPath = join(dir, names.meta)
  const checksum = await readOptional(join(dir, names.checksum))
  const meta = await readOptional(metaPath)
  if (checksum === undefined && meta === undefined) throw new SnapshotNotFoundError(snapshotId)
  if (checksum === undefined) throw new CorruptSnapshotError(metaPath, 'no .sha256 checksum file (incomplete write)')
  if (meta === undefined) throw new CorruptSnapshotError(metaPath, 'checksum file present but snapshot file missing')
  const expected = new TextDecoder().decode(checksum).split(/\s+/)[0] ?? ''
  if (expected !== toHex(sha256(meta))) throw new CorruptSnapshotError(metaPath, `sha-256 ${toHex(sha256(meta))} does not match ${names.checksum} (${expected.slice(0, 64)})`)
  let value: unknown
  try {
    value = parseJsonSnapshot(metaPath, meta)
  } catch (cause) {
    if (cause instanceof CorruptFileError) throw new CorruptSnapshotError(metaPath, cause.message, { cause })
    throw cause
  }
  return parseMeta(metaPath, value, snapshotId)
}

async function readBlob (dir: string, ref: BlobRef): Promise<Uint8Array> {
  const path = join(dir, ref.file)
  const bytes = await readOptional(path)
  if (bytes === undefined) throw new CorruptSnapshotError(path, 'state blob is missing')
  if (bytes.length !== ref.size) throw new CorruptSnapshotError(path, `state blob is ${bytes.length} bytes, metadata says ${ref.size}`)
  if (!bytesEqual(sha256(bytes), fromHex(ref.sha256))) throw new CorruptSnapshotError(path, 'state blob does not match its sha-256')
  return bytes
}

/**
 * Reads a completed snapshot written by `writeSnapshotFiles`, checking the
 * sidecar, the metadata checksum, both blobs' sizes and hashes, that the
 * holder's leaf commits to those blobs, and that the root recomputes.
 * Throws `SnapshotNotFoundError` or `CorruptSnapshotError`.
 */
export async function readSnapshotFiles (dir: string, snapshotId: string): Promise<CompletedSnapshot> {
  const meta = await readMeta(dir, snapshotId)
  const metaPath = join(dir, snapshotFileNames(snapshotId).meta)
  const localState = await readBlob(dir, meta.localState)
  const channelState = await readBlob(dir, meta.channelState)
  const own = meta.leaves.find((l) => l.did === meta.node)
  if (own === undefined || !bytesEqual(own.stateHash, sha256(localState)) || !bytesEqual(own.channelHash, sha256(channelState))) {
    throw new CorruptSnapshotError(metaPath, 'the holder\'s leaf does not commit to the stored state blobs')
  }
  if (!bytesEqual(merkleRoot(meta.leaves), meta.root)) throw new CorruptSnapshotError(metaPath, 'stored root does not recompute from the stored leaves')
  return {
    snapshotId: meta.snapshotId,
    node: meta.node,
    initiator: meta.initiator,
    timestamp: meta.timestamp,
    completedAt: meta.completedAt,
    participants: meta.participants,
    root: meta.root,
    leaves: meta.leaves,
    localState,
    channelState
  }
}

/** Summaries of every committed snapshot in `dir`, newest first (by `completedAt`, then id). Corrupt metadata throws. */
export async function listSnapshotFiles (dir: string): Promise<SnapshotSummary[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const ids = names.filter((n) => n.endsWith('.snapshot.sha256')).map((n) => n.slice(0, -'.snapshot.sha256'.length)).filter(isSnapshotId)
  const out: SnapshotSummary[] = []
  for (const id of ids) {
    const m = await readMeta(dir, id)
    out.push({ snapshotId: m.snapshotId, node: m.node, initiator: m.initiator, timestamp: m.timestamp, completedAt: m.completedAt, participants: m.participants, root: m.root })
  }
  return out.sort((a, b) => b.completedAt - a.completedAt || (a.snapshotId < b.snapshotId ? -1 : 1))
}

/** Removes a stored snapshot: the sidecar (commit marker) first, so a crash never leaves a committed but partial one. */
export async function removeSnapshotFiles (dir: string, snapshotId: string): Promise<void> {
  checkId(snapshotId)
  const names = snapshotFileNames(snapshotId)
  for (const name of [names.checksum, names.meta, names.local, names.channels]) await rm(join(dir, name), { force: true })
}

/** Options of `openSnapshotStore`. */
export interface SnapshotStoreInit {
  /** Directory holding the snapshot files (created on first write). */
  path: string
  /** After each `save`, keep only the newest N snapshots (0 = keep all). @default 0 */
  keepNewest?: number
}

/** Completed snapshots on disk: the handle a node uses. */
export interface SnapshotStore {
  readonly path: string
  /** Persists a completed snapshot atomically, then prunes to `keepNewest` if set. */
  save(record: CompletedSnapshot): Promise<void>
  /** Loads and fully checks one snapshot. */
  load(snapshotId: string): Promise<CompletedSnapshot>
  /** Newest first. */
  list(): Promise<SnapshotSummary[]>
  /** Keeps the newest `n`, removes the rest; returns the removed ids. */
  keepNewest(n: number): Promise<string[]>
  /** Waits for writes in progress; later calls throw `SnapshotClosedError`. Idempotent. */
  close(): Promise<void>
}

class FileSnapshotStore implements SnapshotStore {
  readonly path: string
  private readonly keep: number
  private queue: Promise<void> = Promise.resolve()
  private closed = false

  constructor (init: SnapshotStoreInit) {
    this.path = init.path
    this.keep = init.keepNewest ?? 0
  }

  /** Writes and prunes run one at a time, in call order. */
  private async serial<T> (task: () => Promise<T>): Promise<T> {
    if (this.closed) throw new SnapshotClosedError('snapshot store')
    const run = this.queue.then(task)
    this.queue = run.then(() => undefined, () => undefined)
    return await run
  }

  async save (record: CompletedSnapshot): Promise<void> {
    await this.serial(async () => {
      await writeSnapshotFiles(this.path, record)
      if (this.keep > 0) await this.prune(this.keep)
    })
  }

  async load (snapshotId: string): Promise<CompletedSnapshot> {
    if (this.closed) throw new SnapshotClosedError('snapshot store')
    return await readSnapshotFiles(this.path, snapshotId)
  }

  async list (): Promise<SnapshotSummary[]> {
    if (this.closed) throw new SnapshotClosedError('snapshot store')
    return await listSnapshotFiles(this.path)
  }

  async keepNewest (n: number): Promise<string[]> {
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidConfigError('keepNewest needs an integer >= 0')
    return await this.serial(async () => await this.prune(n))
  }

  private async prune (n: number): Promise<string[]> {
    const doomed = (await listSnapshotFiles(this.path)).slice(n).map((s) => s.snapshotId)
    for (const id of doomed) await removeSnapshotFiles(this.path, id)
    return doomed
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue
  }
}

/** Opens (lazily creates) a snapshot store directory. */
export async function openSnapshotStore (init: SnapshotStoreInit): Promise<SnapshotStore> {
  if (typeof init.path !== 'string' || init.path.length === 0) throw new InvalidConfigError('snapshot store needs a path')
  const keep = init.keepNewest ?? 0
  if (!Number.isSafeInteger(keep) || keep < 0) throw new InvalidConfigError('keepNewest must be an integer >= 0')
  return new FileSnapshotStore(init)
}
