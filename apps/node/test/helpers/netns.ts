// Test hosts of our own: network namespaces joined by veth pairs (and bridges, routers), node processes
// started inside them, and their loopback-only API reached over a unix socket (the filesystem is shared).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fromJson, toJson } from '@icn/identity'
import { type ApiClient, ApiCallError, type RuntimeInfo } from '../../src/client.js'
import { reaped } from '../chaos/figures.js'
import { cliScript } from './cluster.js'

const forwardScript = fileURLToPath(new URL('./ns-forward.mjs', import.meta.url))

/** Runs a command, throwing with its stderr on failure. */
export function sh (args: string[]): void { execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] }) }
export const inNs = (ns: string, args: string[]): void => { sh(['ip', 'netns', 'exec', ns, ...args]) }

/** Namespaces made by one test, deleted (with everything in them) by `remove()`. */
export class Namespaces {
  private readonly created: string[] = []

  /** Creates namespace `name` with its loopback up. */
  add (name: string): string {
    sh(['ip', 'netns', 'add', name])
    this.created.push(name)
    inNs(name, ['ip', 'link', 'set', 'lo', 'up'])
    return name
  }

  /** A veth pair: `aName` in `a` with `aAddr` (CIDR, optional), `bName` in `b` with `bAddr`; both up. */
  link (a: string, aName: string, aAddr: string | undefined, b: string, bName: string, bAddr: string | undefined): void {
    sh(['ip', 'link', 'add', aName, 'netns', a, 'type', 'veth', 'peer', 'name', bName, 'netns', b])
    for (const [ns, name, addr] of [[a, aName, aAddr], [b, bName, bAddr]] as const) {
      if (addr !== undefined) inNs(ns, ['ip', 'addr', 'add', addr, 'dev', name])
      inNs(ns, ['ip', 'link', 'set', name, 'up'])
    }
  }

  remove (): void {
    for (const ns of this.created.splice(0).reverse()) {
      try { sh(['ip', 'netns', 'del', ns]) } catch { /* already gone */ }
    }
  }
}

export interface NsProcess { child: ChildProcess, exited: Promise<number | string | null>, output: () => string, ready: (text: string) => Promise<void> }

/** Starts `node <args>` inside namespace `ns` (reaped by the chaos suite's `reapAll`). */
export function spawnIn (ns: string, args: string[]): NsProcess {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  reaped({ child })
  let out = ''
  const waiters: Array<{ text: string, resolve: () => void }> = []
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; for (const w of waiters.filter((w) => out.includes(w.text))) { waiters.splice(waiters.indexOf(w), 1); w.resolve() } })
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { out += c })
  const exited = new Promise<number | string | null>((resolve) => { child.once('exit', (code, signal) => { resolve(code ?? signal) }) })
  return {
    child,
    exited,
    output: () => out,
    ready: async (text) => {
      if (out.includes(text)) return
      await Promise.race([new Promise<void>((resolve) => waiters.push({ text, resolve })), exited.then((code) => { throw new Error(`process in ${ns} exited ${String(code)} before '${text}': ${out.slice(-1000)}`) })])
    }
  }
}

/** An API client over the unix socket a forwarder inside the node's namespace serves. */
export function unixApi (socketPath: string, token: string, runtime: RuntimeInfo): ApiClient {
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> => await new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(signal === undefined ? {} : { signal }) }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => { text += c })
      res.on('end', () => {
        const value = fromJson(text) as { code?: string, message?: string }
        if ((res.statusCode ?? 500) >= 400) reject(new ApiCallError(res.statusCode ?? 500, value.code ?? 'UNKNOWN', value.message ?? 'request failed'))
        else resolve(value)
      })
    })
    req.on('error', reject)
    req.end(method === 'POST' ? toJson(body ?? {}) : undefined)
  })
  return { runtime, get: async (path, options) => await call('GET', path, undefined, options?.signal), post: async (path, body) => await call('POST', path, body) }
}

/** A node process in a namespace, with its API forwarder. */
export interface NsNode { name: string, dataDir: string, did: string, node: NsProcess, forward: NsProcess, api: ApiClient }

/**
 * Writes `config` (apiPort 7000 added) into an initialised data dir, starts `icn-node run` in `ns`
 * and its API forwarder (socket `<socketDir>/<name>.sock`).
 */
export async function startNsNode (ns: string, name: string, dataDir: string, socketDir: string, config: Record<string, unknown>, args: string[] = []): Promise<NsNode> {
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ ...config, apiPort: 7000 }))
  const node = spawnIn(ns, [cliScript, 'run', '--data-dir', dataDir, ...args])
  await node.ready('"msg":"node ready"')
  const socket = join(socketDir, `${name}.sock`)
  const forward = spawnIn(ns, [forwardScript, socket, '7000'])
  await forward.ready('READY')
  const runtime = JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')) as RuntimeInfo
  const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim()
  return { name, dataDir, did: runtime.did, node, forward, api: unixApi(socket, token, runtime) }
}

/** SIGTERMs the nodes and their forwarders; resolves with the nodes' exit codes. */
export async function stopNsNodes (nodes: readonly NsNode[]): Promise<Array<number | string | null>> {
  for (const n of nodes) n.node.child.kill('SIGTERM')
  const codes = await Promise.all(nodes.map(async (n) => await n.node.exited))
  for (const n of nodes) n.forward.child.kill('SIGTERM')
  await Promise.all(nodes.map(async (n) => await n.forward.exited))
  return codes
}
