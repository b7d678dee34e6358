// `icn-node backup <file>` and `icn-node restore-backup <file>`: one checksummed archive of a data directory.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { chmod, copyFile, link, mkdir, open as openFile, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join, relative, sep } from 'node:path'
import { open as openLmdb } from 'lmdb'
import * as tar from 'tar'
import { loadIdentity } from './data-dir.js'
import { DataDirExistsError, InvalidBackupError } from './errors.js'
import { dataDirLayout, pathExists } from './layout.js'
import { lockHolder, nodeRunningError } from './lock.js'
import { VERSION } from './version.js'

/** `backup.json`, the first member of the archive: what the backup holds and every file's checksum. */
export interface BackupManifest {
  format: 'icn-backup'
  version: 1
  did: string
  /** ms since the epoch. */
  createdAt: number
  /** The icn-node version that wrote it. */
  nodeVersion: string
  /** The LMDB stores copied (each one consistent at its own instant, copied together). */
  stores: string[]
  files: Array<{ path: string, size: number, sha256: string }>
}

export const MANIFEST = 'backup.json'

/** Files of a data directory that belong to a running process, not to its state. */
const RUNTIME_FILES = new Set(['api-token', 'node.json', 'lock.mdb'])
/** Runtime files, the lock (and stale locks moved aside), and temporary files of atomic writes. */
const isRuntimeFile = (name: string): boolean => RUNTIME_FILES.has(name) || name.startsWith('node.lock') || name.startsWith('.') || name.includes('.tmp')

async function sha256Of (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** Every regular file under `root`, as paths relative to it with '/' separators. */
async function filesUnder (root: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      else if (entry.isFile()) out.push(relative(root, path).split(sep).join('/'))
    }
  }
  await walk(root)
  return out.sort()
}

async function fsyncPath (path: string): Promise<void> {
  const handle = await openFile(path, 'r')
  try { await handle.sync() } finally { await handle.close() }
}

/** What `createBackup` wrote. */
export interface BackupReport { file: string, did: string, bytes: number, files: number, stores: string[] }

/**
 * Writes a backup of `dataDir` to `file` (refusing to replace one), online: a running node keeps
 * working. Each LMDB store (ledger, trust, governance) is copied by LMDB itself from one read
 * transaction (a consistent state, compacted), the three at once; the other files (identity, charter,
 * config, invitations, gossip's and the snapshot store's files) are written atomically by the node, so a
 * copy reads one whole version. Runtime files (token, node.json, lock) are left out. The archive is a
 * gzipped tar whose first member, `backup.json`, lists every file with its sha-256; it is written to a
 * temporary file, fsynced and renamed into place.
 */
