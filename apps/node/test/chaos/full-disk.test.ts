// Chaos: a full disk. A node whose data directory is on a small tmpfs takes payments through its
// API while a filler file takes every free byte. Criteria: payments are refused with a typed 507
// (INSUFFICIENT_STORAGE) while the disk is full, reads keep answering, nothing acknowledged is lost
// or altered (checked live and after a restart), and payments succeed again by themselves once the
// filler is removed.
import { mkdir, open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@icn/identity'
import { withTempDir } from '@icn/testkit'
import { afterAll, describe, expect, it } from 'vitest'
import { ApiCallError } from '../../src/client.js'
import { type MeshNode, eventually, initNode, startMeshNode, writeNodeConfig, writeSharedCharter } from '../helpers/cluster.js'
import { FULL, chaosCount, reapAll, reaped, reportFigures } from './figures.js'
import { requireRoot, run } from './privileges.js'

const mounts: string[] = []

/** Writes zeros into `path` until the filesystem refuses (ENOSPC), in shrinking chunks; returns the bytes written. */
async function fill (path: string): Promise<number> {
  const handle = await open(path, 'a')
  let written = 0
  try {
    for (let chunk = 1024 * 1024; chunk >= 512; chunk /= 2) {
      const zeros = Buffer.alloc(chunk)
      for (;;) {
        try {
          written += (await handle.write(zeros)).bytesWritten
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break
          throw err
        }
      }
    }
  } finally {
    await handle.close()
  }
  return written
}

interface Balance { balance: string }

/** A 24 MiB tmpfs at `<dir>/disk` (unmounted by the suite's afterAll if a test does not get to it). */
async function smallDisk (dir: string): Promise<string> {
  const disk = join(dir, 'disk')
  await mkdir(disk)
  run('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', disk])
  mounts.push(disk)
  return disk
}

