// Starts real `icn-node run` processes (built dist/cli.js) on loopback for the multi-process tests.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type RunningSubprocess, runSubprocess, startSubprocess } from '@icn/testkit'
import type { RuntimeInfo } from '../../src/client.js'

export const cliScript = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))

export interface NodeProcess {
  dataDir: string
  did: string
  proc: RunningSubprocess
  runtime: RuntimeInfo
  /** Runs `icn-node <args> --data-dir <this node>` and parses its JSON output. */
  cli(args: string[]): Promise<unknown>
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | string>
}

export async function cli (args: string[]): Promise<string> {
  return await runSubprocess(cliScript, args, { timeoutMs: 30_000 })
}

export async function initNode (dataDir: string): Promise<string> {
  return await cli(['init', '--data-dir', dataDir])
}

export async function startNodeProcess (dataDir: string, args: string[] = []): Promise<NodeProcess> {
  const proc = startSubprocess(cliScript, ['run', '--data-dir', dataDir, ...args])
  await proc.waitForOutput('"msg":"node ready"')
  const runtime = JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')) as RuntimeInfo
  return {
    dataDir,
    did: runtime.did,
    proc,
    runtime,
    cli: async (cmd) => JSON.parse(await cli([...cmd, '--data-dir', dataDir])) as unknown,
    stop: async () => {
      proc.kill('SIGTERM')
      return await proc.exited
    }
  }
}
