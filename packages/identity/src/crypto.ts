import { type CryptoBackend, nobleBackend } from './backend.js'
import { createNodeBackend } from './backend-node.js'

type NodeCrypto = typeof import('node:crypto')

/**
 * Picks OpenSSL on Node, noble elsewhere. `process.getBuiltinModule` (Node 20.16+) loads
 * `node:crypto` synchronously without an `import` a bundler would follow, so the module
 * needs no top-level await (which would stop `require()` of every package built on this one).
 */
function loadDefaultBackend (): CryptoBackend {
  const getBuiltinModule = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule
  if (typeof getBuiltinModule !== 'function') return nobleBackend
  return createNodeBackend(getBuiltinModule('node:crypto') as NodeCrypto)
}

/**
 * The backend in use: OpenSSL (`node:crypto`) on Node, noble elsewhere.
 * Both are exported so tests and benchmarks can compare them.
 */
export const cryptoBackend: CryptoBackend = loadDefaultBackend()

/** SHA-256 of `data` through the active backend. */
export function sha256 (data: Uint8Array): Uint8Array {
  return cryptoBackend.sha256(data)
}

/** Cryptographically secure random bytes. */
export function randomBytes (length: number): Uint8Array {
  return cryptoBackend.randomBytes(length)
}
