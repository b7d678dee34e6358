#!/usr/bin/env node
// Client-command latency: wall time of `icn-node status|balance|peers|statement|members` against a running node (one
// fresh process each, as an operator or script runs them), beside a bare `node -e 0` on the same machine at the same
// moment (the floor no CLI can go under), and the CPU time (user + system) each process used, which machine load
// distorts less than wall time. ICN_BENCH_CLI_RUNS per command (default 30); ICN_BENCH_NODE runs the commands and the
// floor with another node binary (e.g. Node 22 or 24; the node itself runs on this one). Asserts nothing.
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const runs = Number(process.env.ICN_BENCH_CLI_RUNS ?? 30)
const nodeBin = process.env.ICN_BENCH_NODE ?? process.execPath
const GOAL_MS = 150
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length
const loadAverage = async () => (await readFile('/proc/loadavg', 'utf8').catch(() => '? ')).split(' ')[0]

/**
 * bash runs the command and reports its wall time ($EPOCHREALTIME around it, so bash's own start is not counted)
 * and its CPU time (`times`: the child's user and system time from getrusage, to the millisecond; GNU time's
 * %U/%S are in hundredths).
 */
const TIMED = 's=$EPOCHREALTIME; "$@" >/dev/null || exit $?; e=$EPOCHREALTIME; times; echo "$s $e"'
const seconds = (text) => { const [m, s] = text.slice(0, -1).split('m'); return Number(m) * 60 + Number(s) }

async function timed (args) {
  const { stdout } = await run('bash', ['-c', TIMED, 'timed', nodeBin, ...args])
  const [, children, span] = stdout.trim().split('\n')
  const [user, system] = children.split(' ').map(seconds)
  const [start, end] = span.split(' ').map(Number)
  return { wall: (end - start) * 1000, cpu: (user + system) * 1000 }
}

/** Interleaved runs (baseline, then each command), so machine load hits them alike. */
async function measure (commands) {
  const times = new Map(commands.map(([name]) => [name, []]))
  for (let i = 0; i < runs; i++) for (const [name, args] of commands) times.get(name).push(await timed(args))
  return [...times].map(([name, samples]) => {
    const t = samples.map((s) => s.wall).sort((a, b) => a - b)
    const cpu = samples.map((s) => s.cpu).sort((a, b) => a - b)
    return { name, p50: percentile(t, 0.5), p90: percentile(t, 0.9), min: t[0], cpu: percentile(cpu, 0.5), cpuMean: mean(cpu) }
  })
}

const root = await mkdtemp(join(tmpdir(), 'icn-cli-bench-'))
const dataDir = join(root, 'node')
await run(process.execPath, [cli, 'init', '--ephemeral', '--data-dir', dataDir])
const node = spawn(process.execPath, [cli, 'run', '--data-dir', dataDir, '--log-level', 'warn'], { stdio: 'ignore' })
try {
  for (let i = 0; i < 600; i++) {
    if (await readFile(join(dataDir, 'node.json')).then(() => true, () => false)) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const d = ['--data-dir', dataDir]
  const loadBefore = await loadAverage()
  const results = await measure([
    ['node -e 0 (floor)', ['-e', '0']],
    ['icn-node --version', [cli, '--version']],
    ['icn-node status', [cli, 'status', ...d]],
    ['icn-node status --json', [cli, 'status', '--json', ...d]],
    ['icn-node balance', [cli, 'balance', ...d]],
    ['icn-node peers', [cli, 'peers', ...d]],
    ['icn-node statement --csv', [cli, 'statement', '--csv', ...d]],
    ['icn-node members', [cli, 'members', ...d]]
  ])
  const floor = results[0]
  console.log(`\nCLI latency, Node ${(await run(nodeBin, ['--version'])).stdout.trim()} (${runs} runs each, interleaved; a fresh process each; goal ≤ ${GOAL_MS} ms wall per client command)`)
  console.log(`load average ${loadBefore} before, ${await loadAverage()} after, on ${availableParallelism()} cores`)
  console.log('command'.padEnd(28) + 'p50 ms'.padStart(9) + 'p90 ms'.padStart(9) + 'min ms'.padStart(9) + 'cpu p50'.padStart(9) + 'cpu mean'.padStart(10) + '  over floor (wall p50, cpu mean)')
  for (const r of results) {
    const over = r === floor ? '-' : `+${(r.p50 - floor.p50).toFixed(0)} ms, +${(r.cpuMean - floor.cpuMean).toFixed(0)} ms`
    console.log(r.name.padEnd(28) + r.p50.toFixed(0).padStart(9) + r.p90.toFixed(0).padStart(9) + r.min.toFixed(0).padStart(9) + r.cpu.toFixed(0).padStart(9) + r.cpuMean.toFixed(0).padStart(10) + `  ${over}`)
  }
  const clients = results.slice(2)
  const clientP50 = Math.max(...clients.map((r) => r.p50))
  const clientCpu = Math.max(...clients.map((r) => r.cpuMean))
  console.log(`slowest client command: wall p50 ${clientP50.toFixed(0)} ms (goal ${GOAL_MS} ms: ${clientP50 <= GOAL_MS ? 'met' : 'not met on this machine now'}), ` +
    `CPU ${clientCpu.toFixed(0)} ms; the floor (node -e 0) is ${floor.p50.toFixed(0)} ms wall, ${floor.cpuMean.toFixed(0)} ms CPU, so the CLI adds ` +
    `${(clientP50 - floor.p50).toFixed(0)} ms wall, ${(clientCpu - floor.cpuMean).toFixed(0)} ms CPU`)
} finally {
  node.kill('SIGTERM')
  await new Promise((resolve) => node.once('exit', resolve))
  await rm(root, { recursive: true, force: true })
}
