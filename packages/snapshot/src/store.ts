import { type Dirent, existsSync } from 'node:fs'
import { lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { type Clock, bytesEqual, concatBytes, fromHex, isDid, sha256, systemClock, toHex, utf8 } from '@icn/identity'
import { chunkBytes } from './chunks.js'
import { CorruptFileError, parseJsonSnapshot, readJsonSnapshot, writeFileAtomic, writeJsonSnapshot } from '@icn/identity/fs'
import type { CompletedSnapshot } from './coordinator.js'
import { CorruptSnapshotError, InvalidConfigError, SnapshotClosedError, SnapshotNotFoundError, SnapshotQuarantinedError } from './errors.js'
import { type SnapshotLeaf, merkleRoot } from './merkle.js'
import { isSnapshotId } from './messages.js'

/** The metadata of a stored snapshot (without its leaves and state blobs). */
export type SnapshotSummary = Pick<CompletedSnapshot, 'snapshotId' | 'node' | 'initiator' | 'timestamp' | 'completedAt' | 'participants' | 'root'>

/** A state blob's entry in the metadata file: its size and sha-256, and its chunks (sha-256 hex, in order) in `chunks/`. */
interface BlobRef { sha256: string, size: number, chunks: string[] }

/** The body of `<id>.snapshot`. */
interface SnapshotFile {
  format: 'icn-snapshot'
  version: 2
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

/**
 * File names of one stored snapshot. The `.sha256` sidecar is written last: it is the commit marker. (`local`
 * and `channels` are the state blobs of format v1, which kept whole blobs per snapshot; v2 keeps chunks in
 * `chunks/`, shared between snapshots. The names stay known so such files are recognised as the snapshot's.)
 */
export function snapshotFileNames (snapshotId: string): { meta: string, checksum: string, local: string, channels: string } {
  return { meta: `${snapshotId}.snapshot`, checksum: `${snapshotId}.snapshot.sha256`, local: `${snapshotId}.local.bin`, channels: `${snapshotId}.channels.bin` }
}

/** The folder, inside the store directory, of content-addressed state chunks (file name = sha-256 hex of the bytes). */
export const CHUNKS_FOLDER = 'chunks'
const CHUNK_NAME = /^[0-9a-f]{64}$/

function checkId (snapshotId: string): void {
  if (!isSnapshotId(snapshotId)) throw new InvalidConfigError(`'${String(snapshotId).slice(0, 80)}' is not a valid snapshot id`)
}

const nextTurn = async (): Promise<void> => { await new Promise<void>((resolve) => { setImmediate(resolve) }) }

/** What one `writeSnapshotFiles` put on disk. */
export interface SaveReport {
  /** Chunks the snapshot's two state blobs are made of. */
  readonly chunks: number
  /** Of those, the ones not already in `chunks/` (written now). */
  readonly newChunks: number
  /** Bytes written: the new chunks, the metadata file and its sidecar. */
  readonly bytesWritten: number
}

/** Writes the chunks of `bytes` that `chunks/` lacks; returns the blob's reference and what it wrote. */
async function writeBlob (dir: string, bytes: Uint8Array): Promise<{ ref: BlobRef, newChunks: number, bytesWritten: number }> {
  const chunks = await chunkBytes(bytes, nextTurn)
  const chunkDir = join(dir, CHUNKS_FOLDER)
  await mkdir(chunkDir, { recursive: true })
  let newChunks = 0
  let bytesWritten = 0
  for (const chunk of chunks) {
    // Content-addressed: a chunk already here is these bytes (reads check every chunk's hash).
    if (await exists(join(chunkDir, chunk.hash))) continue
    await writeFileAtomic(join(chunkDir, chunk.hash), bytes.subarray(chunk.offset, chunk.offset + chunk.size))
    newChunks++
    bytesWritten += chunk.size
  }
  return { ref: { sha256: toHex(sha256(bytes)), size: bytes.length, chunks: chunks.map((c) => c.hash) }, newChunks, bytesWritten }
}

/**
 * Writes a completed snapshot to `dir` (the storage adapter, Layer 1): the
 * state blobs' chunks that `chunks/` does not hold yet (each atomic; chunks
 * are content-addressed, so consecutive snapshots share what did not
 * change), then the checksummed metadata file `<id>.snapshot` (atomic), then
 * its `<id>.snapshot.sha256` sidecar (atomic). A crash at any point leaves
 * either no committed snapshot or a complete one (and perhaps chunks nothing
 * references, removed at the next open or prune).
 */
export async function writeSnapshotFiles (dir: string, record: CompletedSnapshot): Promise<SaveReport> {
  checkId(record.snapshotId)
  const names = snapshotFileNames(record.snapshotId)
  const local = await writeBlob(dir, record.localState)
  const channels = await writeBlob(dir, record.channelState)
  const body: SnapshotFile = {
    format: 'icn-snapshot',
    version: 2,
    snapshotId: record.snapshotId,
    node: record.node,
    initiator: record.initiator,
    timestamp: record.timestamp,
    completedAt: record.completedAt,
    participants: [...record.participants],
    root: record.root,
    leaves: [...record.leaves],
    localState: local.ref,
    channelState: channels.ref
  }
  await writeJsonSnapshot(join(dir, names.meta), body)
  const metaBytes = await readFile(join(dir, names.meta))
  const sidecar = utf8(`${toHex(sha256(metaBytes))}  ${names.meta}\n`)
  await writeFileAtomic(join(dir, names.checksum), sidecar)
  return {
    chunks: local.ref.chunks.length + channels.ref.chunks.length,
    newChunks: local.newChunks + channels.newChunks,
    bytesWritten: local.bytesWritten + channels.bytesWritten + metaBytes.length + sidecar.length
  }
}

function isMissing (err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT'
}

async function readOptional (path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    if (isMissing(err)) return undefined
    throw err
  }
}

async function exists (path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (err) {
    if (isMissing(err)) return false
    throw err
  }
}

/** A directory's entries; none when it does not exist. */
async function entriesOf (dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true })
  } catch (err) {
    if (isMissing(err)) return []
    throw err
  }
}

