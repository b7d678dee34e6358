import { type ProposalInput, type VoteChoice, VOTE_CHOICES } from '@icn/governance'
import { type Did, encodeEnvelope, isDid, toHex } from '@icn/identity'
import { type JournalEntry, type Ledger, decodeEntry } from '@icn/ledger'
import { verifyInclusion } from '@icn/snapshot'
import { TRUST_GRAPHS, createAttestation, isTrustGraphName, type TrustGraphName } from '@icn/trust'
import { type ApiRoute, RawAnswer, optionalString, requireAmount, requireNumber, requireString } from './api.js'
import { TOPICS } from './bridges.js'
import { MAX_WAIT_MS } from './changes.js'
import { attest, castVote, raiseProposal } from './actions.js'
import { auditHeldSnapshot } from './audit.js'
import { auditedBalances, auditedBalancesCsv } from './audit-format.js'
import { ApiError, NotAMemberError, SelfPaymentError } from './errors.js'
import { checkDisplayName } from './invitations.js'
import type { NodeServices, NodeStatus } from './node.js'
import { requireCompletedSnapshot, restoreSnapshot } from './restore.js'
import { createNodeMetrics } from './metrics.js'
import { accountStatement, statementCsv } from './statement.js'
import { pruneSnapshots } from './snapshot-prune.js'
import { freeSpaceGuard } from './storage.js'
import { VERSION } from './version.js'

/** Default currency of `pay` and `balance`. */
export const DEFAULT_CURRENCY = 'ICN'

function requireDid (value: string | null | undefined, field: string): Did {
  if (!isDid(value)) throw new ApiError(400, 'BAD_REQUEST', `'${field}' must be a did:icn DID`)
  return value
}

function graphOf (value: string | null | undefined, fallback: TrustGraphName): TrustGraphName {
  if (value === null || value === undefined) return fallback
  if (!isTrustGraphName(value)) throw new ApiError(400, 'BAD_REQUEST', `'graph' must be social, economic or technical`)
  return value
}

const hex = (bytes: Uint8Array): string => toHex(bytes)

/**
 * Longest proposal id looked up (ids are CIDs, ~60 characters). Longer ones are no proposal: the
 * governance store's LMDB keys hold at most 1978 bytes and a longer lookup throws a RangeError (a 500).
 */
const MAX_PROPOSAL_ID_LENGTH = 256

/** Reads an optional non-negative integer query parameter within [min, max]. */
function integerParam (query: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const text = query.get(name)
  if (text === null) return undefined
  const value = /^[0-9]+$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new ApiError(400, 'BAD_REQUEST', `'${name}' must be an integer in [${min}, ${max}]`)
  return value
}

/** A ledger entry as the dashboard's history shows it (amounts as decimal strings). */
export interface EntrySummary {
  id: string
  author: string
  seq: number
  timestamp: number
  reference: string | null
  deltas: Array<{ account: string, currency: string, debit: string | null, credit: string | null }>
}

function summarizeEntry (id: string, entry: JournalEntry): EntrySummary {
  return {
    id,
    author: entry.author,
    seq: entry.seq,
    timestamp: entry.timestamp,
    reference: entry.reference ?? null,
    deltas: entry.deltas.map((d) => ({ account: d.account, currency: d.currency, debit: d.debit?.toString() ?? null, credit: d.credit?.toString() ?? null }))
  }
}

/** Decodes wire bytes held for inspection (a quarantined entry, a fork proof's side); `null` when they do not decode. */
function summarizeBytes (bytes: Uint8Array): EntrySummary | null {
  try {
    const decoded = decodeEntry(bytes)
    return summarizeEntry(decoded.id, decoded.entry)
  } catch {
    return null
  }
}

/** POST routes that write to the stores: each checks the disk first. */
const STORE_WRITES = new Set(['/pay', '/trust', '/proposals', '/votes', '/snapshots', '/snapshots/:id/restore', '/snapshots/prune', '/ledger/floors/release', '/invitations', '/profile'])

/** The node's API routes: status, the change feed and peers, then one group per subsystem. */
export function nodeRoutes (node: NodeServices, status: () => NodeStatus): ApiRoute[] {
  const requireFreeSpace = freeSpaceGuard(node.dataDir)
  return routesOf(node, status).map((route): ApiRoute => route.method === 'POST' && STORE_WRITES.has(route.path)
    ? { ...route, handler: async (request) => { await requireFreeSpace(); return await route.handler(request) } }
    : route)
}

