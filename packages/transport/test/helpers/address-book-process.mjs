#!/usr/bin/env node
// Layer 4 helper, on the built package.
//   write <path>            writes two members' records and an operator address; prints "<did>@<issuedAt>,..."
//   read <path> <tokens>    opens the book in a fresh process; exits 1 unless it holds exactly those records
import { keyPairFromSeed } from '@icn/identity'
import { openAddressBook, peerIdOfDid, signAddressRecord } from '../../dist/index.js'

const [mode, path, tokens] = process.argv.slice(2)
const member = (byte) => keyPairFromSeed(Uint8Array.from(new Array(32).fill(byte)))
const book = await openAddressBook({ path })
if (mode === 'write') {
  for (const [byte, port, issuedAt] of [[7, 4007, 1_700_000_000_007], [8, 4008, 1_700_000_000_008]]) {
    const key = member(byte)
    await book.accept(signAddressRecord(key, [`/ip4/192.0.2.${byte}/tcp/${port}/p2p/${peerIdOfDid(key.did)}`], issuedAt))
  }
  await book.addManual('/ip4/198.51.100.1/tcp/4001')
  await book.close()
  console.log(book.records().map((r) => `${r.did}@${r.issuedAt}`).join(','))
} else {
  const held = book.records().map((r) => `${r.did}@${r.issuedAt}`).join(',')
  const addrsOk = book.records().every((r) => r.addrs.length === 1 && r.addrs[0].endsWith(`/p2p/${peerIdOfDid(r.did)}`))
  const manualOk = JSON.stringify(book.manual()) === JSON.stringify(['/ip4/198.51.100.1/tcp/4001'])
  if (held !== tokens || !addrsOk || !manualOk) {
    console.error(`mismatch: held ${held}, expected ${tokens}, addresses ok ${addrsOk}, manual ${JSON.stringify(book.manual())}`)
    process.exit(1)
  }
}
