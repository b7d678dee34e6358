// The dashboard as an operator meets it, in headless Debian Chromium against three real node processes (one
// browser and one mesh for the file): a proposal of every kind the charter allows raised from its own form and
// executed; then every page at a phone's 390 px and at 1,400 px — no horizontal overflow, the nav on screen,
// every form control reachable by Tab, a form submitted by keyboard alone, and axe-core finding no serious or
// critical accessibility violation (the restore confirmation and a snapshot's audit included).
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type KindRule, PROPOSAL_KINDS } from '@icn/governance'
import type { Did } from '@icn/identity'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeCharterFile } from '../src/charter.js'
import { readApiToken } from '../src/data-dir.js'
import { type Browser, answer, axeProblems, closeBrowserAndMesh, fillFields, goTo, launchBrowser, layoutProblems, shows, signIn } from './helpers/browser.js'
import { type MeshNode, eventually, memberIdentity, startMesh } from './helpers/cluster.js'

const VOTING_MS = 12_000 // the browser votes within it, even on a loaded machine
// One vote of three (or four) decides: the browser on node A votes every proposal through alone.
const RULE: KindRule = { proposers: ['member', 'steward'], quorumBps: 2000, approvalBps: 5000, deliberation: { defaultMs: 0, minMs: 0, maxMs: 600_000 }, votingMs: VOTING_MS }
const PAGES = ['overview', 'members', 'ledger', 'trust', 'governance', 'snapshots'] as const
const WIDTHS = [390, 1400] as const

let root: string
let nodes: MeshNode[] = []
let browser: Browser | undefined
let page: Page
let snapshot: { snapshotId: string }

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'icn-dashboard-pages-'))
  nodes = await startMesh(root, 3, 4000, async (dirs, dids) => {
    for (const dir of dirs) {
      await writeCharterFile(dir, {
        domain: 'coop:forms',
        name: 'Forms test cooperative',
        minJoinTrust: 0,
        members: dids.map((did, i) => ({ did: did as Did, role: i === 0 ? 'steward' : 'member' })),
        kinds: Object.fromEntries(PROPOSAL_KINDS.map((kind) => [kind, RULE]))
      })
    }
  })
  // Some history for every page: a payment and a stored snapshot (taken while all three are plain members).
  await nodes[0]!.api.post('/pay', { to: nodes[1]!.did, amount: '40', currency: 'ICN', reference: 'layout' })
  snapshot = await nodes[0]!.api.post('/snapshots') as { snapshotId: string }
  browser = await launchBrowser()
  page = await browser.newPage()
  await signIn(page, nodes[0]!)
}, 90_000)

afterAll(async () => {
  expect(await closeBrowserAndMesh(browser, nodes, root)).toEqual(nodes.map(() => 0))
})

interface ProposalView { id: string, kind: string, state: string, payload: unknown }

/**
 * Raises a proposal of `kind` from its form (each field filled or picked as an operator would), then votes
 * for it in its card once voting is open. Returns the proposal's id.
 */
async function raiseAndVote (kind: string, title: string, fields: Record<string, string>): Promise<string> {
  const form = page.locator('[data-testid=propose-form]')
  await form.locator('select[name=kind]').selectOption(kind)
  await form.locator('input[name=title]').fill(title)
  await fillFields(form, fields)
  const outcome = await answer(form, 'propose-outcome', async () => { await form.locator('button[type=submit]').click() })
  const id = /^Proposal (\S+) submitted: \S+\.$/.exec(outcome)?.[1]
  if (id === undefined) throw new Error(`${kind}: ${outcome}`)
  // The card of the new proposal: the vote form appears only once voting is open.
  await page.locator(`[data-testid=proposal-link][data-id="${id}"].active`).waitFor()
  await page.locator('[data-testid=vote-form]').waitFor({ timeout: 20_000 })
  expect(await answer(page, 'vote-outcome', async () => { await page.click('[data-testid=vote-form] button[type=submit]') })).toBe('Vote “for” recorded.')
  return id
}

const proposalOf = async (node: MeshNode, id: string): Promise<ProposalView> => await node.api.get(`/proposals/${id}`) as ProposalView

