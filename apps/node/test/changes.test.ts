import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { ApiCallError, connectApi } from '../src/client.js'
import { type MeshNode, initNode, startMesh, versionOf } from './helpers/cluster.js'

const auditScript = fileURLToPath(new URL('./helpers/exit-audit.mjs', import.meta.url))
const CLEAN = '{"exitAudit":{"lingeringTimers":[]}}'

/**
 * A node's version and its transport's peer-change count: a link that drops and comes back (a busy
 * machine) is two changes of its own, so each payment's one change is counted beside them.
 */
async function versionAndPeerChanges (node: MeshNode): Promise<{ version: number, peerChanges: number }> {
  const status = await node.api.get('/status') as { version: number, transport: { peerChanges: number } }
  return { version: status.version, peerChanges: status.transport.peerChanges }
}

async function balance (node: MeshNode, of: MeshNode): Promise<string> {
  return (await node.api.get(`/balance?account=${of.did}`) as { balance: string }).balance
}

describe('the change feed: status.version and GET /wait', () => {
  it('bumps the version once per payment on payer and payee, and a long-poll answers as soon as the change is visible', async () => {
    await withTempDir(async (dir) => {
      const nodes = await startMesh(dir, 2)
      const [a, b] = nodes as [MeshNode, MeshNode]
      try {
        const { version: va, peerChanges: pa } = await versionAndPeerChanges(a)
        const { version: vb, peerChanges: pb } = await versionAndPeerChanges(b)
        // Nothing changes meanwhile: a short wait times out with the same version.
        expect(await b.api.get(`/wait?since=${vb}&timeoutMs=50`)).toEqual({ version: vb })
        // A version already past `since` answers at once.
        expect(await b.api.get(`/wait?since=${vb - 1}`)).toEqual({ version: vb })

        // B long-polls (default timeout 25 s); A pays B: the answer is B's next version, with the payment applied.
        const poll = b.api.get(`/wait?since=${vb}`)
        expect(await a.api.post('/pay', { to: b.did, amount: '10' })).toMatchObject({ from: a.did, to: b.did, amount: '10', balance: '-10' })
        const afterA = await versionAndPeerChanges(a)
        expect(afterA.version - va).toBe(1 + afterA.peerChanges - pa)
        const answer = await poll as { version: number }
        expect(await balance(b, a)).toBe('-10')
        expect(await balance(b, b)).toBe('10')
        const afterB = await versionAndPeerChanges(b)
        expect(afterB.version - vb).toBe(1 + afterB.peerChanges - pb)
        // The first change B's long-poll saw is the payment, unless a peer change came first.
        if (afterB.peerChanges === pb) expect(answer).toEqual({ version: vb + 1 })

        // And the other way: A's long-poll answers with A's next version once B's payment is applied on A.
        const back = a.api.get(`/wait?since=${afterA.version}`)
        await b.api.post('/pay', { to: a.did, amount: '4' })
        const backAnswer = await back as { version: number }
        expect(await balance(a, b)).toBe('6')
        const againA = await versionAndPeerChanges(a)
        expect(againA.version - afterA.version).toBe(1 + againA.peerChanges - afterA.peerChanges)
        if (againA.peerChanges === afterA.peerChanges) expect(backAnswer).toEqual({ version: afterA.version + 1 })

        for (const [query, message] of [
          ['since=x', "'since' must be an integer in [0, 9007199254740991]"],
          ['since=-1', "'since' must be an integer in [0, 9007199254740991]"],
          ['since=0&timeoutMs=0', "'timeoutMs' must be an integer in [1, 25000]"],
          ['since=0&timeoutMs=25001', "'timeoutMs' must be an integer in [1, 25000]"]
        ] as const) {
          const error = await a.api.get(`/wait?${query}`).catch((err: unknown) => err)
          expect(error).toBeInstanceOf(ApiCallError)
          expect((error as ApiCallError).status).toBe(400)
          expect((error as ApiCallError).message).toBe(`400 BAD_REQUEST: ${message}`)
        }
      } finally {
        for (const n of nodes) expect(await n.stop()).toBe(0)
      }
    })
  }, 60_000)

  it('releases a pending long-poll when the node stops: it answers { version, stopping: true }, the process exits 0 with no timer left', async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'n')
      await initNode(dataDir)
      const node = startSubprocess(auditScript, ['run', '--data-dir', dataDir, '--log-level', 'debug'])
      try {
        await node.waitForOutput('"msg":"node ready"')
        const api = await connectApi(dataDir)
        const version = await versionOf(api)
        const poll = api.get(`/wait?since=${version}`)
        // The node logs the wait once the request is being served; only then is it stopped.
        await node.waitForOutput('"msg":"change wait"')
        node.kill('SIGTERM')
        expect(await poll).toEqual({ version, stopping: true })
        expect(await node.exited).toBe(0)
      } finally {
        node.kill('SIGKILL')
      }
      expect(node.stdout().split('\n').filter((line) => line.includes('"exitAudit"'))).toEqual([CLEAN])
      expect(node.stderr()).toBe('')
    })
  })
})