/** `GET /metrics`: the node's status in the Prometheus text format (docs/operations.md lists the metrics). */
function metricsRoute (status: () => NodeStatus): ApiRoute {
  const metrics = createNodeMetrics(status, { version: VERSION })
  return { method: 'GET', path: '/metrics', handler: async () => new RawAnswer(await metrics.text(), metrics.contentType) }
}

/** Reads a time query parameter: ms since the epoch, or an ISO 8601 date / date-time (a date is its UTC midnight). */
function timeParam (query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name)
  if (text === null) return undefined
  const value = /^[0-9]+$/.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN
  if (!Number.isSafeInteger(value) || value < 0) throw new ApiError(400, 'BAD_REQUEST', `'${name}' must be a date (2026-01-31), a date-time (2026-01-31T12:00:00Z) or ms since the epoch`)
  return value
}

/**
 * `GET /statement?account&currency&from&to&format`: an account's entries in [from, to) with the running balance,
 * as JSON or (`format=csv`) the CSV `icn-node statement --csv` prints. An account other than this node's that is no
 * member and that no entry here names is a 404 (a mistyped DID, rather than an empty statement).
 */
function statementRoute (node: NodeServices): ApiRoute {
  const { ledger, governance } = node
  const known = (account: Did, currency: string): boolean => account === node.keyPair.did ||
    governance.members().some((m) => m.did === account) || governance.nameOf(account) !== undefined ||
    ledger.history(account, { limit: 1 }).entries.length > 0 || ledger.balance(account, currency) !== 0n
  return {
    method: 'GET',
    path: '/statement',
    handler: async ({ query }) => {
      const account = requireDid(query.get('account') ?? node.keyPair.did, 'account')
      const currency = query.get('currency') ?? DEFAULT_CURRENCY
      const from = timeParam(query, 'from') ?? 0
      const to = timeParam(query, 'to') ?? Number.MAX_SAFE_INTEGER
      const format = query.get('format') ?? 'json'
      if (format !== 'csv' && format !== 'json') throw new ApiError(400, 'BAD_REQUEST', "'format' must be csv or json")
      if (to <= from) throw new ApiError(400, 'BAD_REQUEST', "'to' must be after 'from'")
      if (!known(account, currency)) throw new ApiError(404, 'NOT_FOUND', `no account ${account} here: not a member, and no ledger entry on this node names it`)
      const statement = accountStatement(ledger, account, currency, from, to)
      return format === 'csv' ? new RawAnswer(statementCsv(statement) + '\n', 'text/csv; charset=utf-8') : statement
    }
  }
}

