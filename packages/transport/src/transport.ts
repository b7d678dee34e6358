import './polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type Did, type KeyPair, type Clock, type CancelTimer, didFromPublicKey, publicKeyFromDid, systemClock } from '@icn/identity'
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { identify } from '@libp2p/identify'
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { isNetworkAddress, isPrivate } from '@libp2p/utils'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import { createLibp2p, type Libp2p } from 'libp2p'
import { FrameTooLargeError, TransportClosedError } from './errors.js'
import { type TransportLogger, silentLogger } from './logger.js'

/**
 * The ICN protocol: one long-lived, length-prefixed stream per peer pair. A node speaks it under its
 * network's prefix (`/icn/<network id>`), so nodes of two networks never exchange a frame.
 */
export const GOSSIP_PROTOCOL = '/icn/gossip/1.0.0'

/** The protocol ids of one network: `<prefix>/gossip/1.0.0` and `<prefix>/admission/1.0.0`. */
export function networkProtocols (prefix: string): { gossip: string, admission: string } {
  return { gossip: `${prefix}/gossip/1.0.0`, admission: `${prefix}/admission/1.0.0` }
}

/** The protocol prefix of the network whose genesis charter hashes to `networkId`. */
export function networkPrefix (networkId: string): string {
  return `/icn/${networkId}`
}

/** Largest admission request or answer (an invitation's join request, the genesis charter). */
export const MAX_ADMISSION_BYTES = 256 * 1024

/** How long a hang-up waits for a graceful close before aborting the connection (libp2p's own default). */
const HANG_UP_TIMEOUT_MS = 1000

/**
 * The errors `it-length-prefixed` throws for a length prefix that breaks the framing rules
 * (negative, over `maxDataLength`, or a varint longer than any length), by `name` and by `code`.
 * Its `UnexpectedEOFError` is not one: a stream that ends inside a frame is a connection that
 * closed mid-write (a peer that crashed), like any other stream end.
 */
const FRAMING_ERROR_NAMES = new Set(['InvalidMessageLengthError', 'InvalidDataLengthError', 'InvalidDataLengthLengthError'])
const FRAMING_ERROR_CODES = new Set(['ERR_INVALID_MSG_LENGTH', 'ERR_MSG_DATA_TOO_LONG', 'ERR_MSG_LENGTH_TOO_LONG'])

/** True for a framing error of `it-length-prefixed` (a protocol violation by the peer). */
export function isFramingError (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { name, code } = err as { name?: unknown, code?: unknown }
  return (typeof name === 'string' && FRAMING_ERROR_NAMES.has(name)) || (typeof code === 'string' && FRAMING_ERROR_CODES.has(code))
}

type StreamHandler = Parameters<Libp2p['handle']>[1]
type Stream = Parameters<StreamHandler>[0]
type Connection = Parameters<StreamHandler>[1]
type PeerId = Connection['remotePeer']

/** Receives one frame from a peer (by DID); the transport awaits it before the next frame from any peer stream. */
export type FrameHandler = (from: string, bytes: Uint8Array) => void | Promise<void>

/** The transport shape gossip, history sync and snapshot consume; peer ids are DIDs. */
export interface MessageTransport {
  readonly id: string
  send(peer: string, bytes: Uint8Array): void
  onMessage(handler: FrameHandler): () => void
  peers(): string[]
}

/**
 * A peer joined (`connected`) or left (`disconnected`) the transport's `peers()`, or its ICN stream moved to
 * another connection (`moved`: a relayed link replaced by a direct one, shown by `connectedPeers()`).
 */
export type PeerChangeListener = (did: string, change: 'connected' | 'disconnected' | 'moved') => void

/** Counters exposed in `status`. */
export interface TransportStats {
  framesSent: number
  framesReceived: number
  /** Frames not sent: no stream to that peer, or its write buffer was full. */
  framesDropped: number
  /**
   * Peers cut off for breaking the protocol: a frame length prefix that is oversized or
   * malformed, or a non-ed25519 key. A stream the peer resets or aborts, or whose
   * connection closes (the peer hung up, crashed or was killed), is a normal end, not counted.
   */
  protocolViolations: number
  dials: number
  dialFailures: number
  /** Connections refused after the handshake (which proved the remote DID) because admission said no, by direction. */
  refusedInbound: number
  refusedOutbound: number
  /** ICN streams refused (or not opened) to a connected DID that is not admitted to them (an invitee before it is a member). */
  refusedStreams: number
  /** Peers that joined or left `peers()` (each `onPeerChange` event): how often links churn. */
  peerChanges: number
  /** Peers hung up because nothing, not even a heartbeat, came from them for `silenceTimeoutMs`. */
  silentHangUps: number
}

/**
 * Who may do what, asked after the noise handshake proved the remote DID. `connect`: may hold a
 * connection at all (a member, or an invitee talking to its inviter); `stream`: may exchange ICN
 * frames (members only). `refused` hears every refusal, for counters and cool-downs.
 */
export interface PeerAdmission {
  connect(did: string): boolean
  stream(did: string): boolean
  refused?(did: string, what: 'inbound' | 'outbound' | 'stream'): void
}

/** Serves one admission request (bytes in, bytes out) from a connected DID that `connect` admitted. */
export type AdmissionHandler = (did: string, request: Uint8Array) => Promise<Uint8Array>

/** A peer with an open ICN stream. */
export interface ConnectedPeer {
  did: string
  peerId: string
  remoteAddr: string
  /** How the ICN stream reaches the peer: over a direct connection, or through a member's circuit relay. */
  via: 'direct' | 'relayed'
}

/** Whether this node can be reached, as far as it knows. */
export interface Reachability {
  /** Own addresses a peer dialled back and confirmed (AutoNAT); public addresses only. */
  verified: string[]
  /** Circuit addresses through members' relays where this node holds a reservation. */
  relayed: string[]
  /** This node serves as a circuit relay for members. */
  relay: boolean
}