function isHash (v: unknown): v is Uint8Array { return v instanceof Uint8Array && v.length === 32 }
function isCount (v: unknown): v is number { return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 }

function parseMeta (path: string, value: unknown, snapshotId: string): SnapshotFile {
  const bad = (what: string): never => { throw new CorruptSnapshotError(path, what) }
  if (typeof value !== 'object' || value === null) bad('metadata is not an object')
  const f = value as Partial<SnapshotFile>
  if (f.format !== 'icn-snapshot' || f.version !== 2) bad(`unknown format ${String(f.format)} v${String(f.version)}`)
  if (f.snapshotId !== snapshotId) bad(`metadata names snapshot ${String(f.snapshotId)}`)
  if (!isDid(f.node) || !isDid(f.initiator)) bad('node and initiator must be DIDs')
  if (!isCount(f.timestamp) || !isCount(f.completedAt)) bad('timestamp and completedAt must be integers')
  if (!Array.isArray(f.participants) || !f.participants.every(isDid)) bad('participants must be DIDs')
  if (!isHash(f.root)) bad('root must be 32 bytes')
  if (!Array.isArray(f.leaves) || f.leaves.length !== f.participants?.length) bad('leaves must be one per participant')
  for (const [i, leaf] of (f.leaves as SnapshotLeaf[]).entries()) {
    if (leaf?.did !== f.participants?.[i] || !isHash(leaf.stateHash) || !isHash(leaf.channelHash) || !isCount(leaf.stateSize) || !isCount(leaf.channelSize)) bad(`leaves[${i}] is malformed`)
  }
  // Blob refs name chunks by hash only, never a path.
  for (const blob of [f.localState, f.channelState]) {
    if (typeof blob?.sha256 !== 'string' || !CHUNK_NAME.test(blob.sha256) || !isCount(blob.size) || !Array.isArray(blob.chunks) ||
      !blob.chunks.every((c) => typeof c === 'string' && CHUNK_NAME.test(c)) || (blob.chunks.length === 0) !== (blob.size === 0)) bad('blob references are malformed')
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
  // The sidecar is exactly what `writeSnapshotFiles` writes; other content (also in the name part) is damage.
  const sidecar = /^([0-9a-f]{64}) {2}(.*)\n$/.exec(new TextDecoder().decode(checksum))
  if (sidecar === null || sidecar[2] !== names.meta) throw new CorruptSnapshotError(join(dir, names.checksum), `not "<sha-256>  ${names.meta}"`)
  const expected = sidecar[1]!
  if (expected !== toHex(sha256(meta))) throw new CorruptSnapshotError(metaPath, `sha-256 ${toHex(sha256(meta))} does not match ${names.checksum} (${expected})`)
  let value: unknown
  try {
    value = parseJsonSnapshot(metaPath, meta)
  } catch (cause) {
    if (cause instanceof CorruptFileError) throw new CorruptSnapshotError(metaPath, cause.message, { cause })
    throw cause
  }
  return parseMeta(metaPath, value, snapshotId)
}

async function readBlob (dir: string, metaPath: string, ref: BlobRef): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let size = 0
  for (const hash of ref.chunks) {
    const path = join(dir, CHUNKS_FOLDER, hash)
    const bytes = await readOptional(path)
    if (bytes === undefined) throw new CorruptSnapshotError(path, 'state chunk is missing')
    if (toHex(sha256(bytes)) !== hash) throw new CorruptSnapshotError(path, 'state chunk does not match its sha-256 (its name)')
    size += bytes.length
    if (size > ref.size) break
    parts.push(bytes)
  }
  if (size !== ref.size) throw new CorruptSnapshotError(metaPath, `state chunks add up to ${size > ref.size ? 'more than' : size} bytes, metadata says ${ref.size}`)
  const bytes = concatBytes(...parts)
  if (!bytesEqual(sha256(bytes), fromHex(ref.sha256))) throw new CorruptSnapshotError(metaPath, 'state blob does not match its sha-256')
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
  const localState = await readBlob(dir, metaPath, meta.localState)
  const channelState = await readBlob(dir, metaPath, meta.channelState)
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
  const out: SnapshotSummary[] = []
  for (const id of await committedIds(dir)) out.push(summaryOf(await readMeta(dir, id)))
  return newestFirst(out)
}

