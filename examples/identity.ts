// @icn/identity: a key pair from a seed, its DID, a signed envelope, a content id.
import { cidOf, encodeEnvelope, keyPairFromSeed, openEnvelope, sign, signEnvelope, toDidKey, utf8, verify } from '@icn/identity'

const alice = keyPairFromSeed(new Uint8Array(32).fill(1))
console.log('did:', alice.did)
console.log('did:key:', toDidKey(alice.did))

const message = utf8('hello, cooperative')
const signature = sign(message, alice)
console.log('signature verifies:', verify(signature, message, alice.publicKey))
console.log('tampered verifies:', verify(signature, utf8('hello, cooperativE'), alice.publicKey))

const envelope = signEnvelope('example/greeting/v1', { text: 'hi' }, alice)
const opened = openEnvelope(encodeEnvelope(envelope), 'example/greeting/v1') // throws unless the signature holds
console.log('envelope from:', opened.signer === alice.did ? 'alice' : opened.signer, 'text:', (opened.payload as { text: string }).text)
console.log('cid:', cidOf({ text: 'hi' }).toString())
