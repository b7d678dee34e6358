#!/usr/bin/env node
// Summarises V8 .cpuprofile files (node --cpu-prof): self time by function and by package, so a profile of a
// busy node reads in one screen. Usage: node scripts/cpuprofile-summary.mjs <file.cpuprofile>... [--top N]
// [--busiest S]: only the S-second stretch with the least idle time (a load phase without start-up).
import { readFileSync } from 'node:fs'

/** A profile with its nodes by id and each node's parent. */
function load (file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n)
  if (busiestUs !== undefined) keepBusiest(profile, byId, busiestUs)
  return { profile, byId, parent }
}

const busiestAt = process.argv.indexOf('--busiest')
const busiestUs = busiestAt >= 0 ? Number(process.argv[busiestAt + 1]) * 1e6 : undefined

/** Cuts `profile`'s samples to the `windowUs` stretch holding the most non-idle time (a two-pointer sweep). */
function keepBusiest (profile, byId, windowUs) {
  const at = []
  let t = 0
  for (const d of profile.timeDeltas) { t += d; at.push(t) }
  const busy = profile.samples.map((id, i) => byId.get(id).callFrame.functionName === '(idle)' ? 0 : (profile.timeDeltas[i] ?? 0))
  let best = { from: 0, to: 0, busy: -1 }
  let from = 0
  let sum = 0
  for (let to = 0; to < at.length; to++) {
    sum += busy[to]
    while (at[to] - at[from] > windowUs) sum -= busy[from++]
    if (sum > best.busy) best = { from, to: to + 1, busy: sum }
  }
  profile.samples = profile.samples.slice(best.from, best.to)
  profile.timeDeltas = profile.timeDeltas.slice(best.from, best.to)
}

/** Each sample as [node, µs]. */
function * samples ({ profile, byId }) {
  for (let i = 0; i < profile.samples.length; i++) yield [byId.get(profile.samples[i]), profile.timeDeltas[i] ?? 0]
}

const files = process.argv.slice(2).filter((a) => a.endsWith('.cpuprofile'))

const args = process.argv.slice(2)
const topAt = args.indexOf('--top')
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 40
for (const file of files) {
  const { profile, byId } = load(file)
  const self = new Map()
  const dt = new Map()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]
    dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  let total = 0
  const byFn = new Map()
  const byPkg = new Map()
  for (const [id, us] of dt) {
    const node = byId.get(id)
    const { functionName, url, lineNumber } = node.callFrame
    total += us
    const where = url.replace(/^file:\/\//, '')
    const pkg = functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)'
      ? functionName
      : /node_modules\/(?:\.pnpm\/)?((?:@[^/]+[/+])?[^/@]+)/.exec(where)?.[1] ?? (/packages\/([^/]+)/.exec(where)?.[1] ? `@icn/${/packages\/([^/]+)/.exec(where)[1]}` : /apps\/([^/]+)/.exec(where)?.[1] ? `app:${/apps\/([^/]+)/.exec(where)[1]}` : where === '' ? '(native)' : where.startsWith('node:') ? 'node-core' : where)
    const fn = `${functionName || '(anonymous)'} ${where.split('/').slice(-2).join('/')}:${lineNumber + 1}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + us)
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us)
    self.set(id, us)
  }
  const pct = (us) => `${(100 * us / total).toFixed(1).padStart(5)} %`
  console.log(`\n${file}: ${(total / 1e6).toFixed(2)} s sampled`)
  console.log('by package:')
  for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${pct(v)}  ${k}`)
  console.log(`top ${top} functions by self time:`)
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(v)}  ${k}`)
}

// --callers NAME: where the self time of functions named NAME comes from (stacks 6 frames deep).
const callersAt = process.argv.indexOf('--callers')
if (callersAt >= 0) {
  const name = process.argv[callersAt + 1]
  for (const file of files) {
    const loaded = load(file)
    const { parent } = loaded
    const stacks = new Map()
    let total = 0
    for (let [node, us] of samples(loaded)) {
      total += us
      if (node.callFrame.functionName !== name) continue
      const frames = []
      for (let d = 0; d < 7 && node !== undefined; d++, node = parent.get(node.id)) frames.push(`${node.callFrame.functionName || '(anon)'}@${node.callFrame.url.split('/').slice(-1)[0]}:${node.callFrame.lineNumber + 1}`)
      const key = frames.join(' < ')
      stacks.set(key, (stacks.get(key) ?? 0) + us)
    }
    console.log(`\ncallers of ${name} in ${file}:`)
    for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${(100 * v / total).toFixed(1).padStart(5)} %  ${k}`)
  }
}

// --inclusive: the functions with the most total (self + callees) time; recursion is counted once.
if (process.argv.includes('--inclusive')) {
  for (const file of files) {
    const loaded = load(file)
    const { parent } = loaded
    const incl = new Map()
    let total = 0
    for (const [sampled, us] of samples(loaded)) {
      total += us
      const seen = new Set()
      for (let node = sampled; node !== undefined; node = parent.get(node.id)) {
        const f = node.callFrame
        const key = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
        if (seen.has(key)) continue
        seen.add(key)
        incl.set(key, (incl.get(key) ?? 0) + us)
      }
    }
    console.log(`\ninclusive time in ${file}:`)
    for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${(100 * v / total).toFixed(1).padStart(5)} %  ${k}`)
  }
}

// --long-tasks MS: stretches of at least MS without an idle sample (event-loop stalls), with the
// functions holding most of each stretch's self time.
const longAt = process.argv.indexOf('--long-tasks')
if (longAt >= 0) {
  const threshold = Number(process.argv[longAt + 1]) * 1000
  for (const file of files) {
    const { profile, byId, parent } = load(file)
    const tasks = []
    let current
    for (let i = 0; i < profile.samples.length; i++) {
      const node = byId.get(profile.samples[i])
      const us = profile.timeDeltas[i] ?? 0
      if (node.callFrame.functionName === '(idle)') {
        if (current !== undefined && current.us >= threshold) tasks.push(current)
        current = undefined
        continue
      }
      current ??= { us: 0, fns: new Map() }
      current.us += us
      // Attribute to the deepest frame of ours or of a named package, else the leaf.
      let label = `${node.callFrame.functionName || '(anon)'} ${node.callFrame.url.split('/').slice(-2).join('/')}`
      for (let n = node; n !== undefined; n = parent.get(n.id)) {
        if (/packages\/|apps\//.test(n.callFrame.url)) { label = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-3).join('/')}:${n.callFrame.lineNumber + 1} (leaf ${node.callFrame.functionName})`; break }
      }
      current.fns.set(label, (current.fns.get(label) ?? 0) + us)
    }
    tasks.sort((a, b) => b.us - a.us)
    console.log(`\n${tasks.length} stretches of ≥ ${threshold / 1000} ms without idle in ${file}; the longest:`)
    for (const t of tasks.slice(0, 8)) {
      console.log(`  ${(t.us / 1000).toFixed(1)} ms: ${[...t.fns].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${(v / 1000).toFixed(1)} ms ${k}`).join('; ')}`)
    }
  }
}