/** Ids that have a commit marker in `dir`. */
async function committedIds (dir: string): Promise<string[]> {
  return (await entriesOf(dir)).map((e) => e.name).filter((n) => n.endsWith('.snapshot.sha256')).map((n) => n.slice(0, -'.snapshot.sha256'.length)).filter(isSnapshotId)
}

function summaryOf (m: SnapshotFile): SnapshotSummary {
  return { snapshotId: m.snapshotId, node: m.node, initiator: m.initiator, timestamp: m.timestamp, completedAt: m.completedAt, participants: m.participants, root: m.root }
}

function newestFirst (summaries: SnapshotSummary[]): SnapshotSummary[] {
  return summaries.sort((a, b) => b.completedAt - a.completedAt || (a.snapshotId < b.snapshotId ? -1 : 1))
}

/**
 * Removes a stored snapshot: the sidecar (commit marker) first, so a crash never leaves a committed but
 * partial one. Its chunks stay until `removeUnreferencedChunks` (other snapshots may share them).
 */
export async function removeSnapshotFiles (dir: string, snapshotId: string): Promise<void> {
  checkId(snapshotId)
  const names = snapshotFileNames(snapshotId)
  for (const name of [names.checksum, names.meta, names.local, names.channels]) await rm(join(dir, name), { force: true })
}

/**
 * Deletes every file in `chunks/` that no committed snapshot's metadata names (left by removed snapshots or
 * an interrupted save), and temp files of interrupted chunk writes; returns how many. Other names are left
 * for the store's open to move aside. Call with no save in progress.
 */
export async function removeUnreferencedChunks (dir: string): Promise<number> {
  const referenced = new Set<string>()
  for (const id of await committedIds(dir)) {
    const meta = await readMeta(dir, id)
    for (const blob of [meta.localState, meta.channelState]) for (const c of blob.chunks) referenced.add(c)
  }
  let removed = 0
  for (const entry of await entriesOf(join(dir, CHUNKS_FOLDER))) {
    const garbage = entry.isFile() && ((CHUNK_NAME.test(entry.name) && !referenced.has(entry.name)) || CHUNK_NAME.test(TEMP_FILE.exec(entry.name)?.[1] ?? ''))
    if (!garbage) continue
    await rm(join(dir, CHUNKS_FOLDER, entry.name), { force: true })
    removed++
  }
  return removed
}

/** The folder, inside the store directory, that damaged files are moved into. */
export const DAMAGED_FOLDER = 'damaged'
/** The record of why each file in `damaged/` is there (a checksummed JSON snapshot file inside it). */
const DAMAGE_RECORD = 'damaged.json'
/** A leftover temp file of an interrupted `writeFileAtomic` (see `@icn/identity/fs`). */
const TEMP_FILE = /^\.(.+)\.\d+\.\d+\.tmp$/
const SUFFIXES = ['.snapshot.sha256', '.snapshot', '.local.bin', '.channels.bin']

