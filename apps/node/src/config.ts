import { readFile } from 'node:fs/promises'
import { isDid } from '@icn/identity'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidConfigError } from './errors.js'
import { dataDirLayout } from './layout.js'
import { LOG_LEVELS, type LogLevel } from './log-levels.js'

export { LOG_LEVELS, type LogLevel }

/** The libp2p port `icn-node init` writes into config.json: a fixed port members can list in their `peers`. */
export const DEFAULT_LISTEN_PORT = 4710
/** The local API's port `icn-node init` writes (127.0.0.1 only): where the CLI, the dashboard and a metrics scraper find it. */
export const DEFAULT_API_PORT = 4711

/** A running node's settings: the config file merged with command-line flags. */
export interface NodeConfig {
  /** The data directory (identity, storage, token). */
  dataDir: string
  /** libp2p listen multiaddrs. @default ['/ip4/127.0.0.1/tcp/0'] */
  listen: string[]
  /** Peers to dial and keep redialling (multiaddrs ending in `/p2p/<peer id>`). @default [] */
  peers: string[]
  /**
   * Addresses other members should dial to reach this node (a public or port-forwarded address), each
   * ending in this node's `/p2p/<peer id>`; signed into its address record. @default the listen addresses
   */
  announce?: string[]
  /** Port of the local HTTP API on 127.0.0.1; 0 picks a free port. @default 0 */
  apiPort: number
  /** pino log level. @default 'info' */
  logLevel: LogLevel
  /** Take a distributed snapshot this often (ms) when set. @default undefined */
  snapshotEveryMs?: number
  /** Largest frame accepted or sent on `/icn/gossip/1.0.0`. @default 4194304 */
  maxFrameBytes: number
  /** A distributed snapshot that has not completed after this long fails. @default 60000 */
  snapshotTimeoutMs: number
  /** Entries gossip keeps per topic (its recent window; history sync serves the rest from the stores). @default 10000 */
  gossipMaxEntriesPerTopic: number
  /** Period of history sync with every connected peer while entries flow (it also runs when a peer connects; rounds back off to 5 min while nothing changes). @default 30000 */
  historySyncIntervalMs: number
  /**
   * Fewest participants of a distributed snapshot, this node included (at least 2): a snapshot with fewer
   * connected members it trusts is refused. A two-member cooperative sets 2. @default 3
   */
  snapshotMinParticipants: number
  /**
   * Serve as a circuit relay for members behind NAT (a member with a public address): members reserve a
   * slot and reach each other through it. Non-members cannot connect, reserve or be relayed. @default false
   */
  relay: boolean
  /**
   * Behind NAT: reserve a slot on a member that serves as relay (its circuit address goes into this
   * node's address record) and try hole punching (DCUtR) to replace a relayed link by a direct one. @default true
   */
  natTraversal: boolean
  /**
   * STUN servers (`stun:<host>:<port>`, e.g. one the public member runs) for hole punching over WebRTC:
   * with one or more, two members behind NAT that meet through a relay connect directly where their NATs
   * allow it (docs/transport.md#sites-and-nat). @default [] (no WebRTC)
   */
  stunServers: string[]
  /**
   * New inbound connections accepted per second from one IP address (libp2p's per-host limit). Raise it
   * where many members reach this node from one address: members behind one NAT, or many nodes on one
   * host (loopback test networks). @default 5
   */
  maxInboundPerHostPerSecond: number
  /** Members this node dials until it is connected to this many (inbound links count too): a bounded mesh. @default 8 */
  degree: number
  /**
   * Members connected beyond this many are told this node is full when they connect (unless this node
   * dials them) and go to other members; a member behind NAT stays on a full member that relays for it.
   * At least `degree`. @default 2 × degree
   */
  maxPeers?: number
  /**
   * The member whose invitation this node joined with (`icn-node join` writes it): it may connect and
   * exchange frames before this node's governance has caught up with its membership. @default undefined
   */
  sponsor?: string
}

/** Fields an operator may put in `<data-dir>/config.json`. */
export type NodeConfigFile = Partial<Omit<NodeConfig, 'dataDir'>>

const DEFAULTS: Omit<NodeConfig, 'dataDir'> = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  peers: [],
  apiPort: 0,
  logLevel: 'info',
  maxFrameBytes: 4 * 1024 * 1024,
  snapshotTimeoutMs: 60_000,
  gossipMaxEntriesPerTopic: 10_000,
  historySyncIntervalMs: 30_000,
  snapshotMinParticipants: 3,
  relay: false,
  natTraversal: true,
  stunServers: [],
  maxInboundPerHostPerSecond: 5,
  degree: 8
}

/** What `icn-node init` writes: the fixed production ports, listening on every interface. */
export const PRODUCTION_CONFIG: NodeConfigFile = { listen: [`/ip4/0.0.0.0/tcp/${DEFAULT_LISTEN_PORT}`], apiPort: DEFAULT_API_PORT, peers: [] }

/** What `icn-node init --ephemeral` (and tests, the demo) write: random ports on loopback, so many nodes share a machine. */
export const EPHEMERAL_CONFIG: NodeConfigFile = { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [] }

function checkMultiaddrs (field: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new InvalidConfigError(`${field} must be an array of multiaddr strings`)
  for (const addr of value as string[]) {
    try {
      multiaddr(addr)
    } catch (cause) {
      throw new InvalidConfigError(`${field}: '${addr}' is not a multiaddr`, { cause })
    }
  }
  return value as string[]
}