function routesOf (node: NodeServices, status: () => NodeStatus): ApiRoute[] {
  // Members' display names beside DIDs in every answer that lists accounts or peers (null: none set).
  const nameOf = (did: string): string | null => node.governance.nameOf(did as Did) ?? null
  const { keyPair, transport, trust, ledger, governance, gossip, snapshot, snapshotStore, clock, changes } = node
  const self = keyPair.did
  return [
    { method: 'GET', path: '/status', handler: async () => status() },
    metricsRoute(status),
    statementRoute(node),
    // Long-poll on the change feed: answers `{ version }` as soon as the version exceeds `since`
    // (default: the current version), or after `timeoutMs` (default and at most MAX_WAIT_MS) with the
    // current one; `{ version, stopping: true }` when the node stops meanwhile.
    {
      method: 'GET',
      path: '/wait',
      longPoll: true,
      handler: async ({ query, signal }) => {
        const since = integerParam(query, 'since', 0, Number.MAX_SAFE_INTEGER) ?? changes.version
        const timeoutMs = integerParam(query, 'timeoutMs', 1, MAX_WAIT_MS) ?? MAX_WAIT_MS
        node.logger.debug({ since, timeoutMs, version: changes.version }, 'change wait')
        return await changes.wait(since, timeoutMs, signal)
      }
    },
    { method: 'GET', path: '/peers', handler: async () => transport.connectedPeers().map((p) => ({ ...p, name: nameOf(p.did) })) },
    {
      method: 'POST',
      path: '/peers',
      handler: async ({ body }) => {
        const addr = requireString(body, 'multiaddr')
        try {
          transport.addPeer(addr)
        } catch (err) {
          throw new ApiError(400, 'BAD_REQUEST', `'${addr}' is not a dialable multiaddr: ${(err as Error).message}`)
        }
        // Kept in the address book: dialled again after a restart.
        await node.addressBook.addManual(addr)
        return { added: addr }
      }
    },

    {
      method: 'POST',
      path: '/peers/block',
      handler: async ({ body }) => {
        const did = requireDid(requireString(body, 'did'), 'did')
        const ms = requireNumber(body, 'ms', 1, 24 * 3600 * 1000)
        await transport.block(did, ms)
        return { blocked: did, ms }
      }
    },

    // Ledger: a payment is signed and applied locally, answered once durable, and gossiped.
    {
      method: 'POST',
      path: '/pay',
      handler: async ({ body }) => {
        const to = requireDid(requireString(body, 'to'), 'to')
        if (to === self) throw new SelfPaymentError()
        if (!node.membership.isMember(to)) throw new NotAMemberError(`${to} is not a member of ${governance.charter().domain}${governance.membershipAt(to, clock.now()) === 'frozen' ? ' in good standing (frozen)' : ''}: payments go to members only (\`icn-node members\` lists them)`)
        const amount = requireAmount(body, 'amount')
        const currency = optionalString(body, 'currency') ?? DEFAULT_CURRENCY
        // Answered at the durable commit, not after gossip: an error now would invite a retry that pays twice.
        // A batch that fails to publish is logged; peers still get the entry by history sync (the ledger holds it).
        const record = await node.commitLedgerEntry(ledger.pay(keyPair, to, currency, amount, optionalString(body, 'reference')), (err, committed) => {
          node.logger.warn({ id: committed.id, err: (err as Error).message }, 'committed payment not gossiped; peers will get it by history sync')
        })
        return { id: record.id, from: self, to, currency, amount: amount.toString(), balance: ledger.balance(self, currency).toString() }
      }
    },
    {
      method: 'GET',
      path: '/balance',
      handler: async ({ query }) => {
        const account = requireDid(query.get('account') ?? self, 'account')
        const currency = query.get('currency') ?? DEFAULT_CURRENCY
        return {
          account,
          name: nameOf(account),
          currency,
          balance: ledger.balance(account, currency).toString(),
          creditLimit: ledger.creditLimit(account, currency).toString(),
          stateRoot: ledger.stateRoot()
        }
      }
    },
    { method: 'GET', path: '/balances', handler: async () => ledger.balances().map((row) => ({ ...row, name: nameOf(row.account) })) },
    // Chains a snapshot restore moved back: their authors cannot sign until the lost entries come back, or until
    // the operator releases the floor (deliberately: if the entries do exist somewhere they will show up as forks).
    { method: 'GET', path: '/ledger/floors', handler: async () => ledger.chainFloors() },
    ...pictureRoutes(node),
    // Every account and currency this ledger knows (a balance or a governance override), with the credit limit in
    // force and, for an override, the proposal that set it.
    {
      method: 'GET',
      path: '/ledger/accounts',
      handler: async () => {
        const overrides = new Map(ledger.overrides().map((o) => [`${o.account} ${o.currency}`, o]))
        const keys = new Map<string, { account: Did, currency: string }>()
        for (const row of ledger.balances()) keys.set(`${row.account} ${row.currency}`, row)
        for (const o of overrides.values()) keys.set(`${o.account} ${o.currency}`, o)
        return [...keys.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([key, { account, currency }]) => {
          const override = overrides.get(key)
          const proposal = override === undefined ? undefined : governance.proposal(override.reference)
          return {
            account,
            currency,
            balance: ledger.balance(account, currency).toString(),
            creditLimit: ledger.creditLimit(account, currency).toString(),
            limitSetBy: override === undefined
              ? null
              : { reference: override.reference, proposal: proposal === undefined ? null : { id: proposal.id, title: proposal.title, proposer: proposal.proposer, state: proposal.state } }
          }
        })
      }
    },
    {
      method: 'GET',
      path: '/ledger/history',
      handler: async ({ query }) => {
        const account = requireDid(query.get('account') ?? self, 'account')
        const limit = integerParam(query, 'limit', 1, 500) ?? 20
        const after = query.get('after')
        // The ledger checks the cursor itself (422 INVALID_ARGUMENT for one it did not write).
        if (after !== null && after.length > 200) throw new ApiError(400, 'BAD_REQUEST', "'after' must be the 'next' cursor of a previous page")
        const page = ledger.history(account, { limit, ...(after === null ? {} : { after }) })
        return { account, entries: page.entries.map((r) => summarizeEntry(r.id, r.entry)), next: page.next ?? null }
      }
    },
    {
      method: 'GET',
      path: '/ledger/quarantine',
      handler: async () => ledger.quarantine().map((q) => ({ id: q.id, reason: q.reason, detail: q.detail, chained: q.chained, entry: summarizeBytes(q.bytes) }))
    },
    {
      method: 'GET',
      path: '/ledger/forks',
      handler: async () => ledger.forks().map((f) => ({ author: f.author, seq: f.seq, first: summarizeBytes(f.first), second: summarizeBytes(f.second) }))
    },
    {
      method: 'POST',
      path: '/ledger/floors/release',
      handler: async ({ body }) => {
        const author = requireDid(optionalString(body, 'author') ?? self, 'author')
        const reference = requireString(body, 'reference')
        const released = await ledger.releaseChainFloor(author, reference)
        node.logger.warn({ ...released, reference }, 'ledger chain floor released by the operator')
        return { released, reference }
      }
    },

    // Trust: attest (signed, stored, gossiped) or query this node's view.
    {
      method: 'POST',
      path: '/trust',
      handler: async ({ body }) => {
        const subject = requireDid(requireString(body, 'subject'), 'subject')
        const score = requireNumber(body, 'score', 0, 1)
        const graph = graphOf(optionalString(body, 'graph'), 'economic')
        const { cid, outcome } = await attest(node, subject, graph, score)
        return { cid, source: self, subject, graph, score, outcome }
      }
    },
    {
      method: 'GET',
      path: '/trust/attestations',
      handler: async () => trust.attestations().map((a) => ({ cid: a.cid, source: a.payload.source, target: a.payload.target, graph: a.payload.graph, score: a.payload.score }))
    },
    {
      method: 'GET',
      path: '/trust',
      handler: async ({ query }) => {
        const subject = requireDid(query.get('subject'), 'subject')
        const graph = graphOf(query.get('graph'), 'economic')
        return { viewer: self, subject, graph, score: trust.trustOf(self, subject, graph), class: trust.classOf(self, subject, graph) }
      }
    },

    // The trust graph as a picture needs every edge of a graph and this node's score of each DID in it.
    {
      method: 'GET',
      path: '/trust/graph',
      handler: async ({ query }) => {
        const graph = graphOf(query.get('graph'), 'economic')
        const edges = trust.attestations(graph).map(({ payload: e }) => ({ source: e.source, target: e.target, score: e.score, createdAt: e.createdAt, expiresAt: e.expiresAt ?? null }))
        const dids = new Set<string>([self, ...governance.members().map((m) => m.did)])
        for (const e of edges) { dids.add(e.source); dids.add(e.target) }
        const nodes = [...dids].sort().map((did) => ({
          did,
          self: did === self,
          score: did === self ? null : trust.trustOf(self, did, graph),
          class: did === self ? null : trust.classOf(self, did, graph)
        }))
        return { viewer: self, graph, nodes, edges }
      }
    },
    {
      method: 'GET',
      path: '/trust/scores',
      handler: async () => {
        const dids = new Set<string>(governance.members().map((m) => m.did))
        for (const graph of TRUST_GRAPHS) for (const { payload: e } of trust.attestations(graph)) { dids.add(e.source); dids.add(e.target) }
        dids.delete(self)
        return [...dids].sort().map((did) => ({
          did,
          scores: Object.fromEntries(TRUST_GRAPHS.map((graph) => [graph, { score: trust.trustOf(self, did, graph), class: trust.classOf(self, did, graph) }]))
        }))
      }
    },

    // Governance: a proposal is recorded and submitted at once (deliberation then voting follow the charter's schedule).
    {
      method: 'POST',
      path: '/proposals',
      handler: async ({ body }) => {
        const input = {
          kind: requireString(body, 'kind'),
          title: requireString(body, 'title'),
          description: optionalString(body, 'description') ?? '',
          payload: (body as Record<string, unknown>).payload ?? {},
          ...((body as Record<string, unknown>).deliberationMs === undefined ? {} : { deliberationMs: requireNumber(body, 'deliberationMs', 0, Number.MAX_SAFE_INTEGER) })
        } as ProposalInput
        return await raiseProposal(node, input)
      }
    },
    {
      method: 'GET',
      path: '/proposals',
      handler: async ({ query }) => governance.proposals().filter((p) => query.get('state') === null || p.state === query.get('state')).map((p) => ({
        id: p.id, kind: p.kind, title: p.title, proposer: p.proposer, proposerName: nameOf(p.proposer), state: p.state, opensAt: p.opensAt, closesAt: p.closesAt, result: p.result
      }))
    },
    {
      method: 'GET',
      path: '/proposals/:id',
      handler: async ({ params }) => {
        const p = params.id!.length > MAX_PROPOSAL_ID_LENGTH ? undefined : governance.proposal(params.id!)
        if (p === undefined) throw new ApiError(404, 'NOT_FOUND', `no proposal ${params.id!}`)
        return { id: p.id, kind: p.kind, title: p.title, payload: p.payload, proposer: p.proposer, state: p.state, opensAt: p.opensAt, closesAt: p.closesAt, tally: p.tally, history: p.history }
      }
    },
    {
      method: 'GET',
      path: '/proposals/:id/votes',
      handler: async ({ params }) => {
        if (params.id!.length > MAX_PROPOSAL_ID_LENGTH || governance.proposal(params.id!) === undefined) throw new ApiError(404, 'NOT_FOUND', `no proposal ${params.id!.slice(0, MAX_PROPOSAL_ID_LENGTH)}`)
        return governance.votes(params.id!).map((v) => ({ voter: v.voter, choice: v.choice, castAt: v.castAt, cid: v.cid }))
      }
    },
    {
      method: 'GET',
      path: '/governance/charter',
      handler: async () => {
        const c = governance.charter()
        return { domain: c.domain, version: c.version, previous: c.previous, amendedBy: c.amendedBy, rules: c.rules, members: c.members }
      }
    },
    {
      method: 'POST',
      path: '/votes',
      handler: async ({ body }) => {
        const proposal = requireString(body, 'proposal')
        if (proposal.length > MAX_PROPOSAL_ID_LENGTH) throw new ApiError(400, 'BAD_REQUEST', `'proposal' must be a proposal id (at most ${MAX_PROPOSAL_ID_LENGTH} characters)`)
        const choice = requireString(body, 'choice')
        if (!(VOTE_CHOICES as readonly string[]).includes(choice)) throw new ApiError(400, 'BAD_REQUEST', `'choice' must be one of ${VOTE_CHOICES.join(', ')}`)
        const { status } = await castVote(node, proposal, choice as VoteChoice)
        return { proposal, voter: self, choice, status }
      }
    },

    // Membership: who belongs, invitations, names.
    { method: 'GET', path: '/members', handler: async () => node.membership.view() },
    {
      method: 'POST',
      path: '/invitations',
      handler: async ({ body }) => {
        const expiresInMs = (body as Record<string, unknown>).expiresInMs === undefined ? undefined : requireNumber(body, 'expiresInMs', 60_000, 365 * 24 * 3600 * 1000)
        const name = optionalString(body, 'name')
        return await node.membership.createInvitation({ ...(expiresInMs === undefined ? {} : { expiresInMs }), ...(name === undefined ? {} : { name }) })
      }
    },
    { method: 'GET', path: '/invitations', handler: async () => node.membership.view().invitations },
    {
      method: 'POST',
      path: '/profile',
      handler: async ({ body }) => {
        const name = checkDisplayName(requireString(body, 'name'), (message) => new ApiError(400, 'BAD_REQUEST', message))
        const result = await governance.setName(keyPair, name)
        await gossip.publish(TOPICS.proposal, encodeEnvelope(result.envelope))
        return { did: self, name, status: result.status }
      }
    },

    // Snapshots: take (coordinated by this node, over every connected peer), list, verify across participants, restore locally.
    {
      method: 'POST',
      path: '/snapshots',
      handler: async () => {
        const { snapshotId, outcome } = snapshot.startSnapshot()
        changes.bump() // the snapshot is active (status.snapshots.active) until its outcome
        const result = await outcome
        if (result.status === 'failed') throw new ApiError(409, 'BAD_REQUEST', `snapshot ${snapshotId} failed: ${result.reason}`)
        const s = result.snapshot
        return { snapshotId, root: hex(s.root), participants: s.participants, initiator: s.initiator, completedAt: s.completedAt }
      }
    },
    {
      method: 'GET',
      path: '/snapshots',
      handler: async () => (await snapshotStore.list()).map((s) => ({ ...s, root: hex(s.root) }))
    },
    {
      method: 'POST',
      path: '/snapshots/:id/verify',
      handler: async ({ params }) => {
        const id = params.id!
        await requireCompletedSnapshot(node, id)
        const report = await snapshot.verify(id)
        return {
          snapshotId: id,
          valid: report.valid,
          expectedRoot: hex(report.expectedRoot),
          results: report.results.map((r) => ({ verifier: r.verifier, valid: r.valid, computedRoot: r.computedRoot === undefined ? null : hex(r.computedRoot), reason: r.reason }))
        }
      }
    },
    // This node's Merkle inclusion proof in a completed snapshot, checked here against the snapshot's root.
    {
      method: 'GET',
      path: '/snapshots/:id/proof',
      handler: async ({ params }) => {
        const id = params.id!
        await requireCompletedSnapshot(node, id)
        const proof = snapshot.inclusionProof(id)
        return {
          snapshotId: id,
          root: hex(proof.root),
          did: proof.leaf.did,
          leaf: { stateHash: hex(proof.leaf.stateHash), stateSize: proof.leaf.stateSize, channelHash: hex(proof.leaf.channelHash), channelSize: proof.leaf.channelSize },
          index: proof.index,
          leafCount: proof.leafCount,
          steps: proof.steps.map((step) => ({ side: step.side, hash: hex(step.hash) })),
          valid: verifyInclusion(proof)
        }
      }
    },
    // The audit of a completed snapshot without restoring it: recorded balances and heads, entries in flight,
    // the conservation law per currency, every participant's leaf in the root (audit.ts).
    { method: 'GET', path: '/snapshots/:id/audit', handler: async ({ params }) => await auditHeldSnapshot(node, params.id!) },
    // The audited balances, as `icn-node snapshot export` writes them (`?format=csv`, else JSON rows): the dashboard's download.
    {
      method: 'GET',
      path: '/snapshots/:id/audit/balances',
      handler: async ({ params, query }) => {
        const format = query.get('format') ?? 'json'
        if (format !== 'csv' && format !== 'json') throw new ApiError(400, 'BAD_REQUEST', "'format' must be csv or json")
        const audit = await auditHeldSnapshot(node, params.id!)
        return format === 'csv' ? new RawAnswer(auditedBalancesCsv(audit) + '\n', 'text/csv; charset=utf-8') : auditedBalances(audit)
      }
    },
    { method: 'POST', path: '/snapshots/:id/restore', handler: async ({ params }) => await restoreSnapshot(node, params.id!) },
    { method: 'POST', path: '/snapshots/prune', handler: async ({ body }) => await pruneSnapshots(snapshotStore, body) },
    // Files the snapshot store moved aside as damaged (at start or at a later read), oldest first.
    { method: 'GET', path: '/snapshots/damaged', handler: async () => snapshotStore.damaged() }
  ]
}

