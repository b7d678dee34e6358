// Real processes: damaged stored snapshots never stop `icn-node run`. The node's snapshot store moves
// them into snapshots/damaged/ when it opens, logs one warning per file, counts them in GET /status
// and lists them at GET /snapshots/damaged; the intact snapshot is still listed and verifiable.
import { createHash } from 'node:crypto'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { type MeshNode, eventually, startMesh, startMeshNode } from './helpers/cluster.js'

interface Damaged { file: string, snapshotId: string | null, kind: string, reason: string, movedTo: string, detectedAt: number }

/** The node's "damaged stored snapshot file moved aside" warnings, as logged (file and kind). */
function warnings (node: MeshNode): Array<[string, string]> {
  return node.proc.stdout().split('\n').filter((line) => line.includes('"msg":"damaged stored snapshot file moved aside"')).map((line) => {
    const entry = JSON.parse(line) as { level: number, service: string, file: string, kind: string }
    expect([entry.level, entry.service]).toEqual([40, 'snapshot-store'])
    return [entry.file, entry.kind]
  })
}

describe('a damaged stored snapshot', () => {
  it('is moved aside with a warning at start, listed and counted; the node starts and keeps the intact snapshot; a restart reports nothing new', async () => {
    await withTempDir(async (root) => {
      const nodes = await startMesh(root, 3)
      const ids: string[] = []
      try {
        for (let i = 0; i < 2; i++) ids.push((await nodes[0]!.api.post('/snapshots') as { snapshotId: string }).snapshotId)
        await eventually('both snapshots stored', nodes[0]!.api, async () => (await nodes[0]!.api.get('/snapshots') as unknown[]).length === 2 ? true : undefined)
      } finally {
        for (const n of nodes) expect(await n.stop()).toBe(0)
      }
      const [broken, kept] = ids as [string, string]
      const dir = join(nodes[0]!.dataDir, 'snapshots')
      const meta = join(dir, `${broken}.snapshot`)
      const bytes = await readFile(meta)
      bytes[bytes.length - 5]! ^= 1
      await writeFile(meta, bytes)
      const sidecar = (await readFile(`${meta}.sha256`, 'utf8')).slice(0, 64)
      await writeFile(join(dir, 'x.snapshot.sha256'), 'junk')
      await writeFile(join(dir, 'notes.txt'), 'hello')

      const brokenFiles = [`${broken}.snapshot`, `${broken}.snapshot.sha256`]
      const reason = `${broken}.snapshot: sha-256 ${createHash('sha256').update(bytes).digest('hex')} does not match ${broken}.snapshot.sha256 (${sidecar})`
      // In the store's order: unknown names, then snapshot ids sorted (hex ids sort before 'x').
      const expected = [
        { file: 'notes.txt', snapshotId: null, kind: 'unknown', reason: 'not a file of the snapshot store' },
        ...brokenFiles.map((file) => ({ file, snapshotId: broken, kind: 'corrupt', reason })),
        { file: 'x.snapshot.sha256', snapshotId: 'x', kind: 'corrupt', reason: 'x.snapshot: checksum file present but snapshot file missing' }
      ].map((d) => ({ ...d, movedTo: join(dir, 'damaged', d.file) }))

      const listedAs = async (node: MeshNode): Promise<{ damaged: Array<Omit<Damaged, 'detectedAt'>>, detectedAt: number[], count: number, ids: string[] }> => {
        const damaged = await node.api.get('/snapshots/damaged') as Damaged[]
        const status = await node.api.get('/status') as { snapshots: { damaged: number } }
        const list = await node.api.get('/snapshots') as Array<{ snapshotId: string }>
        return { damaged: damaged.map(({ detectedAt: _, ...d }) => d), detectedAt: [...new Set(damaged.map((d) => d.detectedAt))], count: status.snapshots.damaged, ids: list.map((s) => s.snapshotId) }
      }

      const restarted = await startMeshNode(nodes[0]!.dataDir, 0)
      let detectedAt: number[]
      try {
        const seen = await listedAs(restarted)
        expect({ ...seen, detectedAt: seen.detectedAt.length }).toEqual({ damaged: expected, detectedAt: 1, count: 4, ids: [kept] })
        detectedAt = seen.detectedAt
        expect(warnings(restarted)).toEqual(expected.map((d) => [d.file, d.kind]))
        expect((await readdir(dir)).sort()).toEqual([`${kept}.snapshot`, `${kept}.snapshot.sha256`, 'chunks', 'damaged'].sort())
        expect(await readFile(join(dir, 'damaged', `${broken}.snapshot`))).toEqual(bytes)
        const proof = await restarted.api.get(`/snapshots/${kept}/proof`) as { valid: boolean }
        expect(proof.valid).toBe(true)
      } finally {
        expect(await restarted.stop()).toBe(0)
      }

      // Already moved: the next start warns about nothing and lists the same, with the first detection time.
      const again = await startMeshNode(nodes[0]!.dataDir, 0)
      try {
        expect(await listedAs(again)).toEqual({ damaged: expected, detectedAt, count: 4, ids: [kept] })
        expect(warnings(again)).toEqual([])
      } finally {
        expect(await again.stop()).toBe(0)
      }
    })
  }, 120_000)
})
