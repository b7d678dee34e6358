import { type ProposalInput, type VoteChoice, VOTE_CHOICES } from '@icn/governance'
import { type Did, encodeEnvelope, isDid, toHex } from '@icn/identity'
import { createAttestation, isTrustGraphName, type TrustGraphName } from '@icn/trust'
import { type ApiRoute, optionalString, requireAmount, requireNumber, requireString } from './api.js'
import { TOPICS } from './bridges.js'
import { MAX_WAIT_MS } from './changes.js'
import { ApiError } from './errors.js'
import type { NodeServices, NodeStatus } from './node.js'
import { requireCompletedSnapshot, restoreSnapshot } from './restore.js'

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

/** Reads an optional non-negative integer query parameter within [min, max]. */
function integerParam (query: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const text = query.get(name)
  if (text === null) return undefined
  const value = /^[0-9]+$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new ApiError(400, 'BAD_REQUEST', `'${name}' must be an integer in [${min}, ${max}]`)
  return value
}

/** The node's API routes: status, the change feed and peers, then one group per subsystem. */
export function nodeRoutes (node: NodeServices, status: () => NodeStatus): ApiRoute[] {
  const { keyPair, transport, trust, ledger, governance, gossip, snapshot, snapshotStore, clock, changes } = node
  const self = keyPair.did
  return [
    { method: 'GET', path: '/status', handler: async () => status() },
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
    { method: 'GET', path: '/peers', handler: async () => transport.connectedPeers() },
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

    // Ledger: a payment is signed and applied locally, then gossiped.
    {
      method: 'POST',
      path: '/pay',
      handler: async ({ body }) => {
        const to = requireDid(requireString(body, 'to'), 'to')
        const amount = requireAmount(body, 'amount')
        const currency = optionalString(body, 'currency') ?? DEFAULT_CURRENCY
        const record = await ledger.pay(keyPair, to, currency, amount, optionalString(body, 'reference'))
        await gossip.publish(TOPICS.ledger, record.bytes)
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
          currency,
          balance: ledger.balance(account, currency).toString(),
          creditLimit: ledger.creditLimit(account, currency).toString(),
          stateRoot: ledger.stateRoot()
        }
      }
    },
    { method: 'GET', path: '/balances', handler: async () => ledger.balances().map((row) => ({ ...row })) },
    // Chains a snapshot restore moved back: their authors cannot sign until the lost entries come back, or until
    // the operator releases the floor (deliberately: if the entries do exist somewhere they will show up as forks).
    { method: 'GET', path: '/ledger/floors', handler: async () => ledger.chainFloors() },
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
        const attestation = createAttestation(keyPair, { target: subject, graph, score, createdAt: clock.now() })
        const outcome = await trust.attest(attestation)
        await gossip.publish(TOPICS.trust, encodeEnvelope(attestation))
        return { cid: attestation.cid, source: self, subject, graph, score, outcome }
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
        const proposed = await governance.propose(keyPair, input)
        await gossip.publish(TOPICS.proposal, encodeEnvelope(proposed.envelope))
        const submitted = await governance.submit(keyPair, proposed.proposal)
        await gossip.publish(TOPICS.proposal, encodeEnvelope(submitted.envelope))
        const proposal = governance.proposal(proposed.proposal)
        return { id: proposed.proposal, state: proposal?.state, opensAt: proposal?.opensAt, closesAt: proposal?.closesAt }
      }
    },
    {
      method: 'GET',
      path: '/proposals',
      handler: async ({ query }) => governance.proposals().filter((p) => query.get('state') === null || p.state === query.get('state')).map((p) => ({
        id: p.id, kind: p.kind, title: p.title, proposer: p.proposer, state: p.state, opensAt: p.opensAt, closesAt: p.closesAt, result: p.result
      }))
    },
    {
      method: 'GET',
      path: '/proposals/:id',
      handler: async ({ params }) => {
        const p = governance.proposal(params.id!)
        if (p === undefined) throw new ApiError(404, 'NOT_FOUND', `no proposal ${params.id!}`)
        return { id: p.id, kind: p.kind, title: p.title, payload: p.payload, proposer: p.proposer, state: p.state, opensAt: p.opensAt, closesAt: p.closesAt, tally: p.tally, history: p.history }
      }
    },
    {
      method: 'POST',
      path: '/votes',
      handler: async ({ body }) => {
        const proposal = requireString(body, 'proposal')
        const choice = requireString(body, 'choice')
        if (!(VOTE_CHOICES as readonly string[]).includes(choice)) throw new ApiError(400, 'BAD_REQUEST', `'choice' must be one of ${VOTE_CHOICES.join(', ')}`)
        const result = await governance.vote(keyPair, proposal, choice as VoteChoice)
        await gossip.publish(TOPICS.vote, encodeEnvelope(result.envelope))
        return { proposal, voter: self, choice, status: result.status }
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
    { method: 'POST', path: '/snapshots/:id/restore', handler: async ({ params }) => await restoreSnapshot(node, params.id!) }
  ]
}
