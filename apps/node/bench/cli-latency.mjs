#!/usr/bin/env node
// Client-command latency: wall time of `icn-node status|balance|peers|statement` against a running node (one
// fresh process each, as an operator or script runs them), beside a bare `node -e 0` on the same machine at the
// same moment (the floor no CLI can go under), and the CPU time (user + system) each process used, which machine
// load distorts less than wall time. ICN_BENCH_CLI_RUNS per command (default 30). Asserts nothing.
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const runs = Number(process.env.ICN_BENCH_CLI_RUNS ?? 30)
const GOAL_MS = 150
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

/** GNU time reports the child's CPU time; without it only wall time is measured. */
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined

async function timed (args) {
  const started = performance.now()
  const { stderr } = gnuTime === undefined ? await run(process.execPath, args) : await run(gnuTime, ['-f', 'cpu %U %S', process.execPath, ...args])
  const wall = performance.now() - started
  const cpu = /cpu ([0-9.]+) ([0-9.]+)\s*$/.exec(stderr)
  return { wall, cpu: cpu === null ? NaN : (Number(cpu[1]) + Number(cpu[2])) * 1000 }
}

/** Interleaved runs (baseline, then each command), so machine load hits them alike. */
async function measure (commands) {
  const times = new Map(commands.map(([name]) => [name, []]))
  for (let i = 0; i < runs; i++) for (const [name, args] of commands) times.get(name).push(await timed(args))
  return [...times].map(([name, samples]) => {
    const t = samples.map((s) => s.wall).sort((a, b) => a - b)
    const cpu = samples.map((s) => s.cpu).sort((a, b) => a - b)
    return { name, p50: percentile(t, 0.5), p90: percentile(t, 0.9), min: t[0], cpu: percentile(cpu, 0.5) }
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
  const results = await measure([
    ['node -e 0 (floor)', ['-e', '0']],
    ['icn-node --version', [cli, '--version']],
    ['icn-node status', [cli, 'status', ...d]],
    ['icn-node status --json', [cli, 'status', '--json', ...d]],
    ['icn-node balance', [cli, 'balance', ...d]],
    ['icn-node peers', [cli, 'peers', ...d]],
    ['icn-node statement --csv', [cli, 'statement', '--csv', ...d]]
  ])
  const floor = results[0].p50
  console.log(`\nCLI latency (${runs} runs each, interleaved; wall time of a fresh process; goal ≤ ${GOAL_MS} ms per client command)`)
  console.log('command'.padEnd(28) + 'p50 ms'.padStart(9) + 'p90 ms'.padStart(9) + 'min ms'.padStart(9) + 'cpu ms'.padStart(9) + '  over floor (p50)')
  for (const r of results) {
    console.log(r.name.padEnd(28) + r.p50.toFixed(0).padStart(9) + r.p90.toFixed(0).padStart(9) + r.min.toFixed(0).padStart(9) + r.cpu.toFixed(0).padStart(9) + `  ${r === results[0] ? '-' : `+${(r.p50 - floor).toFixed(0)} ms`}`)
  }
  const clientP50 = Math.max(...results.slice(2).map((r) => r.p50))
  console.log(`load average now ${(await readFile('/proc/loadavg', 'utf8').catch(() => '? ')).split(' ')[0]} on ${(await import('node:os')).availableParallelism()} cores`)
  console.log(`slowest client command p50 ${clientP50.toFixed(0)} ms: goal ${GOAL_MS} ms ${clientP50 <= GOAL_MS ? 'met' : `not met on this machine now; its floor (node -e 0) is ${floor.toFixed(0)} ms, so the CLI adds ${(clientP50 - floor).toFixed(0)} ms`}`)
} finally {
  node.kill('SIGTERM')
  await new Promise((resolve) => node.once('exit', resolve))
  await rm(root, { recursive: true, force: true })
}
