#!/usr/bin/env node
// Code in the packages' READMEs and the package docs is quoted from examples/ (which the pack test
// type-checks and runs), never typed in by hand. A block preceded by `<!-- example: examples/NAME -->`
// must equal that file; any other TypeScript/JavaScript block in these files is a defect.
//   node scripts/doc-examples.mjs           check (used by `pnpm test` through the examples package)
//   node scripts/doc-examples.mjs --write   refresh every quoted block from its file
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const write = process.argv.includes('--write')
const docs = [
  ...readdirSync(join(root, 'packages')).map((dir) => `packages/${dir}/README.md`),
  ...['gossip', 'ledger', 'trust', 'governance', 'snapshot', 'transport'].map((name) => `docs/${name}.md`)
]
const MARKER = /^<!-- example: (examples\/[\w./-]+) -->$/
const CODE_FENCE = /^```(ts|typescript|js|javascript|mjs|cjs)\s*$/
const problems = []
let quoted = 0
for (const doc of docs) {
  const lines = readFileSync(join(root, doc), 'utf8').split('\n')
  const out = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const marker = MARKER.exec(line)
    if (marker !== null) {
      const fence = lines[i + 1] ?? ''
      const end = lines.findIndex((l, j) => j > i + 1 && l === '```')
      if (!CODE_FENCE.test(fence) || end === -1) { problems.push(`${doc}:${i + 1}: marker not followed by a code block`); out.push(line); continue }
      const file = readFileSync(join(root, marker[1]), 'utf8').replace(/\n$/, '')
      const block = lines.slice(i + 2, end).join('\n')
      if (block !== file && !write) problems.push(`${doc}:${i + 1}: block differs from ${marker[1]} (run node scripts/doc-examples.mjs --write)`)
      out.push(line, fence, ...file.split('\n'), '```')
      quoted++
      i = end
      continue
    }
    if (CODE_FENCE.test(line)) problems.push(`${doc}:${i + 1}: code block that is not quoted from examples/`)
    out.push(line)
  }
  if (write) writeFileSync(join(root, doc), out.join('\n'))
}
if (problems.length > 0) {
  console.error(`doc-examples: ${problems.length} problem(s)\n${problems.join('\n')}`)
  process.exit(1)
}
console.log(`doc-examples: ${quoted} blocks in ${docs.length} files match examples/`)
