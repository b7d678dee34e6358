// Layer 3 — same-process lifecycle: close, reopen a fresh handle on the same file, same state, still working.
import { join } from 'node:path'
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { openAddressBook, signAddressRecord } from '../src/index.js'
import { addrOf, member } from './helpers/records.js'

describe('layer 3: address book close and reopen', () => {
  it('a fresh handle holds the exact records and addresses, and keeps only newer records after', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'address-book.json')
      const alice = member(1)
      const first = await openAddressBook({ path })
      // Not awaited one by one: close() must wait for every write.
      const writes = [first.accept(signAddressRecord(alice, [addrOf(alice.did, 4001)], 100)), first.addManual('/ip4/10.1.2.3/tcp/4001')]
      await first.close()
      await Promise.all(writes)
      const second = await openAddressBook({ path })
      expect(second.record(alice.did)?.addrs).toEqual([addrOf(alice.did, 4001)])
      expect(second.record(alice.did)?.issuedAt).toBe(100)
      expect(second.manual()).toEqual(['/ip4/10.1.2.3/tcp/4001'])
      expect(await second.accept(signAddressRecord(alice, [addrOf(alice.did, 4002)], 100))).toBe(false)
      expect(await second.accept(signAddressRecord(alice, [addrOf(alice.did, 4003)], 101))).toBe(true)
      await second.close()
      expect((await openAddressBook({ path })).record(alice.did)?.addrs).toEqual([addrOf(alice.did, 4003)])
    })
  })
})