export async function createBackup (dataDir: string, file: string): Promise<BackupReport> {
  const { did } = await loadIdentity(dataDir)
  if (await pathExists(file)) throw new InvalidBackupError(`${file} exists: choose a new file name (a backup never replaces another)`)
  const staging = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.staging`)
  await mkdir(staging, { recursive: true, mode: 0o700 })
  const temporary = `${staging}.tar.gz`
  try {
    const stores: string[] = []
    const copies: Array<Promise<void>> = []
    for (const entry of await readdir(dataDir, { withFileTypes: true })) {
      if (isRuntimeFile(entry.name)) continue
      const source = join(dataDir, entry.name)
      const target = join(staging, entry.name)
      if (entry.isDirectory() && await pathExists(join(source, 'data.mdb'))) {
        stores.push(entry.name)
        copies.push((async () => {
          await mkdir(target, { mode: 0o700 })
          const env = openLmdb({ path: source, readOnly: true })
          try { await env.backup(target, true) } finally { await env.close() }
          await rm(join(target, 'lock.mdb'), { force: true })
        })())
      } else if (entry.isDirectory()) {
        for (const path of await filesUnder(source)) {
          if (path.split('/').some(isRuntimeFile) || path.startsWith('damaged/')) continue
          await mkdir(dirname(join(target, path)), { recursive: true, mode: 0o700 })
          await copyFile(join(source, path), join(target, path))
        }
      } else if (entry.isFile()) {
        await copyFile(source, target)
      }
    }
    await Promise.all(copies)
    const files = await Promise.all((await filesUnder(staging)).map(async (path) => ({ path, size: (await stat(join(staging, path))).size, sha256: await sha256Of(join(staging, path)) })))
    const manifest: BackupManifest = { format: 'icn-backup', version: 1, did, createdAt: Date.now(), nodeVersion: VERSION, stores: stores.sort(), files }
    await writeFile(join(staging, MANIFEST), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 })
    await tar.create({ gzip: true, file: temporary, cwd: staging, portable: true, mode: 0o600 }, [MANIFEST, ...files.map((f) => f.path)])
    await fsyncPath(temporary)
    // link() fails rather than replace a file that appeared meanwhile.
    await link(temporary, file)
    await fsyncPath(dirname(file))
    return { file, did, bytes: (await stat(file)).size, files: files.length, stores: manifest.stores }
  } finally {
    await rm(staging, { recursive: true, force: true })
    await rm(temporary, { force: true })
  }
}

function parseManifest (text: string): BackupManifest {
  let value: Partial<BackupManifest>
  try {
    value = JSON.parse(text) as Partial<BackupManifest>
  } catch (cause) {
    throw new InvalidBackupError(`${MANIFEST} is not JSON`, { cause })
  }
  if (value.format !== 'icn-backup' || value.version !== 1 || typeof value.did !== 'string' || !Array.isArray(value.files) || !Array.isArray(value.stores)) {
    throw new InvalidBackupError(`${MANIFEST} is not an icn-backup version 1 manifest`)
  }
  for (const f of value.files) {
    if (typeof f?.path !== 'string' || typeof f.size !== 'number' || typeof f.sha256 !== 'string' || f.path.startsWith('/') || f.path.split('/').includes('..')) {
      throw new InvalidBackupError(`${MANIFEST} lists a malformed file entry`)
    }
  }
  return value as BackupManifest
}

/** What `restoreBackup` restored. */
export interface RestoreBackupReport { dataDir: string, did: string, files: number, stores: string[], createdAt: number }

/**
 * Restores a backup into `dataDir`, which must not hold a node (no identity, not locked by a running
 * process; absent or empty). The archive is unpacked beside it, every file is checked against the
 * manifest (size and sha-256; no file missing, none extra) and the identity against the manifest's
 * DID, and only then moved into place: a damaged backup leaves `dataDir` untouched. Start the node
 * afterwards with `icn-node run`; peers send it what happened since the backup (history sync).
 */
export async function restoreBackup (file: string, dataDir: string): Promise<RestoreBackupReport> {
  const layout = dataDirLayout(dataDir)
  const holder = await lockHolder(dataDir).catch(() => undefined)
  if (holder !== undefined) throw await nodeRunningError(dataDir, holder)
  if (await pathExists(layout.identity)) throw new DataDirExistsError(dataDir)
  if (await pathExists(dataDir) && (await readdir(dataDir)).length > 0) throw new InvalidBackupError(`${dataDir} is not empty: restore into a new or empty directory`)
  if (!(await pathExists(file))) throw new InvalidBackupError(`${file} does not exist`)
  const staging = join(dirname(dataDir), `.${basename(dataDir)}.${randomBytes(6).toString('hex')}.restoring`)
  await mkdir(staging, { recursive: true, mode: 0o700 })
  try {
    try {
      await tar.extract({ file, cwd: staging, strict: true, preservePaths: false })
    } catch (cause) {
      throw new InvalidBackupError(`${file} is not a readable backup archive: ${(cause as Error).message}`, { cause })
    }
    if (!(await pathExists(join(staging, MANIFEST)))) throw new InvalidBackupError(`${file} holds no ${MANIFEST}: not an icn-node backup`)
    const manifest = parseManifest(await readFile(join(staging, MANIFEST), 'utf8'))
    const listed = new Set(manifest.files.map((f) => f.path))
    const present = (await filesUnder(staging)).filter((p) => p !== MANIFEST)
    const extra = present.filter((p) => !listed.has(p))
    if (extra.length > 0) throw new InvalidBackupError(`${file} holds files its manifest does not list: ${extra.slice(0, 5).join(', ')}`)
    for (const f of manifest.files) {
      const path = join(staging, f.path)
      if (!(await pathExists(path))) throw new InvalidBackupError(`${file} lacks ${f.path}, which its manifest lists`)
      const size = (await stat(path)).size
      const sha256 = await sha256Of(path)
      if (size !== f.size || sha256 !== f.sha256) throw new InvalidBackupError(`${f.path} in ${file} is damaged: sha-256 ${sha256} (${size} bytes), the manifest says ${f.sha256} (${f.size} bytes)`)
    }
    await rm(join(staging, MANIFEST))
    const { did } = await loadIdentity(staging)
    if (did !== manifest.did) throw new InvalidBackupError(`the identity in ${file} is ${did}, its manifest says ${manifest.did}`)
    await chmod(join(staging, 'identity.json'), 0o600)
    if (await pathExists(dataDir)) {
      for (const name of await readdir(staging)) await rename(join(staging, name), join(dataDir, name))
      await chmod(dataDir, 0o700)
    } else {
      await rename(staging, dataDir)
    }
    await fsyncPath(dirname(dataDir))
    return { dataDir, did, files: manifest.files.length, stores: manifest.stores, createdAt: manifest.createdAt }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}
