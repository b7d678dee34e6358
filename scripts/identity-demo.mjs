#!/usr/bin/env node
// A first look at @icn/identity from its built output: a DID, a signed envelope, its CID.
import { decodeEnvelope, encodeEnvelope, generateKeyPair, signEnvelope, toDidKey, verifyEnvelope, cryptoBackend } from '../packages/identity/dist/index.js'

const member = generateKeyPair()
const envelope = signEnvelope('icn/demo', { greeting: 'hello, federation' }, member)
const wire = encodeEnvelope(envelope)
const received = decodeEnvelope(wire)
console.log(`crypto backend : ${cryptoBackend.name}`)
console.log(`member DID     : ${member.did}`)
console.log(`as did:key     : ${toDidKey(member.did)}`)
console.log(`envelope CID   : ${received.cid} (${wire.length} bytes on the wire)`)
console.log(`verified       : ${JSON.stringify(verifyEnvelope(received, 'icn/demo'))}`)