function checkPositiveInteger (field: string, value: unknown, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new InvalidConfigError(`${field} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`)
  }
  return value
}

/** Validates a config object (file or flags), throwing `InvalidConfigError` on the first bad field. */
export function validateConfigFile (value: unknown): NodeConfigFile {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidConfigError('config must be a JSON object')
  const input = value as Record<string, unknown>
  const known = new Set(['listen', 'peers', 'announce', 'apiPort', 'logLevel', 'snapshotEveryMs', 'maxFrameBytes', 'snapshotTimeoutMs', 'gossipMaxEntriesPerTopic', 'historySyncIntervalMs', 'snapshotMinParticipants', 'sponsor', 'relay', 'natTraversal', 'stunServers', 'maxInboundPerHostPerSecond', 'degree', 'maxPeers'])
  for (const key of Object.keys(input)) if (!known.has(key)) throw new InvalidConfigError(`unknown config field '${key}'`)
  const out: NodeConfigFile = {}
  if (input.listen !== undefined) out.listen = checkMultiaddrs('listen', input.listen)
  if (input.peers !== undefined) out.peers = checkMultiaddrs('peers', input.peers)
  if (input.announce !== undefined) out.announce = checkMultiaddrs('announce', input.announce)
  if (input.apiPort !== undefined) {
    out.apiPort = checkPositiveInteger('apiPort', input.apiPort, true)
    if (out.apiPort > 65535) throw new InvalidConfigError(`apiPort must be at most 65535, got ${out.apiPort}`)
  }
  if (input.logLevel !== undefined) {
    if (!(LOG_LEVELS as readonly unknown[]).includes(input.logLevel)) throw new InvalidConfigError(`logLevel must be one of ${LOG_LEVELS.join(', ')}`)
    out.logLevel = input.logLevel as LogLevel
  }
  if (input.snapshotEveryMs !== undefined) out.snapshotEveryMs = checkPositiveInteger('snapshotEveryMs', input.snapshotEveryMs)
  if (input.maxFrameBytes !== undefined) out.maxFrameBytes = checkPositiveInteger('maxFrameBytes', input.maxFrameBytes)
  if (input.snapshotTimeoutMs !== undefined) out.snapshotTimeoutMs = checkPositiveInteger('snapshotTimeoutMs', input.snapshotTimeoutMs)
  if (input.gossipMaxEntriesPerTopic !== undefined) out.gossipMaxEntriesPerTopic = checkPositiveInteger('gossipMaxEntriesPerTopic', input.gossipMaxEntriesPerTopic)
  if (input.historySyncIntervalMs !== undefined) out.historySyncIntervalMs = checkPositiveInteger('historySyncIntervalMs', input.historySyncIntervalMs)
  if (input.maxInboundPerHostPerSecond !== undefined) out.maxInboundPerHostPerSecond = checkPositiveInteger('maxInboundPerHostPerSecond', input.maxInboundPerHostPerSecond)
  if (input.degree !== undefined) out.degree = checkPositiveInteger('degree', input.degree)
  if (input.maxPeers !== undefined) out.maxPeers = checkPositiveInteger('maxPeers', input.maxPeers)
  if (input.snapshotMinParticipants !== undefined) {
    out.snapshotMinParticipants = checkPositiveInteger('snapshotMinParticipants', input.snapshotMinParticipants)
    if (out.snapshotMinParticipants < 2) throw new InvalidConfigError('snapshotMinParticipants must be at least 2 (a snapshot is taken with other members)')
  }
  for (const field of ['relay', 'natTraversal'] as const) {
    if (input[field] === undefined) continue
    if (typeof input[field] !== 'boolean') throw new InvalidConfigError(`${field} must be true or false, got ${JSON.stringify(input[field])}`)
    out[field] = input[field]
  }
  if (input.stunServers !== undefined) {
    const servers = input.stunServers
    if (!Array.isArray(servers) || servers.some((v) => typeof v !== 'string' || !/^stun:\S+$/.test(v))) throw new InvalidConfigError(`stunServers must be an array of 'stun:<host>:<port>' strings, got ${JSON.stringify(servers)}`)
    out.stunServers = servers as string[]
  }
  if (input.sponsor !== undefined) {
    if (!isDid(input.sponsor)) throw new InvalidConfigError(`sponsor must be a did:icn DID, got ${JSON.stringify(input.sponsor)}`)
    out.sponsor = input.sponsor
  }
  return out
}

/**
 * The effective config: defaults, then `<dataDir>/config.json` (if present),
 * then `overrides` (command-line flags). Peers from the file and flags are merged.
 */
export async function loadConfig (dataDir: string, overrides: NodeConfigFile = {}): Promise<NodeConfig> {
  let fromFile: NodeConfigFile = {}
  const path = dataDirLayout(dataDir).config
  let text: string | undefined
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (text !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (cause) {
      throw new InvalidConfigError(`${path}: not valid JSON`, { cause })
    }
    fromFile = validateConfigFile(parsed)
  }
  const flags = validateConfigFile(overrides)
  const peers = [...new Set([...(fromFile.peers ?? []), ...(flags.peers ?? [])])]
  const config: NodeConfig = { ...DEFAULTS, ...fromFile, ...flags, peers, dataDir }
  if (config.maxPeers !== undefined && config.maxPeers < config.degree) {
    throw new InvalidConfigError(`maxPeers (${config.maxPeers}) must be at least degree (${config.degree})`)
  }
  return config
}
