/** Signature domain of gossip entries: an entry signature can never be replayed as another protocol's. */
export const ENTRY_DOMAIN = 'icn/gossip/entry/v1'

/** Snapshot file format tag and version. */
export const STATE_FILE_FORMAT = 'icn-gossip-state'
export const STATE_VERSION = 1

export const DAY_MS = 24 * 60 * 60 * 1000
export const MIB = 1024 * 1024

/** Default bound on the components of a decoded vector clock (`maxClockComponents`). */
export const DEFAULT_MAX_CLOCK_COMPONENTS = 1024
/** Largest counter a decoded vector clock may carry (2^48 − 1: a DID publishing a million entries a second takes 9 years to reach it). */
export const MAX_CLOCK_COUNTER = 2 ** 48 - 1
/**
 * Largest counter merged into the node's clock from an entry. Below `MAX_CLOCK_COUNTER` so that, whatever
 * peers claim about this node, its own counter (which only its publishes increment) stays 2^47 publishes
 * away from the decode bound and its entries are never refused for their clock.
 */
export const MAX_MERGED_COUNTER = 2 ** 47 - 1
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
/** Ids announced to this node (`have`) and awaited, at most: the oldest is forgotten first (anti-entropy remains). */
export const MAX_AWAITED_IDS = 10_000
/** Peers remembered per awaited id as having announced it (each asked in turn). */
export const MAX_ANNOUNCERS = 8
