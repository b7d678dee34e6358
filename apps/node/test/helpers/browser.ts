// Headless Debian Chromium driven by playwright-core, for the dashboard's end-to-end tests. Never a browser
// download: `pnpm test` runs scripts/ensure-chromium.mjs first, which installs Debian's `chromium` if missing.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, type Page, chromium } from 'playwright-core'

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
