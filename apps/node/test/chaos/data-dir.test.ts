// Chaos: a corrupted data directory. A 3-node cooperative (charter, payments, attestations, a
// proposal, a distributed snapshot) leaves node0's directory as the golden copy; then every file
// in it (identity, config, charter, gossip state, each stored snapshot, each LMDB environment's
// data and lock file) is bit-flipped, truncated, overwritten with garbage, deleted or made
// unreadable, and `icn-node run` is started on the copy. Accepted outcomes: a refusal (exit 1)
// whose message names the file and says what to do, without a stack trace and without changing
// any other file; or a start whose state (as the API shows it) is exactly the golden state.
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, chown, cp, readFile, readdir, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { SeededRng, withTempDir } from '@icn/testkit'
import { afterAll, describe, expect, it } from 'vitest'
import { toJson } from '@icn/identity'
import { type ApiClient, connectApi } from '../../src/client.js'
import { type MeshNode, cliScript, eventually, initNode, startMeshNode, writeNodeConfig } from '../helpers/cluster.js'
import { FULL, chaosCount, reapAll, reaped, reportFigures } from './figures.js'

/** Files the node itself rewrites or removes at every start and stop: not data. */
const RUNTIME_FILES = new Set(['api-token', 'node.json'])

type Mutation = 'bitflip' | 'truncate-half' | 'truncate-zero' | 'garbage' | 'delete' | 'unreadable'
const MUTATIONS: Mutation[] = ['bitflip', 'truncate-half', 'truncate-zero', 'garbage', 'delete', 'unreadable']

/** What the API shows of a node's data (clock-driven fields like a proposal's state left out). */
interface View {
  did: string
  ledger: { entries: number, stateRoot: string }
  balances: unknown
  attestations: number
  governance: { domain: string, members: number }
  proposals: string[]
  snapshots: Array<{ snapshotId: string, root: string }>
}

async function viewOf (api: ApiClient): Promise<View> {
  const status = await api.get('/status') as { did: string, ledger: { entries: number, stateRoot: string }, trust: { attestations: number }, governance: { domain: string, members: number } }
  const proposals = await api.get('/proposals') as Array<{ id: string }>
  const snapshots = await api.get('/snapshots') as Array<{ snapshotId: string, root: string }>
  return {
    did: status.did,
    ledger: { entries: status.ledger.entries, stateRoot: status.ledger.stateRoot },
    balances: await api.get('/balances'),
    attestations: status.trust.attestations,
    governance: { domain: status.governance.domain, members: status.governance.members },
    proposals: proposals.map((p) => p.id).sort(),
    snapshots: snapshots.map((s) => ({ snapshotId: s.snapshotId, root: s.root }))
  }
}

async function listFiles (root: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const path = relative(root, join(entry.parentPath, entry.name))
    if (!RUNTIME_FILES.has(path)) out.push(path)
  }
  return out.sort()
}

async function hashes (root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const file of await listFiles(root)) out.set(file, createHash('sha256').update(await readFile(join(root, file))).digest('hex'))
  return out
}

async function mutate (file: string, mutation: Mutation, rng: SeededRng): Promise<void> {
  const size = (await stat(file)).size
  switch (mutation) {
    case 'bitflip': {
      const bytes = await readFile(file)
      if (bytes.length === 0) { await writeFile(file, Uint8Array.of(1)); return }
      const at = rng.int(0, bytes.length - 1)
      bytes[at] = bytes[at]! ^ (1 << rng.int(0, 7))
      await writeFile(file, bytes)
      return
    }
    case 'truncate-half': await truncate(file, Math.floor(size / 2)); return
    case 'truncate-zero': await truncate(file, 0); return
    case 'garbage': await writeFile(file, rng.bytes(Math.max(size, 64))); return
    case 'delete': await unlink(file); return
    case 'unreadable': await chmod(file, 0o000); return
  }
}

type Outcome = { kind: 'started', view: View, stopCode: number | string | null } | { kind: 'refused', code: number | string | null, stdout: string, stderr: string }

/** Runs `icn-node run` on `dataDir` (as `nobody` when `asNobody`); a start is read through the API and stopped. */
/** How long a start may take before the try counts as a hang. */
const START_LIMIT_MS = 30_000

async function runOnce (dataDir: string, asNobody: boolean): Promise<Outcome> {
  const args = [cliScript, 'run', '--data-dir', dataDir]
  const child: ChildProcess = asNobody
    ? spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  reaped({ child })
  let stdout = ''
  let stderr = ''
  let onReady = (): void => {}
  const ready = new Promise<'ready'>((resolve) => { onReady = () => { resolve('ready') } })
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; if (stdout.includes('"msg":"node ready"')) onReady() })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<number | string | null>((resolve) => { child.once('exit', (code, signal) => { resolve(code ?? signal) }) })
  // A node that neither gets ready nor exits is a failure of its own, named, not a test timeout.
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<{ code: string }>((resolve) => { timer = setTimeout(() => { resolve({ code: `hung: neither ready nor exited after ${START_LIMIT_MS} ms` }) }, START_LIMIT_MS) })
  const first = await Promise.race([ready, exited.then((code) => ({ code })), hung])
  clearTimeout(timer)
  if (first !== 'ready') {
    if (typeof first.code === 'string' && first.code.startsWith('hung')) { child.kill('SIGKILL'); await exited }
    return { kind: 'refused', code: first.code, stdout, stderr }
  }
  try {
    const view = await viewOf(await connectApi(dataDir))
    child.kill('SIGTERM')
    return { kind: 'started', view, stopCode: await exited }
  } catch (err) {
    child.kill('SIGKILL')
    await exited
    return { kind: 'refused', code: `api failed: ${(err as Error).message}`, stdout, stderr }
  }
}

