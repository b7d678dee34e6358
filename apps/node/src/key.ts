// The node's ed25519 key as a standard PKCS#8 PEM: `icn-node key export`, and `icn-node init --key <file>` to bring it back.
import { createPrivateKey } from 'node:crypto'
import { type KeyPair, keyPairFromSeed } from '@icn/identity'
import { InvalidKeyError } from './errors.js'

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url')

/** The key pair as an unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), readable by OpenSSL and most tools. */
export function exportKeyPem (keyPair: KeyPair): string {
  return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: base64url(keyPair.seed), x: base64url(keyPair.publicKey) }, format: 'jwk' })
    .export({ type: 'pkcs8', format: 'pem' }).toString()
}

/** The key pair of an ed25519 PKCS#8 PEM (as `exportKeyPem` writes); `InvalidKeyError` for anything else. */
export function importKeyPem (pem: string): KeyPair {
  let jwk: { kty?: string, crv?: string, d?: string }
  try {
    jwk = createPrivateKey({ key: pem, format: 'pem' }).export({ format: 'jwk' })
  } catch (cause) {
    throw new InvalidKeyError('not a PEM private key', { cause })
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || jwk.d === undefined) throw new InvalidKeyError(`not an ed25519 key (${jwk.kty ?? '?'} ${jwk.crv ?? ''})`)
  const seed = Buffer.from(jwk.d, 'base64url')
  if (seed.length !== 32) throw new InvalidKeyError('an ed25519 seed is 32 bytes')
  return keyPairFromSeed(new Uint8Array(seed))
}
