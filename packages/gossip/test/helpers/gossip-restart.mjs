// Layer 4 helper: `write <path>` builds gossip state through the production
// handle in this process and prints the entry CIDs; `read <path> <cid,...>`
// opens the file in a fresh process and asserts exact entries (exit 1 on mismatch).
import { keyPairFromSeed, systemClock, utf8 } from '@icn/identity'
import { createGossip } from '../../dist/index.js'

const [mode, path, tokens] = process.argv.slice(2)
const keyPair = keyPairFromSeed(new Uint8Array(32).fill(42))
const transport = { id: keyPair.did, send: () => {}, onMessage: () => () => {}, peers: () => [] }
const payloads = ['first entry', 'second entry', 'x'.repeat(3000)]

async function main () {
  const gossip = await createGossip({ transport, clock: systemClock, keyPair }, { path })
  if (mode === 'write') {
    gossip.createTopic('ledger:tx')
    const cids = []
    for (const text of payloads) cids.push((await gossip.publish('ledger:tx', utf8(text))).cid)
    await gossip.close()
    process.stdout.write(cids.join(','))
    return 0
  }
  if (mode === 'read') {
    const entries = gossip.entries('ledger:tx')
    await gossip.close()
    const expected = tokens.split(',')
    const problems = []
    if (entries.length !== expected.length) problems.push(`expected ${expected.length} entries, found ${entries.length}`)
    entries.forEach((e, i) => {
      if (e.cid !== expected[i]) problems.push(`entry ${i}: cid ${e.cid} != ${expected[i]}`)
      if (new TextDecoder().decode(e.payload) !== payloads[i]) problems.push(`entry ${i}: payload differs`)
      if (e.author !== keyPair.did) problems.push(`entry ${i}: author ${e.author}`)
      if (e.clock[keyPair.did] !== i + 1) problems.push(`entry ${i}: clock ${JSON.stringify(e.clock)}`)
    })
    if (problems.length > 0) { console.error(problems.join('\n')); return 1 }
    return 0
  }
  console.error('usage: gossip-restart.mjs <write|read> <path> [cids]')
  return 2
}

process.exit(await main())