/** Why an outcome breaks the contract, or undefined when it keeps it. */
/**
 * The data a start may show: the golden data, except for the documented recoveries. A stored
 * snapshot with any file changed or deleted is moved into snapshots/damaged/ (with a warning) when
 * the node starts, so it leaves the list; a damaged chunk (`snapshots/chunks/<sha-256>`) takes every
 * snapshot whose metadata names it along; a mutation that leaves the bytes as they were changes nothing.
 */
function expected (golden: View, file: string, changed: boolean, chunkUsers: ReadonlyMap<string, readonly string[]>): View {
  const stored = /^snapshots\/([A-Za-z0-9_-]+)\.(?:snapshot|snapshot\.sha256|local\.bin|channels\.bin)$/.exec(file)?.[1]
  const chunk = /^snapshots\/chunks\/([0-9a-f]{64})$/.exec(file)?.[1]
  const gone = stored !== undefined ? [stored] : chunk !== undefined ? chunkUsers.get(chunk) ?? [] : []
  if (changed && gone.length > 0) return { ...golden, snapshots: golden.snapshots.filter((s) => !gone.includes(s.snapshotId)) }
  return golden
}

/** For each chunk in `<dir>/snapshots/chunks/`, the stored snapshots whose metadata names it. */
async function chunkUsersOf (dir: string): Promise<Map<string, string[]>> {
  const users = new Map<string, string[]>()
  const names = await readdir(join(dir, 'snapshots'))
  const chunks = await readdir(join(dir, 'snapshots', 'chunks')).catch(() => [] as string[])
  for (const name of names.filter((n) => n.endsWith('.snapshot'))) {
    const meta = await readFile(join(dir, 'snapshots', name))
    for (const chunk of chunks) {
      if (meta.includes(Buffer.from(chunk))) users.set(chunk, [...(users.get(chunk) ?? []), name.slice(0, -'.snapshot'.length)])
    }
  }
  return users
}

function judge (outcome: Outcome, file: string, changed: boolean, golden: View, othersChanged: string[], chunkUsers: ReadonlyMap<string, readonly string[]>): string | undefined {
  if (outcome.kind === 'started') {
    if (outcome.stopCode !== 0) return `started, but stopping exited ${String(outcome.stopCode)}`
    if (toJson(outcome.view) !== toJson(expected(golden, file, changed, chunkUsers))) return `started with different data: ${toJson(outcome.view).slice(0, 400)}`
    return undefined
  }
  const text = outcome.stderr + outcome.stdout
  if (outcome.code !== 1) return `exited ${String(outcome.code)}: ${text.slice(-600)}`
  if (/\n\s+at .+:\d+:\d+/.test(text) || text.includes('"uncaught exception"')) return `stack trace: ${text.slice(-600)}`
  const message = outcome.stderr.trim()
  if (!message.startsWith('icn-node: ')) return `no one-line error on stderr: ${text.slice(-400)}`
  if (!message.includes(file)) return `error does not name ${file}: ${message}`
  if (!/restore|remove|move|chmod|chown|fix|run /.test(message)) return `error does not say what to do: ${message}`
  if (othersChanged.length > 0) return `the failed start changed other files: ${othersChanged.join(', ')}`
  return undefined
}

