import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Charter, type CooperativeCharterInit, cooperativeCharter } from '@icn/governance'
import type { Did } from '@icn/identity'
import { writeFileAtomic } from '@icn/identity/fs'
import { InvalidCharterFileError } from './errors.js'

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
  return (await loadCharterFile(dataDir, self)).charter
}

/** The genesis charter and the `CooperativeCharterInit` it was built from (what a joining node receives). */
export async function loadCharterFile (dataDir: string, self: Did): Promise<{ charter: Charter, file: CooperativeCharterInit }> {
  let text: string
  try {
    text = await readFile(charterPath(dataDir), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    const file: CooperativeCharterInit = { domain: `coop:${self}`, members: [{ did: self, role: 'steward' }] }
    return { charter: cooperativeCharter(file), file }
  }
  try {
    const file = JSON.parse(text) as CooperativeCharterInit
    return { charter: cooperativeCharter(file), file }
  } catch (cause) {
    throw new InvalidCharterFileError(`${charterPath(dataDir)}: ${(cause as Error).message}`, { cause })
  }
}

/** Writes a charter file (used by the demo and by operators founding a cooperative). */
export async function writeCharterFile (dataDir: string, init: CooperativeCharterInit): Promise<void> {
  await writeFileAtomic(charterPath(dataDir), new TextEncoder().encode(JSON.stringify(init, null, 2) + '\n'))
}