export interface Libp2pTransportComponents {
  keyPair: KeyPair
  /** @default silentLogger */
  logger?: TransportLogger
  /** @default systemClock */
  clock?: Clock
  /** Who may connect and exchange frames. @default everyone (an open transport: tests and tools) */
  admission?: PeerAdmission
  /**
   * Hole punching over WebRTC, with `natTraversal`: `webRTC({ rtcConfiguration: { iceServers } })` from
   * `@libp2p/webrtc`, its STUN servers telling each side its public address. The node then also listens on
   * `/webrtc`: a member reaching it through a relay can open a direct WebRTC connection, signalled over the
   * relayed one, wherever both NATs let the ICE checks through; the relayed connection is then closed.
   * A component rather than a dependency: it loads a native module (node-datachannel). @default none
   */
  webRTC?: TransportFactory
}

/** A libp2p transport, as `createLibp2p` takes it (`tcp()`, `webRTC(…)`). */
export type TransportFactory = NonNullable<NonNullable<Parameters<typeof createLibp2p>[0]>['transports']>[number]

export interface Libp2pTransportInit {
  /** @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** Protocol prefix of the network (`networkPrefix(networkId)`). @default '/icn' (GOSSIP_PROTOCOL) */
  protocolPrefix?: string
  /** Connections still in their handshake, from all sources together (libp2p's `maxIncomingPendingConnections`). @default 32 */
  maxPendingInbound?: number
  /** New inbound connections per second from one host (libp2p's `inboundConnectionThreshold`). @default 5 */
  maxInboundPerHostPerSecond?: number
  /** Peers dialled at start and redialled with backoff whenever disconnected. @default [] */
  peers?: string[]
  /** Frames larger than this are refused (sender: typed error; receiver: the peer is disconnected). @default 4194304 */
  maxFrameBytes?: number
  /** Bytes queued on one peer stream before further frames to it are dropped. @default 16777216 */
  maxQueuedBytes?: number
  /** First redial delay; doubles per failure up to `redialMaxMs`. @default 250 */
  redialMinMs?: number
  /** @default 10000 */
  redialMaxMs?: number
  /**
   * An empty frame is sent on every peer stream this often, and a peer not heard from (any frame) for
   * `silenceTimeoutMs` is hung up (and redialled): the liveness check of a quiet link, which costs one
   * frame per peer per period instead of libp2p's ping stream per connection every 10 s. @default 15000
   */
  heartbeatMs?: number
  /** @default 3 × heartbeatMs */
  silenceTimeoutMs?: number
  /**
   * Failed attempts to open the ICN stream over a live connection (retried with the redial backoff)
   * before this node hangs up: the peer speaks libp2p but does not serve /icn/gossip/1.0.0. @default 4
   */
  maxStreamOpenAttempts?: number
  /**
   * Serve as a circuit relay (v2) for peers behind NAT. Only admitted peers can connect, and the gater
   * also refuses reservations and relayed connections for anyone `connect` does not admit, so it relays
   * for members only; relayed connections carry no data or time limit (members are trusted with it).
   * @default false
   */
  relay?: false | { maxReservations?: number }
  /**
   * Reach and be reached through members' relays when behind NAT: listen on `/p2p-circuit` (a reservation
   * on a connected peer that serves as relay), and try to replace a relayed connection by a direct one
   * (DCUtR hole punching). AutoNAT (peers dial back this node's public addresses) runs either way. @default true
   */
  natTraversal?: boolean
}

