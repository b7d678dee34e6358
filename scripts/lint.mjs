#!/usr/bin/env node
// Project rules a type checker does not enforce, run per package by `turbo run lint`:
// no `any` in sources, no skipped or focused tests, no TODO/FIXME standing in for behaviour.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs'
import { join, relative } from 'node:path'

const pkg = process.cwd()
const walk = (dir) => existsSync(dir)
  ? readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    if (name === 'node_modules' || name === 'dist') return []
    return statSync(p).isDirectory() ? walk(p) : /\.(ts|mts|tsx)$/.test(name) ? [p] : []
  })
  : []

const rules = [
  { dirs: ['src'], re: /(:\s*any\b|\bas any\b|<any>)/, why: '`any` in source' },
  { dirs: ['src', 'test', 'bench'], re: /\b(it|test|describe)\.(skip|only|todo)\b|\bx(it|describe)\(/, why: 'skipped or focused test' },
  { dirs: ['src'], re: /\b(TODO|FIXME|XXX)\b/, why: 'open TODO in source' }
]
const problems = []
for (const rule of rules) {
  for (const file of rule.dirs.flatMap((d) => walk(join(pkg, d)))) {
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      if (rule.re.test(line)) problems.push(`${relative(pkg, file)}:${i + 1}: ${rule.why}: ${line.trim()}`)
    })
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'))
  process.exit(1)
}
