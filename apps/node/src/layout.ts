// Where things are in a node's data directory; no dependencies, so client commands load it cheaply.
// `promises` from node:fs, read only when pathExists runs: a client command then does not load node:fs/promises.
import { promises as fs, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Files and subdirectories of a node's data directory. */
export interface DataDirLayout {
  readonly root: string
  /** The ed25519 seed and DID (checksummed JSON, mode 0600). */
  readonly identity: string
  /** Operator-editable settings (`NodeConfigFile`). */
  readonly config: string
  /** The local API's bearer token (mode 0600), rewritten at every start. */
  readonly apiToken: string
  /** Runtime facts of the running node (API port, multiaddrs), removed on clean stop. */
  readonly runtime: string
  /** The running node's PID file: one process per data directory. */
  readonly lock: string
  /** One storage directory per subsystem. */
  readonly ledger: string
  readonly trust: string
  readonly governance: string
  readonly gossip: string
  readonly snapshots: string
  /** This node's invitations (checksummed JSON): who may present a join request, who used which. */
  readonly invitations: string
}

/** The file layout under `root`. */
export function dataDirLayout (root: string): DataDirLayout {
  return {
    root,
    identity: join(root, 'identity.json'),
    config: join(root, 'config.json'),
    apiToken: join(root, 'api-token'),
    runtime: join(root, 'node.json'),
    lock: join(root, 'node.lock'),
    ledger: join(root, 'ledger'),
    trust: join(root, 'trust'),
    governance: join(root, 'governance'),
    gossip: join(root, 'gossip'),
    snapshots: join(root, 'snapshots'),
    invitations: join(root, 'invitations.json')
  }
}

/** Whether `path` exists (false only for ENOENT; other errors, such as EACCES, are thrown). */
export async function pathExists (path: string): Promise<boolean> {
  try {
    await fs.stat(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/**
 * Reads the API token a running node wrote. Synchronously: with node.json, it is all a client command reads, and an
 * asynchronous read would start libuv's thread pool for it (~7 ms of the command's CPU).
 */
export async function readApiToken (root: string): Promise<string> {
  return readFileSync(dataDirLayout(root).apiToken, 'utf8').trim()
}