/** Waits until every proposal in `expected` (id → final state) has reached its state on `node`. */
async function settled (node: MeshNode, expected: Map<string, string>): Promise<void> {
  await eventually('every proposal to close', node.api, async () => {
    const states = await Promise.all([...expected.keys()].map(async (id) => (await proposalOf(node, id)).state))
    return states.every((s, i) => s === [...expected.values()][i]) ? true : undefined
  }, VOTING_MS + 30_000)
}

describe('dashboard pages in headless Chromium against 3 node processes', () => {
  it('raises a proposal of every kind from its own form (no JSON box) and executes each', async () => {
    const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
    const newcomer = memberIdentity().did
    // Two proposals under way (a long deliberation), for the veto and the force-close to end.
    const under = async (title: string): Promise<string> => (await b.api.post('/proposals', { kind: 'text', title, payload: { text: title }, deliberationMs: 300_000 }) as { id: string }).id
    const [vetoTarget, closeTarget] = [await under('Paint the workshop red'), await under('Open on Sundays')]
    await eventually('A to hold both targets', a.api, async () => (await a.api.get('/proposals') as unknown[]).length === 2 ? true : undefined)

    await goTo(page, 'governance')
    const kinds = await page.locator('[data-testid=propose-form] select[name=kind] option').evaluateAll((options) => options.map((o) => o.getAttribute('value')))
    expect(kinds.sort()).toEqual([...PROPOSAL_KINDS].sort()) // the charter's kinds, each with its form
    await page.locator('[data-testid=propose-form] select[name=kind]').selectOption('charter-amendment')
    expect(await page.locator('[data-testid=propose-form] textarea').count()).toBe(0) // the rules as fields, not JSON
    const charter = await a.api.get('/governance/charter') as { version: number, rules: { name: string, minJoinTrust: number, kinds: Record<string, KindRule> } }

    const expected = new Map<string, { state: string, payload: unknown }>()
    const raise = async (kind: string, title: string, fields: Record<string, string>, payload: unknown, state = 'executed'): Promise<string> => {
      const id = await raiseAndVote(kind, title, { deliberation: '0', ...fields })
      expected.set(id, { state, payload })
      return id
    }
    await raise('text', 'Meet on Thursdays', { text: 'We meet on Thursdays at six.' }, { text: 'We meet on Thursdays at six.' }, 'accepted')
    await raise('config-change', 'Raise Bob\'s limit', { key: 'ledger.creditLimit', subject: b.did, currency: 'ICN', limit: '7000' }, { key: 'ledger.creditLimit', subject: b.did, value: { currency: 'ICN', limit: '7000' } })
    await raise('budget', 'Tools budget', { currency: 'ICN', amount: '1200', purpose: 'Hand tools' }, { currency: 'ICN', amount: '1200', purpose: 'Hand tools' })
    await raise('treasury-withdrawal', 'Seeds for Carol', { currency: 'ICN', amount: '300', recipient: c.did, purpose: 'Seeds' }, { currency: 'ICN', amount: '300', recipient: c.did, purpose: 'Seeds' })
    await raise('spending-rule', 'Monthly cap', { currency: 'ICN', limit: '5000', periodDays: '30' }, { currency: 'ICN', limit: '5000', periodDays: 30 })
    await raise('ledger-rollback', 'Roll back the test week', { to: 'snap-2026-w49', reason: 'A test week' }, { to: 'snap-2026-w49', reason: 'A test week' })
    await raise('membership', 'Welcome Xena', { action: 'add', newMember: newcomer, role: 'member', memberName: ' Xena ' }, { action: 'add', member: newcomer, role: 'member', name: 'Xena' })
    await raise('freeze', 'Freeze Carol', { member: c.did }, { member: c.did })
    await raise('veto', 'Veto the red paint', { target: vetoTarget }, { target: vetoTarget })
    await raise('force-close', 'Close the Sunday question', { target: closeTarget }, { target: closeTarget })
    // The amendment: the charter's rules as fields, two of them changed.
    await page.locator('[data-testid=propose-form] select[name=kind]').selectOption('charter-amendment')
    await page.locator('[data-testid=rules-editor] input[name="text.voting"]').fill('9')
    const amendedRules = { ...charter.rules, name: 'Forms cooperative, amended', kinds: { ...charter.rules.kinds, text: { ...charter.rules.kinds.text!, votingMs: 9000 } } }
    await raise('charter-amendment', 'Rename the charter', { 'rules.name': 'Forms cooperative, amended' }, { rules: amendedRules })

    await settled(a, new Map([...expected].map(([id, e]) => [id, e.state])))
    for (const [id, e] of expected) {
      const p = await proposalOf(a, id)
      expect([p.state, p.payload]).toEqual([e.state, e.payload])
    }
    expect([(await proposalOf(a, vetoTarget)).state, (await proposalOf(a, closeTarget)).state]).toEqual(['vetoed', 'force-closed'])
    await eventually('B to apply its new limit', b.api, async () => (await b.api.get(`/balance?account=${b.did}`) as { creditLimit: string }).creditLimit === '7000' ? true : undefined)
    const members = await a.api.get('/members') as { members: Array<{ did: string, name: string | null, role: string, frozen: boolean }> }
    expect(members.members.filter((m) => m.did === newcomer || m.did === c.did).map((m) => [m.did, m.name, m.role, m.frozen]).sort())
      .toEqual([[newcomer, 'Xena', 'member', false], [c.did, null, 'member', true]].sort())
    const amended = await a.api.get('/governance/charter') as { version: number, rules: unknown }
    expect([amended.version, amended.rules]).toEqual([charter.version + 3, amendedRules]) // amendment, membership, freeze

    // The second round needs the first's outcome: unfreeze the frozen member, remove the new one (both picked by name).
    await page.locator('[data-testid=propose-form] select[name=kind]').selectOption('unfreeze')
    expect(await page.locator('[data-testid=propose-form] select[name=member] option').allTextContents()).toEqual(['choose a member…', c.did.slice(0, 16) + '…' + c.did.slice(-6)])
    const second = new Map<string, string>()
    second.set(await raiseAndVote('unfreeze', 'Unfreeze Carol', { deliberation: '0', member: c.did }), 'executed')
    await page.locator('[data-testid=propose-form] select[name=kind]').selectOption('membership')
    await page.locator('[data-testid=propose-form] select[name=action]').selectOption('remove')
    await page.locator('[data-testid=propose-form] select[name=member] option', { hasText: 'Xena' }).waitFor({ state: 'attached' })
    second.set(await raiseAndVote('membership', 'Xena leaves', { deliberation: '0', action: 'remove', member: newcomer }), 'executed')
    await settled(a, second)
    const final = await a.api.get('/governance/charter') as { version: number, members: Array<{ did: string, role: string, frozen: boolean }> }
    expect([final.version, final.members]).toEqual([charter.version + 5, nodes.map((n, i) => ({ did: n.did, role: i === 0 ? 'steward' : 'member', frozen: false })).sort((x, y) => x.did < y.did ? -1 : 1)])
    expect(browser!.problems).toEqual([])
  }, 240_000)

  it('the overview pictures show exactly what the routes answer; the routes refuse bad parameters in words', async () => {
    const [a] = nodes as [MeshNode, MeshNode, MeshNode]
    await goTo(page, 'overview')
    const history = await a.api.get('/ledger/balance-history?days=30') as { days: string[], balances: Record<string, string[]> }
    expect([history.days.length, Object.keys(history.balances), history.balances.ICN![29]]).toEqual([30, ['ICN'], '-40'])
    const line = page.locator('[data-testid=balance-chart] polyline[data-series=ICN]')
    await line.waitFor()
    expect(await line.getAttribute('data-values')).toBe(history.balances.ICN!.join(','))
    const perDay = await a.api.get('/ledger/payments-per-day') as { days: Array<{ day: string, payments: number }> }
    expect([perDay.days.length, perDay.days.reduce((n, d) => n + d.payments, 0), perDay.days.at(-1)!.day]).toEqual([30, 1, history.days.at(-1)]) // the one payment, A → B
    expect(await page.locator('[data-testid=payments-chart]').getAttribute('data-counts')).toBe(perDay.days.map((d) => d.payments).join(','))
    // Members' standing: each account's balance against its limit, in words beside the bar.
    const accounts = await a.api.get('/ledger/accounts') as Array<{ account: string, currency: string, balance: string, creditLimit: string }>
    const words = (n: string): string => Number(n).toLocaleString('en-US').replace('-', '−')
    await page.locator('[data-testid=standing-row]').nth(accounts.length - 1).waitFor({ state: 'attached' })
    expect(await page.locator('[data-testid=standing-row]').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-account'), r.querySelector('[data-testid=standing-words]')?.textContent])))
      .toEqual(accounts.map((x) => [x.account, `${words(x.balance)} ${x.currency} · limit ${words(x.creditLimit)}`]))
    // Sync health: one line per other member, in words that agree with its connection (a live figure, so the
    // words of a connected peer are any of the healthy or catching-up sentences), green only when up to date.
    const members = await a.api.get('/members') as { members: Array<{ did: string, self: boolean, connected: boolean }> }
    const others = members.members.filter((x) => !x.self)
    await page.locator('[data-testid=health-row]').nth(others.length - 1).waitFor()
    for (const m of others) {
      const row = page.locator(`[data-testid=health-row][data-did="${m.did}"]`)
      const [words, level] = [await row.locator('[data-testid=health-words]').textContent(), await row.getAttribute('data-level')]
      if (m.connected) expect(words).toMatch(/^(up to date|connected, no sync yet|catching up: \d+ behind, \d+\.\d entries\/s|last sync ended early: .+|\d+ behind)$/)
      else expect(words).toBe('not connected')
      expect(level).toBe(words === 'up to date' ? 'good' : words === 'not connected' ? 'bad' : 'warn')
    }
    const [stored] = await a.api.get('/snapshots') as Array<{ completedAt: number }>
    expect(await page.locator('[data-testid=snapshots-stored]').textContent()).toBe(`1 stored, last ${new Date(stored!.completedAt).toISOString().replace('T', ' ').slice(0, 19)}`)

    const refusal = async (path: string): Promise<string> => await a.api.get(path).then(() => 'answered', (err: unknown) => (err as Error).message)
    expect(await refusal('/ledger/balance-history?days=0')).toBe("400 BAD_REQUEST: 'days' must be an integer in [1, 366]")
    expect(await refusal('/ledger/payments-per-day?days=367')).toBe("400 BAD_REQUEST: 'days' must be an integer in [1, 366]")
    expect(await refusal('/ledger/balance-history?account=nope')).toBe("400 BAD_REQUEST: 'account' must be a did:icn DID")
  })

  it('every page at 390 and 1,400 px: no horizontal overflow, the nav on screen, every control reachable by Tab, no serious axe violation', async () => {
    const [a, b] = nodes as [MeshNode, MeshNode, MeshNode]
    const problems: string[] = []
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 })
      for (const name of PAGES) {
        await goTo(page, name)
        await ready(page, name, snapshot.snapshotId)
        problems.push(...await layoutProblems(page, `${name}@${width}`, width))
        problems.push(...await unreachableByTab(page, `${name}@${width}`))
        problems.push(...await axeProblems(page, `${name}@${width}`))
        if (name === 'governance') {
          // The widest form: the charter's rules as an editable table (it scrolls inside its card).
          await page.locator('[data-testid=propose-form] select[name=kind]').selectOption('charter-amendment')
          await page.locator('[data-testid=rules-editor]').waitFor()
          problems.push(...await layoutProblems(page, `governance amendment@${width}`, width), ...await axeProblems(page, `governance amendment@${width}`))
        }
        if (name === 'snapshots') {
          await page.click('[data-testid=snapshot-form] button[value=restore]')
          await page.locator('[data-testid=restore-confirm]').waitFor()
          problems.push(...await layoutProblems(page, `restore confirmation@${width}`, width), ...await axeProblems(page, `restore confirmation@${width}`))
          await page.click('[data-testid=cancel-restore]')
          // A snapshot's audit: the currency table and one block of tables per participant.
          await page.click(`[data-testid=snapshot-row][data-id="${snapshot.snapshotId}"] [data-testid=audit-snapshot]`)
          await page.locator('[data-testid=audit-participant]').nth(2).waitFor()
          problems.push(...await layoutProblems(page, `snapshot audit@${width}`, width), ...await axeProblems(page, `snapshot audit@${width}`))
        }
      }
    }
    // The sign-in page, at both widths.
    await page.click('header button.link')
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 })
      await page.locator('[data-testid=signin-form]').waitFor()
      problems.push(...await layoutProblems(page, `sign-in@${width}`, width, false), ...await axeProblems(page, `sign-in@${width}`))
    }
    expect(problems).toEqual([])

    // Keyboard alone, on a phone: sign in, open the ledger, pick a payee, type an amount, press Enter.
    await page.focus('input[name=token]')
    await page.keyboard.type(await readApiToken(a.dataDir))
    await page.keyboard.press('Enter')
    await page.locator('[data-testid=page-snapshots]').waitFor() // signed in again, on the page it left
    await page.focus('nav a[href="#/ledger"]')
    await page.keyboard.press('Enter')
    await page.locator('[data-testid=pay-form]').waitFor()
    await page.focus('[data-testid=pay-form] select[name=to]')
    await page.keyboard.press('ArrowDown') // the first member by name: B or C, whichever sorts first
    const payee = await page.locator('[data-testid=pay-form] select[name=to]').inputValue()
    expect([b.did, nodes[2]!.did]).toContain(payee)
    await page.keyboard.press('Tab')
    await page.keyboard.type('3')
    const paid = await answer(page, 'pay-outcome', async () => { await page.keyboard.press('Enter') })
    expect(paid).toMatch(new RegExp(`^Paid 3 ICN to ${payee}: entry [0-9a-f]{64}\\. This node's balance is now -43 ICN\\.$`))
    expect(browser!.problems).toEqual([])
  }, 240_000)
})

