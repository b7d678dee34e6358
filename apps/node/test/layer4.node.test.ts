import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDid } from '@icn/identity'
import { SubprocessError, runSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'

const helper = fileURLToPath(new URL('./helpers/node-state.mjs', import.meta.url))

describe('Layer 4: the composed node across OS processes', () => {
  it('state written by one node process (ledger, trust, governance, gossip) is read back exactly by a fresh process on the same data dir', async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'node')
      const written = JSON.parse(await runSubprocess(helper, ['write', dataDir])) as Record<string, unknown>
      expect(isDid(written.did)).toBe(true)
      expect(written.ledgerEntries).toBe(1)
      expect(written.payerBalance).toBe('-1234')
      expect(written.payeeBalance).toBe('1234')
      expect(written.storedEntry).toBe(written.entryId)
      expect(written.edgeScore).toBe(0.75)
      expect(written.trustScore).toBeCloseTo(0.6, 12) // direct 0.75 × economic weight 0.8, no intermediates
      expect(written.proposalTitle).toBe('Layer 4 proposal')
      expect(written.proposalState).toBe('draft')
      expect(written.gossipTopics).toEqual(['governance:proposal', 'governance:vote', 'history:sync', 'ledger:tx', 'net:addresses', 'snapshot:coordinate', 'trust:attest'])
      expect(written.servedChain).toHaveLength(1)
      expect(await runSubprocess(helper, ['read', dataDir, JSON.stringify(written)])).toBe('OK')
    })
  })

  it('the read process fails on a mismatch (the check is real)', async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'node')
      const written = JSON.parse(await runSubprocess(helper, ['write', dataDir])) as Record<string, unknown>
      const error = await runSubprocess(helper, ['read', dataDir, JSON.stringify({ ...written, payeeBalance: '1235' })]).catch((err: unknown) => err)
      expect(error).toBeInstanceOf(SubprocessError)
      expect((error as SubprocessError).stderr).toContain('mismatch in payeeBalance')
    })
  })
})
