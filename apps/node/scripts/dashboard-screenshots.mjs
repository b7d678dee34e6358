#!/usr/bin/env node
// `pnpm dashboard:screenshots`: starts three real node processes on loopback, gives them some history (trust,
// payments, an executed and an open proposal, a verified snapshot), signs in to node0's dashboard in headless
// Debian Chromium and writes one full-page PNG per page and width to docs/screenshots/ (or --out <dir>):
// `<page>.png` at 1,400 px, `<page>-phone.png` at 390 px, `statement[-phone].png` (this node's statement) and
// `snapshot-audit[-phone].png` (a snapshot's audit).
// Needs a build (the root script runs one) and /usr/bin/chromium (scripts/ensure-chromium.mjs).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startSubprocess } from '@icn/testkit'
import { chromium } from 'playwright-core'
import { connectApi, initDataDir, readApiToken, waitUntil, writeCharterFile } from '../dist/index.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const cli = join(here, '../dist/cli.js')
const outIndex = process.argv.indexOf('--out')
const out = resolve(outIndex > 0 ? process.argv[outIndex + 1] : join(here, '../../../docs/screenshots'))
const PAGES = ['overview', 'members', 'ledger', 'trust', 'governance', 'snapshots']
const WIDTHS = [[1400, ''], [390, '-phone']]
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const deadline = Date.now() + 120_000
const say = (text) => { process.stdout.write(`dashboard-screenshots: ${text}\n`) }

async function until (what, watch, probe) {
  const value = await waitUntil(watch, probe, deadline)
  if (value === undefined) throw new Error(`timed out waiting for ${what}`)
  return value
}