/** The node's libp2p transport: `MessageTransport` plus connection management. */
export interface Libp2pTransport extends MessageTransport {
  readonly id: Did
  readonly peerId: string
  readonly stats: TransportStats
  /** Listen addresses, each ending in `/p2p/<peer id>`. */
  multiaddrs(): string[]
  connectedPeers(): ConnectedPeer[]
  /** Verified own addresses, relay reservations held, and whether this node serves as relay. */
  reachability(): Reachability
  /** Calls `listener` when this node's own addresses change (a relay reservation made or lost, an address verified). */
  onAddressesChange(listener: () => void): () => void
  /** Adds a peer to dial now and keep redialling. */
  addPeer(addr: string): void
  /** Stops dialling `addr` (an address a member no longer announces); a connection already open stays. True if it was dialled. */
  removePeer(addr: string): boolean
  /** Addresses being dialled and redialled (`peers`, `addPeer`), sorted. */
  dialTargets(): string[]
  /** The dial targets that reach `did` (named in the address, or learned when a dial connected), sorted. */
  dialTargetsOf(did: string): string[]
  /** Waits until an ICN stream to `did` is open, or rejects after `timeoutMs`. */
  waitForPeer(did: string, timeoutMs?: number): Promise<void>
  /**
   * Calls `listener` whenever a peer joins or leaves `peers()` (an ICN stream
   * opened to a peer that had none, or its last stream closed), or its stream moves
   * to another connection, after the change. Returns the unsubscribe function.
   */
  onPeerChange(listener: PeerChangeListener): () => void
  /** Drops every connection to `did` (a misbehaving peer); configured peers are redialled later. */
  disconnect(did: string, reason: string): Promise<void>
  /** Cuts the link to `did` and refuses it (dials both ways) for `ms`; afterwards redials heal it. */
  block(did: string, ms: number): Promise<void>
  /**
   * Applies a membership change: drops the streams and connections admission no longer allows (a removed
   * or frozen member), and opens the ICN stream over connections it now allows (an invitee just admitted).
   */
  refreshAdmission(): Promise<void>
  /** Serves the admission protocol (one request, one answer per stream) to DIDs that `connect` admits. */
  serveAdmission(handler: AdmissionHandler): Promise<void>
  /**
   * Runs `task` while no frame is delivered: waits until the handlers of frames
   * being delivered have returned, then holds every further frame (it waits in its
   * peer stream, order kept) until `task` settles. Nothing received can interleave
   * with `task` (e.g. a restore). Calls run one at a time.
   */
  withDeliveryPaused<T>(task: () => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** Everyone may connect and exchange frames. */
export const OPEN_ADMISSION: PeerAdmission = { connect: () => true, stream: () => true }

/** Reads one length-prefixed request from `stream`, writes the answer and closes it. */
async function answerOnce (stream: Stream, answer: (request: Uint8Array) => Promise<Uint8Array>, logger: TransportLogger): Promise<void> {
  try {
    for await (const frame of lp.decode(stream, { maxDataLength: MAX_ADMISSION_BYTES })) {
      const reply = await answer(frame.subarray())
      stream.send(lp.encode.single(reply))
      await stream.close()
      return
    }
  } catch (err) {
    logger.debug({ err: (err as Error).message }, 'admission stream failed')
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

/**
 * The joining side of the admission protocol: dials `addrs` as a throw-away libp2p node whose identity is
 * `seed` (an invitation's key: the inviter's gater lets that key through), sends `request`, returns the
 * answer and stops. Rejects when no address answers within `timeoutMs`.
 */
export async function requestAdmission (addrs: readonly string[], seed: Uint8Array, protocolPrefix: string, request: Uint8Array, timeoutMs = 15_000): Promise<Uint8Array> {
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed)
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  const errors: string[] = []
  try {
    for (const addr of addrs) {
      const signal = AbortSignal.timeout(timeoutMs)
      try {
        const stream = await node.dialProtocol(multiaddr(addr), networkProtocols(protocolPrefix).admission, { signal })
        stream.send(lp.encode.single(request))
        for await (const frame of lp.decode(stream, { maxDataLength: MAX_ADMISSION_BYTES })) {
          await stream.close().catch(() => {})
          return frame.subarray()
        }
        errors.push(`${addr}: the inviter closed the stream without an answer`)
      } catch (err) {
        const e = err as Error
        errors.push(`${addr}: ${e.message !== undefined && e.message !== '' ? e.message : e.name ?? String(err)}`)
      }
    }
  } finally {
    for (const connection of node.getConnections()) connection.abort(new Error('admission done'))
    await node.stop()
  }
  throw new Error(errors.join('; '))
}

/** The DID of an ed25519 libp2p peer id, or undefined for other key types. */
export function didOfPeerId (peerId: PeerId | string): Did | undefined {
  const id = typeof peerId === 'string' ? peerIdFromString(peerId) : peerId
  if (id.type !== 'Ed25519') return undefined
  return didFromPublicKey(id.publicKey.raw)
}

/** The libp2p peer id (string form) of a `did:icn` DID. */
export function peerIdOfDid (did: string): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKeyFromDid(did))).toString()
}

interface PeerStream {
  did: string
  peerId: PeerId
  stream: Stream
  remoteAddr: string
  /** This node opened it (the peer accepted it), when, and whether a frame has come back on it since. */
  outbound: boolean
  openedAt: number
  heardFrom: boolean
  /** When the last frame (a heartbeat included) arrived on it, or it opened. */
  lastHeardAt: number
}

/** An outbound stream the peer ends this soon, before sending a frame, was refused: retried with the open backoff. */
const REFUSED_STREAM_MS = 5000

interface DialTarget {
  addr: Multiaddr
  did: string | undefined
  attempt: number
  timer: CancelTimer | undefined
  dialing: boolean
  /** `removePeer` dropped it: a dial still under way is not followed by another. */
  removed: boolean
}

class Libp2pTransportImpl implements Libp2pTransport {
  readonly id: Did
  readonly peerId: string
  readonly stats: TransportStats = { framesSent: 0, framesReceived: 0, framesDropped: 0, protocolViolations: 0, dials: 0, dialFailures: 0, refusedInbound: 0, refusedOutbound: 0, refusedStreams: 0, peerChanges: 0, silentHangUps: 0 }
  private readonly protocols: { gossip: string, admission: string }
  private readonly streams = new Map<string, PeerStream>()
  private readonly handlers = new Set<FrameHandler>()
  private readonly peerListeners = new Set<PeerChangeListener>()
  private readonly targets = new Map<string, DialTarget>()
  private readonly waiters = new Set<{ did: string, resolve: () => void, reject: (err: Error) => void }>()
  private readonly opening = new Set<string>()
  /** Failed ICN stream opens per peer DID since its last open stream. */
  private readonly openFailures = new Map<string, number>()
  private readonly tasks = new Set<Promise<void>>()
  private heartbeat: CancelTimer | undefined
  private closed = false
  /** Aborted by `close()`: a hang-up still waiting for a graceful close then aborts its connection at once. */
  private readonly shutdown = new AbortController()
  /** Set while `withDeliveryPaused` runs (or waits to run); settles when it ends. */
  private paused: Promise<void> | undefined
  /** Frames whose handlers are running, and who waits for that count to reach 0. */
  private delivering = 0
  private onDelivered: (() => void) | undefined
  /** DIDs refused until a clock time (`block`); consulted by the libp2p connection gater. */
  readonly blockedUntil: Map<string, number>
  /** One-shot timers (unblock, stream-open retry, `waitForPeer` deadlines); `close()` cancels those still pending. */
  private readonly timers = new Set<CancelTimer>()

  constructor (
    private readonly node: Libp2p,
    private readonly keyPair: KeyPair,
    private readonly logger: TransportLogger,
    private readonly clock: Clock,
    private readonly settings: Required<Omit<Libp2pTransportInit, 'listen' | 'peers' | 'protocolPrefix' | 'maxPendingInbound' | 'maxInboundPerHostPerSecond' | 'relay' | 'natTraversal'>>,
    blockedUntil: Map<string, number>,
    private readonly admission: PeerAdmission,
    protocolPrefix: string,
    private readonly addresses: AddressSource,
    private readonly relayServer: boolean
  ) {
    this.blockedUntil = blockedUntil
    this.protocols = networkProtocols(protocolPrefix)
    this.id = keyPair.did
    this.peerId = node.peerId.toString()
  }

