// Chaos: a hostile peer (test/helpers/fuzz-peer.mjs) against a running node A that has an honest
// peer B: a flood of valid entries at the peer's max rate with a slow reader and many streams
// alongside, then fuzzed frames of every kind. A's API is probed throughout (latency, RSS).
// Criteria: A stays up, answers its API (its p99 is reported), RSS bounded, B keeps being
// served both ways, every valid flood entry applied, nothing invalid applied.
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { startSubprocess, withTempDir } from '@icn/testkit'
import { afterAll, describe, expect, it } from 'vitest'
import { type MeshNode, eventually, ledgerOf, memberIdentity, networkPrefixOf, startMesh, writeSharedCharter } from '../helpers/cluster.js'
import { FULL, chaosCount, quantile, reapAll, reaped, reportFigures, round1, rssMiB } from './figures.js'

const fuzzPeer = fileURLToPath(new URL('../helpers/fuzz-peer.mjs', import.meta.url))

interface FuzzReport {
  did: string
  floodPayee: string
  forgedPayee: string
  clockPayee: string
  batches: number
  notCutOff: number
  dialsRefused: number
  sent: Record<string, number>
}

interface Status {
  peers: number
  services: string[]
  transport: { protocolViolations: number, framesReceived: number }
  gossip: { rejected: Record<string, number>, duplicates: number }
  ledger: { entries: number, stateRoot: string, pending: number, quarantined: number }
  snapshots: { completed?: number }
  /** A's event-loop delay since start (present since main's status.eventLoop). */
  eventLoop?: { p50Ms: number, p99Ms: number, maxMs: number }
}

async function balance (node: MeshNode, account: string): Promise<bigint> {
  return BigInt((await node.api.get(`/balance?account=${account}`) as { balance: string }).balance)
}

