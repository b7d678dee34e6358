// deploy/: the systemd unit and the container file, exercised by their own commands.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { runSubprocess, startSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
const unitFile = join(repo, 'deploy', 'icn-node.service')
const containerFile = join(repo, 'deploy', 'Containerfile')

/** The `Key=value` lines of one `[Section]` of a systemd unit (repeated keys keep the last). */
function unitSection (text: string, section: string): Record<string, string> {
  const out: Record<string, string> = {}
  let current = ''
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line.trim())
    if (header !== null) { current = header[1]!; continue }
    const pair = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (current === section && pair !== null) out[pair[1]!] = pair[2]!
  }
  return out
}

/** A container file's instructions (continuation lines joined); exec-form arguments parsed as JSON. */
function instructions (text: string): Array<{ op: string, args: string }> {
  return text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const space = l.indexOf(' ')
    return { op: l.slice(0, space), args: l.slice(space + 1).trim() }
  })
}

/** The production paths of deploy/ mapped to this checkout and a temporary data directory. */
const localize = (args: string[], dataDir: string): string[] => args.map((a) => a.replace('/opt/icn/', repo).replace('/var/lib/icn', dataDir))

/** Runs `[node, script, ...args]` until 'node ready', checks it answers, then stops it with `signal`: resolves with the exit code. */
async function runUntilReady (argv: string[], dataDir: string, signal: NodeJS.Signals, check: () => Promise<void>): Promise<number | string> {
  expect(basename(argv[0]!)).toBe('node')
  const proc = startSubprocess(argv[1]!, argv.slice(2))
  try {
    await proc.waitForOutput('"msg":"node ready"')
    await check()
  } finally {
    proc.kill(signal)
  }
  expect(JSON.parse(await readFile(join(dataDir, 'config.json'), 'utf8'))).toMatchObject({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  return await proc.exited
}

describe('deploy/', () => {
  it('the systemd unit passes systemd-analyze verify (where installed) and its ExecStart runs a node that stops cleanly on its KillSignal', async () => {
    const text = await readFile(unitFile, 'utf8')
    const service = unitSection(text, 'Service')
    expect(service).toMatchObject({ Type: 'simple', User: 'icn', StateDirectory: 'icn', StateDirectoryMode: '0700', KillSignal: 'SIGTERM', Restart: 'on-failure', ReadWritePaths: '/var/lib/icn' })
    expect(unitSection(text, 'Install')).toEqual({ WantedBy: 'multi-user.target' })
    if (existsSync('/usr/bin/systemd-analyze')) {
      // Exit 0 and nothing on stderr: no unknown key, no bad value, the executable exists.
      const { stderr } = await promisify(execFile)('/usr/bin/systemd-analyze', ['verify', unitFile])
      expect(stderr).toBe('')
    }
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'icn')
      const exec = localize(service.ExecStart!.split(' '), dataDir)
      // Random ports here: the fixed production ones (4710, 4711) may be taken on a test machine.
      await runSubprocess(exec[1]!, ['init', '--ephemeral', '--data-dir', dataDir])
      const code = await runUntilReady(exec, dataDir, service.KillSignal as NodeJS.Signals, async () => {
        const status = JSON.parse(await runSubprocess(exec[1]!, ['status', '--json', '--data-dir', dataDir])) as { services: string[] }
        expect(status.services.at(-1)).toBe('api')
      })
      expect(code).toBe(0)
    })
  }, 60_000)

  it('the container file builds with the CI commands and its ENTRYPOINT + CMD run a node its HEALTHCHECK finds healthy', async () => {
    const steps = instructions(await readFile(containerFile, 'utf8'))
    const pnpm = (JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { packageManager: string }).packageManager
    // The image builds with the README's CI commands and the pinned pnpm.
    expect(steps.find((s) => s.op === 'RUN')?.args).toBe(`npm install -g ${pnpm} && pnpm install --frozen-lockfile && pnpm build`)
    const exec = (op: string): string[] => JSON.parse(steps.find((s) => s.op === op)!.args) as string[]
    const entrypoint = exec('ENTRYPOINT')
    const health = JSON.parse(steps.find((s) => s.op === 'HEALTHCHECK')!.args.replace(/^(--\S+\s+)*CMD\s+/, '')) as string[]
    const stopSignal = steps.find((s) => s.op === 'STOPSIGNAL')!.args as NodeJS.Signals
    expect(steps.find((s) => s.op === 'EXPOSE')?.args).toBe('4710')
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'icn')
      const cliArgs = (args: string[]): string[] => localize([...entrypoint, ...args], dataDir)
      // The documented `docker run … icn-node init --data-dir /var/lib/icn`, on random ports.
      await runSubprocess(cliArgs([])[1]!, localize(['init', '--ephemeral', '--data-dir', '/var/lib/icn'], dataDir))
      const code = await runUntilReady(cliArgs(exec('CMD')), dataDir, stopSignal, async () => {
        const probe = localize(health, dataDir)
        const status = JSON.parse(await runSubprocess(probe[1]!, probe.slice(2))) as { did: string }
        expect(status.did).toBe((JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')) as { did: string }).did)
      })
      expect(code).toBe(0)
      // The health check fails once the node is gone (exit 1: no running node).
      const probe = localize(health, dataDir)
      await expect(runSubprocess(probe[1]!, probe.slice(2))).rejects.toThrow('no running node found')
    })
  }, 60_000)
})
