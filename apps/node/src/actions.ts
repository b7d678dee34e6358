import type { ProposalInput, VoteChoice } from '@icn/governance'
import { type Did, encodeEnvelope } from '@icn/identity'
import { type TrustGraphName, createAttestation } from '@icn/trust'
import { TOPICS } from './bridges.js'
import type { NodeServices } from './node.js'

/** The services a local action signs with, applies to and gossips on. */
export type ActingNode = Pick<NodeServices, 'keyPair' | 'clock' | 'trust' | 'governance' | 'gossip'>

/** Signs an attestation of `subject`, stores it and gossips it. */
export async function attest (node: ActingNode, subject: Did, graph: TrustGraphName, score: number): Promise<{ cid: string, outcome: Awaited<ReturnType<NodeServices['trust']['attest']>> }> {
  const attestation = createAttestation(node.keyPair, { target: subject, graph, score, createdAt: node.clock.now() })
  const outcome = await node.trust.attest(attestation)
  await node.gossip.publish(TOPICS.trust, encodeEnvelope(attestation))
  return { cid: attestation.cid, outcome }
}

/** Records a proposal and submits it at once (deliberation, then voting, follow the charter's schedule); both gossiped. */
export async function raiseProposal (node: ActingNode, input: ProposalInput): Promise<{ id: string, state: string | undefined, opensAt: number | null | undefined, closesAt: number | null | undefined }> {
  const proposed = await node.governance.propose(node.keyPair, input)
  await node.gossip.publish(TOPICS.proposal, encodeEnvelope(proposed.envelope))
  const submitted = await node.governance.submit(node.keyPair, proposed.proposal)
  await node.gossip.publish(TOPICS.proposal, encodeEnvelope(submitted.envelope))
  const proposal = node.governance.proposal(proposed.proposal)
  return { id: proposed.proposal, state: proposal?.state, opensAt: proposal?.opensAt, closesAt: proposal?.closesAt }
}

/** Signs and records this node's vote, and gossips it. */
export async function castVote (node: ActingNode, proposal: string, choice: VoteChoice): Promise<{ status: string }> {
  const result = await node.governance.vote(node.keyPair, proposal, choice)
  await node.gossip.publish(TOPICS.vote, encodeEnvelope(result.envelope))
  return { status: result.status }
}
