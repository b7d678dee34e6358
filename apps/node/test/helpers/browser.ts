// Headless Debian Chromium driven by playwright-core, for the dashboard's end-to-end tests. Never a browser
// download: `pnpm test` runs scripts/ensure-chromium.mjs first, which installs Debian's `chromium` if missing.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import axe from 'axe-core'
import { type BrowserContext, type Locator, type Page, chromium } from 'playwright-core'
import { ApiCallError } from '../../src/client.js'
import { readApiToken } from '../../src/data-dir.js'
import type { MeshNode } from './cluster.js'

export const CHROMIUM = '/usr/bin/chromium'

/** Flags for a closed network: no background connections, no updates, no sync, no QUIC. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]

export interface Browser {
  context: BrowserContext
  /** A new tab; page errors and failed console messages are collected in `problems`. */
  newPage(): Promise<Page>
  /** Uncaught page errors seen so far. */
  readonly problems: string[]
  close(): Promise<void>
}

/** One Chromium with a fresh, empty user-data dir (removed on close). */
export async function launchBrowser (): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`node scripts/ensure-chromium.mjs\` (pnpm test does) to install Debian's chromium`)
  const userDataDir = await mkdtemp(join(tmpdir(), 'icn-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 }
  })
  const problems: string[] = []
  return {
    context,
    problems,
    newPage: async () => {
      const page = await context.newPage()
      page.on('pageerror', (err) => { problems.push(`${page.url()}: ${err.message}`) })
      return page
    },
    close: async () => {
      await context.close()
      await rm(userDataDir, { recursive: true, force: true })
    }
  }
}

/** Closes the browser, stops every node and removes their directory: answers the nodes' exit codes. */
export async function closeBrowserAndMesh (browser: Browser | undefined, nodes: readonly MeshNode[], root: string): Promise<Array<number | string>> {
  await browser?.close()
  const codes = await Promise.all(nodes.map(async (n) => await n.stop()))
  await rm(root, { recursive: true, force: true })
  return codes
}

/** The dashboard's address on `node` (its API port), with an optional `#/page` hash. */
export const dashboardUrl = (node: MeshNode, hash = ''): string => `http://127.0.0.1:${node.runtime.apiPort}/${hash}`

/** A pattern matching exactly `text`. */
export const exactly = (text: string): RegExp => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)

/**
 * Each step works on the tab in front: Chromium throttles the timers of background tabs to about one a
 * second, so a click there takes ~2 s to be handled.
 */
export async function front (page: Page): Promise<Page> {
  await page.bringToFront()
  return page
}

/** Waits (Playwright's DOM waiting, no sleep) until `locator` shows exactly `text`, and returns it. */
export async function shows (locator: Locator, text: string, timeout = 20_000): Promise<string> {
  await front(locator.page())
  await locator.filter({ hasText: exactly(text) }).first().waitFor({ timeout })
  return text
}

/**
 * Runs `submit` and returns the words of the answer it produced: the element `[data-testid=<testid>]` in `scope`
 * whose `data-seq` (the form's submission count) moved on by one, so an equal earlier answer is never read.
 */
export async function answer (scope: Locator | Page, testid: string, submit: () => Promise<void>, timeout = 20_000): Promise<string> {
  await front('page' in scope ? scope.page() : scope)
  const seq = Number(await scope.locator(`[data-testid=${testid}]`).evaluateAll((els) => els[0]?.getAttribute('data-seq') ?? '0'))
  await submit()
  const fresh = scope.locator(`[data-testid=${testid}][data-seq="${seq + 1}"]`)
  await fresh.waitFor({ timeout })
  return (await fresh.textContent()) ?? ''
}

/** Opens a dashboard page through its nav link. */
export async function goTo (page: Page, name: string): Promise<void> {
  await front(page)
  await page.click(`nav a[href="#/${name}"]`)
  await page.locator(`[data-testid=page-${name}]`).waitFor()
}

/** Signs `page` in to `node`'s dashboard with the node's API token and waits for the overview. */
export async function signIn (page: Page, node: MeshNode): Promise<void> {
  await page.goto(dashboardUrl(node))
  await page.fill('input[name=token]', await readApiToken(node.dataDir))
  await page.click('[data-testid=signin-form] button[type=submit]')
  await shows(page.locator('[data-testid=node-did]'), node.did)
}

/** Fills each named field of `form` as an operator would: a select picks the value, anything else is typed. */
export async function fillFields (form: Locator, fields: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(fields)) {
    const field = form.locator(`[name="${name}"]`)
    if (await field.evaluate((el) => el.tagName) === 'SELECT') await field.selectOption(value)
    else await field.fill(value)
  }
}

/** The words a form shows for a refused request: the node's message, typed code and HTTP status. */
export const refused = (message: string, code: string, status: number): string => `Refused: ${message} (${code}, HTTP ${status})`

/** What the node answers when `call` is refused, in the dashboard's words (the same request, sent by the API client). */
export async function refusalOf (call: Promise<unknown>): Promise<string> {
  const err = await call.then(() => undefined, (e: unknown) => e)
  if (!(err instanceof ApiCallError)) throw new Error(`expected a refusal, got ${String(err)}`)
  return refused(err.message.slice(`${err.status} ${err.remoteCode}: `.length), err.remoteCode, err.status)
}

// In-page probes, as script text: this package's TypeScript has no DOM types.

/** The document's width, each nav link's box, and the first elements sticking out of the screen (not inside a scrolling box). */
const LAYOUT_PROBE = `({
  scrollWidth: document.documentElement.scrollWidth,
  wide: [...document.querySelectorAll('body *')].filter((e) => {
    if (e.getBoundingClientRect().right <= window.innerWidth) return false
    for (let p = e.parentElement; p !== null; p = p.parentElement) if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return false
    return true
  }).slice(0, 3).map((e) => e.tagName.toLowerCase() + (e.className === '' ? '' : '.' + e.className) + (e.dataset.testid === undefined ? '' : '[' + e.dataset.testid + ']')),
  links: [...document.querySelectorAll('header nav a')].map((a) => { const r = a.getBoundingClientRect(); return { text: a.textContent, left: r.left, right: r.right, height: r.height } })
})`
/** axe-core's violations on the whole document. */
const AXE_RUN = `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) })))`

/** What overflows at `width`: the document wider than the screen, a nav link off screen. */
export async function layoutProblems (page: Page, where: string, width: number, nav = true): Promise<string[]> {
  const found = await page.evaluate(LAYOUT_PROBE) as { scrollWidth: number, wide: string[], links: Array<{ text: string, left: number, right: number, height: number }> }
  const problems: string[] = []
  if (found.scrollWidth > width) problems.push(`${where}: the page is ${found.scrollWidth} px wide (${found.wide.join(', ')})`)
  if (nav && found.links.length !== 6) problems.push(`${where}: ${found.links.length} nav links`)
  for (const link of found.links) if (link.left < 0 || link.right > width || link.height === 0) problems.push(`${where}: nav link ${link.text} off screen`)
  return problems
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function axeProblems (page: Page, where: string): Promise<string[]> {
  if (await page.evaluate("typeof axe === 'undefined'") === true) await page.evaluate(axe.source)
  const violations = await page.evaluate(AXE_RUN) as Array<{ id: string, impact: string | null, targets: string[] }>
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${where}: ${v.id} (${v.impact ?? ''}) at ${v.targets.join(', ')}`)
}