const root = await mkdtemp(join(tmpdir(), 'icn-screens-'))
const procs = []
let context
try {
  const dirs = [0, 1, 2].map((i) => join(root, `node${i}`))
  const dids = []
  for (const dir of dirs) dids.push((await initDataDir(dir)).did)
  const quick = { proposers: ['member', 'steward'], quorumBps: 5000, approvalBps: 5000, deliberation: { defaultMs: 0, minMs: 0, maxMs: 86_400_000 }, votingMs: 3000 }
  const long = { ...quick, votingMs: 7 * 86_400_000 }
  for (const dir of dirs) {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], snapshotTimeoutMs: 5000 }))
    await writeCharterFile(dir, {
      domain: 'coop:riverside',
      name: 'Riverside Makers Cooperative',
      members: dids.map((did, i) => ({ did, role: i === 0 ? 'steward' : 'member' })),
      kinds: { 'text': long, 'config-change': quick, 'membership': { ...long, proposers: ['steward'] } }
    })
  }
  for (const dir of dirs) {
    const proc = startSubprocess(cli, ['run', '--data-dir', dir, '--log-level', 'warn'])
    procs.push(proc)
  }
  const apis = []
  for (const [i, dir] of dirs.entries()) {
    for (;;) {
      const api = await connectApi(dir).catch(() => undefined)
      if (api !== undefined) { apis.push(api); break }
      if (Date.now() > deadline) throw new Error(`node${i} did not start`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  say(`3 nodes running under ${root}`)
  for (const [i, api] of apis.entries()) for (const other of apis.slice(0, i)) await api.post('/peers', { multiaddr: other.runtime.multiaddrs[0] })
  await until('a full mesh', apis, async () => (await Promise.all(apis.map(async (a) => (await a.get('/peers')).length))).every((n) => n === 2) ? true : undefined)
  // Members by name, and one invitation waiting to be used.
  for (const [i, api] of apis.entries()) await api.post('/profile', { name: ['Riverside Bakery', 'Millrace Housing', 'Weir Farm'][i] })
  await apis[0].post('/invitations', { name: 'Ford Credit Union', expiresInMs: 7 * 86_400_000 })

  // Trust: different scores per graph, so the three pictures differ.
  const scores = { technical: [0.9, 0.8], economic: [0.9, 0.6], social: [0.7, 0.4] }
  for (const [i, api] of apis.entries()) {
    for (const [graph, [near, far]] of Object.entries(scores)) {
      for (const [j, did] of dids.entries()) if (j !== i) await api.post('/trust', { subject: did, score: j === (i + 1) % 3 ? near : far, graph })
    }
  }
  await until('every attestation', apis, async () => (await Promise.all(apis.map(async (a) => (await a.get('/status')).trust.attestations))).every((n) => n === 18) ? true : undefined)

  // Payments around the ring.
  const payments = [[0, 1, '120', 'workshop rent'], [1, 2, '45', 'tools'], [2, 0, '80', 'catering'], [0, 2, '30', 'delivery'], [1, 0, '15', 'coffee']]
  for (const [from, to, amount, reference] of payments) await apis[from].post('/pay', { to: dids[to], amount, currency: 'ICN', reference })
  await until('every payment', apis, async () => (await Promise.all(apis.map(async (a) => (await a.get('/status')).ledger.entries))).every((n) => n === payments.length) ? true : undefined)

  // Governance: a credit-limit proposal voted through (executed), and a text proposal left open.
  const limit = await apis[0].post('/proposals', { kind: 'config-change', title: 'Raise node1\'s credit limit to 50000', payload: { key: 'ledger.creditLimit', subject: dids[1], value: { currency: 'ICN', limit: '50000' } }, deliberationMs: 0 })
  await Promise.all(apis.map(async (api) => {
    await until('voting to open', [api], async () => ['open'].includes((await api.get(`/proposals/${limit.id}`)).state) ? true : undefined)
    await api.post('/votes', { proposal: limit.id, choice: 'for' })
  }))
  await until('the proposal to execute', apis, async () => (await Promise.all(apis.map(async (a) => (await a.get(`/proposals/${limit.id}`)).state))).every((s) => s === 'executed') ? true : undefined)
  const open = await apis[1].post('/proposals', { kind: 'text', title: 'Adopt the 2027 workshop schedule', payload: { text: 'Workshops run Tuesday and Thursday evenings.' }, deliberationMs: 0 })
  await until('the text proposal to open', [apis[0]], async () => (await apis[0].get(`/proposals/${open.id}`)).state === 'open' ? true : undefined)
  await apis[2].post('/votes', { proposal: open.id, choice: 'for' }).catch(() => undefined)

  const snapshot = await apis[0].post('/snapshots')
  await apis[0].post(`/snapshots/${snapshot.snapshotId}/verify`)
  say(`history written: ${payments.length} payments, 2 proposals, snapshot ${snapshot.snapshotId}`)

  await mkdir(out, { recursive: true })
  const userDataDir = await mkdtemp(join(tmpdir(), 'icn-screens-chromium-'))
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', headless: true, args: ARGS, viewport: { width: 1400, height: 900 } })
  const page = context.pages()[0] ?? await context.newPage()
  const base = `http://127.0.0.1:${apis[0].runtime.apiPort}/`
  for (const [width, suffix] of WIDTHS) {
    await page.setViewportSize({ width, height: 900 })
    await page.goto(base)
    await page.locator('[data-testid=signin-form]').waitFor()
    await page.screenshot({ path: join(out, `sign-in${suffix}.png`) })
    await page.fill('input[name=token]', await readApiToken(dirs[0]))
    await page.click('[data-testid=signin-form] button[type=submit]')
    await page.locator('[data-testid=node-did]').waitFor()
    for (const name of PAGES) {
      await page.click(`nav a[href="#/${name}"]`)
      await page.locator(`[data-testid=page-${name}]`).waitFor()
      if (name === 'overview') await page.locator('[data-testid=balance-chart], [data-testid=payments-chart]').nth(1).waitFor()
      if (name === 'ledger') for (const row of ['history-row', 'statement-row']) await page.locator(`[data-testid=${row}]`).first().waitFor()
      if (name === 'trust') for (const g of ['social', 'economic', 'technical']) await page.locator(`[data-testid=graph-${g}] canvas`).first().waitFor()
      if (name === 'governance') {
        await page.locator(`[data-testid=proposal-link][data-id="${limit.id}"]`).click()
        await page.locator('[data-testid=proposal-state]').filter({ hasText: 'executed' }).waitFor()
        // The credit-limit form, a member picked: what an operator fills instead of a JSON payload.
        await page.selectOption('[data-testid=propose-form] select[name=kind]', 'config-change')
        await page.selectOption('[data-testid=propose-form] select[name=subject]', dids[2])
      }
      if (name === 'snapshots') {
        await page.locator(`[data-testid=snapshot-row][data-id="${snapshot.snapshotId}"] [data-testid=select-snapshot]`).click()
        await page.click('[data-testid=snapshot-form] button[value=proof]')
        await page.locator('[data-testid=proof-root]').waitFor()
      }
      // Let Cytoscape finish its layout animation frame before the picture (it draws on requestAnimationFrame).
      await page.evaluate(async () => { await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))) })
      await page.screenshot({ path: join(out, `${name}${suffix}.png`), fullPage: true })
      say(`wrote ${join(out, `${name}${suffix}.png`)}`)
      if (name === 'ledger') {
        // This node's statement: its entries with the running balance, between opening and closing.
        await page.locator('[data-testid=statement-card]').screenshot({ path: join(out, `statement${suffix}.png`) })
        say(`wrote ${join(out, `statement${suffix}.png`)}`)
      }
      if (name === 'snapshots') {
        // The snapshot's audit: balances recorded per participant, what was in flight, every currency's sum.
        await page.locator(`[data-testid=snapshot-row][data-id="${snapshot.snapshotId}"] [data-testid=audit-snapshot]`).click()
        await page.locator('[data-testid=audit-participant]').nth(2).waitFor()
        await page.locator('[data-testid=audit]').screenshot({ path: join(out, `snapshot-audit${suffix}.png`) })
        say(`wrote ${join(out, `snapshot-audit${suffix}.png`)}`)
      }
    }
    // Signed out, so the next width's sign-in page is pictured too.
    await page.click('header button.link')
    await page.locator('[data-testid=signin-form]').waitFor()
  }
  await context.close()
  context = undefined
  await rm(userDataDir, { recursive: true, force: true })
} finally {
  await context?.close()
  for (const proc of procs) proc.kill('SIGTERM')
  await Promise.all(procs.map(async (p) => await p.exited))
  await rm(root, { recursive: true, force: true })
}
