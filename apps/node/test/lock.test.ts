import { spawnSync } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SubprocessError, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { NodeRunningError } from '../src/errors.js'
import { acquireDataDirLock, lockHolder } from '../src/lock.js'
import { cli, initNode, startNodeProcess } from './helpers/cluster.js'

/** The PID of a process that has exited (so no live process holds it, barring reuse within the test). */
function deadPid (): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'])
  return Number(child.stdout.toString())
}

describe('data-directory lock (in process)', () => {
  it('refuses a second holder naming the first, is released by release(), and takes over a lock whose process is gone', async () => {
    await withTempDir(async (dir) => {
      const lock = await acquireDataDirLock(dir)
      const record = JSON.parse(await readFile(join(dir, 'node.lock'), 'utf8')) as { pid: number }
      expect(record.pid).toBe(process.pid)
      expect((await lockHolder(dir))?.pid).toBe(process.pid)
      const second = await acquireDataDirLock(dir).then(() => undefined, (err: unknown) => err)
      expect(second).toBeInstanceOf(NodeRunningError)
      expect((second as NodeRunningError).pid).toBe(process.pid)
      expect((second as NodeRunningError).code).toBe('NODE_RUNNING')
      await lock.release()
      await expect(stat(join(dir, 'node.lock'))).rejects.toThrow('ENOENT')
      expect(await lockHolder(dir)).toBeUndefined()

      // A crash leaves the file behind: a PID that is gone holds nothing.
      await writeFile(join(dir, 'node.lock'), JSON.stringify({ pid: deadPid(), startTicks: null, lockedAt: 1 }))
      expect(await lockHolder(dir)).toBeUndefined()
      const taken = await acquireDataDirLock(dir)
      expect((JSON.parse(await readFile(join(dir, 'node.lock'), 'utf8')) as { pid: number }).pid).toBe(process.pid)
      await taken.release()

      // A live PID whose start time differs is a reused PID, not the node that wrote the lock.
      await writeFile(join(dir, 'node.lock'), JSON.stringify({ pid: process.pid, startTicks: 1, lockedAt: 1 }))
      expect(await lockHolder(dir)).toBeUndefined()
    })
  })
})

describe('icn-node run: one process per data directory', () => {
  it('a second run exits 1 naming the running PID and API port, without touching api-token or node.json', async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'a')
      await initNode(dataDir)
      const first = await startNodeProcess(dataDir)
      try {
        const token = await readFile(join(dataDir, 'api-token'), 'utf8')
        const runtime = await readFile(join(dataDir, 'node.json'), 'utf8')
        const [tokenStat, runtimeStat] = [await stat(join(dataDir, 'api-token')), await stat(join(dataDir, 'node.json'))]
        const second = await cli(['run', '--data-dir', dataDir]).then(() => undefined, (err: unknown) => err)
        expect(second).toBeInstanceOf(SubprocessError)
        expect((second as SubprocessError).code).toBe(1)
        expect((second as SubprocessError).stderr).toBe(
          `icn-node: a node is already running on ${dataDir}: pid ${first.runtime.pid}, API on 127.0.0.1:${first.runtime.apiPort} (stop it first: kill -TERM ${first.runtime.pid}) (NODE_RUNNING)\n`)
        expect(await readFile(join(dataDir, 'api-token'), 'utf8')).toBe(token)
        expect(await readFile(join(dataDir, 'node.json'), 'utf8')).toBe(runtime)
        expect((await stat(join(dataDir, 'api-token'))).mtimeMs).toBe(tokenStat.mtimeMs)
        expect((await stat(join(dataDir, 'node.json'))).mtimeMs).toBe(runtimeStat.mtimeMs)
        // `join` (it writes the charter) and `restore-backup` refuse the same way.
        const joining = await cli(['join', 'icn-invite:x', '--data-dir', dataDir]).then(() => undefined, (err: unknown) => err)
        expect((joining as SubprocessError).stderr).toBe((second as SubprocessError).stderr)
        const restore = await cli(['restore-backup', join(dir, 'any.icn-backup'), '--data-dir', dataDir]).then(() => undefined, (err: unknown) => err)
        expect((restore as SubprocessError).stderr).toBe((second as SubprocessError).stderr)
        // The first node still answers its CLI.
        expect((await first.cli(['status']) as { did: string }).did).toBe(first.did)
      } finally {
        expect(await first.stop()).toBe(0)
      }
      // A clean stop releases the lock: the next run starts.
      await expect(stat(join(dataDir, 'node.lock'))).rejects.toThrow('ENOENT')
      const again = await startNodeProcess(dataDir)
      expect(await again.stop()).toBe(0)
    })
  })
})

describe('icn-node --version and init', () => {
  it('prints the package version, and init writes the fixed production ports unless --ephemeral', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    expect(await cli(['--version'])).toBe(pkg.version)
    await withTempDir(async (dir) => {
      await cli(['init', '--data-dir', join(dir, 'prod')])
      expect(JSON.parse(await readFile(join(dir, 'prod', 'config.json'), 'utf8'))).toEqual({ listen: ['/ip4/0.0.0.0/tcp/4710'], apiPort: 4711, peers: [] })
      await cli(['init', '--ephemeral', '--data-dir', join(dir, 'test')])
      expect(JSON.parse(await readFile(join(dir, 'test', 'config.json'), 'utf8'))).toEqual({ listen: ['/ip4/127.0.0.1/tcp/0'], peers: [] })
    })
  })
})
