// Layer 1 — direct persistence: the address book file's serialisation is complete.
import { join } from 'node:path'
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { readAddressBookFile, signAddressRecord, writeAddressBookFile } from '../src/index.js'
import { addrOf, member } from './helpers/records.js'

describe('layer 1: address book file', () => {
  it('reads back exactly the records and operator addresses written', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'address-book.json')
      const alice = member(1)
      const bob = member(2)
      const records = [signAddressRecord(alice, [addrOf(alice.did, 4001), addrOf(alice.did, 4002)], 100), signAddressRecord(bob, [addrOf(bob.did, 5001)], 200)]
      await writeAddressBookFile(path, { records, manual: ['/ip4/10.1.2.3/tcp/4001', '/dns4/coop.example/tcp/4001'] })
      const read = await readAddressBookFile(path)
      expect(read?.manual).toEqual(['/ip4/10.1.2.3/tcp/4001', '/dns4/coop.example/tcp/4001'])
      expect(read?.records.map((r) => [r.did, r.addrs, r.issuedAt])).toEqual([
        [alice.did, [addrOf(alice.did, 4001), addrOf(alice.did, 4002)], 100],
        [bob.did, [addrOf(bob.did, 5001)], 200]
      ])
      expect(read?.records.map((r) => Buffer.from(r.bytes).toString('hex'))).toEqual(records.map((r) => Buffer.from(r.bytes).toString('hex')))
      expect(await readAddressBookFile(join(dir, 'none.json'))).toBeUndefined()
    })
  })
})
