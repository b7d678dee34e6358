import type { KeyPair } from '@icn/identity'
import { ManualClock, flushMicrotasks } from '@icn/testkit'
import {
  type MessageTransport, type SnapshotEvent, type SnapshotInit, type SnapshotMessage, type SnapshotNode, type SnapshotStore,
  type StateProvider, createSnapshotNode, decodeMessage
} from '../../src/index.js'
import { TokenAccount, keyPairs } from './cluster.js'

/** A message in the router's queue. */
export interface Routed {
  readonly from: string
  readonly to: string
  readonly bytes: Uint8Array
  readonly message: SnapshotMessage
}

export interface RoutedNode {
  readonly keyPair: KeyPair
  readonly did: string
  readonly account: TokenAccount
  readonly snap: SnapshotNode
  readonly events: SnapshotEvent[]
  /** Hands raw bytes to this node as if `from` sent them. */
  inject: (from: string, bytes: Uint8Array) => Promise<void>
}

export interface RouterInit {
  size: number
  seed: number
  config?: SnapshotInit
  trustOf?: (viewer: number, subject: string) => number
  providers?: (index: number, account: TokenAccount) => StateProvider[]
  stores?: Array<SnapshotStore | undefined>
}

/**
 * Hand-driven message routing between snapshot nodes: every sent message is
 * queued and decoded so a test can inspect it, hold it back or drop it.
 */
export class Router {
  readonly clock = new ManualClock()
  readonly nodes: RoutedNode[]
  readonly log: Routed[] = []
  readonly held: Routed[] = []
  private readonly queue: Routed[] = []
  private readonly handlers = new Map<string, Set<(from: string, bytes: Uint8Array) => void | Promise<void>>>()

  constructor (init: RouterInit) {
    const pairs = keyPairs(init.size, init.seed)
    const dids = pairs.map((p) => p.did)
    this.nodes = pairs.map((keyPair, index) => {
      const handlers = new Set<(from: string, bytes: Uint8Array) => void | Promise<void>>()
      this.handlers.set(keyPair.did, handlers)
      const transport: MessageTransport = {
        id: keyPair.did,
        send: (to, bytes) => {
          const routed = { from: keyPair.did, to, bytes: Uint8Array.from(bytes), message: decodeMessage(bytes).message }
          this.queue.push(routed)
          this.log.push(routed)
        },
        onMessage: (handler) => { handlers.add(handler); return () => { handlers.delete(handler) } },
        peers: () => dids.filter((d) => d !== keyPair.did)
      }
      const account = new TokenAccount(100 + index)
      const events: SnapshotEvent[] = []
      const snap = createSnapshotNode({
        keyPair,
        transport,
        clock: this.clock,
        trustOf: (did) => init.trustOf?.(index, did) ?? 1,
        providers: init.providers?.(index, account) ?? [account],
        store: init.stores?.[index]
      }, init.config)
      snap.onEvent((e) => { events.push(e) })
      const inject = async (from: string, bytes: Uint8Array): Promise<void> => {
        for (const h of handlers) await h(from, bytes)
        await flushMicrotasks()
      }
      return { keyPair, did: keyPair.did, account, snap, events, inject }
    })
  }

  node (did: string): RoutedNode {
    const n = this.nodes.find((x) => x.did === did)
    if (n === undefined) throw new Error(`no node ${did}`)
    return n
  }

  /** Delivers queued messages in order until none is left; `hold` keeps matching ones in `held` instead. */
  async run (hold: (m: Routed) => boolean = () => false): Promise<void> {
    for (;;) {
      await flushMicrotasks()
      const next = this.queue.shift()
      if (next === undefined) {
        await flushMicrotasks()
        if (this.queue.length === 0) return
        continue
      }
      if (hold(next)) { this.held.push(next); continue }
      for (const h of this.handlers.get(next.to) ?? []) await h(next.from, next.bytes)
    }
  }

  /** Keeps routing (yielding to the event loop for file I/O in between) until `pending` settles. */
  async runUntil<T> (pending: Promise<T>): Promise<T> {
    let settled = false
    const done = pending.finally(() => { settled = true })
    while (!settled) {
      await this.run()
      await flushMicrotasks(5)
    }
    return await done
  }

  /** Delivers the held messages matching `which` (in order), then runs. */
  async release (which: (m: Routed) => boolean = () => true): Promise<void> {
    const chosen = this.held.filter(which)
    for (const m of chosen) this.held.splice(this.held.indexOf(m), 1)
    this.queue.unshift(...chosen)
    await this.run()
  }

  async close (): Promise<void> {
    for (const n of this.nodes) await n.snap.close()
  }
}

/** A provider whose state is arbitrary bytes (for size and content tests). */
export class BlobProvider implements StateProvider {
  restored: Uint8Array[] = []
  constructor (readonly name: string, public state: Uint8Array) {}
  async exportState (): Promise<Uint8Array> { return this.state }
  async restoreState (state: Uint8Array): Promise<void> { this.restored.push(state); this.state = state }
  checkState?: (state: Uint8Array) => Promise<void>
}
