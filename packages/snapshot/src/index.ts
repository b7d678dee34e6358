/**
 * @packageDocumentation
 * Chandy–Lamport distributed snapshots for ICN: a pure protocol core
 * (`SnapshotCoordinator`), a thin node shell that talks to peers through an
 * injected `MessageTransport` and to trust through an injected `trustOf`, a
 * Merkle root with inclusion proofs over the participants' recorded states,
 * chunked compressed state transfer, cross-node verification, restore, and a
 * file store of completed snapshots (atomic, checksummed). A state or
 * verification request a peer will not serve is answered with a signed
 * `RequestRefused` (at most once per window), so the asker fails at once with
 * a `RequestRefusedError` instead of at its timeout.
 *
 * Typical use: `createSnapshotNode({ keyPair, transport, trustOf, clock, providers, store }, init)`,
 * then `startSnapshot()` on one node; every participant's `waitForSnapshot(id)`
 * resolves with the same root.
 */
export { type SnapshotConfig, DEFAULT_CONFIG, resolveConfig } from './config.js'
export {
  type SnapshotErrorCode, SnapshotError, InvalidConfigError, InsufficientParticipantsError, InvalidMessageError,
  ProtocolViolationError, RateLimitedError, RequestRefusedError, SnapshotTooLargeError, SnapshotNotFoundError, CorruptSnapshotError, SnapshotQuarantinedError,
  UnknownProviderError, SnapshotClosedError
} from './errors.js'
export {
  type SnapshotLeaf, type InclusionProof, type ProofStep, leafHash, nodeHash, merkleRoot, sortLeaves, proveInclusion, verifyInclusion
} from './merkle.js'
export {
  type SnapshotMessage, type InitiateSnapshot, type Marker, type SnapshotAck, type RequestState, type StateChunk,
  type SnapshotComplete, type VerifySnapshot, type VerificationResult, type RequestRefused, type RefusableRequest, type RefusalReason,
  type SignedInitiation, type ReceivedMessage,
  SNAPSHOT_DOMAIN, encodeMessage, decodeMessage, parseMessage, signInitiation, isSnapshotId
} from './messages.js'
export { type ParticipantState, type ChunkedPayload, packState, unpackState, chunkPayload, effectiveLevel, ChunkAssembler } from './transfer.js'
export {
  type CompletedSnapshot, type Effect, type SnapshotCounters, type VerificationReport, type VerifierOutcome, SnapshotCoordinator
} from './coordinator.js'
export {
  type MessageTransport, type StateProvider, type SnapshotComponents, type SnapshotInit, type SnapshotNode, type SnapshotOutcome,
  type FetchOutcome, type SnapshotEvent, type SnapshotStats, createSnapshotNode, encodeLocalState, decodeLocalState
} from './node.js'
export {
  type SnapshotStore, type SnapshotStoreInit, type SnapshotSummary, type DamagedSnapshot, type DamageKind, DAMAGED_FOLDER,
  openSnapshotStore, writeSnapshotFiles, readSnapshotFiles, listSnapshotFiles, removeSnapshotFiles, removeUnreferencedChunks, snapshotFileNames, CHUNKS_FOLDER,
  type SaveReport, type PruneRule
} from './store.js'
