#!/usr/bin/env node
// The libraries as another app's developer meets them. Packs every published package, checks each
// tarball (README, both licence files equal to the repository's, publint, are-the-types-wrong), installs
// the tarballs into a fresh project outside the workspace, type-checks examples/*.ts strictly (NodeNext)
// and runs each one, comparing its output with examples/output/<name>.txt; then require()s every
// package from examples/require.cjs, checks that a Node without require(esm) gets a clear error, and
// bundles examples/browser.ts for browsers (esbuild, `browser` condition: it fails on any Node built-in)
// and runs it in headless Chromium with the same expected output as on Node.
// With --node-versions 22,24 the examples and require() also run on those Node majors, from the
// registry's node-<platform>-<arch> packages (installed once into ~/.cache/icn-node-versions).
//   node scripts/pack-examples.mjs [--node-versions 22,24] [--no-browser]
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { homedir, tmpdir } from 'node:os'
import { gzipSync } from 'node:zlib'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const examples = join(root, 'examples')
const versionsArg = process.argv.indexOf('--node-versions')
const otherMajors = versionsArg === -1 ? [] : (process.argv[versionsArg + 1] ?? '').split(',').filter((v) => /^\d+$/.test(v))
const withBrowser = !process.argv.includes('--no-browser')
const failures = []
const fromExamples = createRequire(join(examples, 'package.json'))

function run (command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options })
  if (result.error !== undefined) throw result.error
  return result
}

function mustRun (what, command, args, options) {
  const result = run(command, args, options)
  if (result.status !== 0) {
    process.stderr.write(`${what} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}\n`)
    process.exit(1)
  }
  return result.stdout
}

const checks = []
function check (what, ok, detail = '') {
  checks.push({ title: what, status: ok ? 'passed' : 'failed' })
  if (!ok) failures.push(`${what}${detail === '' ? '' : `: ${detail}`}`)
}

/** The binary of the newest Node `major` from the registry's node-<platform>-<arch> package, installed once. */
function nodeBinary (major) {
  const dir = join(homedir(), '.cache', 'icn-node-versions', major)
  const name = `node-${process.platform}-${process.arch}`
  const binary = join(dir, 'node_modules', name, 'bin', 'node')
  if (!existsSync(binary)) mustRun(`npm install ${name}@${major}`, 'npm', ['install', '--no-audit', '--no-fund', '--prefix', dir, `${name}@${major}`])
  return binary
}

