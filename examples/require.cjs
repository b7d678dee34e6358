// CommonJS: every package loads with require() on Node 20.19+, 22.12+ and 24 (require of ES modules).
const { keyPairFromSeed } = require('@icn/identity')
const packages = ['@icn/identity', '@icn/identity/fs', '@icn/gossip', '@icn/ledger', '@icn/trust', '@icn/governance', '@icn/snapshot', '@icn/testkit']
for (const name of packages) console.log(`${name}: ${Object.keys(require(name)).length > 0 ? 'loaded' : 'empty'}`)
console.log('did:', keyPairFromSeed(new Uint8Array(32).fill(1)).did)
