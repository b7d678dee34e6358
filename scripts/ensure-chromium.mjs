#!/usr/bin/env node
// Makes sure Debian's Chromium is at /usr/bin/chromium for the dashboard's browser tests (playwright-core drives
// it; no test tool ever downloads a browser). Installs it with apt-get (through sudo when not root) only when it
// is missing, and fails with a clear message when it cannot.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const CHROMIUM = '/usr/bin/chromium'

function run (command, args) {
  process.stderr.write(`ensure-chromium: ${[command, ...args].join(' ')}\n`)
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  if (result.error !== undefined) return `${command} could not run: ${result.error.message}`
  return result.status === 0 ? undefined : `${[command, ...args].join(' ')} exited with ${result.status ?? result.signal}`
}

function fail (why) {
  process.stderr.write(`ensure-chromium: ${CHROMIUM} is missing and could not be installed (${why}).\n` +
    'The dashboard tests need Debian\'s chromium package: install it (apt-get install -y chromium) and run again.\n')
  process.exit(1)
}

if (!existsSync(CHROMIUM)) {
  if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get')) fail('this is not a Debian-like system with apt-get')
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root && !existsSync('/usr/bin/sudo')) fail('not root and no sudo')
  const apt = (args) => root ? run('apt-get', args) : run('sudo', ['-n', 'apt-get', ...args])
  // Package lists first: on a fresh machine apt knows no package until they are read.
  const why = apt(['update']) ?? apt(['install', '-y', 'chromium'])
  if (why !== undefined) fail(why)
  if (!existsSync(CHROMIUM)) fail(`apt-get installed chromium but ${CHROMIUM} is still missing`)
}
const version = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' })
if (version.status !== 0) fail(`${CHROMIUM} --version failed: ${version.stderr}`)
process.stdout.write(`ensure-chromium: ${version.stdout.trim()}\n`)
