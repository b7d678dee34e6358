/** Signature domain of gossip entries: an entry signature can never be replayed as another protocol's. */
export const ENTRY_DOMAIN = 'icn/gossip/entry/v1'

/** Snapshot file format tag and version. */
export const STATE_FILE_FORMAT = 'icn-gossip-state'
export const STATE_VERSION = 1

export const DAY_MS = 24 * 60 * 60 * 1000
export const MIB = 1024 * 1024

/** Largest number of vector-clock components an entry may carry. */
export const MAX_CLOCK_COMPONENTS = 4096
/** Longest topic name, in UTF-16 code units. */
export const MAX_TOPIC_LENGTH = 256
/** Largest number of topic names a peer may announce. */
export const MAX_ANNOUNCED_TOPICS = 1024
/** Largest number of ranges or ids accepted in one reconciliation message or pull. */
export const MAX_WIRE_RANGES = 1024
export const MAX_WIRE_IDS = 4096
/** Recent digest nonces remembered per peer. */
export const MAX_NONCES_PER_PEER = 4096
/** Ids of entries refused on content grounds, remembered per topic so they are not pulled again. */
export const MAX_REJECTED_IDS = 10_000
/** Most peers a `push` frame names as also pushed to (so the receiver does not relay to them). */
export const MAX_PUSH_ALSO = 32
/** Longest peer id (a DID) a wire message may name. */
export const MAX_PEER_ID_LENGTH = 256
