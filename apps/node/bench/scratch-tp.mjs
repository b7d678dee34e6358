import { spawn } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectApi, initDataDir, waitUntil } from '../dist/index.js'
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const root = await mkdtemp(join(tmpdir(), 'icn-tp-'))
const procs = []; const apis = []; const N = 3
for (let i = 0; i < N; i++) { const dir = join(root, `n${i}`); await initDataDir(dir)
  procs.push(spawn(process.execPath, [...(i === 0 && process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), cli, 'run', '--data-dir', dir, '--log-level', 'warn'], { stdio: 'ignore' })) }
for (let i = 0; i < N; i++) { for (;;) { const a = await connectApi(join(root, `n${i}`)).catch(() => undefined); if (a) { apis.push(a); break } await new Promise(r => setTimeout(r, 100)) } }
for (let i = 0; i < N; i++) for (let j = 0; j < i; j++) await apis[i].post('/peers', { multiaddr: apis[j].runtime.multiaddrs[0] })
for (const api of apis) await waitUntil([api], async () => (await api.get('/peers')).length === N - 1 ? true : undefined, Date.now() + 10000)
for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) if (i !== j) await apis[i].post('/trust', { subject: apis[j].runtime.did, score: 0.9, graph: 'economic' })
const entries = async (api) => (await api.get('/status')).ledger.entries
const INFLIGHT = Number(process.env.INFLIGHT ?? 8); const PER = Number(process.env.PER ?? 300)
const t0 = performance.now()
await Promise.all([[0, 1], [1, 2], [2, 0]].map(async ([f, t]) => { let next = 0
  await Promise.all(Array.from({ length: INFLIGHT }, async () => { while (next < PER) { next++; await apis[f].post('/pay', { to: apis[t].runtime.did, amount: '1' }) } })) }))
const posted = performance.now() - t0
await waitUntil(apis, async () => (await Promise.all(apis.map(entries))).every((n) => n === 3 * PER) ? true : undefined, Date.now() + 60000)
const total = performance.now() - t0
console.log(`inflight ${INFLIGHT}: ${3 * PER} posted in ${posted.toFixed(0)} ms, applied everywhere ${total.toFixed(0)} ms → ${(3 * PER / total * 1000).toFixed(0)}/s`)
await Promise.all(procs.map((p) => new Promise((resolve) => { p.on('exit', resolve); p.kill('SIGTERM') })))
