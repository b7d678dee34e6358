// The statement on the dashboard's Ledger page, in headless Debian Chromium against three real node processes:
// an account's entries with the running balance between opening and closing, counterparties by name, a period,
// another account picked by name, the CSV download byte for byte what `icn-node statement --csv` prints, the
// node's typed errors for bad input, a live update, and the view at 390 and 1,400 px (no overflow, axe-clean).
import { execFile } from 'node:child_process'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateKeyPair } from '@icn/identity'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readApiToken } from '../src/data-dir.js'
import { type Browser, axeProblems, closeBrowserAndMesh, front, goTo, launchBrowser, layoutProblems, refusalOf, shows, signIn } from './helpers/browser.js'
import { type MeshNode, cliScript, eventually, startMesh } from './helpers/cluster.js'

const DAY_MS = 24 * 3600 * 1000
const NAMES = ['Alder Workshop', 'Birch Bakery', 'Cedar Farm'] as const

let root: string
let nodes: MeshNode[] = []
let browser: Browser | undefined
let page: Page
/** The three payments, oldest first: their entry ids and timestamps as node A holds them. */
let paid: Array<{ id: string, timestamp: number }> = []

const entriesOf = async (node: MeshNode): Promise<number> => (await node.api.get('/status') as { ledger: { entries: number } }).ledger.entries

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'icn-dashboard-statement-'))
  nodes = await startMesh(root, 3)
  const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
  for (const [i, node] of nodes.entries()) await node.api.post('/profile', { name: NAMES[i] })
  await eventually('every name on A', a.api, async () => {
    const members = (await a.api.get('/members') as { members: Array<{ name: string | null }> }).members
    return members.every((m) => m.name !== null) ? true : undefined
  })
  // Each payment is made once the previous one reached its next payer, so the three carry increasing timestamps.
  const ids: string[] = []
  ids.push((await a.api.post('/pay', { to: b.did, amount: '30', reference: 'rent, march' }) as { id: string }).id)
  await eventually('the rent on B', b.api, async () => await entriesOf(b) === 1 ? true : undefined)
  ids.push((await b.api.post('/pay', { to: a.did, amount: '12' }) as { id: string }).id)
  await eventually('B\'s payment on A', a.api, async () => await entriesOf(a) === 2 ? true : undefined)
  ids.push((await a.api.post('/pay', { to: c.did, amount: '5', reference: 'café "tools"' }) as { id: string }).id)
  await eventually('3 entries on A', a.api, async () => await entriesOf(a) === 3 ? true : undefined)
  const history = (await a.api.get(`/ledger/history?account=${a.did}`) as { entries: Array<{ id: string, timestamp: number }> }).entries
  paid = ids.map((id) => history.find((e) => e.id === id)!)
  browser = await launchBrowser()
  page = await browser.newPage()
  await signIn(page, a)
}, 90_000)

afterAll(async () => {
  expect(await closeBrowserAndMesh(browser, nodes, root)).toEqual(nodes.map(() => 0))
})

/** A time cell as the dashboard's `Time` shows it. */
const timeText = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').slice(0, 19)
/** The UTC day of `ms`, `days` later. */
const dayOf = (ms: number, days = 0): string => new Date(ms + days * DAY_MS).toISOString().slice(0, 10)

/** Every statement row's cells: time, counterparty (its words and the DID it holds on hover), memo, amount, balance. */
async function rowsOf (view: Locator): Promise<string[][]> {
  return await view.locator('[data-testid=statement-row]').evaluateAll((rows) => rows.map((row) => {
    const cells = [...row.querySelectorAll('td')].map((td) => td.textContent ?? '')
    // The counterparty cell also holds the memo for phones (shown there instead of its own column).
    const counterparties = [...row.querySelectorAll('td:nth-child(2) .did')]
    return [cells[0]!, counterparties.map((d) => d.textContent).join(', '), counterparties.map((d) => d.getAttribute('title')).join(', '), cells[2]!, cells[3]!, cells[4]!]
  }))
}

