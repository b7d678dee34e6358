#!/usr/bin/env node
// What refusing strangers costs a member: one `icn-node run` (built dist/, its own one-member network) and
// rounds of refused connection attempts from throw-away ed25519 identities (test/helpers/stranger-dialer.mjs:
// TCP, noise, yamux, one TCP connection per attempt, spread over loopback source addresses so libp2p's
// 5-a-second threshold per host does not stop them before the handshake). Prints, per round: attempts/s,
// wall ms per attempt, the member's CPU ms per refused attempt (/proc/<pid>/stat utime + stime) and its RSS.
// Asserts nothing.
//   node apps/node/bench/admission.mjs [attempts per round, default 500] [rounds, default 3]
// Env: ICN_BENCH_ADMISSION_CONCURRENCY (dials in flight, default 12; the node admits 32 handshakes at once),
//      ICN_BENCH_ADMISSION_IDENTITIES (distinct stranger identities per round, default attempts / 10).
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { connectApi, initDataDir } from '../dist/index.mjs'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const dialer = fileURLToPath(new URL('../test/helpers/stranger-dialer.mjs', import.meta.url))
const attempts = Number(process.argv[2] ?? 500)
const rounds = Number(process.argv[3] ?? 3)
const concurrency = Number(process.env.ICN_BENCH_ADMISSION_CONCURRENCY ?? 12)
const identities = Number(process.env.ICN_BENCH_ADMISSION_IDENTITIES ?? Math.max(1, Math.round(attempts / 10)))
const ticksPerSecond = Number((await promisify(execFile)('getconf', ['CLK_TCK'])).stdout.trim())

/** CPU ms (user + system) the process has used so far: fields 14 and 15 of /proc/<pid>/stat, in clock ticks. */
async function cpuMs (pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond
}

async function rssMiB (pid) {
  const line = (await readFile(`/proc/${pid}/status`, 'utf8')).split('\n').find((l) => l.startsWith('VmRSS:')) ?? ''
  return Number(/([0-9]+)/.exec(line)?.[1]) / 1024
}

/** Starts the member and resolves with its API once it logged "node ready". */
async function startMember (dir) {
  const child = spawn(process.execPath, [cli, 'run', '--data-dir', dir, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk) => { out += chunk })
  // --log-level warn keeps the refusals' logs (if any) out of the figures; readiness is the runtime file.
  const exited = new Promise((resolve) => child.on('exit', resolve))
  for (;;) {
    const api = await connectApi(dir).catch(() => undefined)
    if (api !== undefined) return { child, api, exited, output: () => out }
    if (child.exitCode !== null) throw new Error(`bench: the member exited (${child.exitCode}): ${out}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function dial (target, networkId, payee) {
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, [dialer, '--target', target, '--network', networkId, '--payee', payee, '--identities', String(identities),
      '--attempts', String(attempts), '--concurrency', String(concurrency), '--hosts', '250'], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${err.message}\n${stderr}`))
      else resolve(JSON.parse(stdout))
    })
  })
}

const root = await mkdtemp(join(tmpdir(), 'icn-bench-admission-'))
let member
try {
  const dir = join(root, 'member')
  await initDataDir(dir)
  member = await startMember(dir)
  const { api } = member
  const pid = api.runtime.pid
  const { networkId } = await api.get('/members')
  const target = api.runtime.multiaddrs[0]
  console.log(`admission bench: ${rounds} rounds of ${attempts} refused attempts (${identities} identities, ${concurrency} in flight) against one member (pid ${pid})`)
  console.log(`member RSS at start: ${(await rssMiB(pid)).toFixed(1)} MiB`)
  for (let round = 1; round <= rounds; round++) {
    const before = await api.get('/status')
    const cpuBefore = await cpuMs(pid)
    const started = performance.now()
    const report = await dial(target, networkId, api.runtime.did)
    const wallMs = performance.now() - started
    const cpuAfter = await cpuMs(pid)
    const after = await api.get('/status')
    const refused = after.membership.refused.notAMember - before.membership.refused.notAMember
    const cpu = cpuAfter - cpuBefore
    console.log(
      `round ${round}: ${refused}/${report.attempts} refused at the gate, ${report.established.length} established, ${report.streams} ICN streams; ` +
      `dialling ${report.wallMs} ms (${(report.attempts / (report.wallMs / 1000)).toFixed(0)} attempts/s, ${(report.wallMs / report.attempts).toFixed(2)} ms wall per attempt; ` +
      `${wallMs.toFixed(0)} ms with the dialler's start); member CPU ${cpu.toFixed(0)} ms = ${(cpu / Math.max(1, refused)).toFixed(2)} ms per refused attempt; ` +
      `member RSS ${(await rssMiB(pid)).toFixed(1)} MiB`
    )
  }
} finally {
  if (member !== undefined) {
    member.child.kill('SIGTERM')
    await member.exited
  }
  await rm(root, { recursive: true, force: true })
}
