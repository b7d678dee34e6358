// What a client command loads (issue 24: answer in ≤ 150 ms by loading only what it needs): each runs the built CLI
// with test/helpers/module-recorder.mjs preloaded, which lists every ES module, CommonJS file and built-in the
// process loaded. A client command must be the CommonJS cli.js alone (commander is bundled in it): no ES module, so
// no lmdb, libp2p or @icn package, nor node:crypto. Timings are in `pnpm bench` (bench/cli-latency.mjs), not here.
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { runSubprocess, withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { cliScript, initNode, startNodeProcess } from './helpers/cluster.js'

interface LoadedModules { esm: string[], cjs: string[], builtins: string[] }

const recorder = new URL('./helpers/module-recorder.mjs', import.meta.url).href

/** Runs `icn-node <args>` with the recorder preloaded; returns its stdout and what it loaded. */
async function recordCli (dir: string, args: string[]): Promise<{ stdout: string, loaded: LoadedModules }> {
  const out = join(dir, `modules-${args.join('-').replace(/[^a-z0-9-]/gi, '_')}.json`)
  const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${recorder}`, ICN_MODULES_OUT: out }
  const stdout = await runSubprocess(cliScript, args, { env, timeoutMs: 30_000 })
  return { stdout, loaded: JSON.parse(await readFile(out, 'utf8')) as LoadedModules }
}

/** The modules that are files (not `node:` built-ins). */
const files = (loaded: LoadedModules): string[] => loaded.esm.filter((url) => !url.startsWith('node:'))

describe('client commands load the CommonJS cli.js and Node built-ins only', () => {
  it('status, balance, statement, peers and members load no store, no libp2p, no crypto; check (the control) does', async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'node')
      const did = await initNode(dataDir)
      const node = await startNodeProcess(dataDir)
      try {
        const d = ['--data-dir', dataDir]
        const status = await recordCli(dir, ['status', ...d])
        expect(status.stdout.split('\n')[0]).toBe(`did          ${did}`)
        const statusJson = await recordCli(dir, ['status', '--json', ...d])
        expect((JSON.parse(statusJson.stdout) as { did: string }).did).toBe(did)
        const balance = await recordCli(dir, ['balance', '--json', ...d])
        expect(JSON.parse(balance.stdout)).toEqual({ account: did, name: null, currency: 'ICN', balance: '0', creditLimit: expect.stringMatching(/^[0-9]+$/), stateRoot: expect.stringMatching(/^[0-9a-f]{64}$/) })
        const statement = await recordCli(dir, ['statement', '--json', ...d])
        expect(JSON.parse(statement.stdout)).toEqual({ account: did, currency: 'ICN', from: 0, to: Number.MAX_SAFE_INTEGER, opening: '0', closing: '0', lines: [] })
        const csv = await recordCli(dir, ['statement', '--csv', ...d])
        expect(csv.stdout).toBe('date,entry,counterparty,reference,debit,credit,balance,currency')
        const peers = await recordCli(dir, ['peers', '--json', ...d])
        expect(JSON.parse(peers.stdout)).toEqual([])
        const members = await recordCli(dir, ['members', ...d])
        expect(members.stdout.split('\n')).toContain(`- (this node)  ${did}  steward  active    -`)
        for (const run of [status, statusJson, balance, statement, csv, peers, members]) {
          // With a hook registered, Node resolves the main entry through the ES module loader too.
          expect(files(run.loaded)).toEqual([pathToFileURL(cliScript).href])
          expect(run.loaded.cjs).toEqual([cliScript])
          expect(run.loaded.builtins.filter((name) => ['crypto', 'zlib'].includes(name))).toEqual([])
        }

        // The control: `check` opens the stores, so the recorder must see LMDB, the ledger and node:crypto.
        const check = await recordCli(dir, ['check', '--json', ...d])
        expect((JSON.parse(check.stdout) as { ok: boolean }).ok).toBe(true)
        expect(check.loaded.cjs[0]).toBe(cliScript)
        expect(files(check.loaded)).toContain(pathToFileURL(join(dirname(cliScript), 'check.mjs')).href)
        expect(files(check.loaded).filter((url) => url.includes('/packages/ledger/dist/'))).toHaveLength(1)
        expect(files(check.loaded).some((url) => url.includes('/lmdb/'))).toBe(true)
        expect(check.loaded.cjs.some((file) => file.includes('/node-gyp-build-optional-packages/'))).toBe(true)
        expect(check.loaded.builtins).toContain('crypto')
      } finally {
        expect(await node.stop()).toBe(0)
      }
    })
  })
})
