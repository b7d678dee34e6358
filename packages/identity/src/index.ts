/**
 * @packageDocumentation
 * ICN identity primitives shared by every package: ed25519 key pairs, `did:icn`
 * DIDs (and `did:key` interop), canonical DAG-CBOR encoding, CIDs, hashing,
 * signed envelopes, a clock interface, and a JSON codec for bytes and bigints.
 * Node-only atomic file helpers live in the `@icn/identity/fs` entry.
 *
 * Signing, verification and SHA-256 run on OpenSSL (`node:crypto`) under Node
 * and on noble elsewhere; both give identical results (see `cryptoBackend`).
 * Browsers get the `browser` build: the same API without `createNodeBackend`.
 */
export * from './portable.js'
export { createNodeBackend } from './backend-node.js'
