import { ManualClock, flushMicrotasks } from './clock.js'
import { SeededRng } from './rng.js'

/** How one directed link behaves. Delays are in manual-clock milliseconds. */
export interface LinkConditions {
  /** @default 1 */
  minDelayMs: number
  /** @default 10 */
  maxDelayMs: number
  /** Probability that a message is lost. @default 0 */
  dropRate: number
  /** Probability that a message is delivered twice (back to back). @default 0 */
  duplicateRate: number
}

/** Receives a message from `from`; may be async (the network awaits it before the next delivery to this node). */
export type MessageHandler = (from: string, bytes: Uint8Array) => void | Promise<void>

/** One node's view of the simulated network; the shape of a gossip transport. */
export interface SimEndpoint {
  readonly id: string
  /** Queues `bytes` for delivery to `to` over the (FIFO) link; silently lost if partitioned or dropped. */
  send(to: string, bytes: Uint8Array): void
  /** Registers a handler; returns a function that removes it. */
  onMessage(handler: MessageHandler): () => void
  /** Every other node currently reachable from this one. */
  peers(): string[]
}

/** Counters for what the network did. */
export interface NetworkStats {
  sent: number
  delivered: number
  dropped: number
  duplicated: number
  partitioned: number
}

export interface SimNetworkInit {
  seed: number
  clock?: ManualClock
  defaults?: Partial<LinkConditions>
}

const DEFAULT_CONDITIONS: LinkConditions = { minDelayMs: 1, maxDelayMs: 10, dropRate: 0, duplicateRate: 0 }

/**
 * A deterministic in-memory network. Point-to-point links are FIFO (a message
 * is never delivered before one sent earlier on the same link), with per-link
 * delay, drop and duplication drawn from a seeded RNG, and partitions that can
 * be made and healed. Deliveries are timers on a shared `ManualClock`, so the
 * whole run — subsystem timers included — replays exactly from its seed.
 */
