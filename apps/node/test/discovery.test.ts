import { join } from 'node:path'
import { withTempDir } from '@icn/testkit'
import { readAddressBookFile } from '@icn/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { addressBookPath } from '../src/discovery.js'
import { type MeshNode, eventually, initNode, startMeshNode, writeNodeConfig, writeSharedCharter } from './helpers/cluster.js'

interface Discovery { records: number, manual: number, recordsKept: number, recordsRefused: number }
const running: MeshNode[] = []
afterEach(async () => {
  for (const n of running.splice(0)) await n.stop()
})

const peersOf = async (n: MeshNode): Promise<string[]> => (await n.api.get('/peers') as Array<{ did: string }>).map((p) => p.did).sort()

describe('discovery: every member from one address', () => {
  it('a node given one member\'s address connects to all; `peers --add` and the learned records survive a restart', async () => {
    await withTempDir(async (root) => {
      const dirs = ['a', 'b', 'c'].map((name) => join(root, name))
      const dids: string[] = []
      for (const dir of dirs) { dids.push((await initNode(dir)).trim()); await writeNodeConfig(dir, 4000) }
      await writeSharedCharter(dirs, dids)
      const [a, b] = [await startMeshNode(dirs[0]!, 0), await startMeshNode(dirs[1]!, 1)]
      running.push(a, b)
      await b.api.post('/peers', { multiaddr: a.runtime.multiaddrs[0] })
      let c = await startMeshNode(dirs[2]!, 2)
      running.push(c)
      // C is told of B only (the CLI's `peers --add`); A's signed record comes from B.
      expect(await c.cli(['peers', '--add', b.runtime.multiaddrs[0]!])).toEqual({ added: b.runtime.multiaddrs[0] })
      const all = [a.did, b.did].sort()
      await eventually('c connected to a and b', c.api, async () => JSON.stringify(await peersOf(c)) === JSON.stringify(all) ? true : undefined)
      await eventually('a connected to c', a.api, async () => (await peersOf(a)).includes(c.did) ? true : undefined)

      const book = await readAddressBookFile(addressBookPath(dirs[2]!))
      expect(book?.manual).toEqual([b.runtime.multiaddrs[0]])
      expect(book?.records.map((r) => r.did)).toEqual([...dids].sort())
      expect(book?.records.find((r) => r.did === a.did)?.addrs).toEqual(a.runtime.multiaddrs)

      // Restarted with nothing on its command line or in config.json, C finds both again from its address book.
      expect(await c.stop()).toBe(0)
      running.splice(running.indexOf(c), 1)
      c = await startMeshNode(dirs[2]!, 2)
      running.push(c)
      await eventually('c reconnected to a and b', c.api, async () => JSON.stringify(await peersOf(c)) === JSON.stringify(all) ? true : undefined)
      const status = await c.api.get('/status') as { discovery: Discovery }
      expect(status.discovery.manual).toBe(1)
      expect(status.discovery.records).toBe(3)
      expect(status.discovery.recordsRefused).toBe(0)
    })
  }, 120_000)
})
