#!/usr/bin/env node
// The end of `pnpm test` / `turbo test`: tests run and passed per package and verification layer,
// read from the test-results/vitest.json each package's vitest run writes (restored by turbo's cache
// with the task), and from examples/test-results/vitest.json written by the pack test.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dirs = ['packages', 'apps'].flatMap((group) => existsSync(join(root, group))
  ? readdirSync(join(root, group)).map((name) => join(root, group, name))
  : []).concat([join(root, 'examples')])
const COLUMNS = ['L1', 'L2', 'L3', 'L4', 'other']
const rows = []
let failed = 0
for (const dir of dirs) {
  const file = join(dir, 'test-results', 'vitest.json')
  if (!existsSync(file)) continue
  const report = JSON.parse(readFileSync(file, 'utf8'))
  const cells = Object.fromEntries(COLUMNS.map((c) => [c, { run: 0, passed: 0 }]))
  for (const result of report.testResults ?? []) {
    const layer = /^layer([1-4])\./.exec(basename(result.name ?? ''))
    const cell = cells[layer === null ? 'other' : `L${layer[1]}`]
    for (const test of result.assertionResults ?? []) {
      if (test.status === 'skipped' || test.status === 'pending' || test.status === 'todo') continue
      cell.run++
      if (test.status === 'passed') cell.passed++
      else failed++
    }
  }
  rows.push([relative(root, dir) === 'examples' ? 'examples (pack-test checks)' : relative(root, dir), ...COLUMNS.map((c) => cells[c].run === 0 ? '' : `${cells[c].passed}/${cells[c].run}`)])
}
const header = ['package', ...COLUMNS.map((c) => c === 'other' ? 'other tests' : c)]
const total = COLUMNS.map((c, i) => rows.reduce((sum, row) => {
  const [passed, run] = (row[i + 1] || '0/0').split('/').map(Number)
  return [sum[0] + passed, sum[1] + run]
}, [0, 0]))
rows.push(['total', ...total.map(([passed, run]) => `${passed}/${run}`)])
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`
console.log(`\nTests passed/run by package and verification layer (L1–L4: test/layer<N>.*.test.ts; docs/verification.md)${process.env.ICN_LAYER ? `, layer ${process.env.ICN_LAYER} only` : ''}:`)
console.log(line(header))
console.log(`|${widths.map((w, i) => (i === 0 ? '-' : '-').repeat(w + 2)).join('|')}|`)
for (const row of rows) console.log(line(row))
if (failed > 0) {
  console.error(`${failed} test(s) failed`)
  process.exit(1)
}
