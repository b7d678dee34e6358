import { readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openLedger } from '@icn/ledger'
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { initDataDir } from '../src/data-dir.js'
import { checkDataDir } from '../src/preflight.js'

/** An initialised data dir whose ledger holds one LMDB environment with data. */
async function dataDir (root: string): Promise<string> {
  const keyPair = await initDataDir(root)
  const ledger = await openLedger({ path: join(root, 'ledger') })
  await ledger.pay(keyPair, (await import('@icn/identity')).generateKeyPair().did, 'ICN', 5n)
  await ledger.close()
  return join(root, 'ledger', 'data.mdb')
}

describe('data directory preflight', () => {
  it('passes a sound data directory and a fresh one', async () => {
    await withTempDir(async (root) => {
      await dataDir(root)
      await expect(checkDataDir(root)).resolves.toBeUndefined()
      await expect(checkDataDir(join(root, 'nowhere'))).resolves.toBeUndefined()
    })
  })

  // Without the check, LMDB maps these files and the process dies with SIGSEGV (garbage) or opens a fresh, empty store (deleted).
  it('refuses an LMDB data file that is garbage, truncated or missing, naming it and what to do', async () => {
    await withTempDir(async (root) => {
      const file = await dataDir(root)
      const good = await readFile(file)
      await writeFile(file, Buffer.alloc(good.length, 0x5a))
      await expect(checkDataDir(root)).rejects.toMatchObject({ code: 'DATA_DIR_CORRUPT', path: file, message: `${file}: not a valid LMDB data file (first meta page has no LMDB magic): restore ${join(root, 'ledger')} from a backup; or, to start this subsystem empty (what it held is lost on this node), remove the folder ${join(root, 'ledger')}` })
      await writeFile(file, good)
      await truncate(file, good.length - 4096)
      await expect(checkDataDir(root)).rejects.toMatchObject({ code: 'DATA_DIR_CORRUPT', message: expect.stringContaining('(truncated)') as string })
      await rm(file)
      await expect(checkDataDir(root)).rejects.toMatchObject({ code: 'DATA_DIR_CORRUPT', message: `${file}: missing while ${join(root, 'ledger')} exists: restore it from a backup; or, to start this subsystem empty (what it held is lost on this node), remove the folder ${join(root, 'ledger')}` })
      await rm(join(root, 'ledger'), { recursive: true })
      await expect(checkDataDir(root)).resolves.toBeUndefined()
    })
  })

  // A process killed mid-way can leave the file a page or so short of the newest commit's last page number:
  // pages LMDB allocated and freed again in that transaction, never written. That is no damage.
  it('accepts a file that ends a few unwritten pages before the last page number its newest commit counts, and still refuses a cut root or a longer cut', async () => {
    await withTempDir(async (root) => {
      const file = await dataDir(root)
      const good = await readFile(file)
      const pageSize = good.readUInt32LE(48)
      const newest = good.readBigUInt64LE(pageSize + 152) > good.readBigUInt64LE(152) ? pageSize : 0
      const lastPage = good.readBigUInt64LE(newest + 144)
      const tail = Buffer.from(good)
      tail.writeBigUInt64LE(lastPage + 3n, newest + 144)
      await writeFile(file, tail)
      await expect(checkDataDir(root)).resolves.toBeUndefined()
      // LMDB opens it and reads every entry.
      const ledger = await openLedger({ path: join(root, 'ledger') })
      expect(ledger.entryCount()).toBe(1)
      await ledger.close()
      const far = Buffer.from(good)
      far.writeBigUInt64LE(lastPage + 17n, newest + 144)
      await writeFile(file, far)
      await expect(checkDataDir(root)).rejects.toMatchObject({ code: 'DATA_DIR_CORRUPT', message: expect.stringContaining(`but its last commit counts ${lastPage + 18n} pages of ${pageSize} bytes (truncated)`) as string })
      const mainRoot = good.readBigUInt64LE(newest + 136)
      await writeFile(file, good)
      await truncate(file, Number(mainRoot) * pageSize)
      await expect(checkDataDir(root)).rejects.toMatchObject({ code: 'DATA_DIR_CORRUPT', message: expect.stringContaining(`but its last commit's root is page ${mainRoot} of ${pageSize} bytes (truncated)`) as string })
    })
  })

  it('refuses a data directory whose identity is gone while its data is there (init would make an identity that owns none of it)', async () => {
    await withTempDir(async (root) => {
      await dataDir(root)
      await rm(join(root, 'identity.json'))
      await expect(checkDataDir(root)).rejects.toMatchObject({ code: 'DATA_DIR_CORRUPT', message: expect.stringContaining('identity.json: missing, but') as string })
    })
  })
})