/** The snapshot id a store file name carries (`<id>.snapshot`, `.snapshot.sha256`, `.local.bin`, `.channels.bin`), if any. */
function snapshotIdOf (name: string): string | undefined {
  const suffix = SUFFIXES.find((s) => name.endsWith(s))
  const id = suffix === undefined ? undefined : name.slice(0, -suffix.length)
  return isSnapshotId(id) ? id : undefined
}

/**
 * Why a file was moved into `damaged/`:
 * - `corrupt`: a file of a committed snapshot (one with its `.snapshot.sha256`
 *   commit marker) that fails its checks — every file of that snapshot moves;
 * - `uncommitted`: files of a snapshot without a commit marker, or a temp
 *   file, left by an interrupted save or removal (found when the store opens);
 * - `unknown`: anything else in the store directory (another name, a folder,
 *   a link, a name that is not a snapshot id);
 * - `unrecorded`: found in `damaged/` without a record of why (the record
 *   was lost, or the file was put there by hand).
 */
export type DamageKind = 'corrupt' | 'uncommitted' | 'unknown' | 'unrecorded'

/** A file the store moved aside into its `damaged/` folder. */
export interface DamagedSnapshot {
  /** Its name where it was found: in the store directory, or `damaged/<name>` for an `unrecorded` file or a damaged record. */
  file: string
  /** The snapshot it belonged to, when its name carries a snapshot id. */
  snapshotId: string | null
  kind: DamageKind
  /** What was wrong, e.g. `<id>.snapshot: sha-256 … does not match <id>.snapshot.sha256 (…)`. */
  reason: string
  /** Where it is now: `<store path>/damaged/<name>` (`<name>.1`, `.2`, … when the name was taken). */
  movedTo: string
  /** When the store moved (or first recorded) it, ms since the epoch (`clock`). */
  detectedAt: number
}

/** Options of `openSnapshotStore`. */
export interface SnapshotStoreInit {
  /** Directory holding the snapshot files (created on first write). */
  path: string
  /** After each `save`, keep only the newest N snapshots (0 = keep all). @default 0 */
  keepNewest?: number
  /** After each `save`, remove snapshots completed more than this many ms ago (by `clock`; 0 = no age limit). @default 0 */
  maxAgeMs?: number
  /**
   * Called once for each file newly moved into `damaged/`: during
   * `openSnapshotStore` (before it resolves) and whenever a later read finds
   * damage. For a warning in the node's log; what it throws is ignored.
   * @default none
   */
  onDamaged?: (damaged: DamagedSnapshot) => void
  /** Gives `detectedAt`. @default systemClock */
  clock?: Clock
}

/** Which snapshots `prune` keeps: at most the newest `keepNewest`, none older than `maxAgeMs`. */
export interface PruneRule { keepNewest?: number, maxAgeMs?: number }

function checkRule (rule: PruneRule): void {
  for (const [name, v] of Object.entries(rule)) {
    if (name !== 'keepNewest' && name !== 'maxAgeMs') throw new InvalidConfigError(`unknown prune rule '${name}'`)
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 0)) throw new InvalidConfigError(`${name} must be an integer >= 0`)
  }
}

/** Completed snapshots on disk: the handle a node uses. */
export interface SnapshotStore {
  readonly path: string
  /** Persists a completed snapshot atomically (only the chunks the store lacks), then applies `keepNewest` / `maxAgeMs` if set. */
  save(record: CompletedSnapshot): Promise<SaveReport>
  /**
   * Loads and fully checks one snapshot. `SnapshotNotFoundError` if it is not
   * stored; if its files are damaged they are moved into `damaged/` and this
   * read throws `SnapshotQuarantinedError` (later reads: not found).
   */
  load(snapshotId: string): Promise<CompletedSnapshot>
  /** Newest first. A snapshot whose metadata is found damaged is moved into `damaged/` and left out. */
  list(): Promise<SnapshotSummary[]>
  /** Keeps the newest `n`, removes the rest; returns the removed ids. */
  keepNewest(n: number): Promise<string[]>
  /**
   * Removes every snapshot beyond the newest `keepNewest` and every one completed more than `maxAgeMs` ago
   * (either rule may be left out), then the chunks no remaining snapshot uses; returns the removed ids, newest first.
   */
  prune(rule: PruneRule): Promise<string[]>
  /** Bytes and files in `chunks/` now (what the stored states take on disk, shared chunks counted once). */
  usage(): Promise<{ chunks: number, chunkBytes: number }>
  /** Every file now in `damaged/` and why, oldest first (kept across restarts in `damaged/damaged.json`). */
  damaged(): DamagedSnapshot[]
  /** Waits for writes in progress; later calls throw `SnapshotClosedError`. Idempotent. */
  close(): Promise<void>
}