if (process.env.ICN_LAYER !== undefined) {
  // `pnpm test:layer <N>` runs the verification layers only; the pack test is none of them.
  rmSync(join(examples, 'test-results'), { recursive: true, force: true })
  console.log(`pack-examples: not a layer-${process.env.ICN_LAYER} test, not run`)
  process.exit(0)
}

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir: join(root, 'packages', dir), pkg: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => pkg.private !== true)
const work = mkdtempSync(join(tmpdir(), 'icn-pack-'))
const tarballs = join(work, 'tarballs')
mkdirSync(tarballs)
try {
  // 1. Pack and inspect every tarball.
  const licences = ['LICENSE-MIT', 'LICENSE-APACHE'].map((name) => [name, readFileSync(join(root, name), 'utf8')])
  const tarballOf = {}
  for (const { dir, pkg } of packages) {
    const before = new Set(readdirSync(tarballs))
    mustRun(`pnpm pack ${pkg.name}`, 'pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir })
    const file = readdirSync(tarballs).find((name) => !before.has(name))
    tarballOf[pkg.name] = join(tarballs, file)
    const listing = mustRun(`tar -tzf ${file}`, 'tar', ['-tzf', tarballOf[pkg.name]]).split('\n')
    for (const required of ['package/package.json', 'package/README.md', 'package/LICENSE-MIT', 'package/LICENSE-APACHE', 'package/dist/index.js', 'package/dist/index.d.ts']) {
      check(`${pkg.name} tarball holds ${required}`, listing.includes(required))
    }
    check(`${pkg.name} tarball holds nothing outside dist/ but metadata`, listing.every((p) => p === '' || p.startsWith('package/dist/') || /^package\/(package\.json|README\.md|LICENSE-(MIT|APACHE))$/.test(p)), listing.join(' '))
    for (const [name, text] of licences) {
      const packed = run('tar', ['-xzOf', tarballOf[pkg.name], `package/${name}`]).stdout
      check(`${pkg.name} ${name} equals the repository's`, packed === text)
    }
    check(`${pkg.name} license field`, pkg.license === 'MIT OR Apache-2.0', pkg.license)
    check(`${pkg.name} engines`, typeof pkg.engines?.node === 'string')
    check(`${pkg.name} repository directory`, pkg.repository?.directory === `packages/${dir.split('/').pop()}`, JSON.stringify(pkg.repository))
    const publint = run(join(root, 'node_modules/.bin/publint'), ['run', tarballOf[pkg.name], '--strict'])
    check(`${pkg.name} publint`, publint.status === 0, publint.stdout + publint.stderr)
    // ES modules only: require() reaches them through require(esm), which attw does not model, hence the profile.
    const attw = run(join(root, 'node_modules/.bin/attw'), [tarballOf[pkg.name], '--profile', 'esm-only', '--format', 'ascii'])
    check(`${pkg.name} are-the-types-wrong`, attw.status === 0, attw.stdout + attw.stderr)
  }

  // 2. A fresh project outside the workspace that depends on the tarballs only.
  const app = join(work, 'app')
  mkdirSync(app)
  const files = Object.fromEntries(Object.entries(tarballOf).map(([name, path]) => [name, `file:${path}`]))
  const devVersions = JSON.parse(readFileSync(join(examples, 'package.json'), 'utf8')).devDependencies
  writeFileSync(join(app, 'package.json'), JSON.stringify({
    name: 'icn-examples-consumer',
    private: true,
    type: 'module',
    dependencies: files,
    devDependencies: { typescript: devVersions.typescript, '@types/node': devVersions['@types/node'] },
    // The tarballs name each other by version; point those at the tarballs too.
    pnpm: { overrides: files }
  }, null, 2))
  mustRun('pnpm install of the tarballs', 'pnpm', ['install', '--prefer-offline', '--ignore-workspace', '--config.confirmModulesPurge=false'], { cwd: app })
  const sources = readdirSync(examples).filter((name) => /\.(ts|cjs)$/.test(name) && !name.endsWith('.d.ts'))
  for (const name of [...sources, 'tsconfig.json']) copyFileSync(join(examples, name), join(app, name))

  // 3. Strict NodeNext type-check (and emit), then run every example and compare its output.
  mustRun('tsc of the examples', join(app, 'node_modules/.bin/tsc'), ['-p', app], { cwd: app })
  const expected = (name) => readFileSync(join(examples, 'output', `${name}.txt`), 'utf8')
  const nodes = [process.execPath, ...otherMajors.map(nodeBinary)]
  const versions = []
  for (const node of nodes) {
    const version = run(node, ['--version']).stdout.trim()
    versions.push(version)
    for (const source of sources) {
      const name = source.replace(/\.(ts|cjs)$/, '')
      const script = source.endsWith('.cjs') ? join(app, source) : join(app, 'dist', `${name}.js`)
      const result = run(node, [script], { cwd: app, timeout: 120_000 })
      check(`${version}: example ${name} exits 0`, result.status === 0, result.stderr)
      check(`${version}: example ${name} prints examples/output/${name}.txt`, result.stdout === expected(name), `got:\n${result.stdout}`)
    }
    // 4. Without require(esm) (older Node, or the flag turned off) require() fails with Node's own clear error.
    const flag = run(node, ['-p', 'process.features.require_module === true && process.allowedNodeEnvironmentFlags.has("--no-experimental-require-module")']).stdout.trim()
    if (flag === 'true') {
      const result = run(node, ['--no-experimental-require-module', join(app, 'require.cjs')], { cwd: app })
      check(`${version}: require() without require(esm) fails with ERR_REQUIRE_ESM`, result.status !== 0 && result.stderr.includes('ERR_REQUIRE_ESM'), result.stderr)
    }
  }

  // 5. The browser build: bundled from the installed tarballs, run in headless Chromium.
  let browserNote = ''
  if (withBrowser) {
    const esbuild = fromExamples('esbuild')
    const bundle = await esbuild.build({
      entryPoints: [join(app, 'dist', 'browser.js')], absWorkingDir: app, bundle: true, platform: 'browser', format: 'esm',
      target: 'es2022', minify: true, write: false, logLevel: 'silent'
    })
    const code = bundle.outputFiles[0].text
    const { chromium } = fromExamples('playwright-core')
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] })
    try {
      const page = await browser.newPage()
      const lines = []
      const errors = []
      page.on('console', (message) => { lines.push(message.text()) })
      page.on('pageerror', (error) => { errors.push(error.message) })
      await page.setContent('<!doctype html><title>icn</title>')
      const done = page.waitForEvent('console', { predicate: (message) => message.text() === 'done', timeout: 60_000 })
      await page.addScriptTag({ content: code, type: 'module' })
      await done.catch((error) => { errors.push(error.message) })
      check('browser example runs without errors', errors.length === 0, errors.join('; '))
      check('browser example prints examples/output/browser.txt in Chromium', `${lines.join('\n')}\n` === expected('browser'), `got:\n${lines.join('\n')}`)
    } finally {
      await browser.close()
    }
    browserNote = `; identity + gossip bundled for browsers (${(code.length / 1024).toFixed(0)} KB min, ${(gzipSync(code).length / 1024).toFixed(0)} KB gzip) ran in Chromium`
  }

  // For scripts/test-table.mjs, in vitest's JSON report shape.
  mkdirSync(join(examples, 'test-results'), { recursive: true })
  writeFileSync(join(examples, 'test-results', 'vitest.json'), JSON.stringify({ testResults: [{ name: 'pack-examples', assertionResults: checks }] }))
  if (failures.length > 0) {
    process.stderr.write(`pack-examples: ${failures.length} problem(s)\n- ${failures.join('\n- ')}\n`)
    process.exitCode = 1
  } else {
    console.log(`pack-examples: ${packages.length} tarballs clean (README, licences, publint, attw); ${sources.length} examples type-checked (NodeNext, strict) and ran with the expected output on Node ${versions.join(', ')}, require() of every package included${browserNote}`)
  }
} finally {
  if (existsSync(work)) rmSync(work, { recursive: true, force: true })
}
