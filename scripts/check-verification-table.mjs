#!/usr/bin/env node
// Fails when docs/verification.md claims a layer (✅) that has no test file
// packages/<pkg>/test/layer<N>.*.test.ts (or apps/<pkg>/...), and when a layer
// test exists that the table does not claim — so the table cannot drift.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const doc = readFileSync(join(root, 'docs/verification.md'), 'utf8')
const rows = [...doc.matchAll(/^\|\s*`([^`]+)`\s*\|([^\n]+)\|\s*$/gm)]
if (rows.length === 0) {
  console.error('check-verification-table: no subsystem rows found in docs/verification.md')
  process.exit(1)
}

const layerFiles = (dir) => {
  const testDir = join(root, dir, 'test')
  if (!existsSync(testDir)) return []
  return readdirSync(testDir).filter((f) => /^layer[1-4]\..+\.test\.ts$/.test(f))
}

const problems = []
const seen = new Set()
for (const [, dir, cells] of rows) {
  seen.add(dir)
  if (!existsSync(join(root, dir))) { problems.push(`${dir}: listed in the table but the directory does not exist`); continue }
  const claims = cells.split('|').slice(0, 4).map((c) => c.includes('✅'))
  const files = layerFiles(dir)
  claims.forEach((claimed, i) => {
    const has = files.some((f) => f.startsWith(`layer${i + 1}.`))
    if (claimed && !has) problems.push(`${dir}: table claims L${i + 1} but there is no test/layer${i + 1}.*.test.ts`)
    if (!claimed && has) problems.push(`${dir}: has test/layer${i + 1}.*.test.ts but the table does not claim L${i + 1}`)
  })
}
for (const parent of ['packages', 'apps']) {
  if (!existsSync(join(root, parent))) continue
  for (const name of readdirSync(join(root, parent))) {
    const dir = `${parent}/${name}`
    if (!seen.has(dir) && layerFiles(dir).length > 0) problems.push(`${dir}: has layer tests but no row in docs/verification.md`)
  }
}
if (problems.length > 0) {
  console.error('docs/verification.md is out of step with the layer tests:\n- ' + problems.join('\n- '))
  process.exit(1)
}
console.log(`verification table: ${rows.length} rows match the layer tests`)
