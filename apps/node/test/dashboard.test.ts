// End to end: the dashboard each `icn-node run` process serves, driven in headless Debian Chromium
// (playwright-core) against three real node processes. One browser and one 3-node mesh for the whole file.
import { createServer, type Server } from 'node:http'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { KindRule } from '@icn/governance'
import type { Did } from '@icn/identity'
import type { Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeCharterFile } from '../src/charter.js'
import { decodeInvitationCode } from '../src/invitations.js'
import { readApiToken } from '../src/data-dir.js'
import { table } from '../src/format.js'
import { type Browser, answer, dashboardUrl, fillFields, front, goTo, launchBrowser, refusalOf, refused, shows, signIn } from './helpers/browser.js'
import { type MeshNode, cli, eventually, startMesh } from './helpers/cluster.js'

const VOTING_MS = 10_000
const DAY_MS = 24 * 3600 * 1000
const quick: KindRule = { proposers: ['member', 'steward'], quorumBps: 5000, approvalBps: 5000, deliberation: { defaultMs: 0, minMs: 0, maxMs: 60_000 }, votingMs: VOTING_MS }

let root: string
let nodes: MeshNode[] = []
let browser: Browser | undefined
const pages: Page[] = []
let attacker: Server | undefined

const url = dashboardUrl

/** What the page's clipboard holds (the test's context is granted clipboard access to the node's origin). */
async function clipboardOf (page: Page): Promise<string> {
  return await page.evaluate(async () => await (globalThis as unknown as { navigator: { clipboard: { readText: () => Promise<string> } } }).navigator.clipboard.readText())
}

/** Marks the page's window: still marked later means the page was never reloaded. */
async function mark (page: Page): Promise<void> {
  await page.evaluate(() => { (globalThis as { icnMark?: string }).icnMark = 'not reloaded' })
}
async function marked (page: Page): Promise<string | undefined> {
  return await page.evaluate(() => (globalThis as { icnMark?: string }).icnMark)
}

const status = async (node: MeshNode): Promise<{ version: number, ledger: { entries: number, stateRoot: string }, trust: { attestations: number }, governance: { proposals: number } }> =>
  await node.api.get('/status') as { version: number, ledger: { entries: number, stateRoot: string }, trust: { attestations: number }, governance: { proposals: number } }

const balanceOf = async (node: MeshNode, account: string): Promise<string> =>
  (await node.api.get(`/balance?account=${account}`) as { balance: bigint }).balance.toString()

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'icn-dashboard-'))
  nodes = await startMesh(root, 3, 4000, async (dirs, dids) => {
    for (const dir of dirs) {
      await writeCharterFile(dir, {
        domain: 'coop:dashboard',
        name: 'Dashboard test cooperative',
        members: dids.map((did, i) => ({ did: did as Did, role: i === 0 ? 'steward' : 'member' })),
        // The steward may invite (a membership proposal): the Members page's invitation form.
        kinds: { 'text': quick, 'config-change': quick, 'membership': { ...quick, proposers: ['steward'] } }
      })
    }
  })
  browser = await launchBrowser()
  // A and B sign in here; C's page signs in in the first test, after a wrong token.
  for (const node of nodes.slice(0, 2)) {
    const page = await browser.newPage()
    await signIn(page, node)
    pages.push(page)
  }
}, 90_000)

afterAll(async () => {
  await browser?.close()
  await new Promise<void>((resolve) => { if (attacker === undefined) resolve(); else attacker.close(() => { resolve() }) })
  const codes = await Promise.all(nodes.map(async (n) => await n.stop()))
  expect(codes).toEqual(nodes.map(() => 0))
  await rm(root, { recursive: true, force: true })
})

