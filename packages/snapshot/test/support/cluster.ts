import { type KeyPair, decode, encode, keyPairFromSeed } from '@icn/identity'
import { ManualClock, SeededRng, SimNetwork, type LinkConditions, type SimEndpoint } from '@icn/testkit'
import {
  type CompletedSnapshot, type MessageTransport, type SnapshotInit, type SnapshotNode, type SnapshotStore, type StateProvider,
  createSnapshotNode, decodeLocalState
} from '../../src/index.js'

/** Deterministic key pairs from a seed. */
export function keyPairs (count: number, seed: number): KeyPair[] {
  const rng = new SeededRng(seed)
  return Array.from({ length: count }, () => keyPairFromSeed(rng.bytes(32)))
}

/** A toy subsystem: a token balance. Its state is captured at call time (before any await). */
export class TokenAccount implements StateProvider {
  readonly name = 'tokens'
  constructor (public balance: number) {}
  async exportState (): Promise<Uint8Array> {
    return encode({ balance: this.balance })
  }

  async restoreState (state: Uint8Array): Promise<void> {
    const value = decode(state) as { balance?: unknown }
    if (typeof value.balance !== 'number') throw new TypeError('not a token state')
    this.balance = value.balance
  }
}

const SNAPSHOT_FRAME = 0
const APP_FRAME = 1

function framed (tag: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1)
  out[0] = tag
  out.set(bytes, 1)
  return out
}

/**
 * One FIFO link per peer pair shared by application traffic and snapshot
 * messages, the way a node multiplexes gossip and snapshot frames. Every
 * received frame is shown to `observe` before it is dispatched (as the node
 * wires gossip's ingress observer to `observeIncoming`).
 */
export function sharedLink (endpoint: SimEndpoint, observe: (from: string, frame: Uint8Array) => void): {
  snapshot: MessageTransport
  sendApp: (to: string, bytes: Uint8Array) => void
  onApp: (handler: (from: string, bytes: Uint8Array) => void) => void
} {
  const snapshotHandlers = new Set<(from: string, bytes: Uint8Array) => void | Promise<void>>()
  const appHandlers = new Set<(from: string, bytes: Uint8Array) => void>()
  endpoint.onMessage(async (from, frame) => {
    observe(from, frame)
    const body = frame.subarray(1)
    if (frame[0] === SNAPSHOT_FRAME) for (const h of snapshotHandlers) await h(from, body)
    else if (frame[0] === APP_FRAME) for (const h of appHandlers) h(from, body)
  })
  return {
    snapshot: {
      id: endpoint.id,
      send: (to, bytes) => { endpoint.send(to, framed(SNAPSHOT_FRAME, bytes)) },
      onMessage: (handler) => { snapshotHandlers.add(handler); return () => { snapshotHandlers.delete(handler) } },
      peers: () => endpoint.peers()
    },
    sendApp: (to, bytes) => { endpoint.send(to, framed(APP_FRAME, bytes)) },
    onApp: (handler) => { appHandlers.add(handler) }
  }
}

export interface TokenNode {
  readonly keyPair: KeyPair
  readonly did: string
  readonly account: TokenAccount
  readonly snap: SnapshotNode
  readonly sendTokens: (to: string, amount: number) => void
}

export interface TokenClusterInit {
  size: number
  seed: number
  initialBalance?: number
  config?: SnapshotInit
  links?: Partial<LinkConditions>
  /** trust[i](did) for node i; default: everyone trusts everyone fully. */
  trustOf?: (viewer: number, subject: string) => number
  stores?: Array<SnapshotStore | undefined>
}

export interface TokenCluster {
  readonly net: SimNetwork
  readonly clock: ManualClock
  readonly rng: SeededRng
  readonly nodes: TokenNode[]
  close: () => Promise<void>
}

/** N token nodes on a simulated FIFO network, each with a snapshot node on the shared link. */
export function createTokenCluster (init: TokenClusterInit): TokenCluster {
  const clock = new ManualClock()
  const net = new SimNetwork({ seed: init.seed, clock, defaults: init.links })
  const pairs = keyPairs(init.size, init.seed)
  const nodes = pairs.map((keyPair, index): TokenNode => {
    const account = new TokenAccount(init.initialBalance ?? 100)
    const endpoint = net.addNode(keyPair.did)
    let snap: SnapshotNode | undefined
    const link = sharedLink(endpoint, (from, frame) => { snap?.observeIncoming(from, frame) })
    snap = createSnapshotNode({
      keyPair,
      transport: link.snapshot,
      clock,
      trustOf: (did) => init.trustOf?.(index, did) ?? 1,
      providers: [account],
      store: init.stores?.[index]
    }, init.config)
    link.onApp((_from, bytes) => { account.balance += (decode(bytes) as { amount: number }).amount })
    return {
      keyPair,
      did: keyPair.did,
      account,
      snap,
      sendTokens: (to, amount) => {
        account.balance -= amount
        link.sendApp(to, encode({ amount }))
      }
    }
  })
  return {
    net,
    clock,
    rng: net.rng.fork(),
    nodes,
    close: async () => { for (const n of nodes) await n.snap.close() }
  }
}

/** Each node, on its own random schedule until `until`, sends a random part of its balance to a random peer. */
export function startTraffic (cluster: TokenCluster, until: number): void {
  const { clock, rng, nodes } = cluster
  for (const node of nodes) {
    const tick = (): void => {
      if (clock.now() >= until) return
      const amount = rng.int(0, Math.min(node.account.balance, 10))
      const peer = rng.pick(nodes.filter((n) => n !== node))
      if (amount > 0) node.sendTokens(peer.did, amount)
      clock.setTimeout(tick, rng.int(1, 8))
    }
    clock.setTimeout(tick, rng.int(0, 5))
  }
}

/** Balance recorded in a node's local state. */
export function recordedBalance (record: CompletedSnapshot): number {
  const tokens = decodeLocalState(record.localState).get('tokens')
  if (tokens === undefined) throw new Error('no token state recorded')
  return (decode(tokens) as { balance: number }).balance
}

/** Tokens in flight recorded in a node's channel state (application frames only), and how many frames. */
export function recordedInFlight (record: CompletedSnapshot): { tokens: number, frames: number } {
  const { channels } = decode(record.channelState) as { channels: Record<string, Uint8Array[]> }
  let tokens = 0
  let frames = 0
  for (const list of Object.values(channels)) {
    for (const frame of list) {
      if (frame[0] !== APP_FRAME) throw new Error(`channel state holds a non-application frame (tag ${String(frame[0])})`)
      tokens += (decode(frame.subarray(1)) as { amount: number }).amount
      frames++
    }
  }
  return { tokens, frames }
}