// The dashboard overview's pictures: figures per UTC day over a window ending today (by this node's clock).

const DAY_MS = 86_400_000

/** The start (ms) of each UTC day of the `days`-day window that ends with the day of `now`, oldest first. */
function windowDays (now: number, days: number): number[] {
  const today = Math.floor(now / DAY_MS) * DAY_MS
  return Array.from({ length: days }, (_, i) => today - (days - 1 - i) * DAY_MS)
}

/**
 * Entries read (each one decoded) between two yields to the event loop: a 30-day window on a busy node is
 * thousands of entries, and reading them in one go would stall gossip and the API for seconds.
 */
const HISTORY_STEP = 100

/** `account`'s applied entries stamped at or after `since`, oldest first (history is ordered by timestamp). */
async function * historySince (ledger: Ledger, account: Did, since: number): AsyncGenerator<{ id: string, entry: JournalEntry }> {
  // The ledger's cursor is `<timestamp>:<id>`: starting just before `since` skips the older history.
  let after: string | undefined = `${Math.max(0, since - 1)}:`
  while (after !== undefined) {
    const page = ledger.history(account, { limit: HISTORY_STEP, after })
    for (const record of page.entries) if (record.entry.timestamp >= since) yield { id: record.id, entry: record.entry }
    after = page.next
    if (after !== undefined) await new Promise<void>((resolve) => { setImmediate(resolve) })
  }
}

