#!/usr/bin/env node
// Prints sign / verify / sha-256 rates of the noble and OpenSSL (node:crypto)
// backends side by side, measured in the same run, plus blake3 and
// canonical-encoding throughput. Run after `pnpm build`: `pnpm bench`.
import * as nodeCrypto from 'node:crypto'
import { blake3, createNodeBackend, decodeEnvelope, encode, encodeEnvelope, nobleBackend, signEnvelope, keyPairFromSeed, openEnvelope, setVerifiedSignatureCacheSize, verify, verifyEnvelope } from '../dist/index.js'

const node = createNodeBackend(nodeCrypto)
const seconds = Number(process.env.ICN_BENCH_SECONDS ?? 1)

function rate (fn) {
  for (let i = 0; i < 50; i++) fn(i) // warm up
  const start = process.hrtime.bigint()
  const deadline = start + BigInt(Math.round(seconds * 1e9))
  let n = 0
  let now = start
  while (now < deadline) {
    for (let i = 0; i < 20; i++) fn(n++)
    now = process.hrtime.bigint()
  }
  return n / (Number(now - start) / 1e9)
}

const seed = nodeCrypto.randomBytes(32)
const message = nodeCrypto.randomBytes(200)
const publicKey = node.publicKeyFromSeed(seed)
const signature = node.sign(message, seed)
const oneMiB = nodeCrypto.randomBytes(1 << 20)

const rows = []
const pair = (what, unit, nobleFn, nodeFn, scale = 1) => {
  const a = rate(nobleFn) * scale
  const b = rate(nodeFn) * scale
  rows.push([what, `${a.toFixed(0)} ${unit}`, `${b.toFixed(0)} ${unit}`, `${(b / a).toFixed(1)}x`])
}
pair('ed25519 sign (200 B)', 'ops/s', () => nobleBackend.sign(message, seed), () => node.sign(message, seed))
pair('ed25519 verify (200 B)', 'ops/s', () => nobleBackend.verify(signature, message, publicKey), () => node.verify(signature, message, publicKey))
pair('sha-256 (1 MiB)', 'MB/s', () => nobleBackend.sha256(oneMiB), () => node.sha256(oneMiB), 1.048576)

console.log('\n@icn/identity crypto backends (same run)')
console.log(['operation', 'noble', 'node:crypto (OpenSSL)', 'node/noble'].join(' | '))
for (const r of rows) console.log(r.join(' | '))

const blake = rate(() => blake3(oneMiB)) * 1.048576
const kp = keyPairFromSeed(seed)
const value = { amount: 12345, memo: 'coffee', to: kp.did, tags: ['a', 'b'] }
const enc = rate(() => encode(value))
const env = signEnvelope('icn/bench', value, kp)
const envSign = rate(() => signEnvelope('icn/bench', value, kp))
// `verify` remembers recent valid signatures: first-time figures run with that off, over distinct envelopes
setVerifiedSignatureCacheSize(0)
const distinct = Array.from({ length: 8192 }, (_, i) => signEnvelope('icn/bench', { ...value, amount: i }, kp))
const distinctWire = distinct.map(encodeEnvelope)
const envVerify = rate((i) => verifyEnvelope(distinct[i % distinct.length], 'icn/bench'))
const firstVerify = rate((i) => { const e = distinct[i % distinct.length]; return verify(e.signature, encode({ domain: e.domain, payload: e.payload, signer: e.signer }), kp.publicKey) })
const bodies = distinct.slice(0, 1000).map((e) => encode({ domain: e.domain, payload: e.payload, signer: e.signer }))
setVerifiedSignatureCacheSize(4096)
const repeatVerify = rate((i) => verify(distinct[i % 1000].signature, bodies[i % 1000], kp.publicKey))
setVerifiedSignatureCacheSize(0)
console.log(`\nblake3 (noble, 1 MiB): ${blake.toFixed(0)} MB/s`)
console.log(`DAG-CBOR encode (small map): ${enc.toFixed(0)} ops/s`)
console.log(`signEnvelope: ${envSign.toFixed(0)} ops/s, verifyEnvelope: ${envVerify.toFixed(0)} ops/s (active backend: node)`)
console.log(`verify (encode body + check), first time: ${firstVerify.toFixed(0)} ops/s; the same signature again (recently-verified cache): ${repeatVerify.toFixed(0)} ops/s`)
const envDecode = rate((i) => decodeEnvelope(distinctWire[i % distinctWire.length]))
const envReceive = rate((i) => verifyEnvelope(decodeEnvelope(distinctWire[i % distinctWire.length]), 'icn/bench'))
const envOpen = rate((i) => openEnvelope(distinctWire[i % distinctWire.length], 'icn/bench'))
console.log(`decodeEnvelope: ${envDecode.toFixed(0)} ops/s, decode + verify (the receive path): ${envReceive.toFixed(0)} ops/s`)
console.log(`openEnvelope (decode + verify in one pass, no re-encode): ${envOpen.toFixed(0)} ops/s (${(envOpen / envReceive).toFixed(2)}x decode + verify)`)
