// Real `icn-node run` processes for the node benchmarks (built dist/): start them on data directories, connect
// them, trust each other, wait on their change feeds, read their memory.
//   ICN_BENCH_PROFILE_DIR (a --cpu-prof per node, see scripts/cpuprofile-summary.mjs), ICN_BENCH_NODE_FLAGS (more
//   node flags, e.g. --trace-gc), ICN_BENCH_LOG_DIR (each node's stdout and stderr to a file).
import { spawn } from 'node:child_process'
import { openSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectApi, initDataDir, waitUntil, writeCharterFile } from '../dist/index.mjs'

export const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

/** A node's API is not up yet: nothing to long-poll, so retry every 100 ms (bounded). */
export async function connectWhenUp (dir, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const api = await connectApi(dir).catch(() => undefined)
    if (api !== undefined) return api
    if (Date.now() > deadline) throw new Error(`bench: no node API for ${dir}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Re-runs `probe` whenever the change feed (`GET /wait`) of one of `apis` moves, until it returns a value. */
export async function until (apis, probe, timeoutMs = 60_000) {
  const value = await waitUntil(apis, probe, Date.now() + timeoutMs)
  if (value === undefined) throw new Error('bench: timed out')
  return value
}

export const procStatusMiB = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024
/** Peak RSS, and the resident anonymous memory (heap, buffers) apart from LMDB's mapped file pages (RssFile), now. */
export const memoryOf = (pid) => `peak RSS ${procStatusMiB(pid, 'VmHWM').toFixed(0)} MiB (now: anonymous ${procStatusMiB(pid, 'RssAnon').toFixed(0)} MiB, mapped files ${procStatusMiB(pid, 'RssFile').toFixed(0)} MiB)`

/**
 * Initialises `count` data directories `<root>/n<i>` for one cooperative: a fresh key each, `config` as their
 * config.json, and one shared charter naming them all (the first a steward), so they are one network.
 */
export async function initCluster (root, count, config = { snapshotTimeoutMs: 30_000, logLevel: 'warn' }) {
  const dirs = Array.from({ length: count }, (_, i) => join(root, `n${i}`))
  const keys = []
  for (const dir of dirs) {
    keys.push(await initDataDir(dir))
    await writeFile(join(dir, 'config.json'), JSON.stringify(config))
  }
  for (const dir of dirs) await writeCharterFile(dir, { domain: 'coop:bench', members: keys.map((k, i) => ({ did: k.did, role: i === 0 ? 'steward' : 'member' })) })
  return { dirs, keys }
}

/**
 * Runs `icn-node run` on each of `dirs` (initialised data directories), connects every pair, and has every node
 * attest 0.9 of every other in the technical and economic graphs (a snapshot invites trusted peers only).
 * `stop()` sends SIGTERM to each and waits for their exits.
 */
export async function startCluster (dirs, { upTimeoutMs = 60_000 } = {}) {
  const count = dirs.length
  const procs = dirs.map((dir, i) => {
    const profile = process.env.ICN_BENCH_PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env.ICN_BENCH_PROFILE_DIR}`]
    const flags = (process.env.ICN_BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '')
    const logDir = process.env.ICN_BENCH_LOG_DIR
    const stdio = logDir === undefined ? 'ignore' : ['ignore', openSync(join(logDir, `n${i}.log`), 'w'), openSync(join(logDir, `n${i}.err`), 'w')]
    return spawn(process.execPath, [...profile, ...flags, cli, 'run', '--data-dir', dir, '--log-level', 'warn'], { stdio })
  })
  const stop = async () => {
    await Promise.all(procs.map((p) => new Promise((resolve) => { if (p.exitCode !== null || p.signalCode !== null) resolve(); else { p.on('exit', resolve); p.kill('SIGTERM') } })))
  }
  try {
    const apis = []
    for (const dir of dirs) apis.push(await connectWhenUp(dir, upTimeoutMs))
    for (let i = 0; i < count; i++) for (let j = 0; j < i; j++) await apis[i].post('/peers', { multiaddr: apis[j].runtime.multiaddrs[0] })
    for (const api of apis) await until([api], async () => (await api.get('/peers')).length === count - 1 ? true : undefined)
    await Promise.all(apis.map(async (api, i) => {
      for (let j = 0; j < count; j++) {
        if (j === i) continue
        for (const graph of ['technical', 'economic']) await api.post('/trust', { subject: apis[j].runtime.did, score: 0.9, graph })
      }
    }))
    const want = count * (count - 1) * 2
    for (const api of apis) await until([api], async () => (await api.get('/status')).trust.attestations === want ? true : undefined)
    return { apis, procs, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
