// Stands in for `../backend-node.ts` in the browser build, which must not carry Node-only code.
import type { CryptoBackend } from '../backend.js'

export function createNodeBackend (): CryptoBackend {
  throw new Error('the OpenSSL backend needs Node; browsers use the noble backend')
}