  async start (peers: string[]): Promise<void> {
    await this.node.handle(this.protocols.gossip, (stream, connection) => { this.attach(stream, connection) }, { maxInboundStreams: 2 })
    this.node.addEventListener('peer:connect', (event) => { this.onConnect(event.detail) })
    this.node.addEventListener('peer:disconnect', (event) => { this.onDisconnect(event.detail) })
    this.node.addEventListener('connection:open', (event) => { this.preferDirect(event.detail) })
    for (const addr of peers) this.addPeer(addr)
    this.scheduleHeartbeat()
  }

  multiaddrs (): string[] {
    return this.ownAddresses().map((a) => a.addr)
  }

  peers (): string[] {
    return [...this.streams.keys()].sort()
  }

  connectedPeers (): ConnectedPeer[] {
    return [...this.streams.values()]
      .map((s) => ({ did: s.did, peerId: s.peerId.toString(), remoteAddr: s.remoteAddr, via: isRelayed(s.remoteAddr) ? 'relayed' as const : 'direct' as const }))
      .sort((a, b) => a.did < b.did ? -1 : a.did > b.did ? 1 : 0)
  }

  reachability (): Reachability {
    const own = this.ownAddresses()
    return {
      verified: own.filter((a) => a.verified && !isCircuit(a.addr) && isNetworkAddress(a.multiaddr) && !isPrivate(a.multiaddr)).map((a) => a.addr),
      relayed: own.filter((a) => isRelayed(a.addr)).map((a) => a.addr),
      relay: this.relayServer
    }
  }

  onAddressesChange (listener: () => void): () => void {
    const handler = (): void => { listener() }
    this.node.addEventListener('self:peer:update', handler)
    return () => { this.node.removeEventListener('self:peer:update', handler) }
  }

  /**
   * Every address libp2p holds for this node, each ending in its `/p2p/<peer id>`: listen and circuit
   * addresses whether or not a peer has confirmed them yet (a member's record is a list of hints to try),
   * observed addresses only once confirmed.
   */
  private ownAddresses (): Array<{ addr: string, multiaddr: Multiaddr, verified: boolean }> {
    const suffix = `/p2p/${this.peerId}`
    const seen = new Set<string>()
    const out: Array<{ addr: string, multiaddr: Multiaddr, verified: boolean }> = []
    for (const a of this.addresses.getAddressesWithMetadata()) {
      if (a.type === 'observed' && !a.verified) continue
      const text = a.multiaddr.toString()
      const addr = text.endsWith(suffix) ? text : `${text}${suffix}`
      if (seen.has(addr)) continue
      seen.add(addr)
      out.push({ addr, multiaddr: a.multiaddr, verified: a.verified })
    }
    return out
  }

  onMessage (handler: FrameHandler): () => void {
    this.handlers.add(handler)
    return () => { this.handlers.delete(handler) }
  }

  send (peer: string, bytes: Uint8Array): void {
    if (this.closed) throw new TransportClosedError()
    if (bytes.length > this.settings.maxFrameBytes) throw new FrameTooLargeError(bytes.length, this.settings.maxFrameBytes)
    const entry = this.streams.get(peer)
    if (entry === undefined || entry.stream.status !== 'open' || entry.stream.writeBufferLength > this.settings.maxQueuedBytes) {
      this.stats.framesDropped++
      return
    }
    try {
      entry.stream.send(lp.encode.single(bytes))
      this.stats.framesSent++
    } catch (err) {
      this.stats.framesDropped++
      this.logger.debug({ peer, err: (err as Error).message }, 'send failed')
    }
  }

  addPeer (addr: string): void {
    if (this.closed) throw new TransportClosedError()
    const ma = multiaddr(addr)
    const peerIdText = ma.getComponents().find((c) => c.name === 'p2p')?.value
    const key = ma.toString()
    if (this.targets.has(key)) return
    const target: DialTarget = { addr: ma, did: peerIdText === undefined ? undefined : didOfPeerId(peerIdText), attempt: 0, timer: undefined, dialing: false, removed: false }
    this.targets.set(key, target)
    this.dial(target)
  }

  removePeer (addr: string): boolean {
    const key = multiaddr(addr).toString()
    const target = this.targets.get(key)
    if (target === undefined) return false
    target.timer?.()
    target.timer = undefined
    target.removed = true
    this.targets.delete(key)
    return true
  }

  dialTargets (): string[] {
    return [...this.targets.keys()].sort()
  }

  dialTargetsOf (did: string): string[] {
    return [...this.targets].filter(([, target]) => target.did === did).map(([key]) => key).sort()
  }

  onPeerChange (listener: PeerChangeListener): () => void {
    this.peerListeners.add(listener)
    return () => { this.peerListeners.delete(listener) }
  }

  /** Removes `did`'s stream entry (if it is still `entry`, when given) and tells the listeners. */
  private dropStream (did: string, entry?: PeerStream): PeerStream | undefined {
    const current = this.streams.get(did)
    if (current === undefined || (entry !== undefined && current !== entry)) return undefined
    this.streams.delete(did)
    this.peerChanged(did, 'disconnected')
    return current
  }

  private peerChanged (did: string, change: 'connected' | 'disconnected'): void {
    this.stats.peerChanges++
    this.notifyPeerListeners(did, change)
  }

  private notifyPeerListeners (did: string, change: 'connected' | 'disconnected' | 'moved'): void {
    for (const listener of [...this.peerListeners]) {
      try { listener(did, change) } catch (err) { this.logger.warn({ peer: did, err: (err as Error).message }, 'peer change listener failed') }
    }
  }

