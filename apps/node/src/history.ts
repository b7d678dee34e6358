// History sync wiring: each subsystem's own store, presented to @icn/gossip's
// history sync as a source (groups with digests, paged items, batched apply),
// and the sync's messages carried as gossip direct messages.
import { type Gossip, type HistoryApplied, type HistoryDigest, type HistoryMessaging, type HistorySource, decodeMessage } from '@icn/gossip'
import type { Governance } from '@icn/governance'
import { type SignedEnvelope, decodeEnvelope, encodeEnvelope, sha256, toHex, utf8 } from '@icn/identity'
import { type ApplyOutcome, type Ledger, MalformedEntryError, decodeEntry } from '@icn/ledger'
import type { TrustAttestation, TrustGraph } from '@icn/trust'
import type { Libp2pTransport } from '@icn/transport'

type MessageTransport = Pick<Libp2pTransport, 'onPeerChange'>

/** Gossip topic of history-sync requests and answers (direct messages only). */
export const HISTORY_TOPIC = 'history:sync'
/** How long a peer has to answer one history request. */
const REQUEST_TIMEOUT_MS = 15_000

/**
 * History sync's request/response over gossip's direct messages on `history:sync` (same FIFO peer streams).
 * A request fails as soon as the peer's stream closes: its answer can no longer come, and the session ends
 * so that the next stream starts a new one instead of waiting out the timeout.
 */
export function historyMessaging (gossip: Gossip, peers?: Pick<MessageTransport, 'onPeerChange'>): HistoryMessaging {
  return {
    request: async (peer, payload) => {
      const answer = gossip.request(peer, HISTORY_TOPIC, payload, { timeoutMs: REQUEST_TIMEOUT_MS })
      if (peers === undefined) return await answer
      let off = (): void => {}
      const gone = new Promise<never>((_resolve, reject) => {
        off = peers.onPeerChange((did, change) => { if (did === peer && change === 'disconnected') reject(new Error(`${peer} disconnected before answering`)) })
      })
      try {
        return await Promise.race([answer, gone])
      } finally {
        off()
        answer.catch(() => undefined) // settles later (its timeout) with nobody waiting
      }
    },
    onRequest: (handler) => gossip.handleDirect(HISTORY_TOPIC, (message) => { message.reply(handler(message.from, message.payload)) })
  }
}

/**
 * Whether a gossip frame carries history-sync traffic (a request or an answer on `history:sync`). Such
 * frames are catch-up of what the stores already hold, not messages of the application in flight, so a
 * snapshot does not record them as channel state (nor count them toward `maxSnapshotSize`).
 */
export function isHistoryFrame (frame: Uint8Array): boolean {
  try {
    const message = decodeMessage(frame)
    return message.t === 'direct' && message.topic === HISTORY_TOPIC
  } catch {
    return false
  }
}

/** A digest over a set of item ids: its size and a hash of the sorted ids. */
function setDigest (key: string, ids: readonly string[]): HistoryDigest {
  return { key, count: ids.length, hash: toHex(sha256(utf8([...ids].sort().join(' ')))).slice(0, 64) }
}

/** Up to `limit` items from `from`, bounded by `maxBytes` (at least one), with the cursor after them. */
function page (all: readonly Uint8Array[], from: number, limit: number, maxBytes: number): { items: Uint8Array[], next?: number } {
  const items: Uint8Array[] = []
  let size = 0
  for (let i = from; i < all.length && items.length < limit; i++) {
    const item = all[i] as Uint8Array
    if (items.length > 0 && size + item.length > maxBytes) break
    items.push(item)
    size += item.length
  }
  return from + items.length < all.length ? { items, next: from + items.length } : { items }
}

const NEW: ReadonlySet<ApplyOutcome['status']> = new Set(['applied', 'pending', 'quarantined'])

/**
 * The ledger, by author chain (Secure Scuttlebutt style): a group is an author,
 * its digest the chain's head (seq, id); this node fetches the slots above its
 * own head and applies them with `applyBatch` (forged entries refused, never
 * quarantined). `onApplied` hears how many entries were new.
 */
export function ledgerHistory (ledger: Ledger, onApplied: (count: number) => void): HistorySource {
  return {
    name: 'ledger',
    digests: (after, limit) => ledger.heads({ ...(after === undefined ? {} : { after: after as never }), limit }).map((h) => ({ key: h.author, count: h.seq, hash: h.id })),
    wants: (remote) => {
      const have = ledger.chainHead(remote.key as never)?.seq ?? 0
      return remote.count > have ? have + 1 : undefined
    },
    behind: (remote) => remote.count - (ledger.chainHead(remote.key as never)?.seq ?? 0),
    items: (key, from, limit, maxBytes) => {
      const { entries } = ledger.chainRange(key as never, Math.max(1, from), { limit, maxBytes })
      const head = ledger.chainHead(key as never)?.seq ?? 0
      const after = from + entries.length
      return entries.length > 0 && after <= head ? { items: [...entries], next: after } : { items: [...entries] }
    },
    apply: async (items) => {
      let outcomes: ApplyOutcome[]
      let refused = 0
      try {
        outcomes = await ledger.applyBatch(items, { refuseInvalidSignatures: true })
      } catch (err) {
        if (!(err instanceof MalformedEntryError)) throw err
        // One malformed item spoils the batch: drop the malformed ones, apply the rest.
        const wellFormed = items.filter((item) => { try { decodeEntry(item); return true } catch { return false } })
        refused = items.length - wellFormed.length
        outcomes = await ledger.applyBatch(wellFormed, { refuseInvalidSignatures: true })
      }
      const applied = outcomes.filter((o) => NEW.has(o.status)).length
      refused += outcomes.filter((o) => o.status === 'refused').length
      if (applied > 0) onApplied(applied)
      return { applied, refused }
    }
  }
}

