import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeEnvelope, encode, encodeEnvelope, signEnvelope } from '@icn/identity'
import { CorruptFileError, writeJsonSnapshot } from '@icn/identity/fs'
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { ADDRESS_RECORD_DOMAIN, AddressRecordError, openAddressBook, openAddressRecord, readAddressBookFile, signAddressRecord } from '../src/index.js'
import { addrOf, member } from './helpers/records.js'

const alice = member(1)
const bob = member(2)

describe('address records', () => {
  it('round-trips a signed record: DID, addresses and time come back exactly', () => {
    const record = signAddressRecord(alice, [addrOf(alice.did, 4001)], 1_700_000_000_000)
    const opened = openAddressRecord(record.bytes)
    expect(opened.did).toBe(alice.did)
    expect(opened.addrs).toEqual([addrOf(alice.did, 4001)])
    expect(opened.issuedAt).toBe(1_700_000_000_000)
  })

  it('refuses addresses that are not the signer\'s own, and more than 16', () => {
    expect(() => signAddressRecord(alice, [addrOf(bob.did, 4001)], 1)).toThrow(AddressRecordError)
    expect(() => signAddressRecord(alice, ['/ip4/127.0.0.1/tcp/4001'], 1)).toThrow(AddressRecordError)
    expect(() => signAddressRecord(alice, [], 1)).toThrow(AddressRecordError)
    expect(() => signAddressRecord(alice, Array.from({ length: 17 }, (_, i) => addrOf(alice.did, 4000 + i)), 1)).toThrow(AddressRecordError)
  })

  it('refuses a record whose payload was changed after signing, or signed under another domain', () => {
    const record = signAddressRecord(alice, [addrOf(alice.did, 4001)], 5)
    const envelope = decodeEnvelope(record.bytes)
    const moved = encodeEnvelope({ ...envelope, payload: { addrs: [addrOf(alice.did, 6666)], issuedAt: 5 } })
    expect(() => openAddressRecord(moved)).toThrow(AddressRecordError)
    const otherDomain = encodeEnvelope(signEnvelope('icn/other/1', { addrs: [addrOf(alice.did, 4001)], issuedAt: 5 }, alice))
    expect(() => openAddressRecord(otherDomain)).toThrow(/not a signed address record/)
    const extraField = encodeEnvelope(signEnvelope(ADDRESS_RECORD_DOMAIN, { addrs: [addrOf(alice.did, 4001)], issuedAt: 5, relay: true }, alice))
    expect(() => openAddressRecord(extraField)).toThrow(AddressRecordError)
    expect(() => openAddressRecord(encode([1, 2, 3]))).toThrow(AddressRecordError)
  })
})

describe('address book', () => {
  it('keeps the newest record of each DID and ignores older or equal ones', async () => {
    const book = await openAddressBook()
    expect(await book.accept(signAddressRecord(alice, [addrOf(alice.did, 4001)], 10))).toBe(true)
    expect(await book.accept(signAddressRecord(alice, [addrOf(alice.did, 4002)], 9))).toBe(false)
    expect(await book.accept(signAddressRecord(alice, [addrOf(alice.did, 4003)], 10))).toBe(false)
    expect(book.record(alice.did)?.addrs).toEqual([addrOf(alice.did, 4001)])
    expect(await book.accept(signAddressRecord(alice, [addrOf(alice.did, 4004)], 11))).toBe(true)
    expect(book.record(alice.did)?.addrs).toEqual([addrOf(alice.did, 4004)])
    expect(await book.forget(alice.did)).toBe(true)
    expect(await book.forget(alice.did)).toBe(false)
    expect(book.records()).toEqual([])
  })

  it('adds an operator address once and refuses text that is not a multiaddr', async () => {
    const book = await openAddressBook()
    expect(await book.addManual('/ip4/10.0.0.1/tcp/4001')).toBe(true)
    expect(await book.addManual('/ip4/10.0.0.1/tcp/4001')).toBe(false)
    await expect(book.addManual('10.0.0.1:4001')).rejects.toThrow(AddressRecordError)
    expect(book.manual()).toEqual(['/ip4/10.0.0.1/tcp/4001'])
  })

  it('records accepted together share one write of the file, and each resolves once it is on disk', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'book.json')
      const book = await openAddressBook({ path })
      const members = Array.from({ length: 50 }, (_, i) => member(10 + i))
      const kept = await Promise.all(members.map(async (m, i) => await book.accept(signAddressRecord(m, [addrOf(m.did, 5000 + i)], 100))))
      expect(kept).toEqual(members.map(() => true))
      expect(book.writes).toBe(1)
      expect((await readAddressBookFile(path))?.records.map((r) => r.did).sort()).toEqual(members.map((m) => m.did).sort())
      // A change while a write is under way waits for the next write, which holds it.
      const first = book.accept(signAddressRecord(alice, [addrOf(alice.did, 4001)], 1))
      const second = book.accept(signAddressRecord(bob, [addrOf(bob.did, 4002)], 1))
      await first
      const third = book.accept(signAddressRecord(alice, [addrOf(alice.did, 4003)], 2))
      await Promise.all([second, third])
      expect(book.writes).toBe(3)
      expect((await readAddressBookFile(path))?.records.find((r) => r.did === alice.did)?.addrs).toEqual([addrOf(alice.did, 4003)])
      await book.close()
    })
  })

  it('a damaged or forged file is a CorruptFileError naming the file, and is not overwritten', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'address-book.json')
      const book = await openAddressBook({ path })
      await book.accept(signAddressRecord(alice, [addrOf(alice.did, 4001)], 10))
      await book.close()
      const bytes = await readFile(path)
      bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0x01
      await writeFile(path, bytes)
      await expect(openAddressBook({ path })).rejects.toThrow(CorruptFileError)
      await expect(openAddressBook({ path })).rejects.toThrow(path)
      expect(Buffer.compare(await readFile(path), bytes)).toBe(0)
    })
  })

  it('a checksummed file holding a record with a bad signature is refused', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'address-book.json')
      const record = signAddressRecord(alice, [addrOf(alice.did, 4001)], 10)
      const envelope = decodeEnvelope(record.bytes)
      const forged = encodeEnvelope({ ...envelope, signature: new Uint8Array(64) })
      await writeJsonSnapshot(path, { version: 1, records: [forged], manual: [] })
      await expect(readAddressBookFile(path)).rejects.toThrow(/record 0: .*does not verify/)
    })
  })
})