describe('chaos: a full disk', () => {
  afterAll(() => {
    reapAll()
    for (const mount of mounts.splice(0)) run('umount', ['-l', mount])
  })

  it('refuses payments with a typed 507 while the disk is full, loses nothing acknowledged, and resumes by itself once space is freed', async () => {
    requireRoot('full disk', ['mount', 'umount'])
    await withTempDir(async (dir) => {
      const disk = await smallDisk(dir)
      const dataDir = join(disk, 'node')
      const did = await initNode(dataDir)
      await writeNodeConfig(dataDir, 4000)
      // The payee is a member of the node's cooperative (a payment to a non-member is refused); it never runs.
      const payee = generateKeyPair().did
      await writeSharedCharter([dataDir], [did, payee])
      let node: MeshNode = await startMeshNode(dataDir, 0)
      reaped(node.proc)
      const rounds = chaosCount('DISK_ROUNDS', 10, 2)
      let acknowledged = 0n
      let acknowledgedCount = 0
      let refused = 0
      let tries = 0
      const failures: string[] = []
      const pay = async (amount: number): Promise<'ok' | ApiCallError> => {
        tries++
        try {
          await node.api.post('/pay', { to: payee, amount: String(amount) })
          acknowledged += BigInt(amount)
          acknowledgedCount++
          return 'ok'
        } catch (err) {
          if (!(err instanceof ApiCallError)) throw err
          return err
        }
      }
      const check = async (when: string): Promise<void> => {
        const balance = BigInt((await node.api.get(`/balance?account=${payee}`) as Balance).balance)
        const entries = (await node.api.get('/status') as { ledger: { entries: number } }).ledger.entries
        if (balance !== acknowledged || entries !== acknowledgedCount) failures.push(`${when}: balance ${balance} / ${entries} entries, acknowledged ${acknowledged} / ${acknowledgedCount}`)
      }
      try {
        for (let round = 0; round < rounds; round++) {
          for (let i = 0; i < 5; i++) { const outcome = await pay(1 + i); if (outcome !== 'ok') failures.push(`round ${round}: payment ${i} with space free: ${outcome.message}`) }
          const filler = join(disk, `filler-${round}`)
          // The disk fills up (payments are not in flight meanwhile: a commit that meets the full disk can
          // abort the process, the lmdb-js defect docs/chaos.md describes; the API refuses writes below
          // MIN_FREE_BYTES so that its own commits never meet it).
          const errors: ApiCallError[] = []
          expect(await fill(filler)).toBeGreaterThan(0)
          // Full: payments are refused with a typed 507; reads answer meanwhile.
          for (let i = 0; i < 20; i++) {
            const outcome = await pay(7)
            if (outcome === 'ok') { failures.push(`round ${round}: a payment acknowledged on a full disk`); continue }
            errors.push(outcome)
          }
          refused += errors.length
          for (const err of errors) if (err.status !== 507 || err.remoteCode !== 'INSUFFICIENT_STORAGE') failures.push(`refusal ${err.message}`)
          if (errors.length === 0) failures.push(`round ${round}: no payment refused on a full disk`)
          await check(`round ${round}, disk full`)
          // Freed: the next payment goes through, without a restart.
          await rm(filler)
          const resumed = await pay(11)
          if (resumed !== 'ok') failures.push(`round ${round}: the first payment after freeing space: ${resumed.message}`)
          await check(`round ${round}, space freed`)
        }
        // Committed data survives a restart intact.
        expect(await node.stop()).toBe(0)
        node = await startMeshNode(dataDir, 0)
        reaped(node.proc)
        await check('after restart')
        expect(await pay(13)).toBe('ok')
        await check('after restart and a payment')
      } finally {
        try {
          const code = await node.stop()
          expect(code, `node exit ${String(code)}: ${node.proc.stderr().replace(/Write error: No space left on device position \d+, size \d+/g, "").slice(-1500)} ${node.proc.stdout().split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(-5).join('\n')}`).toBe(0)
        } finally {
          run('umount', [disk])
          mounts.splice(mounts.indexOf(disk), 1)
        }
      }
      await reportFigures({ case: 'full disk', tries, failures: failures.length, acknowledgedLost: failures.length === 0 ? 0 : null, notes: `${rounds} fill/free rounds on a 24 MiB tmpfs; ${acknowledgedCount} payments acknowledged, ${refused} refused` })
      expect(failures).toEqual([])
    })
  }, FULL ? 600_000 : 120_000)

  it('stays up while a peer delivers entries as the disk fills: reads answer, its writes get 507, it catches up by itself once space is freed', async () => {
    requireRoot('full disk', ['mount', 'umount'])
    await withTempDir(async (dir) => {
      const disk = await smallDisk(dir)
      const dirs = [join(disk, 'a'), join(dir, 'b')]
      const dids = [await initNode(dirs[0]!), await initNode(dirs[1]!)]
      for (const d of dirs) await writeNodeConfig(d, 4000)
      await writeSharedCharter(dirs, dids)
      const a = await startMeshNode(dirs[0]!, 0)
      const b = await startMeshNode(dirs[1]!, 1)
      reaped(a.proc)
      reaped(b.proc)
      const filler = join(disk, 'filler')
      let acknowledged = 0
      let failures = 0
      try {
        await b.api.post('/peers', { multiaddr: a.runtime.multiaddrs[0] })
        await eventually('A and B connected', a.api, async () => ((await a.api.get('/peers') as unknown[]).length === 1 ? true : undefined))
        // B pays A, 8 at a time, for the whole fill: A receives entries while its disk runs out.
        let paying = true
        const payer = (async () => {
          while (paying) {
            await Promise.all(Array.from({ length: 8 }, async () => {
              try { await b.api.post('/pay', { to: a.did, amount: '1' }); acknowledged++ } catch { failures++ }
            }))
          }
        })()
        await eventually('A applying B\'s payments', a.api, async () => ((await a.api.get('/status') as { ledger: { entries: number } }).ledger.entries > 50 ? true : undefined))
        expect(await fill(filler)).toBeGreaterThan(0)
        // Full: A answers reads, refuses its own payment with a typed 507, and keeps running.
        const refusal = await a.api.post('/pay', { to: b.did, amount: '1' }).then(() => undefined, (err: unknown) => err as ApiCallError)
        expect([refusal?.status, refusal?.remoteCode]).toEqual([507, 'INSUFFICIENT_STORAGE'])
        expect((await a.api.get('/status') as { services: string[] }).services).toContain('ledger')
        paying = false
        await payer
        expect(failures).toBe(0)
        await rm(filler)
        // Space is back: A catches up with everything B acknowledged, without a restart.
        const target = (await b.api.get('/status') as { ledger: { entries: number, stateRoot: string } }).ledger
        expect(target.entries).toBe(acknowledged)
        await eventually('A caught up with B', [a.api, b.api], async () => {
          const mine = (await a.api.get('/status') as { ledger: { entries: number, stateRoot: string } }).ledger
          return mine.entries === target.entries && mine.stateRoot === target.stateRoot ? true : undefined
        }, 60_000)
        expect(await a.api.post('/pay', { to: b.did, amount: '1' })).toMatchObject({ from: a.did, to: b.did })
        expect(a.proc.stdout()).not.toContain('"level":60')
        await reportFigures({ case: 'full disk, peer delivering', tries: acknowledged, failures: 0, acknowledgedLost: 0, notes: `${acknowledged} payments from B acknowledged while A's 24 MiB tmpfs filled; all on A after the filler was removed, same ledger root` })
      } finally {
        const codes = [await a.stop(), await b.stop()]
        run('umount', [disk])
        mounts.splice(mounts.indexOf(disk), 1)
        expect(codes).toEqual([0, 0])
      }
    })
  }, FULL ? 600_000 : 120_000)
})
