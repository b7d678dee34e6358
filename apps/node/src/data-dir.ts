import { link, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { type KeyPair, generateKeyPair, keyPairFromSeed, toHex, randomBytes } from '@icn/identity'
import { readJsonSnapshot, writeFileAtomic, writeJsonSnapshot } from '@icn/identity/fs'
import { EPHEMERAL_CONFIG, type NodeConfigFile } from './config.js'
import { DataDirExistsError, DataDirMissingError, InvalidIdentityError } from './errors.js'
import { dataDirLayout, pathExists } from './layout.js'

// The layout is its own module so that client commands read it without loading the crypto stack.
export { type DataDirLayout, dataDirLayout, pathExists, readApiToken } from './layout.js'

interface IdentityFile {
  version: 1
  did: string
  seed: Uint8Array
}

/**
 * Creates a data directory with a fresh ed25519 identity (mode 0600) and a
 * config file holding `config` (unless one exists; by default random loopback
 * ports, as tests and the demo use; `icn-node init` writes `PRODUCTION_CONFIG`). Refuses with `DataDirExistsError` when `root` already
 * holds an identity: the file is published with `link()`, which fails rather
 * than replace an existing key, so even two racing `init`s cannot overwrite one.
 */
export async function initDataDir (root: string, keyPair: KeyPair = generateKeyPair(), config: NodeConfigFile = EPHEMERAL_CONFIG): Promise<KeyPair> {
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
    await writeFileAtomic(layout.config, new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n'))
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
