import { link, mkdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { type KeyPair, generateKeyPair, keyPairFromSeed, toHex, randomBytes } from '@icn/identity'
import { readJsonSnapshot, writeFileAtomic, writeJsonSnapshot } from '@icn/identity/fs'
import { DataDirExistsError, DataDirMissingError, InvalidIdentityError } from './errors.js'

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
    ledger: join(root, 'ledger'),
    trust: join(root, 'trust'),
    governance: join(root, 'governance'),
    gossip: join(root, 'gossip'),
    snapshots: join(root, 'snapshots'),
    invitations: join(root, 'invitations.json')
  }
}

interface IdentityFile {
  version: 1
  did: string
  seed: Uint8Array
}

/** Whether `path` exists (false only for ENOENT; other errors, such as EACCES, are thrown). */
export async function pathExists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/**
 * Creates a data directory with a fresh ed25519 identity (mode 0600) and a
 * default config file. Refuses with `DataDirExistsError` when `root` already
 * holds an identity: the file is published with `link()`, which fails rather
 * than replace an existing key, so even two racing `init`s cannot overwrite one.
 */
export async function initDataDir (root: string, keyPair: KeyPair = generateKeyPair()): Promise<KeyPair> {
  const layout = dataDirLayout(root)
  await mkdir(root, { recursive: true, mode: 0o700 })
  if (await pathExists(layout.identity)) throw new DataDirExistsError(root)
  const staged = join(root, `.identity.${process.pid}.${toHex(randomBytes(6))}.json`)
  const file: IdentityFile = { version: 1, did: keyPair.did, seed: keyPair.seed }
  await writeJsonSnapshot(staged, file)
  try {
    await link(staged, layout.identity)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new DataDirExistsError(root)
    throw err
  } finally {
    await rm(staged, { force: true })
  }
  if (!(await pathExists(layout.config))) {
    await writeFileAtomic(layout.config, new TextEncoder().encode(JSON.stringify({ listen: ['/ip4/127.0.0.1/tcp/0'], peers: [] }, null, 2) + '\n'))
  }
  return keyPair
}

/** Loads the node's key pair, checking that the stored seed derives the stored DID. */
export async function loadIdentity (root: string): Promise<KeyPair> {
  const layout = dataDirLayout(root)
  if (!(await pathExists(layout.identity))) throw new DataDirMissingError(root)
  const data = await readJsonSnapshot(layout.identity)
  if (typeof data !== 'object' || data === null) throw new InvalidIdentityError(`${layout.identity}: not an identity record`)
  const record = data as Partial<IdentityFile>
  if (record.version !== 1 || !(record.seed instanceof Uint8Array) || record.seed.length !== 32 || typeof record.did !== 'string') {
    throw new InvalidIdentityError(`${layout.identity}: expected { version: 1, did, seed: 32 bytes }`)
  }
  const keyPair = keyPairFromSeed(record.seed)
  if (keyPair.did !== record.did) throw new InvalidIdentityError(`${layout.identity}: seed derives ${keyPair.did}, file says ${record.did}`)
  return keyPair
}

/** Writes a fresh random API token (mode 0600) and returns it. */
export async function writeApiToken (root: string): Promise<string> {
  const token = toHex(randomBytes(32))
  await writeFileAtomic(dataDirLayout(root).apiToken, new TextEncoder().encode(token + '\n'))
  return token
}

/** Reads the API token a running node wrote. */
export async function readApiToken (root: string): Promise<string> {
  return (await readFile(dataDirLayout(root).apiToken, 'utf8')).trim()
}