describe('chaos: a hostile peer', () => {
  afterAll(reapAll)

  it('survives a flood, a slow reader, many streams and fuzzed frames of every kind: stays up and responsive, bounded memory, serves its honest peer, applies every valid entry and nothing invalid', async () => {
    await withTempDir(async (dir) => {
      const hostileFrames = chaosCount('PEER_FRAMES', 10_000, 600)
      const floodEntries = chaosCount('PEER_FLOOD', 3000, 300)
      // The hostile peer plays members of A's and B's cooperative (a node admits members only): the flood's
      // author, the slow reader, the many-streams peer and one identity per hostile batch (a batch has at least
      // 10 frames; a node cools a peer it cut off down, longer with each offence); the payees are members too,
      // so that only a forged signature or an oversized clock keeps an entry out.
      const fuzzMembers = {
        flood: memberIdentity(),
        slow: memberIdentity(),
        many: memberIdentity(),
        batches: Array.from({ length: Math.ceil(hostileFrames / 10) }, () => memberIdentity()),
        payees: { flood: memberIdentity().did, forged: memberIdentity().did, clock: memberIdentity().did }
      }
      const fuzzDids = [fuzzMembers.flood, fuzzMembers.slow, fuzzMembers.many, ...fuzzMembers.batches].map((m) => m.did)
      const nodes = await startMesh(dir, 2, undefined, async (dirs, dids) => { await writeSharedCharter(dirs, [...dids, ...fuzzDids, ...Object.values(fuzzMembers.payees)]) })
      const [a, b] = nodes as [MeshNode, MeshNode]
      for (const n of nodes) reaped(n.proc)
      const membersFile = join(dir, 'fuzz-members.json')
      await writeFile(membersFile, JSON.stringify({
        flood: fuzzMembers.flood.seed,
        slow: fuzzMembers.slow.seed,
        many: fuzzMembers.many.seed,
        batches: fuzzMembers.batches.map((m) => m.seed),
        payees: fuzzMembers.payees
      }))
      const pid = a.proc.child.pid!
      const rssBefore = (await rssMiB(pid))!
      const servicesBefore = (await a.api.get('/status') as Status).services
      expect(servicesBefore).toContain('api')
      let peakRss = rssBefore
      const latencies: number[] = []
      let honestPaid = 0
      let probing = true
      let probeError: unknown
      try {
        const fuzz = reaped(startSubprocess(fuzzPeer, [a.runtime.multiaddrs[0]!, join(dir, 'fuzz'), String(hostileFrames), String(floodEntries), process.env.ICN_CHAOS_SEED ?? '16', membersFile, await networkPrefixOf(a.dataDir)], { timeoutMs: 900_000 }))
        // The probe: A's API every 20 ms while the peer runs (a sampling rate, nothing waits on it), and an
        // honest payment B → A every 10th probe.
        const probe = (async () => {
          let tick = 0
          while (probing) {
            await new Promise<void>((resolve) => { setTimeout(resolve, 20) })
            const started = performance.now()
            await a.api.get('/status')
            latencies.push(performance.now() - started)
            if (++tick % 10 === 0) {
              peakRss = Math.max(peakRss, (await rssMiB(pid)) ?? 0)
              await b.api.post('/pay', { to: a.did, amount: '1' })
              honestPaid++
            }
          }
        })().catch((err: unknown) => { probeError = err })
        const code = await fuzz.exited
        probing = false
        await probe
        expect(probeError).toBeUndefined()
        expect(code, fuzz.stderr()).toBe(0)
        const report = JSON.parse(fuzz.stdout().trim().split('\n').at(-1)!) as FuzzReport
        const sentFrames = Object.entries(report.sent).filter(([k]) => !['streamsOpened', 'streamsRefused', 'slowReaderBytesQueued'].includes(k)).reduce((n, [, v]) => n + v, 0)
        expect(sentFrames).toBeGreaterThanOrEqual(hostileFrames + floodEntries)
        expect(report.sent.flood).toBe(floodEntries)
        // Every hostile batch ended with the node cutting the peer off.
        expect(report.notCutOff).toBe(0)

        // A is up, every service still running, and B still its peer.
        const status = await a.api.get('/status') as Status
        expect(status.services).toEqual(servicesBefore)
        await eventually('B connected to A', a.api, async () => (await a.api.get('/peers') as Array<{ did: string }>).some((p) => p.did === b.did) ? true : undefined)
        // Every valid flood entry applied on A and on B; nothing forged, nothing with an oversized clock.
        await eventually('the flood applied on A and B', [a.api, b.api], async () =>
          (await balance(a, report.floodPayee)) === BigInt(floodEntries) && (await balance(b, report.floodPayee)) === BigInt(floodEntries) ? true : undefined, 120_000)
        expect(await balance(a, report.forgedPayee)).toBe(0n)
        expect(await balance(a, report.clockPayee)).toBe(0n)
        expect(await balance(b, report.forgedPayee)).toBe(0n)
        expect(await balance(a, report.did)).toBe(-BigInt(floodEntries))
        // No snapshot from the non-participant's messages.
        expect(await a.api.get('/snapshots')).toEqual([])
        // Honest traffic both ways: B's payments made during the attack are on A, and a payment A → B after it reaches B.
        await a.api.post('/pay', { to: b.did, amount: '5' })
        const entries = floodEntries + honestPaid + 1
        await eventually('A and B converge', [a.api, b.api], async () => {
          const [la, lb] = [await ledgerOf(a), await ledgerOf(b)]
          return la.entries === entries && lb.entries === entries && la.stateRoot === lb.stateRoot ? true : undefined
        }, 60_000)
        expect(await balance(b, a.did)).toBe(BigInt(honestPaid - 5))
        const final = await a.api.get('/status') as Status
        peakRss = Math.max(peakRss, (await rssMiB(pid)) ?? 0)
        const p99 = quantile(latencies, 0.99)
        await reportFigures({
          case: 'hostile peer',
          tries: sentFrames,
          failures: 0,
          acknowledgedLost: 0,
          p99Ms: round1(p99),
          peakRssMiB: round1(peakRss),
          notes: `${report.batches} hostile connections (${report.dialsRefused} dials refused by libp2p's inbound rate limit); sent ${JSON.stringify(report.sent)}; A received ${final.transport.framesReceived} frames, cut the peer off ${final.transport.protocolViolations} times for framing, rejected ${JSON.stringify(final.gossip.rejected)}; RSS before ${round1(rssBefore)} MiB; A's event-loop delay p99 ${final.eventLoop === undefined ? 'n/a' : round1(final.eventLoop.p99Ms)} ms, max ${final.eventLoop === undefined ? 'n/a' : round1(final.eventLoop.maxMs)} ms; ${honestPaid} honest payments during the attack`
        })
        // p99 is a figure (CHAOS-FIGURES, docs/chaos.md), not a pass mark: a timed bound fails with the machine's load.
        if (FULL) expect(peakRss).toBeLessThan(rssBefore + 256)
      } finally {
        probing = false
        for (const n of nodes) expect(await n.stop()).toBe(0)
      }
    })
  }, FULL ? 1_800_000 : 180_000)
})