  async waitForPeer (did: string, timeoutMs = 10_000): Promise<void> {
    if (this.closed) throw new TransportClosedError()
    if (this.streams.has(did)) return
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        did,
        resolve: () => { cancel(); resolve() },
        reject: (err: Error) => { cancel(); reject(err) }
      }
      const cancel = this.later(() => {
        this.waiters.delete(waiter)
        reject(new Error(`no ICN stream to ${did} after ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.add(waiter)
    })
  }

  async disconnect (did: string, reason: string): Promise<void> {
    this.logger.info({ peer: did, reason }, 'disconnecting peer')
    const entry = this.dropStream(did)
    if (entry !== undefined) entry.stream.abort(new Error(reason))
    const peerId = entry?.peerId ?? peerIdFromString(peerIdOfDid(did))
    await this.hangUp(peerId)
  }

  async block (did: string, ms: number): Promise<void> {
    if (this.closed) throw new TransportClosedError()
    this.blockedUntil.set(did, this.clock.now() + ms)
    await this.disconnect(did, `link blocked for ${ms} ms`)
    this.later(() => {
      this.blockedUntil.delete(did)
      for (const target of this.targets.values()) {
        if (target.did === did) { target.timer?.(); target.timer = undefined; target.attempt = 0; this.dial(target) }
      }
    }, ms)
  }

  async refreshAdmission (): Promise<void> {
    if (this.closed) return
    const hangUps: Array<Promise<void>> = []
    for (const entry of [...this.streams.values()]) {
      if (this.admission.stream(entry.did)) continue
      this.admission.refused?.(entry.did, 'stream')
      this.stats.refusedStreams++
      hangUps.push(this.disconnect(entry.did, 'no longer a member'))
    }
    for (const connection of this.node.getConnections()) {
      const did = didOfPeerId(connection.remotePeer)
      if (did === undefined) continue
      if (!this.admission.connect(did)) {
        if (!this.streams.has(did)) hangUps.push(this.hangUp(connection.remotePeer))
      } else if (this.admission.stream(did) && !this.streams.has(did) && connection.status === 'open') {
        // Admitted just now: this node opens the stream whichever DID is smaller, since the peer (an invitee
        // whose governance has not caught up) may have given up opening it after being refused.
        this.openFailures.delete(did)
        this.openStream(connection.remotePeer, did)
      }
    }
    await Promise.all(hangUps)
  }

  async serveAdmission (handler: AdmissionHandler): Promise<void> {
    await this.node.handle(this.protocols.admission, (stream, connection) => {
      const did = didOfPeerId(connection.remotePeer)
      if (did === undefined || !this.admission.connect(did)) {
        stream.abort(new Error('not admitted'))
        return
      }
      this.track(answerOnce(stream, async (request) => await handler(did, request), this.logger))
    }, { maxInboundStreams: 1 })
  }

  async withDeliveryPaused<T>(task: () => Promise<T>): Promise<T> {
    while (this.paused !== undefined) await this.paused
    let resume = (): void => {}
    this.paused = new Promise<void>((resolve) => { resume = resolve })
    try {
      if (this.delivering > 0) await new Promise<void>((resolve) => { this.onDelivered = resolve })
      return await task()
    } finally {
      this.paused = undefined
      resume()
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.heartbeat?.()
    for (const cancel of this.timers) cancel()
    this.timers.clear()
    for (const waiter of this.waiters) waiter.reject(new TransportClosedError())
    this.waiters.clear()
    for (const target of this.targets.values()) target.timer?.()
    for (const entry of this.streams.values()) entry.stream.abort(new Error('transport closing'))
    const dropped = [...this.streams.keys()]
    this.streams.clear()
    for (const did of dropped) this.peerChanged(did, 'disconnected')
    this.shutdown.abort(new TransportClosedError())
    // libp2p's stop closes each connection gracefully and waits up to 500 ms for its close event; when
    // both ends stop at once that event sometimes never comes and every such stop took ~510 ms. The ICN
    // streams are already aborted above, so nothing of ours is in flight: abort the connections too.
    for (const connection of this.node.getConnections()) connection.abort(new TransportClosedError())
    await this.node.stop()
    await Promise.allSettled([...this.tasks])
  }

  /**
   * Closes every connection to `peerId`. libp2p's graceful close waits up to its
   * close timeout, an `AbortSignal.timeout` that does not keep the process alive:
   * a hang-up still pending when `close()` runs would never settle (and the
   * process would end with that close unfinished), so `close()` aborts it instead.
   */
  private async hangUp (peerId: PeerId): Promise<void> {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(HANG_UP_TIMEOUT_MS)])
    await this.node.hangUp(peerId, { signal }).catch(() => {})
  }

  /** A one-shot clock timer that `close()` cancels if it has not fired; returns its cancel function. */
  private later (fn: () => void, ms: number): CancelTimer {
    if (this.closed) return () => {}
    const cancel = this.clock.setTimeout(() => {
      this.timers.delete(cancel)
      fn()
    }, ms)
    const cancelTracked = (): void => {
      this.timers.delete(cancel)
      cancel()
    }
    this.timers.add(cancel)
    return cancelTracked
  }

  private track (task: Promise<void>): void {
    this.tasks.add(task)
    void task.finally(() => this.tasks.delete(task))
  }

  private scheduleHeartbeat (): void {
    this.heartbeat = this.clock.setTimeout(() => {
      if (this.closed) return
      const now = this.clock.now()
      for (const entry of [...this.streams.values()]) {
        if (now - entry.lastHeardAt > this.settings.silenceTimeoutMs) {
          // No frame, not even a heartbeat, for several periods: the link is dead (a half-open TCP
          // connection after a partition or a crashed host). Hung up; the redial logic takes over.
          this.stats.silentHangUps++
          this.track(this.disconnect(entry.did, `silent for ${now - entry.lastHeardAt} ms`))
          continue
        }
        try { entry.stream.send(lp.encode.single(new Uint8Array(0))) } catch { /* a dead stream is cleaned up by its reader */ }
      }
      this.scheduleHeartbeat()
    }, this.settings.heartbeatMs)
  }

  private dial (target: DialTarget): void {
    if (this.closed || target.dialing) return
    target.timer = undefined
    target.dialing = true
    this.stats.dials++
    this.track((async () => {
      try {
        const connection = await this.node.dial(target.addr)
        target.did = didOfPeerId(connection.remotePeer)
        target.attempt = 0
        this.onConnect(connection.remotePeer)
      } catch (err) {
        this.stats.dialFailures++
        this.logger.debug({ addr: target.addr.toString(), err: (err as Error).message }, 'dial failed')
        target.dialing = false
        this.scheduleRedial(target)
        return
      }
      target.dialing = false
    })())
  }

  /** Delay before retry number `attempt` (from 0): `redialMinMs`, doubling, at most `redialMaxMs`. */
  private backoff (attempt: number): number {
    return Math.min(this.settings.redialMaxMs, this.settings.redialMinMs * 2 ** attempt)
  }

  private scheduleRedial (target: DialTarget): void {
    if (this.closed || target.removed || target.timer !== undefined || target.dialing) return
    const delay = this.backoff(target.attempt)
    target.attempt++
    target.timer = this.clock.setTimeout(() => { this.dial(target) }, delay)
  }

  private onConnect (peerId: PeerId): void {
    if (this.closed) return
    const did = didOfPeerId(peerId)
    if (did === undefined) {
      this.stats.protocolViolations++
      this.track(this.hangUp(peerId))
      return
    }
    // Only members exchange frames: an invitee stays connected (to its inviter) without a stream.
    if (!this.admission.stream(did)) return
    // Exactly one side opens the stream, so a pair never ends up with two: the smaller DID.
    if (this.id < did && !this.streams.has(did)) this.openStream(peerId, did)
  }

  /**
   * A direct connection to a peer replaces its relayed ones, as DCUtR does: a WebRTC connection signalled
   * through a relay, or a dial that reached the peer's own address. The smaller DID, which owns the pair's
   * ICN stream, opens a new one over the direct connection (the peer's side replaces its stream with it,
   * so the link never drops), then closes the relayed connections.
   */
  private preferDirect (connection: Connection): void {
    if (this.closed || isRelayed(connection.remoteAddr.toString())) return
    const did = didOfPeerId(connection.remotePeer)
    if (did === undefined || did < this.id || !this.admission.stream(did)) return
    const relayed = this.node.getConnections(connection.remotePeer).filter((c) => c !== connection && isRelayed(c.remoteAddr.toString()))
    if (relayed.length === 0) return
    this.track((async () => {
      try {
        const stream = await connection.newStream(this.protocols.gossip)
        this.register(stream, connection.remotePeer, did, connection.remoteAddr.toString(), true)
      } catch (err) {
        this.logger.debug({ peer: did, err: (err as Error).message }, 'no ICN stream over the direct connection: the link stays relayed')
        return
      }
      this.logger.info({ peer: did, direct: connection.remoteAddr.toString() }, 'direct connection: closing the relayed one')
      await Promise.all(relayed.map(async (other) => { await other.close().catch(() => {}) }))
    })())
  }

  private onDisconnect (peerId: PeerId): void {
    const did = didOfPeerId(peerId)
    if (did === undefined) return
    this.openFailures.delete(did)
    for (const target of this.targets.values()) {
      if (target.did === did) this.scheduleRedial(target)
    }
  }

  private openStream (peerId: PeerId, did: string): void {
    if (this.opening.has(did)) return
    this.opening.add(did)
    this.track((async () => {
      try {
        const stream = await this.node.dialProtocol(peerId, this.protocols.gossip)
        const connection = this.node.getConnections(peerId)[0]
        this.register(stream, peerId, did, connection?.remoteAddr.toString() ?? '', true)
      } catch (err) {
        this.logger.debug({ peer: did, err: (err as Error).message }, 'opening ICN stream failed')
        this.openFailed(peerId, did)
      } finally {
        this.opening.delete(did)
      }
    })())
  }

  /** An ICN stream to `did` could not be opened (or was refused at once): retry with backoff, then hang up. */
  private openFailed (peerId: PeerId, did: string, open: (peerId: PeerId) => void = (p) => { this.onConnect(p) }): void {
    if (this.closed || !this.hasOpenConnection(peerId)) return
    const failures = (this.openFailures.get(did) ?? 0) + 1
    if (failures >= this.settings.maxStreamOpenAttempts) {
      // Retrying for as long as the connection lasts would poll a peer that never serves us.
      this.openFailures.delete(did)
      this.logger.info({ peer: did, attempts: failures }, `peer does not serve ${this.protocols.gossip} to this node: hanging up`)
      this.track(this.hangUp(peerId))
    } else {
      this.openFailures.set(did, failures)
      // Over the connection that is still open then: `dialProtocol` would otherwise dial a peer that hung up.
      this.later(() => { if (!this.streams.has(did) && this.hasOpenConnection(peerId)) open(peerId) }, this.backoff(failures - 1))
    }
  }

  private attach (stream: Stream, connection: Connection): void {
    const did = didOfPeerId(connection.remotePeer)
    if (did === undefined || this.closed) {
      this.stats.protocolViolations++
      stream.abort(new Error('ICN peers must use ed25519 keys'))
      return
    }
    if (!this.admission.stream(did)) {
      this.stats.refusedStreams++
      this.admission.refused?.(did, 'stream')
      stream.abort(new Error('not a member'))
      return
    }
    this.register(stream, connection.remotePeer, did, connection.remoteAddr.toString(), false)
  }

  private register (stream: Stream, peerId: PeerId, did: string, remoteAddr: string, outbound: boolean): void {
    if (this.closed) {
      stream.abort(new Error('transport closing'))
      return
    }
    const previous = this.streams.get(did)
    if (previous !== undefined && previous.stream !== stream) previous.stream.abort(new Error('replaced by a newer stream'))
    const entry: PeerStream = { did, peerId, stream, remoteAddr, outbound, openedAt: this.clock.now(), heardFrom: false, lastHeardAt: this.clock.now() }
    this.streams.set(did, entry)
    // A stream this node opened counts as a success once the peer has answered on it (see readLoop).
    if (!outbound) this.openFailures.delete(did)
    this.logger.info({ peer: did, remoteAddr }, 'peer stream open')
    if (previous === undefined) this.peerChanged(did, 'connected')
    else if (previous.remoteAddr !== remoteAddr) this.notifyPeerListeners(did, 'moved')
    for (const waiter of [...this.waiters].filter((w) => w.did === did)) {
      this.waiters.delete(waiter)
      waiter.resolve()
    }
    this.track(this.readLoop(entry))
  }

  /** A stream is only (re)opened over a connection that is still open, not one already closing. */
  private hasOpenConnection (peerId: PeerId): boolean {
    return this.node.getConnections(peerId).some((connection) => connection.status === 'open')
  }

  private async readLoop (entry: PeerStream): Promise<void> {
    /** Why the stream ended, when reading it threw something other than a framing error (a reset, an abort, a closed connection). */
    let ended: string | undefined
    try {
      for await (const frame of lp.decode(entry.stream, { maxDataLength: this.settings.maxFrameBytes })) {
        entry.lastHeardAt = this.clock.now()
        if (!entry.heardFrom) {
          entry.heardFrom = true
          this.openFailures.delete(entry.did)
        }
        if (frame.byteLength === 0) continue
        this.stats.framesReceived++
        const bytes = frame.subarray()
        while (this.paused !== undefined) await this.paused
        this.delivering++
        try {
          for (const handler of [...this.handlers]) {
            try {
              await handler(entry.did, bytes)
            } catch (err) {
              this.logger.warn({ peer: entry.did, err: (err as Error).message }, 'frame handler failed')
            }
          }
        } finally {
          this.delivering--
          if (this.delivering === 0 && this.onDelivered !== undefined) {
            this.onDelivered()
            this.onDelivered = undefined
          }
        }
      }
    } catch (err) {
      if (isFramingError(err) && !this.closed && this.streams.get(entry.did) === entry) {
        // Bad framing (oversized length, malformed varint): the peer is cut off, everyone else keeps being served.
        this.stats.protocolViolations++
        this.dropStream(entry.did, entry)
        await this.disconnect(entry.did, `protocol violation: ${(err as Error).message}`)
        return
      }
      // Anything else is the peer (or its connection) hanging up: the stream ends as on a close.
      ended = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    }
    // The peer ended its side (a half-close) while ours is open: end ours too, or the stream would stay
    // half-open until the connection goes.
    if (ended === undefined && entry.stream.status === 'open') entry.stream.abort(new Error('the peer closed its side of the ICN stream'))
    if (this.dropStream(entry.did, entry) !== undefined) {
      this.logger.info({ peer: entry.did, ...(ended === undefined ? {} : { reason: ended }) }, 'peer stream closed')
      if (this.closed || !this.hasOpenConnection(entry.peerId)) return
      // Ended at once without a word from the peer: it refused the stream (e.g. this node is not a member
      // there yet). Reopened with the open backoff rather than at once, which would spin.
      if (entry.outbound && !entry.heardFrom && this.clock.now() - entry.openedAt < REFUSED_STREAM_MS) this.openFailed(entry.peerId, entry.did, (p) => { this.openStream(p, entry.did) })
      else if (this.id < entry.did) this.onConnect(entry.peerId)
    }
  }
}

/**
 * libp2p-yamux 8 sends a new stream's opening window update from a microtask; when the connection
 * closes in between, that send throws `StreamStateError` ("Cannot write to a stream that is closed")
 * outside any caller, as an uncaught exception. Nothing of the node's state is involved, so a process
 * running this transport may log it and go on (`icn-node run` does); anything else stays fatal.
 */
export function isClosedStreamRace (err: unknown): boolean {
  return err instanceof Error && err.name === 'StreamStateError' && err.message.startsWith('Cannot write to a stream that is')
}

/** An address through a circuit relay (a WebRTC one too: the relay only carries its signalling). */
function isCircuit (addr: string): boolean {
  return addr.includes('/p2p-circuit')
}

/** A connection or address whose data goes through a circuit relay: a circuit address, not a WebRTC one signalled through it. */
export function isRelayed (addr: string): boolean {
  return isCircuit(addr) && !addr.includes('/webrtc')
}

/** What the transport reads of libp2p's address manager (an internal component): every own address with its state. */
interface AddressSource {
  getAddressesWithMetadata(): Array<{ multiaddr: Multiaddr, verified: boolean, type: string }>
}

/** A libp2p service that hands the address manager to the transport (libp2p keeps its components internal). */
function holdAddressManager (held: { source?: AddressSource }): (components: { addressManager: AddressSource }) => object {
  return (components) => {
    held.source = components.addressManager
    return {}
  }
}

/** What `cancelPendingAddressUpdate` needs of libp2p's components; the rest is read structurally. */
interface AddressManagerHolder { addressManager: object }

/**
 * A libp2p service whose only job is a clean stop. libp2p 3.3's `AddressManager`
 * debounces its peer-store address write by 1 s (`@libp2p/utils` `debounce`) and
 * is not a `Startable`, so nothing cancels it: closing the TCP listeners during
 * `node.stop()` emits `transport:close`, which re-arms that timer, and the process
 * then lingers ~1 s after every service has stopped. `afterStop` runs once every
 * libp2p component (the transport manager included) has stopped and cancels the
 * pending write through the debounce's own `stop()`; a stopped node has no
 * addresses to record. If a libp2p upgrade changes that shape, this logs a warning
 * (and the node's clean-exit test fails) instead of breaking the stop.
 */
function cancelPendingAddressUpdate (logger: TransportLogger): (components: AddressManagerHolder) => { start: () => void, stop: () => void, afterStop: () => void } {
  return (components) => ({
    start: () => {},
    stop: () => {},
    afterStop: () => {
      const update: unknown = Reflect.get(components.addressManager, '_updatePeerStoreAddresses')
      const stop: unknown = typeof update === 'function' ? Reflect.get(update, 'stop') : undefined
      if (typeof stop === 'function') stop.call(update)
      else logger.warn({}, 'libp2p AddressManager has no cancellable address update; the process may exit up to 1 s after stop')
    }
  })
}

/** Starts libp2p (TCP, noise, yamux, identify) with the node's own ed25519 key and the ICN stream protocol. */
export async function createLibp2pTransport (components: Libp2pTransportComponents, init: Libp2pTransportInit = {}): Promise<Libp2pTransport> {
  const privateKey = await generateKeyPairFromSeed('Ed25519', components.keyPair.seed)
  const logger = components.logger ?? silentLogger
  const clock = components.clock ?? systemClock
  const blockedUntil = new Map<string, number>()
  const admission = components.admission ?? OPEN_ADMISSION
  const stats = { refusedInbound: 0, refusedOutbound: 0 }
  // Asked after the noise handshake (it proved the remote key): a refused peer never gets a stream.
  const deny = (direction: 'inbound' | 'outbound') => (peerId: PeerId): boolean => {
    const did = didOfPeerId(peerId)
    if (did === undefined) return false // cut off by onConnect as a protocol violation
    if ((blockedUntil.get(did) ?? 0) > clock.now() || !admission.connect(did)) {
      if (direction === 'inbound') stats.refusedInbound++
      else stats.refusedOutbound++
      admission.refused?.(did, direction)
      return true
    }
    return false
  }
  // The relay's own checks: a reservation, or a relayed connection between two peers, only for admitted DIDs.
  const notAdmitted = (peerId: PeerId): boolean => {
    const did = didOfPeerId(peerId)
    return did === undefined || !admission.connect(did)
  }
  const natTraversal = init.natTraversal ?? true
  const relay = init.relay ?? false
  const held: { source?: AddressSource } = {}
  const listen = init.listen ?? ['/ip4/127.0.0.1/tcp/0']
  const webRTC = natTraversal ? components.webRTC : undefined
  const node = await createLibp2p({
    connectionGater: {
      denyDialPeer: (peerId) => {
        const did = didOfPeerId(peerId)
        return did !== undefined && ((blockedUntil.get(did) ?? 0) > clock.now() || !admission.connect(did))
      },
      denyInboundEncryptedConnection: deny('inbound'),
      denyOutboundEncryptedConnection: deny('outbound'),
      denyInboundRelayReservation: notAdmitted,
      denyOutboundRelayedConnection: (source, destination) => notAdmitted(source) || notAdmitted(destination),
      denyInboundRelayedConnection: (relayPeer, remotePeer) => notAdmitted(relayPeer) || notAdmitted(remotePeer)
    },
    // Liveness is the ICN stream's own heartbeat (`silenceTimeoutMs`): libp2p's monitor would open a ping
    // stream on every connection every 10 s, the largest part of an idle node's work.
    connectionMonitor: { enabled: false },
    connectionManager: {
      // Before the handshake the remote is unauthenticated: bound what a source (or everyone) can hold.
      maxIncomingPendingConnections: init.maxPendingInbound ?? 32,
      inboundConnectionThreshold: init.maxInboundPerHostPerSecond ?? 5
    },
    privateKey,
    addresses: { listen: natTraversal ? [...listen, '/p2p-circuit', ...(webRTC === undefined ? [] : ['/webrtc'])] : listen },
    transports: natTraversal ? [tcp(), circuitRelayTransport(), ...(webRTC === undefined ? [] : [webRTC])] : [tcp()],
    connectionEncrypters: [noise()],
    // The heartbeat on the ICN stream keeps links (and NAT mappings) alive: no yamux ping per connection too.
    streamMuxers: [yamux({ enableKeepAlive: false })],
    services: {
      identify: identify(),
      autoNAT: autoNATv2(),
      ...(natTraversal ? { dcutr: dcutr() } : {}),
      // Members only (the gater), so a relayed connection carries no data or time limit.
      ...(relay === false ? {} : { relay: circuitRelayServer({ reservations: { maxReservations: relay.maxReservations ?? 64, applyDefaultLimit: false } }) }),
      addresses: holdAddressManager(held),
      cleanStop: cancelPendingAddressUpdate(logger)
    }
  })
  if (held.source === undefined) throw new Error('libp2p did not start the address service')
  const transport = new Libp2pTransportImpl(node, components.keyPair, logger, clock, {
    maxFrameBytes: init.maxFrameBytes ?? 4 * 1024 * 1024,
    maxQueuedBytes: init.maxQueuedBytes ?? 16 * 1024 * 1024,
    redialMinMs: init.redialMinMs ?? 250,
    redialMaxMs: init.redialMaxMs ?? 10_000,
    heartbeatMs: init.heartbeatMs ?? 15_000,
    silenceTimeoutMs: init.silenceTimeoutMs ?? 3 * (init.heartbeatMs ?? 15_000),
    maxStreamOpenAttempts: init.maxStreamOpenAttempts ?? 4
  }, blockedUntil, admission, init.protocolPrefix ?? '/icn', held.source, relay !== false)
  // The gater counts refusals before the transport object exists: it reads them through the stats.
  Object.defineProperty(transport.stats, 'refusedInbound', { get: () => stats.refusedInbound, enumerable: true })
  Object.defineProperty(transport.stats, 'refusedOutbound', { get: () => stats.refusedOutbound, enumerable: true })
  await transport.start(init.peers ?? [])
  return transport
}
