// Layer 1: the LMDB storage adapter alone — write, close, reopen, exact records.
import { withTempDir } from '@icn/testkit'
import { open } from 'lmdb'
import { describe, expect, it } from 'vitest'
import { CorruptStoreError, openTrustStore } from '../src/index.js'
import { T0, attest, didOf, summary } from './fixtures.js'

describe('layer 1: trust store persistence', () => {
  it('records written through the adapter survive close and reopen exactly', async () => {
    await withTempDir(async (dir) => {
      const records = [
        attest('A', 'B', 0.75, { labels: ['neighbour'], evidence: ['bafy-meeting-notes'] }),
        attest('A', 'B', 0.5, { graph: 'economic', expiresAt: T0 + 86_400_000 }),
        attest('B', 'C', 0, { graph: 'technical', createdAt: T0 + 5 })
      ]
      const store = await openTrustStore(dir)
      for (const record of records) await store.put(record)
      await store.close()

      const reopened = await openTrustStore(dir)
      expect(summary(reopened.get('social', didOf('A'), didOf('B')))).toEqual(summary(records[0]))
      expect(summary(reopened.get('economic', didOf('A'), didOf('B')))).toEqual(summary(records[1]))
      expect(summary(reopened.get('technical', didOf('B'), didOf('C')))).toEqual(summary(records[2]))
      expect(reopened.get('social', didOf('B'), didOf('C'))).toBeUndefined()
      expect(reopened.get('economic', didOf('A'), didOf('B'))?.payload).toEqual({
        source: didOf('A'), target: didOf('B'), graph: 'economic', score: 0.5, labels: [], evidence: [], createdAt: T0, expiresAt: T0 + 86_400_000
      })
      expect(reopened.all().map(summary)).toEqual(
        [...records].sort((x, y) => x.payload.graph.localeCompare(y.payload.graph)).map(summary))
      await reopened.close()
    })
  })

  it('replaceAll swaps every record in one transaction', async () => {
    await withTempDir(async (dir) => {
      const store = await openTrustStore(dir)
      await store.put(attest('A', 'B', 0.75))
      const replacement = attest('C', 'D', 0.25)
      store.replaceAll([replacement])
      await store.close()
      const reopened = await openTrustStore(dir)
      expect(reopened.all().map(summary)).toEqual([summary(replacement)])
      await reopened.close()
    })
  })

  it('refuses an undecodable record and a directory of another format with CorruptStoreError', async () => {
    await withTempDir(async (dir) => {
      const store = await openTrustStore(`${dir}/trust`)
      await store.put(attest('A', 'B', 0.75))
      await store.close()
      const raw = open<Uint8Array, string>({ path: `${dir}/trust`, encoding: 'binary', maxDbs: 4 })
      // 0xc1 is never used by msgpack: the record cannot be decoded at all
      await raw.openDB<Uint8Array, string[]>({ name: 'edges', encoding: 'binary' }).put(['social', didOf('A'), didOf('C')], new Uint8Array([0xc1]))
      // a well-formed record whose edge breaks the rules (score 2)
      const good = attest('B', 'C', 1)
      await raw.openDB<unknown, string[]>({ name: 'edges', encoding: 'msgpack' })
        .put(['social', didOf('B'), didOf('C')], { cid: good.cid, signature: good.signature, payload: { ...good.payload, score: 2 } })
      await raw.close()
      const reopened = await openTrustStore(`${dir}/trust`)
      expect(() => reopened.all()).toThrow(CorruptStoreError)
      expect(() => reopened.get('social', didOf('A'), didOf('C'))).toThrow(CorruptStoreError)
      expect(() => reopened.get('social', didOf('B'), didOf('C'))).toThrow(CorruptStoreError)
      expect(summary(reopened.get('social', didOf('A'), didOf('B')))).toEqual(summary(attest('A', 'B', 0.75)))
      await reopened.close()

      const foreign = open<Uint8Array, string>({ path: `${dir}/other`, encoding: 'binary' })
      await foreign.put('format', new TextEncoder().encode('ledger/1'))
      await foreign.close()
      await expect(openTrustStore(`${dir}/other`)).rejects.toThrow(CorruptStoreError)
    })
  })
})
