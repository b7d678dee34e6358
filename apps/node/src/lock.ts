// One node process per data directory: a PID file created exclusively, checked for liveness when found.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NodeRunningError } from './errors.js'
import { dataDirLayout } from './layout.js'

/** What `<data-dir>/node.lock` holds: the process that owns the data directory. */
export interface LockRecord {
  pid: number
  /** The process's start time in clock ticks since boot (Linux `/proc/<pid>/stat`), so a reused PID is not taken for it. */
  startTicks: number | null
  /** When it took the lock (ms since the epoch). */
  lockedAt: number
}

/** The held lock; `release()` removes the file (idempotent). */
export interface DataDirLock {
  readonly path: string
  release(): Promise<void>
}

/** A process's start time in clock ticks since boot, or null where /proc does not say (not Linux, gone). */
function startTicksOf (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // Field 22; the command name (field 2) is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[19])
    return Number.isSafeInteger(ticks) ? ticks : null
  } catch {
    return null
  }
}

function isAlive (record: LockRecord): boolean {
  try {
    process.kill(record.pid, 0)
  } catch (err) {
    // EPERM: it exists under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const ticks = startTicksOf(record.pid)
  return record.startTicks === null || ticks === null || ticks === record.startTicks
}

function parseLock (text: string): LockRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockRecord>
    if (typeof value.pid !== 'number' || !Number.isSafeInteger(value.pid) || value.pid < 1) return undefined
    return { pid: value.pid, startTicks: typeof value.startTicks === 'number' ? value.startTicks : null, lockedAt: typeof value.lockedAt === 'number' ? value.lockedAt : 0 }
  } catch {
    return undefined
  }
}

/** The process holding `dataDir`'s lock, if one is alive (a stale or unreadable lock file is no holder). */
export async function lockHolder (dataDir: string): Promise<LockRecord | undefined> {
  let text: string
  try {
    text = await readFile(dataDirLayout(dataDir).lock, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const record = parseLock(text)
  return record !== undefined && isAlive(record) ? record : undefined
}

/** The API port the holder wrote to `node.json`, if it got that far. */
async function apiPortOf (dataDir: string, pid: number): Promise<number | undefined> {
  try {
    const runtime = JSON.parse(await readFile(dataDirLayout(dataDir).runtime, 'utf8')) as { pid?: unknown, apiPort?: unknown }
    return runtime.pid === pid && typeof runtime.apiPort === 'number' ? runtime.apiPort : undefined
  } catch {
    return undefined
  }
}

/** The error naming the process that holds `dataDir` (its PID and, once its API is up, the API port). */
export async function nodeRunningError (dataDir: string, holder: LockRecord): Promise<NodeRunningError> {
  return new NodeRunningError(dataDir, holder.pid, await apiPortOf(dataDir, holder.pid))
}

/**
 * Takes `<dataDir>/node.lock` for this process, or throws `NodeRunningError` naming the running
 * holder. The file is published with `link()`, which fails rather than replace another's lock; a lock
 * left by a process that is gone (crash, power loss) is moved aside and taken. Two starts racing for
 * a stale lock: each renames the file it judged stale, and one that finds it moved a live lock puts
 * it back and refuses.
 */
export async function acquireDataDirLock (dataDir: string): Promise<DataDirLock> {
  const path = dataDirLayout(dataDir).lock
  const record: LockRecord = { pid: process.pid, startTicks: startTicksOf(process.pid), lockedAt: Date.now() }
  const staged = join(dataDir, `.node.lock.${process.pid}.${randomBytes(6).toString('hex')}`)
  await writeFile(staged, JSON.stringify(record) + '\n', { mode: 0o600 })
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(staged, path)
        let released = false
        return {
          path,
          release: async () => {
            if (released) return
            released = true
            await rm(path, { force: true })
          }
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const text = await readFile(path, 'utf8').catch(() => undefined)
      if (text === undefined) continue // released meanwhile
      const holder = parseLock(text)
      if (holder !== undefined && isAlive(holder)) throw await nodeRunningError(dataDir, holder)
      const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
      try {
        await rename(path, aside)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      const moved = await readFile(aside, 'utf8')
      if (moved !== text) {
        // Another start took the stale lock between our read and our rename: its lock goes back.
        await link(aside, path).catch(() => undefined)
        await rm(aside, { force: true })
        const live = parseLock(moved)
        if (live !== undefined) throw await nodeRunningError(dataDir, live)
        continue
      }
      await rm(aside, { force: true })
    }
    throw new NodeRunningError(dataDir, undefined, undefined)
  } finally {
    await rm(staged, { force: true })
  }
}
