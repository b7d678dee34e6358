// The dashboard's server side without a browser: static files, sign-in, cookie + CSRF, own-origin checks,
// session expiry and the session limit (the browser flows are in dashboard.test.ts).
import { mkdir, writeFile } from 'node:fs/promises'
import { get } from 'node:http'
import { join } from 'node:path'
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { type ApiServer, startApiServer } from '../src/api.js'
import { DashboardSessions, MAX_SESSIONS, SESSION_IDLE_MS } from '../src/dashboard.js'
import { createLogger } from '../src/logger.js'

const token = 'c'.repeat(64)

async function withServer (fn: (server: ApiServer, call: (method: string, path: string, init?: { body?: string, headers?: Record<string, string> }) => Promise<{ status: number, headers: Headers, text: string }>) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    await mkdir(join(dir, 'assets'))
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>x</title>')
    await writeFile(join(dir, 'assets', 'app-1.js'), 'console.log(1)')
    const server = await startApiServer({
      token,
      logger: createLogger('silent'),
      dashboardDir: dir,
      routes: [
        { method: 'GET', path: '/hello', handler: async () => ({ hello: 'coop' }) },
        { method: 'POST', path: '/write', handler: async ({ body }) => ({ wrote: body }) }
      ]
    })
    try {
      await fn(server, async (method, path, init = {}) => {
        const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { method, body: init.body, headers: init.headers })
        return { status: response.status, headers: response.headers, text: await response.text() }
      })
    } finally {
      await server.close()
    }
  })
}