/** Waits until page `name` shows its data (not just its frame). */
async function ready (page: Page, name: typeof PAGES[number], snapshotId: string): Promise<void> {
  const first = {
    overview: '[data-testid=payments-chart]',
    members: '[data-testid=member-row]',
    ledger: '[data-testid=history-row]',
    trust: '[data-testid=graph-technical] canvas',
    governance: '[data-testid=charter] table',
    snapshots: `[data-testid=snapshot-row][data-id="${snapshotId}"]`
  }[name]
  await page.locator(first).first().waitFor()
}

// In-page probes, as script text: this package's TypeScript has no DOM types.

/** Starts recording focused elements (afresh) and answers how many focusable elements the page has. */
const FOCUS_RECORDER = `(() => {
  if (window.icnFocused === undefined) document.addEventListener('focusin', (e) => { window.icnFocused.add(e.target) })
  window.icnFocused = new Set()
  document.activeElement?.blur()
  return document.querySelectorAll('a[href], button, input, select, textarea').length
})()`
/** Enabled form controls never focused since FOCUS_RECORDER ran. */
const UNFOCUSED_CONTROLS = `[...document.querySelectorAll('form input, form select, form textarea, form button')]
  .filter((el) => !el.disabled && !window.icnFocused.has(el))
  .map((el) => (el.tagName.toLowerCase() + '[name=' + (el.getAttribute('name') ?? '') + '] ' + el.textContent).trim())`
/** Form controls (inputs, selects, text areas, buttons; not disabled) that pressing Tab never reaches. */
async function unreachableByTab (page: Page, where: string): Promise<string[]> {
  const count = await page.evaluate(FOCUS_RECORDER) as number
  // Up to three rounds through the page: a live update that re-renders the focused element sends focus back to
  // the start, and Tab then goes on from there.
  let unfocused: string[] = []
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < count + 2; i++) await page.keyboard.press('Tab')
    unfocused = await page.evaluate(UNFOCUSED_CONTROLS) as string[]
    if (unfocused.length === 0) break
  }
  return unfocused.map((control) => `${where}: ${control} not reachable by Tab`)
}