/** A 3-node cooperative with every kind of data; returns node0's stopped data directory. */
async function makeGolden (root: string): Promise<string> {
  const dirs = [0, 1, 2].map((i) => join(root, `node${i}`))
  const dids: string[] = []
  for (const d of dirs) dids.push(await initNode(d))
  for (const d of dirs) {
    await writeNodeConfig(d, 4000)
    await writeFile(join(d, 'charter.json'), JSON.stringify({ domain: 'coop:chaos', members: dids.map((did, j) => ({ did, role: j === 0 ? 'steward' : 'member' })) }))
  }
  const nodes: MeshNode[] = []
  try {
    for (const [i, d] of dirs.entries()) nodes.push(await startMeshNode(d, i))
    for (const n of nodes) reaped(n.proc)
    for (const n of nodes) for (const m of nodes.slice(0, n.index)) await n.api.post('/peers', { multiaddr: m.runtime.multiaddrs[0] })
    for (const n of nodes) await eventually('mesh', n.api, async () => (await n.api.get('/peers') as unknown[]).length === 2 ? true : undefined)
    for (const n of nodes) for (const m of nodes) if (m !== n) await n.api.post('/trust', { subject: m.did, score: 0.9, graph: 'technical' })
    await nodes[0]!.api.post('/pay', { to: nodes[1]!.did, amount: '7' })
    await nodes[1]!.api.post('/pay', { to: nodes[2]!.did, amount: '3' })
    await nodes[2]!.api.post('/pay', { to: nodes[0]!.did, amount: '2', currency: 'EUR' })
    await nodes[0]!.api.post('/proposals', { kind: 'text', title: 'chaos', payload: { text: 'golden' } })
    const all = nodes.map((n) => n.api)
    await eventually('everything everywhere', all, async () => {
      const s = await Promise.all(nodes.map(async (n) => await n.api.get('/status') as { ledger: { entries: number }, trust: { attestations: number }, governance: { proposals: number } }))
      return s.every((x) => x.ledger.entries === 3 && x.trust.attestations === 6 && x.governance.proposals === 1) ? true : undefined
    })
    await nodes[0]!.api.post('/snapshots')
    await nodes[1]!.api.post('/snapshots')
    await eventually('snapshots stored', nodes[0]!.api, async () => (await nodes[0]!.api.get('/snapshots') as unknown[]).length === 2 ? true : undefined)
  } finally {
    for (const n of nodes) expect(await n.stop()).toBe(0)
  }
  return dirs[0]!
}

describe('chaos: a corrupted data directory', () => {
  afterAll(reapAll)

  it('refuses every corrupted, truncated, replaced, deleted or unreadable data-dir file with a one-line typed error naming it (or starts with exactly the data it had), and never changes another file', async () => {
    await withTempDir(async (root) => {
      await chmod(root, 0o711) // `nobody` (the unreadable-file runs) must reach its copy
      const goldenDir = await makeGolden(root)
      const files = await listFiles(goldenDir)
      // Every kind the issue names is there.
      for (const want of [/^identity\.json$/, /^config\.json$/, /^charter\.json$/, /^gossip\/state\.json$/, /^snapshots\//, /^ledger\/data\.mdb$/, /^ledger\/lock\.mdb$/, /^trust\/data\.mdb$/, /^governance\/data\.mdb$/]) {
        expect(files.some((f) => want.test(f)), `${want} in ${files.join(', ')}`).toBe(true)
      }
      const pristine = join(root, 'pristine')
      await cp(goldenDir, pristine, { recursive: true })
      const first = await runOnce(pristine, false)
      if (first.kind !== 'started') throw new Error(`the golden copy does not start: ${first.stderr}`)
      const golden = first.view
      expect(golden.ledger.entries).toBe(3)
      expect(golden.snapshots.length).toBe(2)
      // Every stored chunk belongs to a snapshot, so a damaged one takes at least that snapshot along.
      const chunkUsers = await chunkUsersOf(goldenDir)
      const chunkFiles = files.filter((f) => f.startsWith('snapshots/chunks/'))
      expect(chunkFiles.length).toBeGreaterThan(0)
      expect(chunkFiles.filter((f) => (chunkUsers.get(f.slice('snapshots/chunks/'.length)) ?? []).length === 0)).toEqual([])

      const rng = new SeededRng(Number(process.env.ICN_CHAOS_SEED ?? 16))
      const rounds = chaosCount('DATA_DIR_ROUNDS', 3, 1)
      const failures: string[] = []
      let tries = 0
      let refused = 0
      let started = 0
      for (let round = 0; round < rounds; round++) {
        for (const file of files) {
          // The short run tries one mutation per file (a different one each file); the full run all of them, `rounds` times.
          const mutations = FULL ? MUTATIONS : [MUTATIONS[(files.indexOf(file) + round) % MUTATIONS.length]!]
          for (const mutation of mutations) {
            const copy = join(root, `try-${tries}`)
            await cp(goldenDir, copy, { recursive: true })
            const asNobody = mutation === 'unreadable'
            if (asNobody) {
              // Root reads any file: the node runs as `nobody`, owner of the copy, for whom 0000 means unreadable.
              for (const f of [copy, ...(await readdir(copy, { recursive: true })).map((f) => join(copy, f))]) await chown(f, 65534, 65534)
            }
            const original = await hashes(copy)
            await mutate(join(copy, file), mutation, rng)
            const before = await hashes(copy)
            const changed = before.get(file) !== original.get(file)
            const outcome = await runOnce(copy, asNobody)
            const after = await hashes(copy)
            const othersChanged = [...before.keys()].filter((f) => f !== file && !f.endsWith('lock.mdb') && after.get(f) !== before.get(f))
            tries++
            if (outcome.kind === 'started') started++; else refused++
            const verdict = judge(outcome, file, changed, golden, othersChanged, chunkUsers)
            if (verdict !== undefined) failures.push(`${file} ${mutation}: ${verdict}`)
            await rm(copy, { recursive: true, force: true })
          }
        }
      }
      await reportFigures({ case: 'corrupt data dir', tries, failures: failures.length, acknowledgedLost: null, notes: `${files.length} files; ${refused} refused, ${started} started intact` })
      expect(failures).toEqual([])
    })
  }, FULL ? 1_800_000 : 240_000)
})