/** Trust attestations, grouped by source DID: a group's digest hashes the CIDs of its current attestations. */
export function trustHistory (trust: TrustGraph, onApplied: (count: number) => void): HistorySource {
  const bySource = (): Map<string, TrustAttestation[]> => {
    const groups = new Map<string, TrustAttestation[]>()
    for (const a of trust.attestations()) {
      const group = groups.get(a.payload.source) ?? []
      group.push(a)
      groups.set(a.payload.source, group)
    }
    return groups
  }
  const groupOf = (source: string): TrustAttestation[] => (bySource().get(source) ?? []).sort((a, b) => (a.cid < b.cid ? -1 : 1))
  return {
    name: 'trust',
    digests: (after, limit) => [...bySource()].filter(([k]) => after === undefined || k > after).sort(([a], [b]) => (a < b ? -1 : 1)).slice(0, limit)
      .map(([key, group]) => setDigest(key, group.map((a) => a.cid))),
    wants: (remote) => (setDigest(remote.key, groupOf(remote.key).map((a) => a.cid)).hash === remote.hash ? undefined : 0),
    behind: (remote) => Math.max(1, remote.count - groupOf(remote.key).length),
    items: (key, from, limit, maxBytes) => page(groupOf(key).map(encodeEnvelope), from, limit, maxBytes),
    apply: async (items) => {
      const outcomes = await Promise.allSettled(items.map(async (bytes) => await trust.attest(trust.validate(decodeEnvelope(bytes)))))
      const applied = outcomes.filter((o) => o.status === 'fulfilled' && o.value === 'applied').length
      const result: HistoryApplied = { applied, refused: outcomes.filter((o) => o.status === 'rejected').length }
      if (applied > 0) onApplied(applied)
      return result
    }
  }
}

/** Governance refusals that mean "not (yet) here" rather than a bad envelope. */
const NOT_YET = new Set(['UNKNOWN_PROPOSAL', 'OUTSIDE_WINDOW', 'INVALID_TRANSITION'])

/**
 * Governance, grouped by proposal: a group is the proposal's envelope, its
 * proposer's actions and the current votes (`governance.envelopes`), applied in
 * one turn so that history whose window has closed reaches the same result.
 */
export function governanceHistory (governance: Governance, onApplied: (count: number) => void): HistorySource {
  const envelopesOf = (id: string): SignedEnvelope[] => governance.envelopes(id)
  return {
    name: 'governance',
    digests: (after, limit) => governance.proposals().map((p) => p.id).filter((id) => after === undefined || id > after).sort().slice(0, limit)
      .map((id) => setDigest(id, envelopesOf(id).map((e) => e.cid))),
    wants: (remote) => (setDigest(remote.key, envelopesOf(remote.key).map((e) => e.cid)).hash === remote.hash ? undefined : 0),
    behind: (remote) => Math.max(1, remote.count - envelopesOf(remote.key).length),
    items: (key, from, limit, maxBytes) => page(envelopesOf(key).map(encodeEnvelope), from, limit, maxBytes),
    apply: async (items) => {
      let refused = 0
      const envelopes: SignedEnvelope[] = []
      for (const bytes of items) {
        try { envelopes.push(decodeEnvelope(bytes)) } catch { refused++ }
      }
      // All in one turn: the scheduler cannot close a proposal between its submit and its votes.
      const outcomes = await Promise.allSettled(envelopes.map(async (e) => await governance.apply(e)))
      let applied = 0
      for (const o of outcomes) {
        if (o.status === 'fulfilled') { if (o.value.status === 'recorded') applied++; continue }
        const code = (o.reason as { code?: unknown }).code
        if (typeof code !== 'string' || !NOT_YET.has(code)) refused++
      }
      if (applied > 0) onApplied(applied)
      return { applied, refused }
    }
  }
}

/**
 * Members' signed names, by member: one group per DID, its one item the current profile envelope
 * (`governance.profiles()`). A profile signed by a DID this node does not know as a member yet is not
 * refused for good: it comes again once governance has caught up.
 */
export function profileHistory (governance: Governance, onApplied: (count: number) => void): HistorySource {
  const current = (): Map<string, SignedEnvelope> => new Map(governance.profiles().map((e) => [e.signer, e]))
  return {
    name: 'profiles',
    digests: (after, limit) => [...current().entries()].filter(([did]) => after === undefined || did > after).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, limit)
      .map(([did, envelope]) => setDigest(did, [envelope.cid])),
    wants: (remote) => (current().get(remote.key)?.cid === undefined || setDigest(remote.key, [current().get(remote.key)!.cid]).hash !== remote.hash ? 0 : undefined),
    behind: () => 1,
    items: (key, from, limit, maxBytes) => page([current().get(key)].filter((e): e is SignedEnvelope => e !== undefined).map(encodeEnvelope), from, limit, maxBytes),
    apply: async (items) => {
      let applied = 0
      let refused = 0
      for (const bytes of items) {
        try {
          if ((await governance.apply(decodeEnvelope(bytes))).status === 'recorded') applied++
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'NOT_A_MEMBER') refused++
        }
      }
      if (applied > 0) onApplied(applied)
      return { applied, refused }
    }
  }
}