/** A `DamagedSnapshot` as the record keeps it: `name` in `damaged/` instead of a full path. */
interface DamageEntry extends Omit<DamagedSnapshot, 'movedTo'> { name: string }

/** Something to move aside: `from` is its current path. */
interface Damage { from: string, file: string, snapshotId: string | null, kind: DamageKind, reason: string }

const KINDS = new Set<unknown>(['corrupt', 'uncommitted', 'unknown', 'unrecorded'])

function parseDamageRecord (path: string, value: unknown): DamageEntry[] {
  const v = value as { format?: unknown, version?: unknown, entries?: unknown } | null
  if (v?.format !== 'icn-snapshot-damage' || v.version !== 1 || !Array.isArray(v.entries)) throw new CorruptSnapshotError(path, 'not a record of damaged files (format icn-snapshot-damage v1)')
  for (const e of v.entries as Array<Partial<DamageEntry> | null>) {
    const ok = typeof e?.name === 'string' && e.name !== DAMAGE_RECORD && !e.name.includes('/') && typeof e.file === 'string' && (e.snapshotId === null || isSnapshotId(e.snapshotId)) &&
      KINDS.has(e.kind) && typeof e.reason === 'string' && isCount(e.detectedAt)
    if (!ok) throw new CorruptSnapshotError(path, 'an entry of the record is malformed')
  }
  return v.entries as DamageEntry[]
}

class FileSnapshotStore implements SnapshotStore {
  readonly path: string
  private readonly keep: number
  private readonly maxAgeMs: number
  private readonly clock: Clock
  private readonly onDamaged: ((damaged: DamagedSnapshot) => void) | undefined
  private readonly damagedDir: string
  private entries: DamageEntry[] = []
  private queue: Promise<void> = Promise.resolve()
  private closed = false

  constructor (init: SnapshotStoreInit) {
    this.path = init.path
    this.keep = init.keepNewest ?? 0
    this.maxAgeMs = init.maxAgeMs ?? 0
    this.clock = init.clock ?? systemClock
    this.onDamaged = init.onDamaged
    this.damagedDir = join(init.path, DAMAGED_FOLDER)
  }

