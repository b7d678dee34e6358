import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type RunningSubprocess, startSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import type { RuntimeInfo } from '../src/client.js'
import { initNode, writeSharedCharter } from './helpers/cluster.js'

/** `icn-node <args>` run by the exit audit: after the command returns it prints the timers still pending. */
const auditScript = fileURLToPath(new URL('./helpers/exit-audit.mjs', import.meta.url))
const CLEAN = '{"exitAudit":{"lingeringTimers":[]}}'

function startAudited (dataDir: string, args: string[] = []): RunningSubprocess {
  return startSubprocess(auditScript, ['run', '--data-dir', dataDir, ...args])
}

const auditOf = (proc: RunningSubprocess): string[] => proc.stdout().split('\n').filter((line) => line.includes('"exitAudit"'))
const messagesOf = (proc: RunningSubprocess): string[] => proc.stdout().split('\n')
  .filter((line) => line.startsWith('{"level"'))
  .map((line) => (JSON.parse(line) as { msg: string }).msg)

describe('icn-node run: nothing left running after stop', () => {
  it('exits 0 on a SIGTERM sent the moment it reports ready, with no timer pending once stop() has returned', async () => {
    await withTempDir(async (dir) => {
      await initNode(join(dir, 'n'))
      const node = startAudited(join(dir, 'n'))
      await node.waitForOutput('"msg":"node ready"')
      node.kill('SIGTERM')
      expect(await node.exited).toBe(0)
      expect(auditOf(node)).toEqual([CLEAN])
      expect(messagesOf(node).slice(-2)).toEqual(['service stopped', 'node stopped'])
      expect(node.stderr()).toBe('')
    })
  })

  it('with a peer connected, and with a redial to a vanished peer pending, each process exits 0 with no timer pending', async () => {
    await withTempDir(async (dir) => {
      const dids = [(await initNode(join(dir, 'a'))).trim(), (await initNode(join(dir, 'b'))).trim()]
      await writeSharedCharter([join(dir, 'a'), join(dir, 'b')], dids)
      const b = startAudited(join(dir, 'b'))
      await b.waitForOutput('"msg":"node ready"')
      const runtimeB = JSON.parse(await readFile(join(dir, 'b', 'node.json'), 'utf8')) as RuntimeInfo
      const a = startAudited(join(dir, 'a'), ['--log-level', 'debug', '--peer', runtimeB.multiaddrs[0]!])
      try {
        await Promise.all([a.waitForOutput('"msg":"peer stream open"'), b.waitForOutput('"msg":"peer stream open"')])
        // b stops with a live connection and stream to a.
        b.kill('SIGTERM')
        expect(await b.exited).toBe(0)
        // a keeps redialling b with backoff; it stops in the middle of that.
        await a.waitForOutput('"msg":"dial failed"')
        a.kill('SIGTERM')
        expect(await a.exited).toBe(0)
      } finally {
        a.kill('SIGKILL')
        b.kill('SIGKILL')
      }
      expect(auditOf(b)).toEqual([CLEAN])
      expect(auditOf(a)).toEqual([CLEAN])
      for (const proc of [a, b]) {
        expect(messagesOf(proc).filter((m) => m === 'service stopped')).toHaveLength(18)
        expect(messagesOf(proc).at(-1)).toBe('node stopped')
        expect(proc.stderr()).toBe('')
      }
    })
  })
})

describe('icn-node demo: nothing left running once it returns', () => {
  it('a full 3-node demo (and the 4th member it admits by invitation), its waits long-polling the nodes\' change feeds, exits 0 with no timer pending', async () => {
    const demo = startSubprocess(auditScript, ['demo', '--nodes', '3'])
    try {
      expect(await demo.exited).toBe(0)
    } finally {
      demo.kill('SIGKILL')
    }
    expect(demo.stdout()).toContain('stopped 4 nodes in ')
    expect(demo.stdout()).toContain('(exit codes 0, 0, 0, 0)')
    expect(auditOf(demo)).toEqual([CLEAN])
    expect(demo.stderr()).toBe('')
  }, 120_000)

  it('a demo cut short by its hard stop (--timeout 2) fails with exit 1, stops every node, and leaves no timer pending', async () => {
    const demo = startSubprocess(auditScript, ['demo', '--nodes', '3', '--timeout', '2'])
    try {
      expect(await demo.exited).toBe(1)
    } finally {
      demo.kill('SIGKILL')
    }
    expect(demo.stdout()).toMatch(/stopped 3 nodes in \d+ ms/)
    expect(demo.stderr()).toMatch(/^icn-node: /)
    expect(auditOf(demo)).toEqual([CLEAN])
  }, 60_000)
})
