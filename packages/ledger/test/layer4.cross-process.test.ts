// Layer 4: one OS process writes through the built package and prints tokens; a fresh process asserts them.
import { fileURLToPath } from 'node:url'
import { runSubprocess, withTempDir } from '@icn/testkit'
import { expect, test } from 'vitest'

const helper = fileURLToPath(new URL('./helpers/ledger-restart.mjs', import.meta.url))

test('L4: state written in one process is read back exactly by another', async () => {
  await withTempDir(async (dir) => {
    const written = await runSubprocess(helper, ['write', dir])
    const tokens = written.split(' ')
    expect(tokens).toHaveLength(5)
    expect(tokens[0]).toMatch(/^[0-9a-f]{64}$/)
    for (const id of tokens.slice(1)) expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(await runSubprocess(helper, ['read', dir, ...tokens])).toBe('ok')
    // the reader really checks: a wrong root makes it exit non-zero
    await expect(runSubprocess(helper, ['read', dir, '0'.repeat(64), ...tokens.slice(1)])).rejects.toThrow(/MISMATCH: state root/)
    await expect(runSubprocess(helper, ['read', dir, ...tokens.slice(0, 4), '0'.repeat(64)])).rejects.toThrow(/MISMATCH: cut hash/)
    // the cut written by the first process rolls a third process's ledger back to that state
    expect(await runSubprocess(helper, ['rollback', dir, tokens[0] as string])).toBe('ok')
  })
})
