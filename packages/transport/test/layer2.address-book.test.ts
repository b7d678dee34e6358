// Layer 2 — production handle: what the AddressBook handle keeps is what the file holds.
import { join } from 'node:path'
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { openAddressBook, readAddressBookFile, signAddressRecord } from '../src/index.js'
import { addrOf, member } from './helpers/records.js'

describe('layer 2: address book handle', () => {
  it('accept, addManual and forget are on disk when they resolve', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'address-book.json')
      const alice = member(1)
      const bob = member(2)
      const book = await openAddressBook({ path })
      await book.accept(signAddressRecord(alice, [addrOf(alice.did, 4001)], 100))
      await book.accept(signAddressRecord(bob, [addrOf(bob.did, 5001)], 100))
      await book.accept(signAddressRecord(alice, [addrOf(alice.did, 4009)], 300))
      await book.addManual('/ip4/10.1.2.3/tcp/4001')
      let read = await readAddressBookFile(path)
      expect(read?.records.map((r) => [r.did, r.addrs, r.issuedAt])).toEqual([
        [alice.did, [addrOf(alice.did, 4009)], 300],
        [bob.did, [addrOf(bob.did, 5001)], 100]
      ].sort((a, b) => String(a[0]) < String(b[0]) ? -1 : 1))
      expect(read?.manual).toEqual(['/ip4/10.1.2.3/tcp/4001'])
      await book.forget(bob.did)
      read = await readAddressBookFile(path)
      expect(read?.records.map((r) => r.did)).toEqual([alice.did])
    })
  })
})
