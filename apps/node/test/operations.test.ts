import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SubprocessError, withTempDir } from '@icn/testkit'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { connectApi } from '../src/client.js'
import { type MeshNode, cli, eventually, ledgerOf, startMesh, startMeshNode } from './helpers/cluster.js'

/** GET /metrics as Prometheus scrapes it: the bearer token, the text format. */
async function scrape (node: MeshNode): Promise<{ contentType: string | null, text: string }> {
  const token = (await readFile(join(node.dataDir, 'api-token'), 'utf8')).trim()
  const response = await fetch(`http://127.0.0.1:${node.runtime.apiPort}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  expect(response.status).toBe(200)
  return { contentType: response.headers.get('content-type'), text: await response.text() }
}

/** One sample of a parsed family: its value as a number (the labels must match exactly). */
function sample (families: ReturnType<typeof parsePrometheusTextFormat>, name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name)
  if (family === undefined) throw new Error(`no metric ${name}`)
  const metric = family.metrics.find((m) => JSON.stringify(m.labels ?? {}) === JSON.stringify(labels))
  if (metric?.value === undefined) throw new Error(`no sample ${name}${JSON.stringify(labels)} in ${JSON.stringify(family.metrics)}`)
  return Number(metric.value)
}

const balanceOf = async (node: MeshNode, account: string): Promise<string> => (await node.api.get(`/balance?account=${account}`) as { balance: string }).balance

describe('day-2 operations on a two-member cooperative', () => {
  it('statement with running balances, /metrics, a 2-participant snapshot, online backup → fresh dir → restore → same state root, and the restored node pays on', async () => {
    await withTempDir(async (root) => {
      // A two-member cooperative snapshots when its config says 2 participants suffice.
      const nodes = await startMesh(root, 2, 4000, async (dirs) => {
        for (const dir of dirs) {
          const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>
          await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, snapshotMinParticipants: 2 }))
        }
      })
      const [a, b] = nodes as [MeshNode, MeshNode]
      let restored: MeshNode | undefined
      try {
        const paid: Array<{ id: string }> = []
        paid.push(await a.api.post('/pay', { to: b.did, amount: '30', reference: 'rent, march' }) as { id: string })
        paid.push(await b.api.post('/pay', { to: a.did, amount: '12' }) as { id: string })
        await eventually('b\'s payment on a', a.api, async () => (await balanceOf(a, a.did)) === '-18' ? true : undefined)
        paid.push(await a.api.post('/pay', { to: b.did, amount: '5' }) as { id: string })
        await eventually('3 entries on b', b.api, async () => (await ledgerOf(b)).entries === 3 ? true : undefined)

        // The statement of a's account: every entry with its running balance, oldest first.
        const statement = await a.api.get('/statement') as { opening: string, closing: string, lines: Array<{ id: string, debit: string | null, credit: string | null, balance: string, counterparties: string[], reference: string | null }> }
        expect(statement.opening).toBe('0')
        expect(statement.closing).toBe('-23')
        expect(statement.lines.map((l) => [l.id, l.debit, l.credit, l.balance, l.counterparties, l.reference])).toEqual([
          [paid[0]!.id, '30', null, '-30', [b.did], 'rent, march'],
          [paid[1]!.id, null, '12', '-18', [b.did], null],
          [paid[2]!.id, '5', null, '-23', [b.did], null]
        ])
        // b's side of the same entries, and a period that leaves out the first one: its opening is the balance before.
        const lines = (await b.api.get(`/statement?account=${b.did}`) as typeof statement).lines
        expect(lines.map((l) => l.balance)).toEqual(['30', '18', '23'])
        const second = (await a.api.get(`/statement?from=${(await a.api.get('/statement') as { lines: Array<{ timestamp: number }> }).lines[1]!.timestamp}`)) as typeof statement
        expect([second.opening, second.closing, second.lines.map((l) => l.balance)]).toEqual(['-30', '-23', ['-18', '-23']])
        // The CLI: a table, and CSV with the running balance.
        const csv = (await cli(['statement', '--csv', '--data-dir', a.dataDir])).split('\r\n')
        expect(csv[0]).toBe('date,entry,counterparty,reference,debit,credit,balance,currency')
        expect(csv.slice(1).map((line) => line.split(',').slice(1))).toEqual([
          [paid[0]!.id, b.did, '"rent', ' march"', '30', '', '-30', 'ICN'],
          [paid[1]!.id, b.did, '', '', '12', '-18', 'ICN'],
          [paid[2]!.id, b.did, '', '5', '', '-23', 'ICN']
        ])
        const human = (await cli(['statement', '--data-dir', a.dataDir])).split('\n')
        expect(human[1]).toBe('opening balance 0')
        expect(human.at(-1)).toBe('closing balance -23')
        const badDate = await cli(['statement', '--from', 'yesterday', '--data-dir', a.dataDir]).catch((err: unknown) => err)
        expect((badDate as SubprocessError).stderr).toBe("icn-node: 400 BAD_REQUEST: 'from' must be a date (2026-01-31), a date-time (2026-01-31T12:00:00Z) or ms since the epoch\n")

        // Two participants are enough here.
        const snapshot = await a.api.post('/snapshots') as { participants: string[] }
        expect([...snapshot.participants].sort()).toEqual([a.did, b.did].sort())

        // /metrics, parsed as Prometheus parses it, carries the same figures as /status.
        const { contentType, text } = await scrape(a)
        expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8')
        const families = parsePrometheusTextFormat(text)
        const status = await a.api.get('/status') as { ledger: { entries: number }, trust: { attestations: number }, gossip: { published: number }, membership: { networkId: string }, transport: { peerChanges: number, silentHangUps: number } }
        expect(sample(families, 'icn_node_info', { did: a.did, network: status.membership.networkId, version: JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')).version as string })).toBe(1)
        expect(sample(families, 'icn_peers_connected')).toBe(1)
        expect(sample(families, 'icn_members')).toBe(2)
        expect(sample(families, 'icn_ledger_entries')).toBe(3)
        expect(sample(families, 'icn_ledger_pending_entries')).toBe(0)
        expect(sample(families, 'icn_trust_attestations')).toBe(4)
        expect(sample(families, 'icn_gossip_published_total')).toBe(status.gossip.published)
        expect(sample(families, 'icn_snapshots_total', { outcome: 'completed' })).toBe(1)
        expect(sample(families, 'icn_snapshots_total', { outcome: 'failed' })).toBe(0)
        expect(sample(families, 'icn_snapshots_active')).toBe(0)
        expect(sample(families, 'icn_refused_total', { kind: 'connection_not_a_member' })).toBe(0)
        expect(sample(families, 'icn_sync_behind_entries', { peer: b.did })).toBe(0)
        // b connected at least once; /status was read after /metrics, so it holds at least as many changes.
        expect(sample(families, 'icn_transport_peer_changes_total')).toBeGreaterThanOrEqual(1)
        expect(sample(families, 'icn_transport_peer_changes_total')).toBeLessThanOrEqual(status.transport.peerChanges)
        expect(sample(families, 'icn_transport_silent_hang_ups_total')).toBe(0)
        // Two members, room for 16: nobody was told this node is full.
        expect(sample(families, 'icn_discovery_full_total', { event: 'turned_away' })).toBe(0)
        expect(sample(families, 'icn_discovery_full_total', { event: 'left' })).toBe(0)
        expect(status.transport.silentHangUps).toBe(0)
        expect(sample(families, 'icn_event_loop_stall_seconds', { stat: 'max' })).toBeGreaterThanOrEqual(0)
        const rss = sample(families, 'process_resident_memory_bytes')
        expect(rss).toBeGreaterThan(20 * 1024 * 1024)
        expect(rss).toBeLessThan(2 * 1024 * 1024 * 1024)
        expect(families.find((f) => f.name === 'icn_gossip_published_total')?.type).toBe('COUNTER')
        expect(families.find((f) => f.name === 'icn_ledger_entries')?.type).toBe('GAUGE')

        // Online backup of a (it keeps running), then a stops; its backup is restored into a fresh directory.
        const before = await ledgerOf(a)
        const backupFile = join(root, 'a.icn-backup')
        const report = JSON.parse(await cli(['backup', backupFile, '--json', '--data-dir', a.dataDir])) as { did: string, stores: string[], files: number }
        expect(report.did).toBe(a.did)
        expect(report.stores).toEqual(['governance', 'ledger', 'trust'])
        expect((await a.api.get('/status') as { peers: number }).peers).toBe(1)
        // A second backup never replaces the first.
        const again = await cli(['backup', backupFile, '--data-dir', a.dataDir]).catch((err: unknown) => err)
        expect((again as SubprocessError).stderr).toContain(`${backupFile} exists: choose a new file name`)
        const backupHash = createHash('sha256').update(await readFile(backupFile)).digest('hex')
        expect(await a.stop()).toBe(0)

        const fresh = join(root, 'a-restored')
        const restoreReport = JSON.parse(await cli(['restore-backup', backupFile, '--json', '--data-dir', fresh])) as { did: string, files: number }
        expect(restoreReport).toMatchObject({ did: a.did, files: report.files })
        expect(createHash('sha256').update(await readFile(backupFile)).digest('hex')).toBe(backupHash)
        // Restoring over a data directory that holds a node is refused.
        const twice = await cli(['restore-backup', backupFile, '--data-dir', fresh]).catch((err: unknown) => err)
        expect((twice as SubprocessError).stderr).toContain('DATA_DIR_EXISTS')

        restored = await startMeshNode(fresh, 0, ['--peer', b.runtime.multiaddrs[0]!])
        expect(restored.did).toBe(a.did)
        expect(await ledgerOf(restored)).toEqual(before)
        await eventually('restored node reconnected', restored.api, async () => (await restored!.api.get('/peers') as unknown[]).length === 1 ? true : undefined)
        await restored.api.post('/pay', { to: b.did, amount: '7' })
        await eventually('the restored node\'s payment on b', b.api, async () => (await balanceOf(b, b.did)) === '30' ? true : undefined)
        expect(await balanceOf(restored, restored.did)).toBe('-30')
      } finally {
        if (restored !== undefined) expect(await restored.stop()).toBe(0)
        expect(await b.stop()).toBe(0)
        await a.stop()
      }
    })
  }, 120_000)

  it('refuses a damaged backup without touching the target, and exports the key as PEM that init --key brings back', async () => {
    await withTempDir(async (root) => {
      const source = join(root, 'src')
      const did = (await cli(['init', '--ephemeral', '--data-dir', source])).trim()
      const file = join(root, 'b.icn-backup')
      await cli(['backup', file, '--data-dir', source])
      // Offline backup restores too.
      expect(JSON.parse(await cli(['restore-backup', file, '--json', '--data-dir', join(root, 'ok')])) as { did: string }).toMatchObject({ did })
      // Flip one byte in the middle of the gzip stream: refused (gzip's CRC or the manifest's sha-256), nothing created.
      const bytes = await readFile(file)
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff
      await writeFile(join(root, 'damaged'), bytes)
      const damaged = await cli(['restore-backup', join(root, 'damaged'), '--data-dir', join(root, 'x')]).catch((err: unknown) => err)
      expect((damaged as SubprocessError).code).toBe(1)
      expect((damaged as SubprocessError).stderr).toContain('(INVALID_BACKUP)')
      await expect(readFile(join(root, 'x', 'identity.json'))).rejects.toThrow('ENOENT')

      const pem = await cli(['key', 'export', '--data-dir', source])
      expect(pem.startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true)
      await cli(['key', 'export', '--out', join(root, 'key.pem'), '--data-dir', source])
      expect((await readFile(join(root, 'key.pem'), 'utf8')).trim()).toBe(pem)
      expect((await cli(['init', '--ephemeral', '--key', join(root, 'key.pem'), '--data-dir', join(root, 'copy')])).trim()).toBe(did)
      const notAKey = await cli(['init', '--key', join(root, 'damaged'), '--data-dir', join(root, 'y')]).catch((err: unknown) => err)
      expect((notAKey as SubprocessError).stderr).toBe('icn-node: not a PEM private key (INVALID_KEY)\n')
      // The API client is not needed by any of these: no node ran.
      await expect(connectApi(source)).rejects.toThrow('no running node found')
    })
  }, 60_000)
})