/** The words of the statement's caption, opening and closing rows. */
async function framingOf (view: Locator): Promise<string[]> {
  return await Promise.all(['statement-caption', 'statement-opening', 'statement-closing'].map(async (testid) => (await view.locator(`[data-testid=${testid}]`).innerText()).replace(/\s+/g, ' ')))
}

/** Fills the statement form as an operator would (a select picks, inputs are typed), submits it and waits for the caption. */
async function ask (view: Locator, fields: { account?: string, did?: string, currency?: string, from?: string, to?: string }, caption?: string): Promise<void> {
  await front(view.page())
  const form = view.locator('[data-testid=statement-form]')
  if (fields.account !== undefined) await form.locator('select[name=account]').selectOption(fields.account)
  for (const name of ['did', 'currency', 'from', 'to'] as const) if (fields[name] !== undefined) await form.locator(`input[name=${name}]`).fill(fields[name])
  await form.locator('button[type=submit]').click()
  if (caption !== undefined) await shows(view.locator('[data-testid=statement-caption]'), caption)
}

/** `icn-node statement <args>` as it writes to stdout: the raw bytes. */
async function cliBytes (args: string[]): Promise<Buffer> {
  const { stdout } = await promisify(execFile)(process.execPath, [cliScript, 'statement', ...args], { encoding: 'buffer' })
  return stdout
}

