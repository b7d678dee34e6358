import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CorruptFileError, readJsonSnapshot, writeFileAtomic, writeJsonSnapshot } from '../src/fs.js'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'icn-identity-fs-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('atomic files', () => {
  it('writes, replaces and leaves no temp files behind', async () => {
    const path = join(dir, 'a.bin')
    await writeFileAtomic(path, Uint8Array.from([1, 2, 3]))
    await writeFileAtomic(path, Uint8Array.from([4, 5]))
    expect(new Uint8Array(await readFile(path))).toEqual(Uint8Array.from([4, 5]))
    expect(await readdir(dir)).toEqual(['a.bin'])
  })

  it('round-trips a JSON snapshot with bytes and bigints exactly', async () => {
    const path = join(dir, 'state.snapshot')
    const data = { version: 3, balance: -42n, key: Uint8Array.from([9, 8, 7]), names: ['a', 'b'] }
    await writeJsonSnapshot(path, data)
    expect(await readJsonSnapshot(path)).toEqual(data)
  })

  it('returns undefined for a missing file', async () => {
    expect(await readJsonSnapshot(join(dir, 'none'))).toBeUndefined()
  })

  it('refuses truncated, tampered and foreign files with CorruptFileError', async () => {
    const path = join(dir, 'state.snapshot')
    await writeJsonSnapshot(path, { a: 1, b: 'two' })
    const good = await readFile(path, 'utf8')
    await writeFile(path, good.slice(0, good.length - 3))
    await expect(readJsonSnapshot(path)).rejects.toThrow(/truncated/)
    await writeFile(path, good.replace('two', 'TWO'))
    await expect(readJsonSnapshot(path)).rejects.toThrow(/checksum mismatch/)
    await writeFile(path, 'hello')
    await expect(readJsonSnapshot(path)).rejects.toBeInstanceOf(CorruptFileError)
    await writeFile(path, '{"format":"other","version":1}\n{}')
    await expect(readJsonSnapshot(path)).rejects.toThrow(/unknown format other v1/)
  })

  it('keeps the previous good file when a write fails', async () => {
    const path = join(dir, 'state.snapshot')
    await writeJsonSnapshot(path, { good: true })
    await expect(writeJsonSnapshot(path, { bad: Number.NaN })).rejects.toThrow(/non-finite/)
    expect(await readJsonSnapshot(path)).toEqual({ good: true })
    expect(await readdir(dir)).toEqual(['state.snapshot'])
  })
})
