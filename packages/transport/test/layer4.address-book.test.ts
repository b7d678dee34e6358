// Layer 4 — cross-process: one OS process writes the address book, a fresh one reads exact values.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SubprocessError, runSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { member } from './helpers/records.js'

const helper = fileURLToPath(new URL('./helpers/address-book-process.mjs', import.meta.url))

describe('layer 4: address book across processes', () => {
  it('a fresh process reads the records and operator address the first one wrote', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'address-book.json')
      const tokens = await runSubprocess(helper, ['write', path])
      const expected = [`${member(7).did}@1700000000007`, `${member(8).did}@1700000000008`].sort().join(',')
      expect(tokens).toBe(expected)
      await expect(runSubprocess(helper, ['read', path, tokens])).resolves.toBe('')
      await expect(runSubprocess(helper, ['read', path, tokens.split(',').reverse().join(',')])).rejects.toThrow(SubprocessError)
    })
  })
})