describe('the statement on the dashboard', () => {
  it('this node\'s statement: every entry with its counterparty by name, memo, signed amount and running balance, opening and closing', async () => {
    const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
    expect(paid[0]!.timestamp < paid[1]!.timestamp && paid[1]!.timestamp < paid[2]!.timestamp).toBe(true)
    await goTo(page, 'ledger')
    const view = page.locator('[data-testid=statement]')
    await view.locator('[data-testid=statement-row]').nth(2).waitFor()
    expect(await rowsOf(view)).toEqual([
      [timeText(paid[0]!.timestamp), 'Birch Bakery', b.did, 'rent, march', '-30', '-30'],
      [timeText(paid[1]!.timestamp), 'Birch Bakery', b.did, '—', '+12', '-18'],
      [timeText(paid[2]!.timestamp), 'Cedar Farm', c.did, 'café "tools"', '-5', '-23']
    ])
    expect(await framingOf(view)).toEqual(['Statement of Alder Workshop (this node) in ICN, all time', 'Opening balance 0', 'Closing balance -23'])
    expect(await view.locator('[data-testid=statement-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')))).toEqual(paid.map((p) => p.id))
    // The account picker: this node first, then the members by name, then any DID.
    expect(await view.locator('select[name=account] option').evaluateAll((options) => options.map((o) => [o.textContent, o.getAttribute('value')]))).toEqual([
      ['Alder Workshop (this node)', a.did], ['Birch Bakery', b.did], ['Cedar Farm', c.did], ['another account (DID)…', 'other']
    ])
  })

  it('a period: its opening is the balance before it; another account picked by name; another currency', async () => {
    const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
    const view = page.locator('[data-testid=statement]')
    const after = dayOf(paid[2]!.timestamp, 1)
    await ask(view, { from: after }, `Statement of Alder Workshop (this node) in ICN, from ${after}`)
    expect(await framingOf(view)).toEqual([`Statement of Alder Workshop (this node) in ICN, from ${after}`, 'Opening balance -23', 'Closing balance -23'])
    expect(await view.locator('[data-testid=statement-empty]').textContent()).toBe('No entries in this period.')
    expect(await view.locator('[data-testid=statement-row]').count()).toBe(0)

    // The day before the first payment: nothing yet.
    const firstDay = dayOf(paid[0]!.timestamp)
    const dayBefore = dayOf(paid[0]!.timestamp, -1)
    await ask(view, { from: dayBefore, to: firstDay }, `Statement of Alder Workshop (this node) in ICN, from ${dayBefore}, before ${firstDay}`)
    expect(await framingOf(view)).toEqual([`Statement of Alder Workshop (this node) in ICN, from ${dayBefore}, before ${firstDay}`, 'Opening balance 0', 'Closing balance 0'])
    expect(await view.locator('[data-testid=statement-row]').count()).toBe(0)

    await ask(view, { account: b.did, from: '', to: '' }, 'Statement of Birch Bakery in ICN, all time')
    await view.locator('[data-testid=statement-row]').nth(1).waitFor()
    expect(await rowsOf(view)).toEqual([
      [timeText(paid[0]!.timestamp), 'Alder Workshop (this node)', a.did, 'rent, march', '+30', '30'],
      [timeText(paid[1]!.timestamp), 'Alder Workshop (this node)', a.did, '—', '-12', '18']
    ])
    expect(await framingOf(view)).toEqual(['Statement of Birch Bakery in ICN, all time', 'Opening balance 0', 'Closing balance 18'])

    await ask(view, { account: c.did, currency: 'EUR' }, 'Statement of Cedar Farm in EUR, all time')
    expect(await framingOf(view)).toEqual(['Statement of Cedar Farm in EUR, all time', 'Opening balance 0', 'Closing balance 0'])
    expect(await view.locator('[data-testid=statement-row]').count()).toBe(0)
  })

  it('the CSV download is byte for byte what `icn-node statement --csv` prints for the same account and period', async () => {
    const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
    const view = page.locator('[data-testid=statement]')
    const from = dayOf(paid[0]!.timestamp)
    const to = dayOf(paid[2]!.timestamp, 1)
    await ask(view, { account: a.did, currency: 'ICN', from, to }, `Statement of Alder Workshop (this node) in ICN, from ${from}, before ${to}`)
    await view.locator('[data-testid=statement-row]').nth(2).waitFor()
    const [file] = await Promise.all([page.waitForEvent('download'), view.locator('[data-testid=statement-csv]').click()])
    const name = `statement-${a.did.slice(-8)}-ICN-${from}-${to}.csv`
    expect(file.suggestedFilename()).toBe(name)
    const bytes = await readFile(await file.path())
    expect(bytes.equals(await cliBytes(['--csv', '--from', from, '--to', to, '--data-dir', a.dataDir]))).toBe(true)
    const iso = (i: number): string => new Date(paid[i]!.timestamp).toISOString()
    expect(bytes.toString('utf8')).toBe([
      'date,entry,counterparty,reference,debit,credit,balance,currency',
      `${iso(0)},${paid[0]!.id},${b.did},"rent, march",30,,-30,ICN`,
      `${iso(1)},${paid[1]!.id},${b.did},,,12,-18,ICN`,
      `${iso(2)},${paid[2]!.id},${c.did},"café ""tools""",5,,-23,ICN`
    ].join('\r\n') + '\n')
    expect(await view.locator('[data-testid=statement-download]').textContent()).toBe(`Downloaded ${name}.`)
    // The route itself: CSV as such.
    const answer = await fetch(`http://127.0.0.1:${a.runtime.apiPort}/statement?from=${from}&to=${to}&format=csv`, { headers: { authorization: `Bearer ${await readApiToken(a.dataDir)}` } })
    expect([answer.status, answer.headers.get('content-type')]).toEqual([200, 'text/csv; charset=utf-8'])
    expect(Buffer.from(await answer.arrayBuffer()).equals(bytes)).toBe(true)
    // Another account over all time: the route's CSV and the CLI's again.
    const all = await cliBytes(['--csv', '--account', b.did, '--data-dir', a.dataDir])
    await ask(view, { account: b.did, from: '', to: '' }, 'Statement of Birch Bakery in ICN, all time')
    const [again] = await Promise.all([page.waitForEvent('download'), view.locator('[data-testid=statement-csv]').click()])
    expect((await readFile(await again.path())).equals(all)).toBe(true)
    expect(await refusalOf(a.api.get('/statement?format=xml'))).toBe('Refused: \'format\' must be csv or json (BAD_REQUEST, HTTP 400)')
  })

  it('bad input shows the node\'s typed error and no statement: a period ending before it starts, an unknown account, a malformed DID', async () => {
    const [a] = nodes as [MeshNode, MeshNode, MeshNode]
    const view = page.locator('[data-testid=statement]')
    const error = view.locator('[data-testid=statement-error]')
    const day = dayOf(paid[0]!.timestamp)
    const earlier = dayOf(paid[0]!.timestamp, -3)
    await ask(view, { account: a.did, from: day, to: earlier })
    const backwards = await refusalOf(a.api.get(`/statement?from=${day}&to=${earlier}`))
    expect(backwards).toBe('Refused: \'to\' must be after \'from\' (BAD_REQUEST, HTTP 400)')
    expect(await shows(error, backwards)).toBe(backwards)
    expect(await view.locator('[data-testid=statement-table]').count()).toBe(0)

    const stranger = generateKeyPair().did
    await ask(view, { account: 'other', did: stranger, from: '', to: '' })
    const unknown = await refusalOf(a.api.get(`/statement?account=${stranger}`))
    expect(unknown).toBe(`Refused: no account ${stranger} here: not a member, and no ledger entry on this node names it (NOT_FOUND, HTTP 404)`)
    expect(await shows(error, unknown)).toBe(unknown)
    expect(await view.locator('[data-testid=statement-table]').count()).toBe(0)

    await ask(view, { account: 'other', did: 'did:icn:nope' })
    const malformed = 'Refused: \'account\' must be a did:icn DID (BAD_REQUEST, HTTP 400)'
    expect(await refusalOf(a.api.get('/statement?account=did:icn:nope'))).toBe(malformed)
    expect(await shows(error, malformed)).toBe(malformed)

    // Corrected, the statement comes back and the error goes.
    await ask(view, { account: a.did }, 'Statement of Alder Workshop (this node) in ICN, all time')
    expect(await error.count()).toBe(0)
  })

  it('follows the change feed: a payment arriving adds its row; fits 390 and 1,400 px with no serious axe violation', async () => {
    const [a, b] = nodes as [MeshNode, MeshNode, MeshNode]
    const view = page.locator('[data-testid=statement]')
    await view.locator('[data-testid=statement-row]').nth(2).waitFor()
    const { id } = await b.api.post('/pay', { to: a.did, amount: '7', reference: 'refund' }) as { id: string }
    await view.locator(`[data-testid=statement-row][data-id="${id}"]`).waitFor({ timeout: 20_000 })
    expect((await rowsOf(view))[3]!.slice(1)).toEqual(['Birch Bakery', b.did, 'refund', '+7', '-16'])
    expect((await framingOf(view))[2]).toBe('Closing balance -16')

    const problems: string[] = []
    for (const width of [390, 1400]) {
      await page.setViewportSize({ width, height: 800 })
      await view.locator('[data-testid=statement-row]').nth(3).waitFor()
      problems.push(...await layoutProblems(page, `statement@${width}`, width), ...await axeProblems(page, `statement@${width}`))
      // The running balance on screen without scrolling the table; on a phone the memo under the counterparty instead of its own column.
      const balance = await view.locator('th', { hasText: 'Balance' }).boundingBox()
      if (balance === null || balance.x + balance.width > width) problems.push(`statement@${width}: the balance column ends at ${balance === null ? 'nowhere' : balance.x + balance.width} px`)
      const memo = await view.locator('[data-testid=statement-row]').nth(0).locator('.memo-inline').isVisible()
      if (memo !== (width === 390)) problems.push(`statement@${width}: the memo under the counterparty is ${memo ? 'shown' : 'hidden'}`)
      await ask(view, { account: 'other', did: 'did:icn:nope' })
      await view.locator('[data-testid=statement-error]').waitFor()
      problems.push(...await layoutProblems(page, `statement error@${width}`, width), ...await axeProblems(page, `statement error@${width}`))
      await ask(view, { account: a.did }, 'Statement of Alder Workshop (this node) in ICN, all time')
    }
    expect(problems).toEqual([])
    expect(browser!.problems).toEqual([])
  }, 60_000)
})
