import { type CryptoBackend, nobleBackend } from './backend.js'

async function loadDefaultBackend (): Promise<CryptoBackend> {
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string'
  if (!isNode) return nobleBackend
  // Imported lazily so bundles for other runtimes never touch node:crypto.
  const [{ createNodeBackend }, crypto] = await Promise.all([import('./backend-node.js'), import('node:crypto')])
  return createNodeBackend(crypto)
}

/**
 * The backend in use: OpenSSL (`node:crypto`) on Node, noble elsewhere.
 * Both are exported so tests and benchmarks can compare them.
 */
export const cryptoBackend: CryptoBackend = await loadDefaultBackend()

/** SHA-256 of `data` through the active backend. */
export function sha256 (data: Uint8Array): Uint8Array {
  return cryptoBackend.sha256(data)
}

/** Cryptographically secure random bytes. */
export function randomBytes (length: number): Uint8Array {
  return cryptoBackend.randomBytes(length)
}