  /** Writes, prunes and moves run one at a time, in call order. */
  private async exclusive<T> (task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task)
    this.queue = run.then(() => undefined, () => undefined)
    return await run
  }

  private async serial<T> (task: () => Promise<T>): Promise<T> {
    if (this.closed) throw new SnapshotClosedError('snapshot store')
    return await this.exclusive(task)
  }

  /**
   * Opening: reconcile `damaged/` with its record, then check everything in
   * the directory — every committed snapshot fully (metadata, blobs, root),
   * so `list` and `load` after this see only intact ones — and move the rest aside.
   */
  async recover (): Promise<void> {
    const found: Damage[] = []
    // Sorted, so what is moved and reported comes in the same order on every file system.
    let entries = (await entriesOf(this.path)).sort((x, y) => x.name < y.name ? -1 : x.name > y.name ? 1 : 0)
    const stray = entries.find((e) => e.name === DAMAGED_FOLDER && !e.isDirectory())
    if (stray !== undefined) {
      // A file where the folder belongs: out of the way first, then moved into the folder like any unknown file.
      const aside = join(this.path, `.${DAMAGED_FOLDER}.${this.clock.now()}.aside`)
      await rename(join(this.path, DAMAGED_FOLDER), aside)
      found.push({ from: aside, file: DAMAGED_FOLDER, snapshotId: null, kind: 'unknown', reason: 'not a file of the snapshot store' })
      entries = entries.filter((e) => e !== stray)
    }
    await this.loadRecord()
    const groups = new Map<string, string[]>()
    for (const entry of entries) {
      if (entry.name === DAMAGED_FOLDER) continue
      if (entry.name === CHUNKS_FOLDER && entry.isDirectory()) {
        for (const chunk of (await entriesOf(join(this.path, CHUNKS_FOLDER))).sort((x, y) => x.name < y.name ? -1 : 1)) {
          const name = chunk.name
          if (chunk.isFile() && (CHUNK_NAME.test(name) || CHUNK_NAME.test(TEMP_FILE.exec(name)?.[1] ?? ''))) continue
          found.push({ from: join(this.path, CHUNKS_FOLDER, name), file: `${CHUNKS_FOLDER}/${name}`, snapshotId: null, kind: 'unknown', reason: 'not a state chunk (name is not the sha-256 of a file)' })
        }
        continue
      }
      const id = entry.isFile() ? snapshotIdOf(entry.name) : undefined
      if (id !== undefined) {
        groups.set(id, [...(groups.get(id) ?? []), entry.name])
        continue
      }
      const temp = entry.isFile() ? TEMP_FILE.exec(entry.name) : null
      found.push(temp === null
        ? { from: join(this.path, entry.name), file: entry.name, snapshotId: null, kind: 'unknown', reason: 'not a file of the snapshot store' }
        : { from: join(this.path, entry.name), file: entry.name, snapshotId: snapshotIdOf(temp[1]!) ?? null, kind: 'uncommitted', reason: 'temporary file of an interrupted write' })
    }
    for (const [id, files] of groups) {
      const names = snapshotFileNames(id)
      if (!files.includes(names.checksum)) {
        const reason = `no commit marker ${names.checksum} (an interrupted save or removal)`
        for (const file of files.sort()) found.push({ from: join(this.path, file), file, snapshotId: id, kind: 'uncommitted', reason })
        continue
      }
      const damage = await readSnapshotFiles(this.path, id).then(() => undefined, (err: unknown) => {
        if (err instanceof CorruptSnapshotError) return err
        throw err
      })
      if (damage !== undefined) found.push(...this.damageOf(id, files.sort(), damage))
    }
    await this.moveAside(found)
    await removeUnreferencedChunks(this.path)
  }

  /** The snapshot's files, and the chunk that failed its check (if that was the damage and it is still there). */
  private damageOf (snapshotId: string, files: string[], damage: CorruptSnapshotError): Damage[] {
    const chunk = join(this.path, CHUNKS_FOLDER, basename(damage.path)) === damage.path && existsSync(damage.path) ? [`${CHUNKS_FOLDER}/${basename(damage.path)}`] : []
    const reason = `${chunk.length > 0 ? chunk[0] as string : basename(damage.path)}: ${damage.reason}`
    return [...files, ...chunk].map((file) => ({ from: join(this.path, file), file, snapshotId, kind: 'corrupt', reason }))
  }

  /**
   * Reads `damaged/damaged.json`: entries whose file is gone (an operator
   * deleted it) are dropped, files without an entry are recorded as
   * `unrecorded`, and a damaged record is itself moved aside in the folder.
   */
  private async loadRecord (): Promise<void> {
    const entries = await entriesOf(this.damagedDir)
    if (entries.length === 0) return
    // Our own record's temp files from an interrupted record write: never data.
    for (const e of entries) if (TEMP_FILE.exec(e.name)?.[1] === DAMAGE_RECORD) await rm(join(this.damagedDir, e.name), { force: true })
    const recordPath = join(this.damagedDir, DAMAGE_RECORD)
    let recorded: DamageEntry[] = []
    const found: Damage[] = []
    const recordEntry = entries.find((e) => e.name === DAMAGE_RECORD)
    if (recordEntry !== undefined) {
      try {
        if (!recordEntry.isFile()) throw new CorruptSnapshotError(recordPath, 'not a file')
        recorded = parseDamageRecord(recordPath, await readJsonSnapshot(recordPath))
      } catch (err) {
        if (!(err instanceof CorruptFileError) && !(err instanceof CorruptSnapshotError)) throw err
        // CorruptFileError's message is `<path>: <what>`; the entry keeps the what.
        found.push({ from: recordPath, file: `${DAMAGED_FOLDER}/${DAMAGE_RECORD}`, snapshotId: null, kind: 'corrupt', reason: `record of damaged files: ${err instanceof CorruptSnapshotError ? err.reason : err.message.slice(err.path.length + 2)}` })
      }
    }
    const present = new Set(entries.map((e) => e.name).filter((n) => n !== DAMAGE_RECORD && TEMP_FILE.exec(n)?.[1] !== DAMAGE_RECORD))
    this.entries = recorded.filter((e) => present.has(e.name))
    const known = new Set(this.entries.map((e) => e.name))
    for (const name of [...present].filter((n) => !known.has(n)).sort()) {
      const path = join(this.damagedDir, name)
      found.push({ from: path, file: `${DAMAGED_FOLDER}/${name}`, snapshotId: snapshotIdOf(name) ?? null, kind: 'unrecorded', reason: 'in damaged/ without a record of why it was moved there' })
    }
    await this.moveAside(found, this.entries.length !== recorded.length)
  }

  /** A name in `damaged/` not yet taken: `file`, else `file.1`, `file.2`, … */
  private async freeName (file: string): Promise<string> {
    const base = basename(file)
    for (let n = 0; ; n++) {
      const name = n === 0 ? base : `${base}.${n}`
      if (name !== DAMAGE_RECORD && !this.entries.some((e) => e.name === name) && !(await exists(join(this.damagedDir, name)))) return name
    }
  }

  /**
   * Moves each item into `damaged/` by rename (atomic; an item already in
   * the folder keeps its place), then rewrites the record atomically
   * (nothing at all when there is nothing to move and `recordChanged` is false). A
   * crash between the two leaves files the next open records as `unrecorded`.
   */
  private async moveAside (items: Damage[], recordChanged = false): Promise<DamagedSnapshot[]> {
    if (items.length === 0 && !recordChanged) return []
    const now = this.clock.now()
    const added: DamageEntry[] = []
    await mkdir(this.damagedDir, { recursive: true })
    for (const item of items) {
      const inPlace = item.kind === 'unrecorded'
      const name = inPlace ? basename(item.from) : await this.freeName(item.file)
      if (!inPlace) {
        try {
          await rename(item.from, join(this.damagedDir, name))
        } catch (err) {
          if (isMissing(err)) continue // gone meanwhile: nothing left to move
          throw err
        }
      }
      const entry: DamageEntry = { name, file: item.file, snapshotId: item.snapshotId, kind: item.kind, reason: item.reason, detectedAt: now }
      this.entries.push(entry)
      added.push(entry)
    }
    await writeJsonSnapshot(join(this.damagedDir, DAMAGE_RECORD), { format: 'icn-snapshot-damage', version: 1, entries: this.entries })
    const out = added.map((e) => this.view(e))
    for (const d of out) {
      try {
        this.onDamaged?.(d)
      } catch {
        // A failing warning hook must not undo or block the move.
      }
    }
    return out
  }

  private view (e: DamageEntry): DamagedSnapshot {
    return { file: e.file, snapshotId: e.snapshotId, kind: e.kind, reason: e.reason, movedTo: join(this.damagedDir, e.name), detectedAt: e.detectedAt }
  }

  /**
   * A read after opening found `snapshotId` damaged. A save of it may be
   * under way, so it is judged again once writes are idle; still damaged,
   * its files move aside. Returns the moved files, or `undefined` if the
   * second look found it intact or gone.
   */
  private async quarantine (snapshotId: string, check: () => Promise<unknown>, inQueue: boolean): Promise<{ damage: CorruptSnapshotError, moved: DamagedSnapshot[] } | undefined> {
    const task = async (): Promise<{ damage: CorruptSnapshotError, moved: DamagedSnapshot[] } | undefined> => {
      let damage: CorruptSnapshotError
      try {
        await check()
        return undefined
      } catch (err) {
        if (err instanceof SnapshotNotFoundError) return undefined
        if (!(err instanceof CorruptSnapshotError)) throw err
        damage = err
      }
      const files: string[] = []
      for (const file of Object.values(snapshotFileNames(snapshotId)).sort()) if (await exists(join(this.path, file))) files.push(file)
      return { damage, moved: await this.moveAside(this.damageOf(snapshotId, files, damage)) }
    }
    return inQueue ? await task() : await this.exclusive(task)
  }

  async save (record: CompletedSnapshot): Promise<SaveReport> {
    return await this.serial(async () => {
      const report = await writeSnapshotFiles(this.path, record)
      if (this.keep > 0 || this.maxAgeMs > 0) {
        await this.pruneNow({ ...(this.keep > 0 ? { keepNewest: this.keep } : {}), ...(this.maxAgeMs > 0 ? { maxAgeMs: this.maxAgeMs } : {}) })
      }
      return report
    })
  }

  async load (snapshotId: string): Promise<CompletedSnapshot> {
    if (this.closed) throw new SnapshotClosedError('snapshot store')
    try {
      return await readSnapshotFiles(this.path, snapshotId)
    } catch (err) {
      if (!(err instanceof CorruptSnapshotError)) throw err
    }
    let record: CompletedSnapshot | undefined
    const found = await this.quarantine(snapshotId, async () => { record = await readSnapshotFiles(this.path, snapshotId) }, false)
    if (found !== undefined) throw new SnapshotQuarantinedError(snapshotId, found.damage, found.moved)
    if (record === undefined) throw new SnapshotNotFoundError(snapshotId)
    return record
  }

  async list (): Promise<SnapshotSummary[]> {
    if (this.closed) throw new SnapshotClosedError('snapshot store')
    return await this.summaries(false)
  }

  /** Committed snapshots' summaries, newest first; damaged metadata is moved aside and left out. */
  private async summaries (inQueue: boolean): Promise<SnapshotSummary[]> {
    const out: SnapshotSummary[] = []
    for (const id of await committedIds(this.path)) {
      let meta: SnapshotFile | undefined
      try {
        meta = await readMeta(this.path, id)
      } catch (err) {
        if (err instanceof SnapshotNotFoundError) continue
        if (!(err instanceof CorruptSnapshotError)) throw err
        await this.quarantine(id, async () => { meta = await readMeta(this.path, id) }, inQueue)
      }
      if (meta !== undefined) out.push(summaryOf(meta))
    }
    return newestFirst(out)
  }

  async keepNewest (n: number): Promise<string[]> {
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidConfigError('keepNewest needs an integer >= 0')
    return await this.serial(async () => await this.pruneNow({ keepNewest: n }))
  }

  async prune (rule: PruneRule): Promise<string[]> {
    checkRule(rule)
    return await this.serial(async () => await this.pruneNow(rule))
  }

  private async pruneNow (rule: PruneRule): Promise<string[]> {
    const now = this.clock.now()
    const doomed = (await this.summaries(true))
      .filter((s, i) => (rule.keepNewest !== undefined && i >= rule.keepNewest) || (rule.maxAgeMs !== undefined && now - s.completedAt > rule.maxAgeMs))
      .map((s) => s.snapshotId)
    for (const id of doomed) await removeSnapshotFiles(this.path, id)
    if (doomed.length > 0) await removeUnreferencedChunks(this.path)
    return doomed
  }

  async usage (): Promise<{ chunks: number, chunkBytes: number }> {
    if (this.closed) throw new SnapshotClosedError('snapshot store')
    return await this.exclusive(async () => {
      let chunks = 0
      let chunkBytes = 0
      for (const entry of await entriesOf(join(this.path, CHUNKS_FOLDER))) {
        if (!entry.isFile() || !CHUNK_NAME.test(entry.name)) continue
        chunks++
        chunkBytes += (await lstat(join(this.path, CHUNKS_FOLDER, entry.name))).size
      }
      return { chunks, chunkBytes }
    })
  }

  damaged (): DamagedSnapshot[] {
    return this.entries.map((e) => this.view(e))
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue
  }
}

/**
 * Opens a snapshot store directory (created on first write). Opening checks
 * every file in it and never fails for damage: each damaged or unknown file
 * is moved into `damaged/`, reported through `onDamaged` and listed by
 * `damaged()`; intact snapshots load and list as before. It throws only for
 * bad options or an I/O failure (e.g. a permission error).
 */
export async function openSnapshotStore (init: SnapshotStoreInit): Promise<SnapshotStore> {
  if (typeof init.path !== 'string' || init.path.length === 0) throw new InvalidConfigError('snapshot store needs a path')
  const keep = init.keepNewest ?? 0
  if (!Number.isSafeInteger(keep) || keep < 0) throw new InvalidConfigError('keepNewest must be an integer >= 0')
  const age = init.maxAgeMs ?? 0
  if (!Number.isSafeInteger(age) || age < 0) throw new InvalidConfigError('maxAgeMs must be an integer >= 0')
  const store = new FileSnapshotStore(init)
  await store.recover()
  return store
}