/** Which day of the window `timestamp` falls in (an entry stamped after today counts as today's). */
const dayIndex = (start: number, days: number, timestamp: number): number => Math.min(days - 1, Math.floor((timestamp - start) / DAY_MS))

/**
 * `account`'s balance at the end of each day of the window, per currency: anchored at the balance now and
 * walked back through the window's entries (older history is never read).
 */
export async function balanceHistory (ledger: Ledger, account: Did, days: number, now: number): Promise<{ account: Did, days: string[], balances: Record<string, string[]> }> {
  const starts = windowDays(now, days)
  const changes = new Map<string, bigint[]>()
  for await (const { entry } of historySince(ledger, account, starts[0]!)) {
    const day = dayIndex(starts[0]!, days, entry.timestamp)
    for (const d of entry.deltas) {
      if (d.account !== account) continue
      const perDay = changes.get(d.currency) ?? Array.from({ length: days }, () => 0n)
      perDay[day]! += (d.credit ?? 0n) - (d.debit ?? 0n)
      changes.set(d.currency, perDay)
    }
  }
  // Balances now, read after the walk (it yields): an entry applied meanwhile is in both, unless it is stamped
  // before the walk's position (a late one from a peer), which shifts the earlier days until the next read.
  const currencies = [...new Set([...ledger.balances(account).map((r) => r.currency), ...changes.keys()])].sort()
  const balances: Record<string, string[]> = {}
  for (const currency of currencies) {
    const perDay = changes.get(currency) ?? []
    const ends: bigint[] = new Array<bigint>(days)
    let balance = ledger.balance(account, currency)
    for (let i = days - 1; i >= 0; i--) {
      ends[i] = balance
      balance -= perDay[i] ?? 0n
    }
    balances[currency] = ends.map((b) => b.toString())
  }
  return { account, days: starts.map((s) => new Date(s).toISOString().slice(0, 10)), balances }
}

