// Sites behind NAT. Network namespaces as hosts: an "internet" bridge (11.0.0.0/24), a public member P
// on it that serves as circuit relay and runs a STUN server, and two sites, each a router namespace doing
// nftables masquerade (and dropping unsolicited inbound) in front of a member on its LAN (10.1.0.0/24,
// 10.2.0.0/24). Each private member is configured with P's address only. They find each other through P's
// peer exchange. While their routers drop UDP they reach each other through P's relay (a reservation
// each), pay, sync and take a snapshot together; once UDP passes, they punch through both NATs over
// WebRTC and the link is direct. A stranger on the internet can neither reserve on P nor reach a member.
import { execFile, execFileSync, spawn } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { withTempDir } from '@icn/testkit'
import { peerIdOfDid } from '@icn/transport'
import { afterAll, describe, expect, it } from 'vitest'
import { reapAll, reaped } from './chaos/figures.js'
import { requireRoot } from './chaos/privileges.js'
import { eventually, initNode, writeSharedCharter } from './helpers/cluster.js'
import { Namespaces, type NsNode, inNs, startNsNode, stopNsNodes } from './helpers/netns.js'

const execFileAsync = promisify(execFile)
const strangerDialer = fileURLToPath(new URL('./helpers/stranger-dialer.mjs', import.meta.url))
const tag = `nat${process.pid % 100_000}`
const namespaces = new Namespaces()
/**
 * The "internet" is a bridge between our own namespaces, with no route out of them. It uses a public range:
 * libp2p counts the documentation ranges (198.51.100.0/24, …) as private and would never ask AutoNAT about them.
 */
const INTERNET = '11.0.0'
const PUBLIC = `${INTERNET}.10`
const STUN = `stun:${PUBLIC}:3478`

interface Peer { did: string, via: string, remoteAddr: string }
interface Status {
  peers: number
  reachability: { verified: string[], relayed: string[], relay: boolean, peersDirect: number, peersRelayed: number }
  ledger: { entries: number, stateRoot: string }
  transport: { refusedInbound: number }
  membership: { networkId: string, refused: { notAMember: number } }
}
const statusOf = async (n: NsNode): Promise<Status> => await n.api.get('/status') as Status
const peersOf = async (n: NsNode): Promise<Peer[]> => await n.api.get('/peers') as Peer[]

/**
 * A site: router namespace `r` (WAN on the internet bridge, LAN to the member's namespace) with masquerade.
 * Its table `blockudp` drops all UDP forwarding (a site that blocks it) until `allowUdp` deletes it.
 */
