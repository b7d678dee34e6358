import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Charter, type CooperativeCharterInit, cooperativeCharter } from '@icn/governance'
import type { Did } from '@icn/identity'
import { writeFileAtomic } from '@icn/identity/fs'
import { InvalidConfigError } from './errors.js'

/** `<data-dir>/charter.json`: the genesis charter of the node's cooperative (every member node holds the same file). */
export function charterPath (dataDir: string): string {
  return join(dataDir, 'charter.json')
}

/**
 * The genesis charter: from `charter.json` (a `CooperativeCharterInit`: domain,
 * members, optional kind rules), or — when there is none — a one-member
 * cooperative of this node alone, `coop:<did>`, with itself as steward.
 */
export async function loadCharter (dataDir: string, self: Did): Promise<Charter> {
  let text: string
  try {
    text = await readFile(charterPath(dataDir), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    return cooperativeCharter({ domain: `coop:${self}`, members: [{ did: self, role: 'steward' }] })
  }
  let init: CooperativeCharterInit
  try {
    init = JSON.parse(text) as CooperativeCharterInit
    return cooperativeCharter(init)
  } catch (cause) {
    throw new InvalidConfigError(`${charterPath(dataDir)}: ${(cause as Error).message}`, { cause })
  }
}

/** Writes a charter file (used by the demo and by operators founding a cooperative). */
export async function writeCharterFile (dataDir: string, init: CooperativeCharterInit): Promise<void> {
  await writeFileAtomic(charterPath(dataDir), new TextEncoder().encode(JSON.stringify(init, null, 2) + '\n'))
}
