import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { isDid } from '@icn/identity'
import { SubprocessError, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { type NodeProcess, cli, initNode, startNodeProcess, writeSharedCharter } from './helpers/cluster.js'

describe('icn-node init', () => {
  it('creates a 0600 identity, prints its DID, and refuses a second init without touching the key', async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'node')
      const did = await initNode(dataDir)
      expect(isDid(did)).toBe(true)
      const identity = join(dataDir, 'identity.json')
      expect((await stat(identity)).mode & 0o777).toBe(0o600)
      const before = await readFile(identity)
      const second = await initNode(dataDir).then(() => undefined, (err: unknown) => err)
      expect(second).toBeInstanceOf(SubprocessError)
      expect((second as SubprocessError).code).toBe(1)
      expect((second as SubprocessError).stderr).toContain('DATA_DIR_EXISTS')
      expect(await readFile(identity)).toEqual(before)
    })
  })

  it('prints help for every command', async () => {
    for (const command of ['init', 'run', 'join', 'status', 'peers', 'members', 'invite create', 'invite list', 'pay', 'balance', 'trust', 'propose', 'vote', 'check', 'snapshot take', 'snapshot list', 'snapshot verify', 'snapshot restore']) {
      const help = await cli([...command.split(' '), '--help'])
      expect(help).toContain(`Usage: icn-node ${command} [options]${command === 'join' ? ' <code>' : ''}`)
      expect(help).toContain('--data-dir <dir>')
      expect(help).toContain('--log-level <level>')
      // Every client command prints a table or sentence, or the API's JSON with --json.
      expect(help.includes('--json')).toBe(!['init', 'run', 'join'].includes(command))
    }
  })
})

describe('icn-node run: two processes, local API, clean shutdown', () => {
  it('connects two nodes, answers status/peers through the CLI, writes a 0600 token, and exits 0 on SIGTERM', async () => {
    await withTempDir(async (dir) => {
      const [didA, didB] = [await initNode(join(dir, 'a')), await initNode(join(dir, 'b'))]
      await writeSharedCharter([join(dir, 'a'), join(dir, 'b')], [didA.trim(), didB.trim()])
      const a = await startNodeProcess(join(dir, 'a'))
      let b: NodeProcess | undefined
      try {
        b = await startNodeProcess(join(dir, 'b'), ['--peer', a.runtime.multiaddrs[0]!])
        expect([a.did, b.did]).toEqual([didA, didB])
        expect((await stat(join(dir, 'a', 'api-token'))).mode & 0o777).toBe(0o600)
        let peers = await b.cli(['peers']) as Array<{ did: string }>
        for (let i = 0; i < 50 && peers.length === 0; i++) peers = await b.cli(['peers']) as Array<{ did: string }>
        expect(peers.map((p) => p.did)).toEqual([didA])
        const status = await a.cli(['status']) as { did: string, peers: number, services: string[], multiaddrs: string[] }
        expect(status.did).toBe(didA)
        expect(status.peers).toBe(1)
        expect(status.services).toEqual(['lock', 'storage', 'identity', 'trust', 'governance', 'ledger', 'membership', 'governance-effects', 'transport', 'gossip', 'history', 'address-book', 'discovery', 'governance-catch-up', 'membership-effects', 'snapshot-store', 'snapshot', 'api'])
        expect(status.multiaddrs).toEqual(a.runtime.multiaddrs)
        // Without --json: a table of peers and `label  value` lines of status.
        const [peer] = await b.cli(['peers']) as Array<{ did: string, peerId: string, remoteAddr: string }>
        const peersTable = (await cli(['peers', '--data-dir', b.dataDir])).trimEnd().split('\n')
        // No member has a display name yet: '-'.
        expect(peersTable).toEqual([
          `NAME  ${'DID'.padEnd(didA.length)}  ${'PEER ID'.padEnd(peer!.peerId.length)}  VIA     ADDRESS`,
          `-     ${didA}  ${peer!.peerId}  direct  ${peer!.remoteAddr}`
        ])
        const statusLines = (await cli(['status', '--data-dir', a.dataDir])).trimEnd().split('\n')
        expect(statusLines[0]).toBe(`did          ${didA}`)
        expect(statusLines[4]).toBe('peers        1 (1 direct, 0 through a relay)')
        // On loopback: no public address for a peer to confirm, no relay among the members.
        expect(statusLines[5]).toBe('reachable    no public address confirmed by a peer; no relay reservation')
        expect(statusLines).toContain(`change feed  version ${(await a.cli(['status']) as { version: number }).version}`)
      } finally {
        expect(await b?.stop()).toBe(0)
        expect(await a.stop()).toBe(0)
      }
      const log = a.proc.stdout().split('\n').filter((l) => l.includes('"service stopped"')).map((l) => (JSON.parse(l) as { service: string }).service)
      expect(log).toEqual(['api', 'snapshot', 'snapshot-store', 'membership-effects', 'governance-catch-up', 'discovery', 'address-book', 'history', 'gossip', 'transport', 'governance-effects', 'membership', 'ledger', 'governance', 'trust', 'identity', 'storage', 'lock'])
      await expect(stat(join(dir, 'a', 'node.json'))).rejects.toThrow('ENOENT')
    })
  })
})