function makeSite (internet: string, site: number): string {
  const router = namespaces.add(`${tag}r${site}`)
  const host = namespaces.add(`${tag}h${site}`)
  namespaces.link(internet, `${tag}w${site}`, undefined, router, 'wan', `${INTERNET}.${20 + site}/24`)
  inNs(internet, ['ip', 'link', 'set', `${tag}w${site}`, 'master', 'br0'])
  namespaces.link(router, 'lan', `10.${site}.0.1/24`, host, 'eth0', `10.${site}.0.10/24`)
  inNs(host, ['ip', 'route', 'add', 'default', 'via', `10.${site}.0.1`])
  inNs(router, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
  // A home router: the LAN goes out under the WAN address; from outside only replies come back in.
  execFileSync('ip', ['netns', 'exec', router, 'nft', '-f', '-'], {
    input: [
      'table ip nat { chain postrouting { type nat hook postrouting priority 100; oifname "wan" masquerade; }; }',
      'table ip filter { chain forward { type filter hook forward priority 0; policy drop; ct state established,related accept; iifname "lan" oifname "wan" accept; }; }',
      // Nothing unsolicited reaches the router itself either: answered, a hole-punching packet that arrives
      // before this side's own has left would hold the mapping's port (conntrack), and this side's packet
      // would go out from another port.
      'table ip input { chain input { type filter hook input priority 0; policy accept; iifname "wan" ct state new drop; }; }',
      'table ip blockudp { chain forward { type filter hook forward priority -10; meta l4proto udp drop; }; }'
    ].join('\n'),
    stdio: ['pipe', 'ignore', 'pipe']
  })
  return host
}

const allowUdp = (site: number): void => { inNs(`${tag}r${site}`, ['nft', 'delete', 'table', 'ip', 'blockudp']) }

describe('sites behind NAT (network namespaces, nftables masquerade)', () => {
  afterAll(() => { reapAll(); namespaces.remove() })

  it('two members behind separate NATs, configured with the public member only, reach each other through its relay while UDP is blocked (pay, sync, snapshot), then directly by WebRTC hole punching; a stranger cannot use the relay', async () => {
    requireRoot('sites behind NAT', ['ip', 'nft', 'turnserver'])
    await withTempDir(async (dir) => {
      const internet = namespaces.add(`${tag}i`)
      inNs(internet, ['ip', 'link', 'add', 'br0', 'type', 'bridge'])
      inNs(internet, ['ip', 'link', 'set', 'br0', 'up'])
      const pub = namespaces.add(`${tag}p`)
      namespaces.link(internet, `${tag}wp`, undefined, pub, 'eth0', `${PUBLIC}/24`)
      inNs(internet, ['ip', 'link', 'set', `${tag}wp`, 'master', 'br0'])
      const hosts = [makeSite(internet, 1), makeSite(internet, 2)]
      const stranger = namespaces.add(`${tag}s`)
      namespaces.link(internet, `${tag}ws`, undefined, stranger, 'eth0', `${INTERNET}.30/24`)
      inNs(internet, ['ip', 'link', 'set', `${tag}ws`, 'master', 'br0'])

      const dirs = ['p', 'a', 'b'].map((name) => join(dir, name))
      const dids: string[] = []
      for (const d of dirs) { await mkdir(d, { recursive: true }); dids.push((await initNode(d)).trim()) }
      await writeSharedCharter(dirs, dids)
      const pAddr = `/ip4/${PUBLIC}/tcp/4710/p2p/${peerIdOfDid(dids[0]!)}`
      const nodes: NsNode[] = []
      // A STUN server beside P (coturn, STUN only): it tells each member behind NAT its public UDP address.
      const stun = reaped({ child: spawn('ip', ['netns', 'exec', pub, 'turnserver', '--stun-only', '--listening-ip', PUBLIC, '--listening-port', '3478', '--no-cli', '--no-tls', '--no-dtls', '--log-file', 'stdout', '--simple-log'], { stdio: 'ignore' }) })
      try {
        nodes.push(await startNsNode(pub, 'p', dirs[0]!, dir, { listen: [`/ip4/${PUBLIC}/tcp/4710`], peers: [], relay: true, snapshotTimeoutMs: 15_000 }))
        for (const [i, host] of hosts.entries()) {
          nodes.push(await startNsNode(host, i === 0 ? 'a' : 'b', dirs[i + 1]!, dir, { listen: [`/ip4/10.${i + 1}.0.10/tcp/4710`], peers: [pAddr], stunServers: [STUN], snapshotTimeoutMs: 15_000 }))
        }
        const [p, a, b] = nodes as [NsNode, NsNode, NsNode]
        const apis = nodes.map((n) => n.api)
        const diagnose = (err: unknown): never => {
          throw new Error(`${String(err)}\n${nodes.map((n) => `${n.name}: ${n.node.output().split('\n').filter((l) => /peer|dial|relay|reserv|direct|warn|error/i.test(l)).slice(-10).join('\n')}`).join('\n')}`)
        }

        // A and B hold a reservation on P; each learns the other's circuit address from P and dials it.
        await eventually('A and B reach each other through P', apis, async () => {
          const [pa, pb] = await Promise.all([peersOf(a), peersOf(b)])
          return pa.some((x) => x.did === b.did && x.via === 'relayed') && pb.some((x) => x.did === a.did && x.via === 'relayed') ? true : undefined
        }, 90_000).catch(diagnose)
        const [sp, sa, sb] = await Promise.all(nodes.map(statusOf))
        const relayed = (n: NsNode): string => `/ip4/${PUBLIC}/tcp/4710/p2p/${peerIdOfDid(dids[0]!)}/p2p-circuit/p2p/${peerIdOfDid(n.did)}`
        expect(sa!.reachability).toEqual({ verified: [], relayed: [relayed(a)], relay: false, peersDirect: 1, peersRelayed: 1 })
        expect(sb!.reachability).toEqual({ verified: [], relayed: [relayed(b)], relay: false, peersDirect: 1, peersRelayed: 1 })
        expect(sp!.reachability.relay).toBe(true)
        expect(sp!.reachability.relayed).toEqual([])
        expect(sp!.reachability.peersDirect).toBe(2)
        expect(sp!.reachability.peersRelayed).toBe(0)
        // P's own address, confirmed by a member dialling it back (AutoNAT), once one has been asked.
        await eventually('P\'s public address confirmed', p.api, async () => (await statusOf(p)).reachability.verified.length > 0 ? true : undefined, 60_000).catch(diagnose)
        expect((await statusOf(p)).reachability.verified).toEqual([`/ip4/${PUBLIC}/tcp/4710/p2p/${peerIdOfDid(dids[0]!)}`])
        expect((await peersOf(a)).find((x) => x.did === p.did)?.via).toBe('direct')

        // Trust for the snapshot's participants, then payments both ways and through the relay.
        for (const n of nodes) for (const m of nodes) if (m !== n) for (const graph of ['technical', 'economic']) await n.api.post('/trust', { subject: m.did, score: 0.9, graph })
        await eventually('attestations everywhere', apis, async () => (await Promise.all(nodes.map(async (n) => (await n.api.get('/status') as { trust: { attestations: number } }).trust.attestations))).every((x) => x === 12) ? true : undefined, 60_000).catch(diagnose)
        await a.api.post('/pay', { to: b.did, amount: '25' })
        await b.api.post('/pay', { to: a.did, amount: '10' })
        await p.api.post('/pay', { to: a.did, amount: '5' })
        /** Waits until every node holds `entries` ledger entries with one state root, then checks A's and B's balances everywhere. */
        const converge = async (entries: number, balances: { a: string, b: string }): Promise<void> => {
          const converged = await eventually(`ledgers converge on ${entries} entries`, apis, async () => {
            const ls = await Promise.all(nodes.map(async (n) => (await statusOf(n)).ledger))
            return ls.every((l) => l.entries === entries && l.stateRoot === ls[0]!.stateRoot) ? ls[0] : undefined
          }, 60_000).catch(diagnose)
          expect(converged.entries).toBe(entries)
          for (const n of nodes) {
            expect(await n.api.get(`/balance?account=${a.did}`)).toMatchObject({ balance: balances.a })
            expect(await n.api.get(`/balance?account=${b.did}`)).toMatchObject({ balance: balances.b })
          }
        }
        await converge(3, { a: '-10', b: '15' })

        // A snapshot started behind NAT: markers travel over the relayed link too.
        const snap = await a.api.post('/snapshots') as { snapshotId: string, participants: string[] }
        expect([...snap.participants].sort()).toEqual([...dids].sort())
        const verified = await b.api.post(`/snapshots/${snap.snapshotId}/verify`) as { valid: boolean, results: Array<{ valid: boolean }> }
        expect(verified.valid).toBe(true)
        expect(verified.results.map((r) => r.valid)).toEqual([true, true, true])

        // UDP passes at both sites: the members' WebRTC dials (retried with the redial backoff) now punch
        // through both NATs with the public addresses STUN gave them, and the direct link replaces the relayed one.
        allowUdp(1)
        allowUdp(2)
        await eventually('A and B connect directly', apis, async () => {
          const [pa, pb] = await Promise.all([peersOf(a), peersOf(b)])
          return pa.some((x) => x.did === b.did && x.via === 'direct') && pb.some((x) => x.did === a.did && x.via === 'direct') ? true : undefined
        }, 60_000).catch(diagnose)
        const [da, db] = await Promise.all([statusOf(a), statusOf(b)])
        expect(da.reachability).toEqual({ verified: [], relayed: [relayed(a)], relay: false, peersDirect: 2, peersRelayed: 0 })
        expect(db.reachability).toEqual({ verified: [], relayed: [relayed(b)], relay: false, peersDirect: 2, peersRelayed: 0 })
        // Whichever side's dial won, the link is WebRTC: the dialler names it by the other's WebRTC address
        // (the circuit one with /webrtc), the side that accepted by the peer id alone.
        const webrtc = (n: NsNode): string => relayed(n).replace('/p2p-circuit/', '/p2p-circuit/webrtc/')
        const linkOf = async (n: NsNode, to: NsNode): Promise<string | undefined> => (await peersOf(n)).find((x) => x.did === to.did)?.remoteAddr
        expect([webrtc(b), `/webrtc/p2p/${peerIdOfDid(b.did)}`]).toContain(await linkOf(a, b))
        expect([webrtc(a), `/webrtc/p2p/${peerIdOfDid(a.did)}`]).toContain(await linkOf(b, a))
        // Over the direct link: B pays A, and all three converge again.
        await b.api.post('/pay', { to: a.did, amount: '7' })
        await converge(4, { a: '-3', b: '8' })

        // A stranger on the internet: P refuses it at the handshake, so it can neither reserve a slot
        // nor reach A through P's relay.
        const before = await statusOf(p)
        const { stdout } = await execFileAsync('ip', ['netns', 'exec', stranger, process.execPath, strangerDialer,
          '--target', relayed(a), '--network', sp!.membership.networkId, '--payee', a.did, '--identities', '2', '--relay'
        ], { timeout: 60_000 })
        const report = JSON.parse(stdout) as { attempts: number, established: string[], streams: number }
        expect(report.attempts).toBe(2)
        expect(report.established).toEqual([])
        expect(report.streams).toBe(0)
        const after = await eventually('P counts the refusals', p.api, async () => {
          const s = await statusOf(p)
          return s.transport.refusedInbound - before.transport.refusedInbound >= 2 ? s : undefined
        })
        expect(after.membership.refused.notAMember - before.membership.refused.notAMember).toBe(2)
        expect((await statusOf(a)).membership.refused.notAMember).toBe(sa!.membership.refused.notAMember)
      } finally {
        const codes = await stopNsNodes(nodes)
        stun.child.kill('SIGTERM')
        namespaces.remove()
        expect(codes).toEqual(nodes.map(() => 0))
      }
    })
  }, 240_000)
})
