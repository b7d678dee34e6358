/**
 * The push tree (Plumtree: epidemic broadcast trees): per topic, which connected peers receive whole
 * entries (eager, the default) and which only their ids (lazy), and the ids announced to this node that it
 * does not hold yet. Pure state: the node sends the `prune`, `graft` and `have` frames it decides.
 *
 * A pushed entry that arrives again makes its sender lazy (`prune` both ways), so the eager links shrink
 * to a tree and an entry crosses each tree link once. Lazy links carry ids; an id still missing
 * `lazyTimeoutMs` after its announcement is asked for (`graft`) from the first peer that announced it,
 * which makes that link eager again and so repairs the tree where it broke.
 *
 * Entries that came another way than by eager push — asked for by `graft`, or pulled by anti-entropy —
 * are "fetched": a pushed copy arriving after one is no reason to prune (the tree link did its job, the
 * other way was the exception), and a grafted entry is announced onwards rather than pushed (the peers
 * around a repaired link mostly hold it already; those that do not ask in turn).
 */

interface Missing {
  topic: string
  /** Peers that announced the id, in order, not yet asked. */
  announcers: string[]
  dueAt: number
}

/** What is due: per peer, per topic, the ids to ask it for. */
export type GraftPlan = Map<string, Map<string, string[]>>

export class PushTree {
  private readonly lazyPeers = new Map<string, Set<string>>()
  // Insertion order is due order: every id is (re)inserted with `now + timeout` and the timeout is one constant.
  private readonly missing = new Map<string, Missing>()
  private readonly fetchedIds = new Set<string>()

  constructor (private readonly maxMissing: number, private readonly maxAnnouncers: number) {}

  isLazy (topic: string, peer: string): boolean {
    return this.lazyPeers.get(topic)?.has(peer) === true
  }

  /** Makes `peer` lazy for `topic`; returns whether it was eager. */
  prune (topic: string, peer: string): boolean {
    let set = this.lazyPeers.get(topic)
    if (set === undefined) { set = new Set(); this.lazyPeers.set(topic, set) }
    if (set.has(peer)) return false
    set.add(peer)
    return true
  }

  /** Makes `peer` eager for `topic` again. */
  graft (topic: string, peer: string): void {
    this.lazyPeers.get(topic)?.delete(peer)
  }

  /** Forgets peers no longer connected: a peer that comes back starts eager. */
  retainPeers (connected: ReadonlySet<string>): void {
    for (const set of this.lazyPeers.values()) for (const peer of set) if (!connected.has(peer)) set.delete(peer)
    for (const m of this.missing.values()) m.announcers = m.announcers.filter((p) => connected.has(p))
  }

  forgetPeer (peer: string): void {
    for (const set of this.lazyPeers.values()) set.delete(peer)
    for (const m of this.missing.values()) m.announcers = m.announcers.filter((p) => p !== peer)
  }

  /** `peer` announced `id` (not held here): remembered, to ask for at `dueAt` unless it arrives first. */
  announced (topic: string, id: string, peer: string, dueAt: number): void {
    const known = this.missing.get(id)
    if (known !== undefined) {
      if (known.topic === topic && known.announcers.length < this.maxAnnouncers && !known.announcers.includes(peer)) known.announcers.push(peer)
      return
    }
    if (this.missing.size >= this.maxMissing) this.missing.delete(this.missing.keys().next().value as string)
    this.missing.set(id, { topic, announcers: [peer], dueAt })
  }

  /** `id` came (or was asked for) another way than by eager push. */
  fetched (id: string): void {
    if (this.fetchedIds.has(id)) return
    if (this.fetchedIds.size >= this.maxMissing) this.fetchedIds.delete(this.fetchedIds.values().next().value as string)
    this.fetchedIds.add(id)
  }

  wasFetched (id: string): boolean {
    return this.fetchedIds.has(id)
  }

  /** The entry arrived: nothing to ask for. Returns the peers that announced it (they hold it: no need to push it there). */
  settled (id: string): readonly string[] {
    const announcers = this.missing.get(id)?.announcers ?? []
    this.missing.delete(id)
    return announcers
  }

  /** When the earliest missing id falls due, if any. */
  nextDueAt (): number | undefined {
    for (const m of this.missing.values()) return m.dueAt
    return undefined
  }

  /**
   * The ids due by `now` that `held` says are still missing, each assigned to its first remaining announcer;
   * an id with announcers left is due again at `retryAt`, one without is forgotten (anti-entropy remains).
   */
  due (now: number, held: (topic: string, id: string) => boolean, retryAt: number): GraftPlan {
    const plan: GraftPlan = new Map()
    const retry: Array<[string, Missing]> = []
    for (const [id, m] of this.missing) {
      if (m.dueAt > now) break
      this.missing.delete(id)
      if (held(m.topic, id)) continue
      const peer = m.announcers.shift()
      if (peer === undefined) continue
      let perTopic = plan.get(peer)
      if (perTopic === undefined) { perTopic = new Map(); plan.set(peer, perTopic) }
      const ids = perTopic.get(m.topic)
      if (ids === undefined) perTopic.set(m.topic, [id])
      else ids.push(id)
      if (m.announcers.length > 0) retry.push([id, { ...m, dueAt: retryAt }])
    }
    for (const [id, m] of retry) this.missing.set(id, m)
    return plan
  }

  /** Peers lazy per topic, and ids awaited (for stats). */
  get size (): { lazyLinks: number, awaited: number } {
    let lazyLinks = 0
    for (const set of this.lazyPeers.values()) lazyLinks += set.size
    return { lazyLinks, awaited: this.missing.size }
  }

  clear (): void {
    this.lazyPeers.clear()
    this.missing.clear()
    this.fetchedIds.clear()
  }
}
