import { PassThrough } from 'node:stream'
import { isDid } from '@icn/identity'
import { describe, expect, it } from 'vitest'
import { runDemo } from '../src/demo.js'
import { cliScript } from './helpers/cluster.js'

// Real OS processes (`icn-node run`) on loopback, driven through their local APIs.
async function demo (nodes: number): Promise<{ result: Awaited<ReturnType<typeof runDemo>>, output: string }> {
  const out = new PassThrough()
  let output = ''
  out.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const result = await runDemo({ nodes, out, cliPath: cliScript, timeoutMs: 90_000 })
  return { result, output }
}

describe('multi-node integration over libp2p (real processes)', () => {
  it('3 nodes: payments made on one node are applied on the others, a proposal passes with votes from every node and changes a credit limit, snapshots complete with one root verified everywhere; a 4th joins by invitation, catches up and pays', async () => {
    const { result, output } = await demo(3)
    expect(result.dids).toHaveLength(3)
    expect(result.dids.every((did) => isDid(did))).toBe(true)
    // node i pays node i+1 (100 + 50 i): 0→1 100, 1→2 150, 2→0 200; then the invitee pays node0 25.
    expect(result.balances).toEqual(['125', '-50', '-50'])
    expect(result.stateRoot).toMatch(/^[0-9a-f]{64}$/)
    expect(result.proposal.state).toBe('executed')
    expect(result.proposal.creditLimit).toBe('50000')
    expect(result.periodicSnapshot).toMatch(/^[0-9a-f]+$/)
    expect(result.snapshot.verifiedBy).toBe(3)
    expect(result.snapshot.root).toMatch(/^[0-9a-f]{64}$/)
    expect(output).toContain(`global state root         ${result.snapshot.root}`)
    expect(isDid(result.joined.did)).toBe(true)
    expect(result.dids).not.toContain(result.joined.did)
    expect(result.joined.name).toBe('Willow Credit Union')
    expect(result.joined.proposal).toMatch(/^bafyrei[a-z2-7]{52}$/)
    expect(result.joined.proposal).not.toBe(result.proposal.id)
    expect(result.joined.stateRoot).toBe(result.stateRoot)
    expect(output).toContain('(exit codes 0, 0, 0, 0)')
  }, 120_000)

  it('5 nodes: the same scenario converges on every node', async () => {
    const { result, output } = await demo(5)
    // 0→1 100, 1→2 150, 2→3 200, 3→4 250, 4→0 300; the invitee pays node0 25.
    expect(result.balances).toEqual(['225', '-50', '-50', '-50', '-50'])
    expect(result.proposal.creditLimit).toBe('50000')
    expect(result.snapshot.verifiedBy).toBe(5)
    expect(output).toContain('(exit codes 0, 0, 0, 0, 0, 0)')
  }, 120_000)
})
