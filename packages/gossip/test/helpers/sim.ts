// Shared set-up for simulated-network tests: deterministic keys, a cluster of
// gossip nodes whose peer ids are their DIDs, and set comparisons.
import { type IsMember, type KeyPair, didFromPublicKey, keyPairFromSeed, utf8 } from '@icn/identity'
import { ManualClock, SeededRng, SimNetwork, type LinkConditions, type SimEndpoint } from '@icn/testkit'
import { type Gossip, type GossipEntry, type GossipInit, type MessageTransport, createGossip } from '../../src/index.js'

export function keyOf (index: number): KeyPair {
  const seed = new Uint8Array(32)
  new DataView(seed.buffer).setUint32(0, index + 1)
  return keyPairFromSeed(seed)
}

/** `count` distinct DIDs that are nobody's: the first curve points among 32-byte strings counting up from `salt`. */
export function strangers (count: number, salt = 0): string[] {
  const dids: string[] = []
  for (let i = 1; dids.length < count; i++) {
    const key = new Uint8Array(32).fill(salt)
    new DataView(key.buffer).setUint32(0, i)
    try { dids.push(didFromPublicKey(key)) } catch { /* not a curve point: the next one */ }
  }
  return dids
}

export interface SimCluster {
  network: SimNetwork
  clock: ManualClock
  rng: SeededRng
  keys: KeyPair[]
  endpoints: SimEndpoint[]
  nodes: Gossip[]
  /** Every entry each node's subscription handler saw, by node index. */
  delivered: GossipEntry[][]
  ids: string[]
  close(): Promise<void>
}

export interface SimClusterInit {
  size: number
  seed: number
  topic?: string
  defaults?: Partial<LinkConditions>
  init?: (index: number) => GossipInit
  validator?: (entry: GossipEntry) => boolean
  /** Node `index`'s membership check (undefined: everyone). */
  isMember?: (index: number) => IsMember | undefined
  /** Wraps node `index`'s endpoint (e.g. to count what it sends). */
  transport?: (endpoint: SimEndpoint, index: number) => MessageTransport
}

/** `size` gossip nodes on one SimNetwork, each carrying `topic` (public) with an optional validator. */
export async function simCluster (options: SimClusterInit): Promise<SimCluster> {
  const topic = options.topic ?? 'test:topic'
  const network = new SimNetwork({ seed: options.seed, defaults: options.defaults })
  const rng = new SeededRng(options.seed ^ 0x5eed)
  const keys = Array.from({ length: options.size }, (_, i) => keyOf(i))
  const endpoints = keys.map((k) => network.addNode(k.did))
  const delivered: GossipEntry[][] = keys.map(() => [])
  const nodes: Gossip[] = []
  for (let i = 0; i < options.size; i++) {
    const random = rng.fork()
    const isMember = options.isMember?.(i)
    const node = await createGossip(
      {
        transport: options.transport?.(endpoints[i]!, i) ?? endpoints[i]!,
        clock: network.clock,
        keyPair: keys[i]!,
        random: () => random.float(),
        ...(isMember === undefined ? {} : { isMember })
      },
      options.init?.(i) ?? {}
    )
    node.createTopic(topic)
    if (options.validator !== undefined) node.setValidator(topic, options.validator)
    node.subscribe(topic, (entry) => { delivered[i]!.push(entry) })
    nodes.push(node)
  }
  return {
    network, clock: network.clock, rng, keys, endpoints, nodes, delivered, ids: keys.map((k) => k.did),
    close: async () => { for (const node of nodes) await node.close() }
  }
}

/** Sorted entry ids a node holds on `topic`. */
export function idSet (node: Gossip, topic = 'test:topic'): string[] {
  return node.entries(topic).map((e) => e.id).sort()
}

/** A unique payload: index, publisher and some padding so some payloads compress. */
export function payloadFor (n: number, publisher: number, size = 48): Uint8Array {
  const text = `entry-${n}-from-${publisher}-`.padEnd(size, 'x')
  return utf8(text)
}

/** A transport that records what is sent and lets a test deliver frames by hand. */
export interface CaptureTransport {
  transport: { readonly id: string, send(peer: string, bytes: Uint8Array): void, onMessage(h: (from: string, bytes: Uint8Array) => void | Promise<void>): () => void, peers(): string[] }
  sent: Array<{ to: string, bytes: Uint8Array }>
  deliver(from: string, bytes: Uint8Array): Promise<void>
  listening(): boolean
}

export function captureTransport (id: string, peers: string[] = []): CaptureTransport {
  let handler: ((from: string, bytes: Uint8Array) => void | Promise<void>) | undefined
  const sent: Array<{ to: string, bytes: Uint8Array }> = []
  return {
    transport: {
      id,
      send: (to, bytes) => { sent.push({ to, bytes }) },
      onMessage: (h) => { handler = h; return () => { handler = undefined } },
      peers: () => peers
    },
    sent,
    deliver: async (from, bytes) => { await handler?.(from, bytes) },
    listening: () => handler !== undefined
  }
}

export { ManualClock }