describe('dashboard in headless Chromium against 3 node processes', () => {
  it('signs in with the API token into an HttpOnly, SameSite=Strict session named after the port; a wrong token is refused', async () => {
    const [a, , c] = nodes as [MeshNode, MeshNode, MeshNode]
    const sessionCookies = async (): Promise<Array<{ name: string, httpOnly: boolean, sameSite: string, path: string }>> =>
      (await browser!.context.cookies()).filter((k) => k.name.startsWith('icn_session_')).map((k) => ({ name: k.name, httpOnly: k.httpOnly, sameSite: k.sameSite, path: k.path })).sort((x, y) => x.name < y.name ? -1 : 1)
    const cookieOf = (node: MeshNode): { name: string, httpOnly: boolean, sameSite: string, path: string } => ({ name: `icn_session_${node.runtime.apiPort}`, httpOnly: true, sameSite: 'Strict', path: '/' })
    // One cookie per node: two nodes on one host do not overwrite each other's session.
    expect(await sessionCookies()).toEqual(nodes.slice(0, 2).map(cookieOf).sort((x, y) => x.name < y.name ? -1 : 1))

    const page = await browser!.newPage()
    await page.goto(url(c))
    await page.fill('input[name=token]', await readApiToken(a.dataDir)) // node A's token on node C
    await page.click('[data-testid=signin-form] button[type=submit]')
    const wrong = refused('wrong API token (the node writes it to <data-dir>/api-token at each start)', 'UNAUTHORIZED', 401)
    expect(await shows(page.locator('[data-testid=signin-error]'), wrong)).toBe(wrong)
    expect(await sessionCookies()).toHaveLength(2) // no session for C
    expect(await page.evaluate(async () => (await fetch('/session')).status)).toBe(401)

    await page.fill('input[name=token]', await readApiToken(c.dataDir))
    await page.click('[data-testid=signin-form] button[type=submit]')
    expect(await shows(page.locator('[data-testid=node-did]'), c.did)).toBe(c.did)
    pages.push(page)
    expect(await sessionCookies()).toEqual(nodes.map(cookieOf).sort((x, y) => x.name < y.name ? -1 : 1))
    expect(page.url()).toBe(url(c)) // the token never goes into the URL
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).toBe('') // HttpOnly: no script reads the session
    // The cookie alone authorises nothing: without the CSRF token the page's own origin gets 403.
    expect(await page.evaluate(async () => { const r = await fetch('/status'); return { status: r.status, body: await r.json() as unknown } })).toEqual({
      status: 403,
      body: { error: 'ApiError', code: 'FORBIDDEN', message: 'missing or wrong x-icn-csrf header: a dashboard session\'s requests must carry its CSRF token' }
    })
    await page.reload()
    expect(await shows(page.locator('[data-testid=node-did]'), c.did)).toBe(c.did) // a reload resumes the session

    // Overview: both peers connected, each with its row of `status.sync` (rendered generically, its fields by name).
    const pageA = await front(pages[0]!)
    await pageA.click('[data-testid=diagnostics] summary') // the raw counters, folded away under the pictures
    await pageA.locator('[data-testid=peer-row] [data-testid=peer-sync] .muted').nth(2 * 7 - 1).waitFor()
    const peerRows = await pageA.locator('[data-testid=peer-row]').evaluateAll((rows) => rows.map((r) => ({
      did: r.querySelector('[data-did]')?.getAttribute('data-did'),
      state: r.querySelector('.badge')?.textContent,
      via: r.querySelector('[data-testid=peer-via]')?.textContent,
      sync: [...r.querySelectorAll('[data-testid=peer-sync] .muted')].map((e) => e.textContent)
    })))
    expect(peerRows.map((r) => [r.did, r.state, r.via]).sort()).toEqual([[nodes[1]!.did, 'connected', 'direct'], [c.did, 'connected', 'direct']].sort())
    // On loopback nothing is public and nobody relays.
    expect(await pageA.locator('[data-testid=reachability]').textContent()).toBe('no public address confirmed by a peerno relay reservation')
    for (const row of peerRows) expect(row.sync).toEqual(expect.arrayContaining(['state', 'behind', 'fetched', 'applied', 'refused', 'entriesPerSecond', 'sessions']))
  })

  it('a payment made in the browser appears on the other node\'s dashboard without a reload', async () => {
    const [a, b] = nodes as [MeshNode, MeshNode, MeshNode]
    const [pageA, pageB] = pages as [Page, Page, Page]
    await goTo(pageA, 'ledger')
    await goTo(pageB, 'ledger')
    await mark(pageB)
    await shows(pageB.locator('[data-testid=balances] p'), 'No balances yet.')

    await front(pageA)
    await pageA.selectOption('[data-testid=pay-form] select[name=to]', b.did)
    await pageA.fill('[data-testid=pay-form] input[name=amount]', '100')
    await pageA.fill('[data-testid=pay-form] input[name=reference]', 'paid in the browser')
    const outcome = await answer(pageA, 'pay-outcome', async () => { await pageA.click('[data-testid=pay-form] button[type=submit]') })
    const entry = /^Paid 100 ICN to (\S+): entry ([0-9a-f]{64})\. This node's balance is now -100 ICN\.$/.exec(outcome)
    expect(entry?.[1]).toBe(b.did)

    const row = (page: Page, did: string): Locator => page.locator(`[data-testid=account-row][data-account="${did}"][data-currency=ICN]`)
    expect(await shows(row(pageB, b.did).locator('[data-testid=balance]'), '100')).toBe('100')
    expect(await shows(row(pageB, a.did).locator('[data-testid=balance]'), '-100')).toBe('-100')
    expect(await marked(pageB)).toBe('not reloaded')
    expect(await balanceOf(b, b.did)).toBe('100')
    // Its history page on A: exactly that entry, by A, seq 1, with its reference.
    const history = pageA.locator('[data-testid=history-row]')
    await shows(history.locator('td').nth(4), 'paid in the browser')
    expect(await history.count()).toBe(1)
    expect(await history.locator('td').nth(2).textContent()).toBe('1')
    expect(await history.locator('td').nth(3).textContent()).toBe('−100 ICN')
    expect(await history.locator('.hash').getAttribute('title')).toBe(entry?.[2])
  })

  it('the read routes behind the pages answer exact values, and typed 400/404/422 errors for bad parameters', async () => {
    const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
    const limitOf = async (did: string): Promise<string> => (await a.api.get(`/balance?account=${did}`) as { creditLimit: string }).creditLimit
    const byKey = [a, b].sort((x, y) => x.did < y.did ? -1 : 1)
    expect(await a.api.get('/ledger/accounts')).toEqual(await Promise.all(byKey.map(async (n) => ({
      account: n.did, currency: 'ICN', balance: n === a ? '-100' : '100', creditLimit: await limitOf(n.did), limitSetBy: null
    }))))
    // Paging: one entry a page; the cursor of the last full page leads to an empty one.
    const first = await a.api.get(`/ledger/history?account=${a.did}&limit=1`) as { entries: Array<{ author: string, seq: number, reference: string, deltas: unknown[] }>, next: string | null }
    expect(first.entries.map((e) => [e.author, e.seq, e.reference, e.deltas])).toEqual([[a.did, 1, 'paid in the browser', [
      { account: a.did, currency: 'ICN', debit: '100', credit: null }, { account: b.did, currency: 'ICN', debit: null, credit: '100' }
    ]]])
    expect(await a.api.get(`/ledger/history?account=${a.did}&limit=1&after=${encodeURIComponent(first.next!)}`)).toEqual({ account: a.did, entries: [], next: null })
    expect([await a.api.get('/ledger/quarantine'), await a.api.get('/ledger/forks')]).toEqual([[], []])

    const graph = await a.api.get('/trust/graph?graph=technical') as { nodes: Array<{ did: string, self: boolean, score: number | null }>, edges: Array<{ source: string, target: string, score: number }> }
    const dids = nodes.map((n) => n.did).sort()
    expect(graph.nodes.map((n) => [n.did, n.self])).toEqual(dids.map((did) => [did, did === a.did]))
    expect(graph.edges.map((e) => `${e.source}>${e.target} ${e.score}`).sort()).toEqual(nodes.flatMap((n) => nodes.filter((m) => m !== n).map((m) => `${n.did}>${m.did} 0.9`)).sort())
    const scores = await a.api.get('/trust/scores') as Array<{ did: string, scores: Record<string, { score: number, class: string }> }>
    expect(scores.map((r) => r.did)).toEqual([b.did, c.did].sort())
    for (const row of scores) {
      for (const g of ['social', 'economic', 'technical']) {
        const direct = await a.api.get(`/trust?subject=${row.did}&graph=${g}`) as { score: number, class: string }
        expect(row.scores[g]).toEqual({ score: direct.score, class: direct.class })
      }
    }
    expect(graph.nodes.filter((n) => !n.self).map((n) => n.score)).toEqual(scores.map((r) => r.scores.technical!.score))
    const charter = await a.api.get('/governance/charter') as { domain: string, version: number, members: Array<{ did: string, role: string }> }
    expect([charter.domain, charter.version, charter.members.map((m) => [m.did, m.role])]).toEqual(['coop:dashboard', 1, dids.map((did) => [did, did === a.did ? 'steward' : 'member'])])

    expect(await refusalOf(a.api.get('/ledger/history?account=nope'))).toBe(refused("'account' must be a did:icn DID", 'BAD_REQUEST', 400))
    expect(await refusalOf(a.api.get('/ledger/history?limit=0'))).toBe(refused("'limit' must be an integer in [1, 500]", 'BAD_REQUEST', 400))
    expect(await refusalOf(a.api.get('/ledger/history?after=zz'))).toBe(refused("bad history cursor 'zz'", 'INVALID_ARGUMENT', 422))
    expect(await refusalOf(a.api.get('/trust/graph?graph=money'))).toBe(refused("'graph' must be social, economic or technical", 'BAD_REQUEST', 400))
    expect(await refusalOf(a.api.get('/proposals/nope/votes'))).toBe(refused('no proposal nope', 'NOT_FOUND', 404))
    expect(await refusalOf(a.api.get('/snapshots/bad%20id/proof'))).toBe(refused("'bad id' is not a snapshot id (1-128 characters of A-Z, a-z, 0-9, _ and -)", 'BAD_REQUEST', 400))
  })

  it('the trust page draws the three graphs (Cytoscape canvases) and lists this node\'s scores of each member', async () => {
    const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
    const pageA = pages[0]!
    await goTo(pageA, 'trust')
    for (const [graph, edges] of [['social', '0'], ['economic', '6'], ['technical', '6']] as const) {
      const picture = pageA.locator(`[data-testid=graph-${graph}]`)
      await picture.locator('canvas').first().waitFor() // drawn: Cytoscape (its own chunk, loaded on this page) made its canvases
      expect([await picture.getAttribute('data-nodes'), await picture.getAttribute('data-edges')]).toEqual(['3', edges])
    }
    const rows = pageA.locator('[data-testid=score-row]')
    await rows.nth(1).waitFor()
    const shown = await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-did'), ...[...tr.querySelectorAll('td[data-graph]')].map((td) => td.textContent)]))
    const expected = await Promise.all([b, c].sort((x, y) => x.did < y.did ? -1 : 1).map(async (n) => [n.did, ...await Promise.all(['social', 'economic', 'technical'].map(async (g) => {
      const t = await a.api.get(`/trust?subject=${n.did}&graph=${g}`) as { score: number, class: string }
      return `${t.score.toFixed(3)} ${t.class}`
    }))]))
    expect(shown).toEqual(expected)
    expect(browser!.problems).toEqual([])
  })

  it('a vote cast in the browser closes a proposal (executed: the credit limit it sets shows who set it)', async () => {
    const [a, b] = nodes as [MeshNode, MeshNode, MeshNode]
    const [pageA, pageB] = pages as [Page, Page, Page]
    await goTo(pageA, 'governance')
    await goTo(pageB, 'governance')
    await front(pageA)
    await mark(pageA)
    const form = pageA.locator('[data-testid=propose-form]')
    await form.locator('select[name=kind]').selectOption('config-change')
    await form.locator('input[name=title]').fill('Raise B\'s credit limit')
    // The credit-limit form: the setting, the member (picked), the currency and the limit in words.
    expect(await form.locator('select[name=key]').inputValue()).toBe('ledger.creditLimit')
    await form.locator('select[name=subject]').selectOption(b.did)
    expect(await form.locator('input[name=currency]').inputValue()).toBe('ICN')
    await form.locator('input[name=limit]').fill('50000')
    await form.locator('input[name=deliberation]').fill('0')
    const proposed = /^Proposal (\S+) submitted: (\S+)\.$/.exec(await answer(form, 'propose-outcome', async () => { await form.locator('button[type=submit]').click() }))
    const id = proposed![1]!
    expect((await a.api.get('/proposals') as Array<{ id: string, title: string }>).map((p) => [p.id, p.title])).toEqual([[id, 'Raise B\'s credit limit']])
    expect((await a.api.get(`/proposals/${id}`) as { payload: unknown }).payload).toEqual({ key: 'ledger.creditLimit', subject: b.did, value: { currency: 'ICN', limit: '50000' } })

    // A votes on its own page once voting is open (the change feed moves the state), then B on its page.
    await shows(pageA.locator('[data-testid=proposal-state]'), 'open')
    expect(await answer(pageA, 'vote-outcome', async () => { await pageA.click('[data-testid=vote-form] button[type=submit]') })).toBe('Vote “for” recorded.')
    await (await front(pageB)).locator(`[data-testid=proposal-link][data-id="${id}"]`).click()
    await shows(pageB.locator('[data-testid=proposal-state]'), 'open')
    expect(await answer(pageB, 'vote-outcome', async () => { await pageB.click('[data-testid=vote-form] button[type=submit]') })).toBe('Vote “for” recorded.')
    expect(await shows(pageA.locator('[data-testid=tally-for]'), '2')).toBe('2')

    // Voting closes on the node's clock: accepted, then executed — seen on A's page without a reload.
    expect(await shows(pageA.locator('[data-testid=proposal-state]'), 'executed', VOTING_MS + 20_000)).toBe('executed')
    expect(await marked(pageA)).toBe('not reloaded')
    expect(await pageA.locator('[data-testid=tally-outcome]').textContent()).toBe('accepted')
    expect(await pageA.locator('[data-testid=state-executed] [data-testid=proposal-link]').getAttribute('data-id')).toBe(id)
    expect(await pageA.locator('[data-testid=proposal-history] tbody tr td:first-child').allTextContents()).toEqual(['draft', 'deliberation', 'open', 'accepted', 'executed'])
    const votes = await a.api.get(`/proposals/${id}/votes`) as Array<{ voter: string, choice: string }>
    expect(votes.map((v) => [v.voter, v.choice]).sort()).toEqual([[a.did, 'for'], [b.did, 'for']].sort())

    // B's ledger page: the limit and the proposal (and proposer) that set it.
    await eventually('B to apply the credit limit', b.api, async () => (await b.api.get(`/balance?account=${b.did}`) as { creditLimit: string }).creditLimit === '50000' ? true : undefined)
    await goTo(pageB, 'ledger')
    const rowB = pageB.locator(`[data-testid=account-row][data-account="${b.did}"][data-currency=ICN]`)
    expect(await shows(rowB.locator('[data-testid=credit-limit]'), '50000')).toBe('50000')
    expect(await rowB.locator('[data-testid=limit-set-by]').textContent()).toMatch(/^proposal “Raise B's credit limit” by did:icn:.+ \(executed\)$/)
    expect(await rowB.locator('[data-testid=limit-set-by] [data-did]').getAttribute('data-did')).toBe(a.did)
  })

  it('a snapshot taken and verified from the browser, with the Merkle root and this node\'s inclusion proof', async () => {
    const [a] = nodes as [MeshNode, MeshNode, MeshNode]
    const pageA = pages[0]!
    await goTo(pageA, 'snapshots')
    const taken = /^Snapshot (\S+) completed with 3 participants, root ([0-9a-f]{64})\.$/.exec(await answer(pageA, 'take-outcome', async () => { await pageA.click('[data-testid=take-snapshot]') }, 30_000))
    const [id, rootHex] = [taken![1]!, taken![2]!]
    const stored = await a.api.get('/snapshots') as Array<{ snapshotId: string, root: string }>
    expect(stored.map((s) => [s.snapshotId, s.root])).toEqual([[id, rootHex]])
    await pageA.locator(`[data-testid=snapshot-row][data-id="${id}"]`).waitFor()
    expect(await pageA.inputValue('[data-testid=snapshot-form] input[name=snapshotId]')).toBe(id)

    await answer(pageA, 'snapshot-result', async () => { await pageA.click('[data-testid=snapshot-form] button[value=verify]') }, 30_000)
    expect(await pageA.locator('[data-testid=verify-verdict]').textContent()).toBe(`Valid: every participant recomputed the global root and agreed. Expected root ${rootHex}.`)
    expect(await pageA.locator('[data-testid=verifier-row] td:nth-child(2)').allTextContents()).toEqual(['valid', 'valid', 'valid'])
    expect((await pageA.locator('[data-testid=verifier-row] [data-did]').evaluateAll((els) => els.map((e) => e.getAttribute('data-did')))).sort()).toEqual(nodes.map((n) => n.did).sort())

    await answer(pageA, 'snapshot-result', async () => { await pageA.click('[data-testid=snapshot-form] button[value=proof]') })
    expect(await pageA.locator('[data-testid=proof-root]').textContent()).toBe(rootHex)
    const proof = await a.api.get(`/snapshots/${id}/proof`) as { did: string, index: number, leafCount: number, valid: boolean, steps: Array<{ side: string, hash: string }> }
    expect([proof.did, proof.leafCount, proof.valid]).toEqual([a.did, 3, true])
    expect(await pageA.locator('[data-testid=proof-steps] tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(1).map((td) => td.textContent)))).toEqual(proof.steps.map((step) => [step.side, step.hash]))
    expect(await pageA.locator('[data-testid=proof-verdict]').textContent()).toBe(`This node's leaf (${await pageA.locator('[data-testid=proof-verdict] .did').textContent()}, ${proof.index + 1} of 3) hashes up to the root.`)
  })

  it('the audit of that snapshot in the browser: every participant\'s recorded balances and heads, each currency summing to zero, the balances downloaded as the CLI exports them', async () => {
    const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
    const pageA = pages[0]!
    await goTo(pageA, 'snapshots')
    const [snapshot] = await a.api.get('/snapshots') as Array<{ snapshotId: string, root: string }>
    const id = snapshot!.snapshotId
    await answer(pageA, 'snapshot-result', async () => { await pageA.click(`[data-testid=snapshot-row][data-id="${id}"] [data-testid=audit-snapshot]`) }, 30_000)
    const audit = pageA.locator('[data-testid=audit]')
    // The snapshot followed one payment, A → B 100 ICN, and nothing was in flight by then.
    expect(await audit.locator('[data-testid=audit-verdict]').textContent()).toBe('Balanced: every currency sums to zero over the recorded states and what was in flight, and every participant\'s leaf is in the root.')
    expect(await audit.locator('[data-testid=audit-notes]').count()).toBe(0)
    const cells = async (rows: Locator): Promise<string[][]> => await rows.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')))
    const dids = async (rows: Locator): Promise<Array<Array<string | null>>> => await rows.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('[data-did]')].map((el) => el.getAttribute('data-did'))))
    expect(await cells(audit.locator('[data-testid=currency-row]'))).toEqual([['ICN', '0', '0', '0', 'yes']])
    const sorted = [a, b, c].sort((x, y) => (x.did < y.did ? -1 : 1))
    const participants = audit.locator('[data-testid=audit-participant]')
    expect(await participants.evaluateAll((els) => els.map((el) => el.getAttribute('data-did')))).toEqual(sorted.map((n) => n.did))
    expect(await participants.locator('[data-testid=participant-words]').allTextContents()).toEqual(sorted.map(() => 'state read; leaf matches its state, proved in the root'))
    const of = (node: MeshNode): Locator => audit.locator(`[data-testid=audit-participant][data-did="${node.did}"]`)
    // Each participant's own account: recorded, in flight, audited.
    expect(await cells(of(a).locator('[data-testid=audited-row]'))).toEqual([['ICN', '-100', '0', '-100']])
    expect(await cells(of(b).locator('[data-testid=audited-row]'))).toEqual([['ICN', '100', '0', '100']])
    expect(await cells(of(c).locator('[data-testid=audited] tbody tr'))).toEqual([['no balance']])
    for (const node of [a, b, c]) {
      // Every participant recorded the same ledger: both balances, and A's chain at its one payment.
      const balances = of(node).locator('[data-testid=balance-row]')
      expect(await dids(balances)).toEqual([a, b].sort((x, y) => (x.did < y.did ? -1 : 1)).map((n) => [n.did]))
      expect((await cells(balances)).map((row) => row.slice(1))).toEqual([a, b].sort((x, y) => (x.did < y.did ? -1 : 1)).map((n) => ['ICN', n === a ? '-100' : '100']))
      expect(await dids(of(node).locator('[data-testid=head-row]'))).toEqual([[a.did]])
      expect((await cells(of(node).locator('[data-testid=head-row]'))).map((row) => row[1])).toEqual(['1'])
      expect(await of(node).locator('[data-testid=no-in-flight]').textContent()).toBe('No ledger entry in flight at its cut.')
    }
    // The page shows what the API answers.
    const api = await a.api.get(`/snapshots/${id}/audit`) as { complete: boolean, balanced: boolean, root: string, participants: Array<{ did: string, heads: Array<{ author: string, seq: number, id: string }> }> }
    expect([api.complete, api.balanced, api.root]).toEqual([true, true, snapshot!.root])
    expect(await of(a).locator('[data-testid=head-row] .hash').getAttribute('title')).toBe(api.participants.find((p) => p.did === a.did)!.heads[0]!.id)

    // Downloads: byte for byte what `icn-node snapshot export` writes (the helper trims the final newline off stdout).
    const exported = async (...args: string[]): Promise<string> => (await cli(['snapshot', 'export', id, ...args, '--data-dir', a.dataDir])) + '\n'
    const download = async (testid: string): Promise<{ name: string, text: string }> => {
      const [file] = await Promise.all([pageA.waitForEvent('download'), pageA.click(`[data-testid=${testid}]`)])
      return { name: file.suggestedFilename(), text: await readFile(await file.path(), 'utf8') }
    }
    const csv = await download('download-csv')
    expect(csv.name).toBe(`snapshot-${id}-balances.csv`)
    expect(csv.text).toBe(await exported('--csv'))
    expect(csv.text).toBe(['snapshot,participant,currency,recorded,in_flight,audited', ...sorted.filter((n) => n !== c).map((n) => `${id},${n.did},ICN,${n === a ? '-100,0,-100' : '100,0,100'}`)].join('\n') + '\n')
    const json = await download('download-json')
    expect(json.name).toBe(`snapshot-${id}-balances.json`)
    expect(json.text).toBe(await exported())
    expect(await pageA.locator('[data-testid=download-outcome]').textContent()).toBe(`Downloaded snapshot-${id}-balances.json.`)
    expect(await refusalOf(a.api.get(`/snapshots/${id}/audit/balances?format=xml`))).toBe(refused("'format' must be csv or json", 'BAD_REQUEST', 400))
  })

  it('bad input in every form gets the node\'s typed error in words, and nothing is written', async () => {
    const [a, b] = nodes as [MeshNode, MeshNode, MeshNode]
    const pageA = pages[0]!
    const before = await status(a)
    const balanceB = await balanceOf(a, b.did)

    await goTo(pageA, 'ledger')
    const pay = pageA.locator('[data-testid=pay-form]')
    const payWith = async (to: string, amount: string): Promise<string> => {
      await pay.locator('select[name=to]').selectOption(to)
      await pay.locator('input[name=amount]').fill(amount)
      return await answer(pay, 'pay-outcome', async () => { await pay.locator('button[type=submit]').click() })
    }
    expect(await payWith(b.did, 'abc')).toBe(refused("field 'amount' must be a positive integer amount", 'BAD_REQUEST', 400))
    expect(await payWith(b.did, '0')).toBe(refused("field 'amount' must be a positive integer amount", 'BAD_REQUEST', 400))
    // No member chosen in the picker: the form sends the empty choice, and the node says what is missing.
    expect(await payWith('', '5')).toBe(refused("field 'to' must be a non-empty string", 'BAD_REQUEST', 400))
    const overLimit = await refusalOf(a.api.post('/pay', { to: b.did, amount: '900000000', currency: 'ICN' }))
    expect(overLimit).toMatch(/^Refused: .+ \(ENTRY_REJECTED, HTTP 422\)$/)
    expect(await payWith(b.did, '900000000')).toBe(overLimit)

    await goTo(pageA, 'trust')
    const attest = pageA.locator('[data-testid=attest-form]')
    const attestWith = async (subject: string, score: string): Promise<string> => {
      await attest.locator('select[name=subject]').selectOption(subject)
      await attest.locator('input[name=score]').fill(score)
      return await answer(attest, 'attest-outcome', async () => { await attest.locator('button[type=submit]').click() })
    }
    expect(await attestWith(b.did, '2')).toBe(refused("field 'score' must be a number in [0, 1]", 'BAD_REQUEST', 400))
    expect(await attestWith(b.did, 'high')).toBe(refused("field 'score' must be a number in [0, 1]", 'BAD_REQUEST', 400))
    // No member chosen in the picker: the node says what is missing.
    expect(await attestWith('', '0.5')).toBe(await refusalOf(a.api.post('/trust', { subject: '', graph: 'economic', score: 0.5 })))

    await goTo(pageA, 'governance')
    const propose = pageA.locator('[data-testid=propose-form]')
    const proposeWith = async (kind: string, title: string, fields: Record<string, string>, deliberation = ''): Promise<string> => {
      await propose.locator('select[name=kind]').selectOption(kind)
      await propose.locator('input[name=title]').fill(title)
      await fillFields(propose, fields)
      await propose.locator('input[name=deliberation]').fill(deliberation)
      return await answer(propose, 'propose-outcome', async () => { await propose.locator('button[type=submit]').click() })
    }
    expect(await proposeWith('text', '', { text: 'hi' })).toBe(refused("field 'title' must be a non-empty string", 'BAD_REQUEST', 400))
    expect(await proposeWith('text', 'Hello', { text: 'hi' }, 'soon')).toBe(refused(`field 'deliberationMs' must be a number in [0, ${Number.MAX_SAFE_INTEGER}]`, 'BAD_REQUEST', 400))
    // A credit limit with no member chosen and a limit that is no amount: the node's own words.
    const noSubject = await refusalOf(a.api.post('/proposals', { kind: 'config-change', title: 'Hello', description: '', payload: { key: 'ledger.creditLimit', subject: '', value: { currency: 'ICN', limit: '50000' } } }))
    expect(noSubject).toMatch(/^Refused: .+ \([A-Z_]+, HTTP 422\)$/)
    expect(await proposeWith('config-change', 'Hello', { key: 'ledger.creditLimit', subject: '', limit: '50000' })).toBe(noSubject)
    const notAnAmount = await refusalOf(a.api.post('/proposals', { kind: 'config-change', title: 'Hello', description: '', payload: { key: 'ledger.creditLimit', subject: b.did, value: { currency: 'ICN', limit: 'lots' } } }))
    expect(notAnAmount).toMatch(/^Refused: .+ \([A-Z_]+, HTTP 422\)$/)
    expect(await proposeWith('config-change', 'Hello', { subject: b.did, limit: 'lots' })).toBe(notAnAmount)

    // A vote on the proposal that closed in the previous test: the node's window check refuses it.
    const [executed] = await a.api.get('/proposals?state=executed') as Array<{ id: string }>
    await pageA.locator(`[data-testid=proposal-link][data-id="${executed!.id}"]`).click()
    await shows(pageA.locator('[data-testid=proposal-state]'), 'executed')
    // Voting is over: no vote form, the reason in words; the node refuses a vote anyway.
    expect(await pageA.locator('[data-testid=voting-closed]').textContent()).toBe('Voting is over: this proposal is executed.')
    expect(await pageA.locator('[data-testid=vote-form]').count()).toBe(0)
    expect(await refusalOf(a.api.post('/votes', { proposal: executed!.id, choice: 'against' }))).toMatch(/^Refused: .+ \(OUTSIDE_WINDOW, HTTP 422\)$/)
    expect(await pageA.locator('[data-testid=tally-against]').textContent()).toBe('0')

    await goTo(pageA, 'snapshots')
    const snapshotWith = async (id: string, action: 'verify' | 'proof' | 'restore'): Promise<string> => {
      await pageA.fill('[data-testid=snapshot-form] input[name=snapshotId]', id)
      return await answer(pageA, 'snapshot-outcome', async () => {
        await pageA.click(`[data-testid=snapshot-form] button[value=${action}]`)
        if (action === 'restore') await pageA.click('[data-testid=confirm-restore]') // the confirmation
      })
    }
    const notAnId = refused("'bad id!' is not a snapshot id (1-128 characters of A-Z, a-z, 0-9, _ and -)", 'BAD_REQUEST', 400)
    expect(await snapshotWith('bad id!', 'verify')).toBe(notAnId)
    expect(await snapshotWith('bad id!', 'restore')).toBe(notAnId)
    const unknown = refused('no completed snapshot nope on this node (`icn-node snapshot list` shows the ones it holds)', 'NOT_FOUND', 404)
    expect(await snapshotWith('nope', 'proof')).toBe(unknown)
    expect(await snapshotWith('nope', 'restore')).toBe(unknown)

    // Nothing written: the same ledger, attestations and proposals; B's balance as before.
    const after = await status(a)
    expect([after.ledger, after.trust, after.governance.proposals]).toEqual([before.ledger, before.trust, before.governance.proposals])
    expect(await balanceOf(a, b.did)).toBe(balanceB)
    expect(browser!.problems).toEqual([])
  })

  it('refuses cross-site requests: a form POST from another origin, a same-site one carrying the cookie, and a cross-origin read', async () => {
    const [a, b] = nodes as [MeshNode, MeshNode, MeshNode]
    const target = `${url(a)}pay`
    // A hostile page on another port of 127.0.0.1 (same site: the browser sends A's SameSite=Strict cookie)
    // and on localhost (another site: it does not). Its form posts a valid JSON payment as text/plain.
    const html = (action: string): string => `<!doctype html><form id=f method=post action="${action}" enctype="text/plain"><input name='{"to":"${b.did}","amount":"7","x":"' value='"}'></form><script>document.getElementById('f').submit()</script>`
    attacker = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(req.url === '/' ? html(target) : '<!doctype html><title>blank</title>')
    })
    await new Promise<void>((resolve) => { attacker!.listen(0, '127.0.0.1', resolve) })
    const attackerPort = (attacker.address() as AddressInfo).port
    const before = await status(a)
    const page = await browser!.newPage()
    try {
      await page.goto(`http://127.0.0.1:${attackerPort}/`)
      await page.waitForURL(target)
      expect(JSON.parse(await page.locator('body').innerText())).toEqual({ error: 'ApiError', code: 'FORBIDDEN', message: `cross-site request refused (Origin http://127.0.0.1:${attackerPort})` })

      await page.goto(`http://localhost:${attackerPort}/`)
      await page.waitForURL(target)
      expect(JSON.parse(await page.locator('body').innerText())).toEqual({ error: 'ApiError', code: 'UNAUTHORIZED', message: 'missing or wrong API token (Authorization: Bearer <token from the data directory>)' })

      // Script on the hostile origin: a no-cors POST goes out (opaque answer), a CORS read is blocked.
      await page.goto(`http://127.0.0.1:${attackerPort}/blank`, { waitUntil: 'commit' })
      const outcomes = await page.evaluate(async ([pay, statusUrl, to]) => {
        const posted = await fetch(pay!, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ to, amount: '7' }) }).then((r) => r.type, () => 'failed')
        const read = await fetch(statusUrl!, { credentials: 'include' }).then(() => 'read', () => 'blocked')
        return [posted, read]
      }, [target, `${url(a)}status`, b.did])
      expect(outcomes).toEqual(['opaque', 'blocked'])
    } finally {
      await page.close()
    }
    const after = await status(a)
    expect(after.ledger).toEqual(before.ledger)
    expect(await balanceOf(a, b.did)).toBe('100')
  })

  it('restores a node from the browser and shows the restore report', async () => {
    const c = nodes[2]!
    const pageC = pages[2]!
    const [snapshot] = await c.api.get('/snapshots') as Array<{ snapshotId: string }>
    await goTo(pageC, 'snapshots')
    await pageC.locator(`[data-testid=snapshot-row][data-id="${snapshot!.snapshotId}"] [data-testid=select-snapshot]`).click()
    // Styled as destructive, and it asks first, naming what is replaced and with what.
    const restore = pageC.locator('[data-testid=snapshot-form] button[value=restore]')
    expect([await restore.textContent(), await restore.getAttribute('class')]).toEqual(['Restore this node…', 'danger-outline'])
    await restore.click()
    const [listed] = await c.api.get('/snapshots') as Array<{ snapshotId: string, completedAt: number, root: string }>
    const now = await status(c)
    expect(await pageC.locator('[data-testid=restore-words]').textContent()).toBe(`Restoring replaces this node's ledger, trust, governance and gossip state — its current state (${now.ledger.entries} ledger entries, ${now.trust.attestations} trust attestations, ${now.governance.proposals} proposals) — with what snapshot ${listed!.snapshotId} recorded at ${new Date(listed!.completedAt).toISOString().replace('T', ' ').slice(0, 19)} (root ${listed!.root.slice(0, 12)}…). Entries newer than the snapshot come back from peers by anti-entropy; this node's own newer payments are lost unless a peer holds them.`)
    expect(await pageC.locator('[data-testid=confirm-restore]').getAttribute('class')).toBe('danger')
    await pageC.click('[data-testid=cancel-restore]') // cancelling restores nothing
    expect(await pageC.locator('[data-testid=restore-confirm]').count()).toBe(0)
    expect((await status(c)).ledger).toEqual(now.ledger)
    await restore.click()
    await answer(pageC, 'snapshot-result', async () => { await pageC.click('[data-testid=confirm-restore]') }, 30_000)
    const report = pageC.locator('[data-testid=restore-report]')
    expect(await report.locator('p').first().textContent()).toMatch(new RegExp(`^Restored trust, gossip, ledger, governance, ledger-in-transit from ${snapshot!.snapshotId}; read back exactly as recorded \\(state hash [0-9a-f]{12}…[0-9a-f]{6}\\)\\.$`))
    // Peers are connected: the report warns that they will send the later entries again (C's own chain is empty).
    expect(await report.locator('ul.warnings li').allTextContents()).toEqual([
      '2 peer(s) connected: entries newer than the snapshot that peers hold come back by anti-entropy, so this node catches up with them again (a restore on one node is not a network-wide rollback)'
    ])
    expect(browser!.problems).toEqual([])
  })
  // The same history, through the CLI without --json: each client command's table or sentence, cell by cell
  // from the API's own answer (after the browser tests, on this mesh's state).
  it('the CLI prints tables and sentences by default, built from exactly what --json prints', async () => {
    const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
    const run = async (...args: string[]): Promise<string> => (await cli([...args, '--data-dir', a.dataDir])).trimEnd()
    const json = async (...args: string[]): Promise<unknown> => await a.cli(args)

    // No names yet (the membership tests below set them): the NAME cells are empty.
    const peers = await json('peers') as Array<{ did: string, name: string | null, peerId: string, remoteAddr: string, via: string }>
    expect(peers.map((p) => p.name)).toEqual([null, null])
    expect(peers.map((p) => p.via)).toEqual(['direct', 'direct'])
    expect(await run('peers')).toBe(table(['NAME', 'DID', 'PEER ID', 'VIA', 'ADDRESS'], peers.map((p) => [p.name, p.did, p.peerId, p.via, p.remoteAddr])))
    expect(await run('balance', '--account', b.did)).toBe(`${b.did} has 100 ICN (credit limit 50000)`)
    // --json writes bigints tagged (`{"$bigint": "-100"}`), as the API does.
    const balances = await json('balance', '--all') as Array<{ account: string, name: string | null, currency: string, balance: { $bigint: string } }>
    expect(balances.map((r) => r.balance.$bigint).sort()).toEqual(['-100', '100'])
    expect(await run('balance', '--all')).toBe(table(['NAME', 'ACCOUNT', 'CURRENCY', 'BALANCE'], balances.map((r) => [r.name, r.account, r.currency, r.balance.$bigint])))
    const trust = await json('trust', '--subject', c.did) as { score: number, class: string }
    expect(await run('trust', '--subject', c.did)).toBe(`this node trusts ${c.did} at ${trust.score.toFixed(4)} in the economic graph (${trust.class})`)
    const proposals = await json('propose', '--list') as Array<{ id: string, kind: string, title: string, state: string, closesAt: number, proposer: string, proposerName: string | null }>
    expect(proposals.map((p) => p.state)).toEqual(['executed'])
    expect(proposals.map((p) => [p.proposer, p.proposerName])).toEqual([[a.did, null]])
    expect(await run('propose', '--list')).toBe(table(['ID', 'STATE', 'KIND', 'CLOSES', 'PROPOSER', 'TITLE'], proposals.map((p) => [p.id, p.state, p.kind, new Date(p.closesAt).toISOString(), p.proposer, p.title])))
    const snapshots = await json('snapshot', 'list') as Array<{ snapshotId: string, completedAt: number, participants: string[], root: string, initiator: string }>
    expect(await run('snapshot', 'list')).toBe(table(['SNAPSHOT', 'COMPLETED', 'PARTICIPANTS', 'ROOT', 'INITIATOR'], snapshots.map((x) => [x.snapshotId, new Date(x.completedAt).toISOString(), 3, x.root, a.did])))
    expect(await run('ledger', 'floors')).toBe('no chain floors: every author can sign')

    const paid = await run('pay', '--to', b.did, '--amount', '1', '--reference', 'from the CLI')
    const entry = new RegExp(`^paid 1 ICN to ${b.did} \\(entry ([0-9a-f]{64})\\); this node's balance is now -101 ICN$`).exec(paid)
    expect((await a.api.get(`/ledger/history?account=${a.did}`) as { entries: Array<{ id: string, reference: string }> }).entries.map((e) => e.reference)).toEqual(['paid in the browser', 'from the CLI'])
    expect((await a.api.get(`/ledger/history?account=${a.did}`) as { entries: Array<{ id: string }> }).entries[1]!.id).toBe(entry?.[1])
    const attested = await run('trust', '--subject', c.did, '--score', '0.5', '--graph', 'social')
    const attestation = (await a.api.get('/trust/attestations') as Array<{ cid: string, source: string, target: string, graph: string, score: number }>).find((x) => x.source === a.did && x.target === c.did && x.graph === 'social')
    expect(attested).toMatch(new RegExp(`^attested 0\\.5 for ${c.did} in the social graph \\(\\w+, ${attestation!.cid}\\)$`))
    const verified = (await run('snapshot', 'verify', snapshots[0]!.snapshotId)).split('\n')
    expect(verified[0]).toBe(`snapshot ${snapshots[0]!.snapshotId} is valid: 3 of 3 participants recomputed root ${snapshots[0]!.root}`)
    expect(verified.slice(2).map((line) => line.split(/ +/).slice(0, 3))).toEqual(nodes.map((n) => n.did).sort().map((did) => [did, 'yes', snapshots[0]!.root]).sort())
  }, 120_000) // ~14 CLI processes, each loading the node's modules: 20–30 s idle, over 60 s on a loaded machine

  // Membership, after the tests above (which read DIDs without names): names, invitations, the pay picker.
  it('the Members page lists every member by name, role, standing and connection; the other pages name the DIDs they show', async () => {
    const [a, b, c] = nodes as [MeshNode, MeshNode, MeshNode]
    const pageA = pages[0]!
    for (const [node, name] of [[b, 'Bob'], [c, 'Carol']] as const) expect(await node.api.post('/profile', { name })).toEqual({ did: node.did, name, status: 'recorded' })
    await goTo(pageA, 'members')
    const form = pageA.locator('[data-testid=profile-form]')
    await form.locator('input[name=name]').fill('  Alice ') // the node trims it
    expect(await answer(form, 'profile-outcome', async () => { await form.locator('button[type=submit]').click() })).toBe('This node is now called “Alice”; the other members receive the name by gossip.')
    const names = new Map([[a.did, 'Alice'], [b.did, 'Bob'], [c.did, 'Carol']])
    for (const [did, name] of names) await shows(pageA.locator(`[data-testid=member-row][data-did="${did}"] [data-testid=member-name]`), name)
    expect(await pageA.locator('[data-testid=own-name]').textContent()).toBe('Alice')

    const view = await a.api.get('/members') as { networkId: string, members: Array<{ did: string, name: string | null, connected: boolean }>, candidates: unknown[], invitations: unknown[], refused: Record<string, number> }
    expect(view.members.map((m) => [m.did, m.name, m.connected])).toEqual(view.members.map((m) => [m.did, names.get(m.did), m.did !== a.did]))
    const rows = await pageA.locator('[data-testid=member-row]').evaluateAll((trs) => trs.map((tr) => [
      tr.getAttribute('data-did'), ...['member-name', 'this-node', 'member-role', 'member-standing', 'member-connection'].map((id) => tr.querySelector(`[data-testid=${id}]`)?.textContent ?? null)
    ]))
    expect(rows).toEqual(view.members.map((m) => m.did === a.did
      ? [m.did, 'Alice', 'this node', 'steward', 'active', 'this node']
      : [m.did, names.get(m.did), null, 'member', 'active', 'connected']))
    expect(await pageA.locator('[data-testid=network-id]').textContent()).toBe(view.networkId)
    expect([view.candidates, view.invitations]).toEqual([[], []])
    expect(await pageA.locator('[data-testid=candidates-card] p').textContent()).toBe('Nobody is waiting: every DID that used one of this node\'s invitations is a member.')
    const refusedShown = await Promise.all(['not-a-member', 'cool-down', 'streams', 'frames', 'entries'].map(async (k) => await pageA.locator(`[data-testid=refused-${k}]`).textContent()))
    expect(Object.keys(view.refused).sort()).toEqual(['coolDown', 'entriesByNonMembers', 'framesFromNonMembers', 'notAMember', 'streams'])
    expect(refusedShown).toEqual(['notAMember', 'coolDown', 'streams', 'framesFromNonMembers', 'entriesByNonMembers'].map((k) => String(view.refused[k])))

    // The copy icon beside a DID copies the whole DID.
    await browser!.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url(a).slice(0, -1) })
    await pageA.locator(`[data-testid=member-row][data-did="${b.did}"] button.copy`).click()
    await pageA.locator(`[data-testid=member-row][data-did="${b.did}"] button.copy[data-copied=yes]`).waitFor()
    expect(await clipboardOf(pageA)).toBe(b.did)

    // Every page shows the name, the whole DID on hover.
    const named = async (scope: Locator, did: string): Promise<[string | null, string | null]> => {
      const el = scope.locator(`[data-did="${did}"]`).first()
      return [await el.textContent(), await el.getAttribute('title')]
    }
    await goTo(pageA, 'overview')
    expect(await shows(pageA.locator('[data-testid=node-name]'), 'Alice')).toBe('Alice')
    expect((await Promise.all([b, c].map(async (n) => await named(pageA.locator('[data-testid=peers]'), n.did)))).sort()).toEqual([['Bob', b.did], ['Carol', c.did]])
    await goTo(pageA, 'ledger')
    const accountRow = (did: string): Locator => pageA.locator(`[data-testid=account-row][data-account="${did}"][data-currency=ICN]`)
    await shows(accountRow(b.did).locator('td').first(), 'Bob')
    expect(await named(accountRow(b.did).locator('td').first(), b.did)).toEqual(['Bob', b.did])
    expect(await named(accountRow(a.did).locator('td').first(), a.did)).toEqual(['Alice (this node)', a.did])
    expect(await accountRow(b.did).locator('[data-testid=limit-set-by]').textContent()).toBe('proposal “Raise B\'s credit limit” by Alice (this node) (executed)')
    await shows(pageA.locator('[data-testid=history-row]').first().locator('td').nth(1), 'Alice (this node)')
    expect(await pageA.locator('[data-testid=history] select option').allTextContents()).toEqual(['Alice (this node)', 'Bob'])
    await goTo(pageA, 'trust')
    await shows(pageA.locator(`[data-testid=score-row][data-did="${c.did}"] td`).first(), 'Carol')
    await goTo(pageA, 'governance')
    const [executed] = await a.api.get('/proposals?state=executed') as Array<{ id: string }>
    await pageA.locator(`[data-testid=proposal-link][data-id="${executed!.id}"]`).click()
    await shows(pageA.locator('[data-testid=proposal-state]'), 'executed')
    expect(await named(pageA.locator('[data-testid=proposal] h3 + p'), a.did)).toEqual(['Alice (this node)', a.did]) // the proposer
    expect(await named(pageA.locator('[data-testid=proposal] table.kv').first(), b.did)).toEqual(['Bob', b.did]) // the payload's subject
    expect(await named(pageA.locator('[data-testid=charter]'), c.did)).toEqual(['Carol', c.did])
    expect(browser!.problems).toEqual([])
  })

  it('an invitation created on the Members page shows its code and the exact join command; a member\'s node may not invite, in words', async () => {
    const [a, b] = nodes as [MeshNode, MeshNode, MeshNode]
    const [pageA, pageB] = pages as [Page, Page, Page]
    await goTo(pageA, 'members')
    const invite = async (name: string, days: string, page = pageA): Promise<string> => {
      const on = page.locator('[data-testid=invite-form]')
      await on.locator('input[name=name]').fill(name)
      await on.locator('input[name=days]').fill(days)
      return await answer(on, 'invite-outcome', async () => { await on.locator('button[type=submit]').click() })
    }
    expect(await invite('Dana', 'soon')).toBe(refused(`field 'expiresInMs' must be a number in [60000, ${365 * DAY_MS}]`, 'BAD_REQUEST', 400))
    const created = /^Invitation (\S+) created for Dana: it works once, until (\S+)\.$/.exec(await invite('Dana', '2'))
    const [id, until] = [created![1]!, created![2]!]
    const code = (await pageA.locator('[data-testid=invitation-code]').textContent())!
    expect(code.startsWith('icn-invite:')).toBe(true)
    expect(await pageA.locator('[data-testid=join-command]').textContent()).toBe(`icn-node join '${code}' --data-dir ./icn-data --name 'Dana'`)
    // The code is the node's: signed by A for this network, naming Dana, expiring 2 days after it was made.
    const { envelope } = decodeInvitationCode(code)
    const [record] = await a.api.get('/invitations') as Array<{ id: string, name: string, createdAt: number, expiresAt: number, state: string }>
    expect(record).toEqual({ id, name: 'Dana', createdAt: record!.createdAt, expiresAt: record!.createdAt + 2 * DAY_MS, state: 'pending' })
    expect([envelope.cid, envelope.signer, envelope.payload.network, envelope.payload.name, envelope.payload.expiresAt, new Date(record!.expiresAt).toISOString()])
      .toEqual([id, a.did, (await a.api.get('/members') as { networkId: string }).networkId, 'Dana', record!.expiresAt, until])
    await pageA.locator('[data-testid=copy-code]').click()
    await pageA.locator('[data-testid=copy-code][data-copied=yes]').waitFor()
    expect(await clipboardOf(pageA)).toBe(code)
    // This node's invitations: the new one, pending.
    const row = pageA.locator(`[data-testid=invitation-row][data-id="${id}"]`)
    expect(await shows(row.locator('[data-testid=invitation-state]'), 'pending')).toBe('pending')
    expect(await row.locator('[data-testid=invitation-name]').textContent()).toBe('Dana')

    // B is a member, not a steward: the charter lets stewards invite. Its page shows the node's refusal and nothing is written.
    await goTo(pageB, 'members')
    const notPermitted = refused('the charter lets steward invite; this node is a member', 'NOT_PERMITTED', 422)
    expect(await invite('Eve', '7', pageB)).toBe(notPermitted)
    expect(await refusalOf(b.api.post('/invitations', { name: 'Eve' }))).toBe(notPermitted)
    expect(await b.api.get('/invitations')).toEqual([])
    expect(await pageB.locator('[data-testid=invitation]').count()).toBe(0)
    expect(browser!.problems).toEqual([])
  })

  it('the pay form\'s member picker pays a member by name, and the balances change', async () => {
    const [a, , c] = nodes as [MeshNode, MeshNode, MeshNode]
    const pageA = pages[0]!
    const before = BigInt(await balanceOf(a, a.did))
    const cBefore = BigInt(await balanceOf(a, c.did))
    await goTo(pageA, 'ledger')
    const pay = pageA.locator('[data-testid=pay-form]')
    // Every member but this node, by name.
    expect(await pay.locator('select[name=to] option').allTextContents()).toEqual(['choose a member…', 'Bob', 'Carol'])
    await pay.locator('select[name=to]').selectOption({ label: 'Carol' })
    await pay.locator('input[name=amount]').fill('25')
    await pay.locator('input[name=reference]').fill('picked by name')
    const outcome = await answer(pay, 'pay-outcome', async () => { await pay.locator('button[type=submit]').click() })
    const entry = new RegExp(`^Paid 25 ICN to Carol \\(${c.did}\\): entry ([0-9a-f]{64})\\. This node's balance is now ${before - 25n} ICN\\.$`).exec(outcome)
    expect(entry).not.toBeNull()
    expect([await balanceOf(a, a.did), await balanceOf(a, c.did)]).toEqual([String(before - 25n), String(cBefore + 25n)])
    const rowC = pageA.locator(`[data-testid=account-row][data-account="${c.did}"][data-currency=ICN]`)
    expect(await shows(rowC.locator('[data-testid=balance]'), String(cBefore + 25n))).toBe(String(cBefore + 25n))
    expect(await rowC.locator('td').first().textContent()).toBe('Carol')
    const history = await a.api.get(`/ledger/history?account=${c.did}`) as { entries: Array<{ id: string, reference: string | null }> }
    expect(history.entries.map((e) => [e.id, e.reference])).toEqual([[entry![1], 'picked by name']])
    await eventually('C to apply the payment', c.api, async () => await balanceOf(c, c.did) === String(cBefore + 25n) ? true : undefined)
    expect(browser!.problems).toEqual([])
  })
})
