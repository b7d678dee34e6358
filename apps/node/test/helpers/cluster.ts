// Starts real `icn-node run` processes (built dist/cli.js) on loopback for the multi-process tests.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type RunningSubprocess, runSubprocess, startSubprocess } from '@icn/testkit'
import { type KindRule, networkIdOf } from '@icn/governance'
import { type Did, generateKeyPair, toHex } from '@icn/identity'
import { loadCharter, writeCharterFile } from '../../src/charter.js'
import { type ApiClient, type RuntimeInfo, connectApi, versionOf, waitUntil } from '../../src/client.js'
import { loadIdentity } from '../../src/data-dir.js'
import { networkPrefix } from '@icn/transport'

export const cliScript = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))

export interface NodeProcess {
  dataDir: string
  did: string
  proc: RunningSubprocess
  runtime: RuntimeInfo
  /** Runs `icn-node <args> --json --data-dir <this node>` and parses its JSON output. */
  cli(args: string[]): Promise<unknown>
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | string>
}

export async function cli (args: string[]): Promise<string> {
  return await runSubprocess(cliScript, args, { timeoutMs: 30_000 })
}

export async function initNode (dataDir: string): Promise<string> {
  return await cli(['init', '--ephemeral', '--data-dir', dataDir])
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
    cli: async (cmd) => JSON.parse(await cli([...cmd, '--json', '--data-dir', dataDir])) as unknown,
    stop: async () => {
      proc.kill('SIGTERM')
      return await proc.exited
    }
  }
}

export { versionOf }

/**
 * Waits until `probe` returns a value (not undefined), driven by the change feeds of the
 * nodes in `watch` (those the probe reads): `waitUntil` from the client, which long-polls
 * `GET /wait` instead of sleeping. Throws at the deadline, with the probe's last error if any.
 */
export async function eventually<T> (what: string, watch: ApiClient | ApiClient[], probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const clients = Array.isArray(watch) ? watch : [watch]
  let last: unknown
  const value = await waitUntil(clients, async () => {
    try {
      return await probe()
    } catch (err) {
      last = err
      return undefined
    }
  }, Date.now() + timeoutMs)
  if (value === undefined) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
  return value
}

export interface MeshNode extends NodeProcess { api: ApiClient, index: number }

/** Writes `config.json` (fast snapshot timeout) into an initialised data dir. */
export async function writeNodeConfig (dataDir: string, snapshotTimeoutMs: number): Promise<void> {
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], snapshotTimeoutMs }))
}

/** Starts the node process on an existing data dir and connects its API client. */
export async function startMeshNode (dataDir: string, index: number, args: string[] = []): Promise<MeshNode> {
  const node = await startNodeProcess(dataDir, args)
  return { ...node, api: await connectApi(dataDir), index }
}

/** Short governance windows for tests: no deliberation, a vote of `votingMs`. */
export const quickRule = (votingMs = 3000): KindRule => ({ proposers: ['member', 'steward'], quorumBps: 5000, approvalBps: 5000, deliberation: { defaultMs: 0, minMs: 0, maxMs: 60_000 }, votingMs })

/**
 * Writes one genesis charter into every data dir: a cooperative of `dids` (the first a steward), whose
 * stewards admit a new member by invitation unless a member objects within `votingMs` (one vote for carries it).
 */
export async function writeSharedCharter (dirs: readonly string[], dids: readonly string[], domain = 'coop:test', votingMs = 3000): Promise<void> {
  for (const dir of dirs) {
    await writeCharterFile(dir, {
      domain,
      members: dids.map((did, i) => ({ did: did as Did, role: i === 0 ? 'steward' : 'member' })),
      kinds: { text: quickRule(votingMs), 'config-change': quickRule(votingMs), membership: { ...quickRule(votingMs), proposers: ['steward'], quorumBps: 1 } }
    })
  }
}

/**
 * A member identity with no node of its own: a raw libp2p peer in a test runs under it (its helper script
 * derives the libp2p key with `generateKeyPairFromSeed('Ed25519', seed)`). `seed` is hex. `accept` picks
 * the DID, e.g. on one side of a node's DID, which decides who opens the ICN stream.
 */
export function memberIdentity (accept: (did: string) => boolean = () => true): { seed: string, did: string } {
  for (;;) {
    const keyPair = generateKeyPair()
    if (accept(keyPair.did)) return { seed: toHex(keyPair.seed), did: keyPair.did }
  }
}

/** The ICN protocol prefix (`/icn/<network id>`) of the node on `dataDir`: the network of its genesis charter. */
export async function networkPrefixOf (dataDir: string): Promise<string> {
  const { did } = await loadIdentity(dataDir)
  return networkPrefix(networkIdOf(await loadCharter(dataDir, did)))
}

/**
 * N fresh nodes of one cooperative (`writeSharedCharter`), connected in a full mesh, each trusting every
 * other at 0.9 (technical and economic). `prepare` runs once every data dir is initialised, before any node
 * starts (e.g. to write another shared charter).
 */
export async function startMesh (root: string, count: number, snapshotTimeoutMs = 4000, prepare?: (dirs: string[], dids: string[]) => Promise<void>): Promise<MeshNode[]> {
  const dirs = Array.from({ length: count }, (_, i) => join(root, `node${i}`))
  const dids: string[] = []
  for (const dir of dirs) { dids.push((await initNode(dir)).trim()); await writeNodeConfig(dir, snapshotTimeoutMs) }
  await writeSharedCharter(dirs, dids)
  await prepare?.(dirs, dids)
  const nodes = await Promise.all(dirs.map(async (dir, i) => await startMeshNode(dir, i)))
  for (const n of nodes) for (const m of nodes.slice(0, n.index)) await n.api.post('/peers', { multiaddr: m.runtime.multiaddrs[0] })
  for (const n of nodes) await eventually(`node${n.index} peers`, n.api, async () => (await n.api.get('/peers') as unknown[]).length === count - 1 ? true : undefined)
  await Promise.all(nodes.map(async (n) => {
    for (const m of nodes) {
      if (m === n) continue
      for (const graph of ['technical', 'economic']) await n.api.post('/trust', { subject: m.did, score: 0.9, graph })
    }
  }))
  const attestations = count * (count - 1) * 2
  for (const n of nodes) await eventually(`node${n.index} attestations`, n.api, async () => (await n.api.get('/status') as { trust: { attestations: number } }).trust.attestations === attestations ? true : undefined)
  return nodes
}

/** The ledger summary from a node's status. */
export async function ledgerOf (node: MeshNode): Promise<{ entries: number, stateRoot: string }> {
  return (await node.api.get('/status') as { ledger: { entries: number, stateRoot: string } }).ledger
}