describe('dashboard files and sessions on the API server', () => {
  it('serves the built files without a token, with a strict CSP; anything else stays behind the token', async () => {
    await withServer(async (server, call) => {
      const page = await call('GET', '/')
      expect([page.status, page.headers.get('content-type'), page.text]).toEqual([200, 'text/html; charset=utf-8', '<!doctype html><title>x</title>'])
      expect(page.headers.get('content-security-policy')).toBe("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
      expect([page.headers.get('x-frame-options'), page.headers.get('cache-control')]).toEqual(['DENY', 'no-store'])
      const script = await call('GET', '/assets/app-1.js')
      expect([script.status, script.headers.get('content-type'), script.text]).toEqual([200, 'text/javascript; charset=utf-8', 'console.log(1)'])
      expect(JSON.parse((await call('GET', '/assets/missing.js')).text)).toEqual({ error: 'ApiError', code: 'NOT_FOUND', message: 'no dashboard file /assets/missing.js' })
      // An encoded path separator is no dashboard file name: the API's token check answers.
      expect((await call('GET', '/assets/..%2f..%2fapi-token')).status).toBe(401)
      expect((await call('GET', '/hello')).status).toBe(401)
      // DNS rebinding: another Host gets nothing, not even the page (fetch cannot set Host: node:http can).
      const rebound = await new Promise<string>((resolve, reject) => {
        get({ host: '127.0.0.1', port: server.port, path: '/', headers: { host: `evil.example:${server.port}` } }, (res) => {
          let text = ''
          res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => { resolve(`${res.statusCode ?? 0} ${text}`) })
        }).on('error', reject)
      })
      expect(rebound.slice(0, 4)).toBe('403 ')
      expect(JSON.parse(rebound.slice(4))).toEqual({
        error: 'ApiError', code: 'FORBIDDEN', message: `the dashboard answers only on http://127.0.0.1:${server.port} (Host was evil.example:${server.port})`
      })
    })
  })

  it('signs in with the token only; the session cookie needs its CSRF token and the own origin; sign-out ends it', async () => {
    await withServer(async (server, call) => {
      expect(JSON.parse((await call('POST', '/session', { body: '{"token":"wrong"}' })).text)).toEqual({ error: 'ApiError', code: 'UNAUTHORIZED', message: 'wrong API token (the node writes it to <data-dir>/api-token at each start)' })
      expect((await call('POST', '/session', { body: JSON.stringify({ token }), headers: { origin: 'http://127.0.0.1:1' } })).status).toBe(403)
      const signIn = await call('POST', '/session', { body: JSON.stringify({ token }) })
      expect(signIn.status).toBe(200)
      const { csrf } = JSON.parse(signIn.text) as { csrf: string }
      expect(csrf).toMatch(/^[0-9a-f]{64}$/)
      const setCookie = signIn.headers.get('set-cookie')!
      expect(setCookie).toMatch(new RegExp(`^icn_session_${server.port}=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=/$`))
      const cookie = setCookie.split(';')[0]!

      expect(await call('GET', '/hello', { headers: { cookie, 'x-icn-csrf': csrf } })).toMatchObject({ status: 200, text: '{"hello":"coop"}' })
      expect(await call('POST', '/write', { body: '{"a":1}', headers: { cookie, 'x-icn-csrf': csrf, origin: `http://127.0.0.1:${server.port}`, 'sec-fetch-site': 'same-origin' } })).toMatchObject({ status: 200, text: '{"wrote":{"a":1}}' })
      const forbidden = async (headers: Record<string, string>): Promise<unknown> => JSON.parse((await call('POST', '/write', { body: '{"a":1}', headers: { cookie, ...headers } })).text)
      expect(await forbidden({})).toEqual({ error: 'ApiError', code: 'FORBIDDEN', message: 'missing or wrong x-icn-csrf header: a dashboard session\'s requests must carry its CSRF token' })
      expect(await forbidden({ 'x-icn-csrf': 'f'.repeat(64) })).toMatchObject({ code: 'FORBIDDEN' })
      expect(await forbidden({ 'x-icn-csrf': csrf, origin: 'http://127.0.0.1:9' })).toEqual({ error: 'ApiError', code: 'FORBIDDEN', message: 'cross-site request refused (Origin http://127.0.0.1:9)' })
      expect(await forbidden({ 'x-icn-csrf': csrf, 'sec-fetch-site': 'same-site' })).toEqual({ error: 'ApiError', code: 'FORBIDDEN', message: 'cross-site request refused (Sec-Fetch-Site same-site)' })
      // The bearer token still works alone; a reloaded page gets its CSRF token back from the cookie.
      expect((await call('GET', '/hello', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
      expect(JSON.parse((await call('GET', '/session', { headers: { cookie } })).text)).toEqual({ csrf })

      expect((await call('POST', '/session/end', { headers: { cookie } })).status).toBe(403) // a write: CSRF-checked
      const end = await call('POST', '/session/end', { headers: { cookie, 'x-icn-csrf': csrf } })
      expect([end.status, end.text, end.headers.get('set-cookie')]).toEqual([200, '{"signedOut":true}', `icn_session_${server.port}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`])
      expect((await call('GET', '/hello', { headers: { cookie, 'x-icn-csrf': csrf } })).status).toBe(401)
      expect((await call('GET', '/session', { headers: { cookie } })).status).toBe(401)
    })
  })

  it('forgets a session idle for SESSION_IDLE_MS, and the least recently used one beyond MAX_SESSIONS', () => {
    let now = 1_000_000
    const sessions = new DashboardSessions(token, () => 4000, () => now)
    const own = { host: '127.0.0.1:4000' }
    const signIn = (): Record<string, string> => {
      const s = sessions.signIn(own, { token })
      return { ...own, cookie: s.cookie.split(';')[0]!, 'x-icn-csrf': s.csrf }
    }
    const first = signIn()
    now += SESSION_IDLE_MS
    expect(sessions.authorize(first)).toBe(true) // used exactly at the limit: still live, and the idle time restarts
    now += SESSION_IDLE_MS + 1
    expect(sessions.authorize(first)).toBe(false)

    const all = Array.from({ length: MAX_SESSIONS }, () => { now += 1; return signIn() })
    expect(sessions.authorize(all[0]!)).toBe(true) // now the most recently used
    now += 1
    signIn() // one more than the limit: the least recently used (the second) goes
    expect(all.map((h) => sessions.authorize(h))).toEqual(all.map((_, i) => i !== 1))
  })
})