export class SimNetwork {
  readonly clock: ManualClock
  readonly rng: SeededRng
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, partitioned: 0 }
  /** Errors thrown by handlers, kept so tests can assert there were none. */
  readonly handlerErrors: Array<{ node: string, error: unknown }> = []
  private readonly defaults: LinkConditions
  private readonly order: string[] = []
  private readonly handlers = new Map<string, Set<MessageHandler>>()
  private readonly inbox = new Map<string, Promise<void>>()
  private readonly links = new Map<string, LinkConditions>()
  private readonly lastDeliveryAt = new Map<string, number>()
  private group = new Map<string, number>()
  private mesh: Map<string, Set<string>> | undefined

  constructor (init: SimNetworkInit) {
    this.clock = init.clock ?? new ManualClock()
    this.rng = new SeededRng(init.seed)
    this.defaults = { ...DEFAULT_CONDITIONS, ...init.defaults }
  }

  /** Adds a node and returns its endpoint. */
  addNode (id: string): SimEndpoint {
    if (this.handlers.has(id)) throw new Error(`node ${id} already exists`)
    this.order.push(id)
    this.handlers.set(id, new Set())
    this.inbox.set(id, Promise.resolve())
    return {
      id,
      send: (to, bytes) => { this.send(id, to, bytes) },
      onMessage: (handler) => {
        const set = this.handlers.get(id) as Set<MessageHandler>
        set.add(handler)
        return () => { set.delete(handler) }
      },
      peers: () => this.order.filter((other) => other !== id && this.canReach(id, other) && this.linked(id, other))
    }
  }

  /** Node ids in the order they were added. */
  nodeIds (): string[] {
    return [...this.order]
  }

  /** Sets conditions on the directed link `from → to` (both directions when `symmetric`). */
  setLink (from: string, to: string, conditions: Partial<LinkConditions>, symmetric = true): void {
    this.links.set(`${from}\u0000${to}`, { ...this.conditions(from, to), ...conditions })
    if (symmetric) this.links.set(`${to}\u0000${from}`, { ...this.conditions(to, from), ...conditions })
  }

  /**
   * A bounded mesh instead of everyone connected: each node's `peers()` lists only its neighbours, at
   * least `degree` of them (a ring through all nodes, then random links drawn from the network's seed),
   * as a node whose transport keeps a degree sees it. `send` still reaches anyone.
   */
  connectMesh (degree: number): void {
    const ids = this.order
    const mesh = new Map(ids.map((id) => [id, new Set<string>()]))
    const link = (a: string, b: string): void => {
      if (a === b) return
      mesh.get(a)?.add(b)
      mesh.get(b)?.add(a)
    }
    ids.forEach((id, i) => { link(id, ids[(i + 1) % ids.length] as string) })
    const want = Math.min(degree, ids.length - 1)
    for (const id of ids) {
      const neighbours = mesh.get(id) as Set<string>
      while (neighbours.size < want) link(id, this.rng.pick(ids))
    }
    this.mesh = mesh
  }

  /** Whether `a` and `b` are neighbours (always, without `connectMesh`). */
  linked (a: string, b: string): boolean {
    return this.mesh?.get(a)?.has(b) ?? true
  }

  /** Splits the network into groups; a node in no group is cut off from everyone. */
  partition (groups: ReadonlyArray<readonly string[]>): void {
    const next = new Map<string, number>()
    groups.forEach((members, index) => { for (const m of members) next.set(m, index) })
    let isolatedIndex = groups.length
    for (const id of this.order) if (!next.has(id)) next.set(id, isolatedIndex++)
    this.group = next
  }

  /** Partitions nodes (in added order) into [0, index) and [index, n). */
  splitAt (index: number): void {
    this.partition([this.order.slice(0, index), this.order.slice(index)])
  }

  /** Two halves of (nearly) equal size. */
  evenSplit (): void {
    this.splitAt(Math.ceil(this.order.length / 2))
  }

  /** Cuts one node off from all others. */
  isolate (id: string): void {
    this.partition([this.order.filter((other) => other !== id)])
  }

  /** Removes every partition. */
  heal (): void {
    this.group = new Map()
  }

  /** Whether a message from `a` can currently reach `b`. */
  canReach (a: string, b: string): boolean {
    return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0)
  }

  /** Runs the simulation for `ms` of clock time, awaiting async handlers between events. */
  async runFor (ms: number): Promise<void> {
    const end = this.clock.now() + ms
    await this.settle()
    while (this.clock.fireNext(end)) await this.settle()
    this.clock.advance(Math.max(0, end - this.clock.now()))
  }

  /**
   * Runs until no timer is left or `maxMs` of clock time has passed. Subsystems
   * with periodic timers never go idle: use `runFor` or a cluster's
   * `awaitConvergence` for those.
   */
  async runUntilIdle (maxMs = 60_000): Promise<void> {
    const end = this.clock.now() + maxMs
    await this.settle()
    while (this.clock.fireNext(end)) await this.settle()
  }

  /** Waits until every node has finished handling what was delivered to it. */
  async settle (): Promise<void> {
    for (;;) {
      const pending = [...this.inbox.values()]
      await Promise.all(pending)
      await flushMicrotasks(1)
      const after = [...this.inbox.values()]
      if (after.every((p, i) => p === pending[i])) return
    }
  }

  private conditions (from: string, to: string): LinkConditions {
    return this.links.get(`${from}\u0000${to}`) ?? this.defaults
  }

  private send (from: string, to: string, bytes: Uint8Array): void {
    if (!this.handlers.has(to)) throw new Error(`unknown node ${to}`)
    this.stats.sent++
    if (!this.canReach(from, to)) { this.stats.partitioned++; return }
    const link = this.conditions(from, to)
    if (this.rng.chance(link.dropRate)) { this.stats.dropped++; return }
    const copies = this.rng.chance(link.duplicateRate) ? 2 : 1
    if (copies === 2) this.stats.duplicated++
    const key = `${from}\u0000${to}`
    const delay = this.rng.int(link.minDelayMs, link.maxDelayMs)
    // FIFO: never schedule before the link's previous delivery.
    const at = Math.max(this.clock.now() + delay, this.lastDeliveryAt.get(key) ?? 0)
    this.lastDeliveryAt.set(key, at)
    const payload = Uint8Array.from(bytes)
    for (let i = 0; i < copies; i++) {
      this.clock.setTimeout(() => { this.deliver(from, to, payload) }, at - this.clock.now())
    }
  }

  private deliver (from: string, to: string, bytes: Uint8Array): void {
    // A partition made while the message was in flight loses it.
    if (!this.canReach(from, to)) { this.stats.partitioned++; return }
    this.stats.delivered++
    const previous = this.inbox.get(to) ?? Promise.resolve()
    const next = previous.then(async () => {
      for (const handler of this.handlers.get(to) ?? []) {
        try {
          await handler(from, bytes)
        } catch (error) {
          this.handlerErrors.push({ node: to, error })
        }
      }
    })
    this.inbox.set(to, next)
  }
}
