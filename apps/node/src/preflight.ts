import { constants } from 'node:fs'
import { access, open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { dataDirLayout, pathExists } from './data-dir.js'
import { DataDirCorruptError, DataDirPermissionError } from './errors.js'

/** LMDB's meta-page magic (`MDB_MAGIC`) and the meta fields' offsets as lmdb-js 3 lays them out (24-byte page header). */
const LMDB_MAGIC = 0xBEEFC0DE
const META = { magic: 24, pageSize: 48, freeRoot: 88, mainRoot: 136, lastPage: 144, txnId: 152, end: 160 } as const
/** `md_root` of an empty database. */
const NO_ROOT = 0xFFFF_FFFF_FFFF_FFFFn
/**
 * Pages the newest commit may count past the end of the file: LMDB counts pages it allocated and freed
 * again within the last transaction (loose pages) without writing them, so a store left by a killed
 * process can end a few pages short of its last page number (seen: 1 page after a SIGKILL). No page the
 * tree references lies there; a truncation that cuts more than this, or cuts a root, is damage.
 */
const UNWRITTEN_TAIL_PAGES = 16n

/** Every file and folder under `root`: each must be readable and writable by this process (folders also searchable). */
async function checkPermissions (root: string): Promise<void> {
  const uid = process.getuid?.() ?? -1
  const check = async (path: string, isDir: boolean): Promise<void> => {
    try {
      await access(path, constants.R_OK | constants.W_OK | (isDir ? constants.X_OK : 0))
    } catch {
      throw new DataDirPermissionError(path, `not ${isDir ? 'readable, writable and searchable' : 'readable and writable'} by this process (uid ${uid}): give it back to the node's user (chown) with mode ${isDir ? '0700' : '0600'} (chmod), or run the node as its owner`)
    }
  }
  await check(root, true)
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      await check(path, entry.isDirectory())
      if (entry.isDirectory()) await walk(path)
    }
  }
  await walk(root)
}

/**
 * An LMDB environment's data file, checked before LMDB maps it (a file LMDB does not expect can crash
 * the process with SIGSEGV or SIGBUS instead of an error): both meta pages carry LMDB's magic and the
 * same page size, and the file holds every page the newer meta page counts. Page contents carry no
 * checksums in LMDB and are not checked here.
 */
async function checkLmdbFile (dir: string): Promise<void> {
  const path = join(dir, 'data.mdb')
  if (!(await pathExists(path))) {
    throw new DataDirCorruptError(path, `missing while ${dir} exists: restore it from a backup; or, to start this subsystem empty (what it held is lost on this node), remove the folder ${dir}`)
  }
  const damaged = (what: string): DataDirCorruptError => new DataDirCorruptError(path, `not a valid LMDB data file (${what}): restore ${dir} from a backup; or, to start this subsystem empty (what it held is lost on this node), remove the folder ${dir}`)
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    const first = Buffer.alloc(META.end)
    if (size < 2 * 512 || (await handle.read(first, 0, META.end, 0)).bytesRead < META.end) throw damaged(`${size} bytes`)
    const pageSize = first.readUInt32LE(META.pageSize)
    if (first.readUInt32LE(META.magic) !== LMDB_MAGIC) throw damaged('first meta page has no LMDB magic')
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw damaged(`page size ${pageSize}`)
    if (size < 2 * pageSize) throw damaged(`${size} bytes, shorter than its two meta pages`)
    const second = Buffer.alloc(META.end)
    await handle.read(second, 0, META.end, pageSize)
    if (second.readUInt32LE(META.magic) !== LMDB_MAGIC || second.readUInt32LE(META.pageSize) !== pageSize) throw damaged('second meta page has no LMDB magic or another page size')
    const newest = second.readBigUInt64LE(META.txnId) > first.readBigUInt64LE(META.txnId) ? second : first
    const pages = newest.readBigUInt64LE(META.lastPage) + 1n
    const held = BigInt(size) / BigInt(pageSize)
    if (pages > held + UNWRITTEN_TAIL_PAGES) throw damaged(`${size} bytes, but its last commit counts ${pages} pages of ${pageSize} bytes (truncated)`)
    for (const offset of [META.freeRoot, META.mainRoot]) {
      const root = newest.readBigUInt64LE(offset)
      if (root !== NO_ROOT && root >= held) throw damaged(`${size} bytes, but its last commit's root is page ${root} of ${pageSize} bytes (truncated)`)
    }
  } finally {
    await handle.close()
  }
}

/**
 * Checks an initialised data directory before the node opens it, so damage is a one-line typed
 * error naming the file and what to do rather than a crash, a stack trace or a silent fresh start:
 * permissions of every file; an identity where node data exists; each LMDB environment's data file
 * (present when its folder is, sane meta pages, not truncated: the newest commit's roots inside the file, at most a few unwritten pages missing at its end). Files the subsystems parse themselves
 * (config, charter, gossip state) are checked by their loaders; the snapshot store moves a damaged stored
 * snapshot into snapshots/damaged/ when it opens, with a warning, instead of refusing the start.
 * A missing subsystem folder is a fresh start of that subsystem, the documented way to drop it.
 */
export async function checkDataDir (root: string): Promise<void> {
  const layout = dataDirLayout(root)
  if (!(await pathExists(root))) return // the identity loader reports a missing data directory
  await checkPermissions(root)
  const dataFolders = [layout.ledger, layout.trust, layout.governance, layout.gossip, layout.snapshots]
  const present: string[] = []
  for (const folder of dataFolders) if (await pathExists(folder)) present.push(folder)
  if (!(await pathExists(layout.identity)) && present.length > 0) {
    throw new DataDirCorruptError(layout.identity, `missing, but ${root} holds node data (${present.map((p) => p.slice(root.length + 1)).join(', ')}) signed under it: restore identity.json from a backup (\`icn-node init\` would make a new identity that does not own this data)`)
  }
  for (const folder of [layout.ledger, layout.trust, layout.governance]) if (present.includes(folder)) await checkLmdbFile(folder)
}