/** Entries applied by this node per day of the window, across every account (the network's payments as this node holds them). */
export async function paymentsPerDay (ledger: Ledger, days: number, now: number): Promise<{ days: Array<{ day: string, payments: number }> }> {
  const starts = windowDays(now, days)
  const counts = starts.map(() => 0)
  const seen = new Set<string>()
  // Every entry is in the history of each account it moves; an author's own account is among them.
  for (const account of new Set(ledger.balances().map((r) => r.account))) {
    for await (const { id, entry } of historySince(ledger, account, starts[0]!)) {
      if (seen.has(id)) continue
      seen.add(id)
      counts[dayIndex(starts[0]!, days, entry.timestamp)]! += 1
    }
  }
  return { days: starts.map((s, i) => ({ day: new Date(s).toISOString().slice(0, 10), payments: counts[i]! })) }
}

/** `GET /ledger/balance-history?account=&days=` and `GET /ledger/payments-per-day?days=` (days: 1–366, default 30). */
function pictureRoutes (node: NodeServices): ApiRoute[] {
  const { ledger, clock, keyPair } = node
  return [
    {
      method: 'GET',
      path: '/ledger/balance-history',
      handler: async ({ query }) => await balanceHistory(ledger, requireDid(query.get('account') ?? keyPair.did, 'account'), integerParam(query, 'days', 1, 366) ?? 30, clock.now())
    },
    { method: 'GET', path: '/ledger/payments-per-day', handler: async ({ query }) => await paymentsPerDay(ledger, integerParam(query, 'days', 1, 366) ?? 30, clock.now()) }
  ]
}
