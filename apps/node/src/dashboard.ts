import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { IncomingHttpHeaders } from 'node:http'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { ApiError } from './errors.js'

/**
 * The operator dashboard on the API port: its built files (package `@icn/dashboard`) and the
 * browser sessions that sign in with the API token.
 *
 * Auth model (docs/dashboard.md): `POST /session {token}` checks the token (constant time) and
 * sets an `HttpOnly; SameSite=Strict` session cookie named after the port (cookies do not
 * separate ports, two nodes on one host must not overwrite each other's session). The answer
 * carries the session's CSRF token, which the page keeps in memory and sends as `x-icn-csrf` on
 * every API call; `GET /session` gives it back after a reload. A cookie alone authorises
 * nothing. Cookie requests must also come from the node's own origin: `Host` is
 * 127.0.0.1/localhost on this port (no DNS rebinding), `Origin` (when sent) is that origin and
 * `Sec-Fetch-Site` (when sent) is `same-origin` or `none`.
 */

/** Header that carries a session's CSRF token. */
export const CSRF_HEADER = 'x-icn-csrf'
/** A session unused this long is forgotten. */
export const SESSION_IDLE_MS = 12 * 3600 * 1000
/** At most this many sessions at once; signing in beyond it forgets the least recently used. */
export const MAX_SESSIONS = 64

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json'
}

/** Headers for the dashboard's HTML: only the node's own scripts, styles and images; never framed. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer'
}

/**
 * The directory of the built dashboard (`@icn/dashboard`'s `dist/`), or `undefined` when the package is not
 * installed beside the node (the API then serves no dashboard; a package that is there but not built answers
 * `GET /` with a 404 saying so).
 */
export function dashboardDir (): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@icn/dashboard/package.json')), 'dist')
  } catch {
    return undefined
  }
}

/** A built file of the dashboard. */
export interface DashboardAsset { body: Buffer, type: string }

/** Reads the file `GET <path>` serves, or `undefined` when the path is not one of the dashboard's (`/`, `/assets/<name>`). */
export async function readAsset (dir: string, path: string): Promise<DashboardAsset | undefined> {
  let file: string
  if (path === '/' || path === '/index.html') file = 'index.html'
  else if (/^\/assets\/[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(path)) file = join('assets', path.slice('/assets/'.length))
  else return undefined
  const ext = file.slice(file.lastIndexOf('.'))
  const type = CONTENT_TYPES[ext]
  if (type === undefined) throw new ApiError(404, 'NOT_FOUND', `no dashboard file ${path}`)
  try {
    return { body: await readFile(join(dir, file)), type }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    if (file === 'index.html') throw new ApiError(404, 'NOT_FOUND', `the dashboard is not built (no ${join(dir, file)}; run \`pnpm build\`)`)
    throw new ApiError(404, 'NOT_FOUND', `no dashboard file ${path}`)
  }
}

interface Session { readonly csrf: string, lastUsed: number }

/** What a successful sign-in answers: the cookie to set and the CSRF token for the page. */
export interface SignIn { cookie: string, csrf: string }

function equalSecrets (given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

function header (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** Browser sessions of one API server. */
export class DashboardSessions {
  private readonly sessions = new Map<string, Session>()

  constructor (private readonly token: string, private readonly port: () => number, private readonly now: () => number = Date.now) {}

  get cookieName (): string { return `icn_session_${this.port()}` }

  /**
   * Throws 403 unless the request comes from the dashboard's own origin: a `Host` of
   * 127.0.0.1 or localhost on this port, `Origin` (if any) the same, `Sec-Fetch-Site` (if any) same-origin or none.
   */
  requireOwnOrigin (headers: IncomingHttpHeaders): void {
    const port = this.port()
    const own = [`127.0.0.1:${port}`, `localhost:${port}`]
    const host = header(headers, 'host')
    if (host === undefined || !own.includes(host)) throw new ApiError(403, 'FORBIDDEN', `the dashboard answers only on http://127.0.0.1:${port} (Host was ${host ?? 'missing'})`)
    const origin = header(headers, 'origin')
    if (origin !== undefined && !own.some((o) => origin === `http://${o}`)) throw new ApiError(403, 'FORBIDDEN', `cross-site request refused (Origin ${origin})`)
    const site = header(headers, 'sec-fetch-site')
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new ApiError(403, 'FORBIDDEN', `cross-site request refused (Sec-Fetch-Site ${site})`)
  }

  /** `POST /session {token}`: a new session for the right token, 401 otherwise. */
  signIn (headers: IncomingHttpHeaders, body: unknown): SignIn {
    this.requireOwnOrigin(headers)
    const token = (body as Record<string, unknown>).token
    if (typeof token !== 'string' || !equalSecrets(token, this.token)) throw new ApiError(401, 'UNAUTHORIZED', 'wrong API token (the node writes it to <data-dir>/api-token at each start)')
    this.expire()
    while (this.sessions.size >= MAX_SESSIONS) {
      let oldest: string | undefined
      let oldestUse = Infinity
      for (const [id, s] of this.sessions) if (s.lastUsed < oldestUse) { oldest = id; oldestUse = s.lastUsed }
      this.sessions.delete(oldest!)
    }
    const id = randomBytes(32).toString('hex')
    const csrf = randomBytes(32).toString('hex')
    this.sessions.set(id, { csrf, lastUsed: this.now() })
    return { cookie: `${this.cookieName}=${id}; HttpOnly; SameSite=Strict; Path=/`, csrf }
  }

  /** `GET /session`: the CSRF token of the cookie's session (a reloaded page reads it again), 401 without one. */
  resume (headers: IncomingHttpHeaders): { csrf: string } {
    this.requireOwnOrigin(headers)
    const session = this.sessionOf(headers)
    if (session === undefined) throw new ApiError(401, 'UNAUTHORIZED', 'not signed in')
    return { csrf: session.csrf }
  }

  /** `POST /session/end`: forgets the session (CSRF-checked like any write); answers the cookie that clears it. */
  signOut (headers: IncomingHttpHeaders): string {
    this.authorize(headers)
    const id = this.cookieOf(headers)
    if (id !== undefined) this.sessions.delete(id)
    return `${this.cookieName}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`
  }

  /**
   * True when the request carries a live session cookie with its CSRF token from the node's own origin;
   * false when it carries no session (the caller then asks for the bearer token); 403 for a session
   * without the right CSRF token or from another origin.
   */
  authorize (headers: IncomingHttpHeaders): boolean {
    const session = this.sessionOf(headers)
    if (session === undefined) return false
    this.requireOwnOrigin(headers)
    const csrf = header(headers, CSRF_HEADER)
    if (csrf === undefined || !equalSecrets(csrf, session.csrf)) throw new ApiError(403, 'FORBIDDEN', `missing or wrong ${CSRF_HEADER} header: a dashboard session's requests must carry its CSRF token`)
    session.lastUsed = this.now()
    return true
  }

  private cookieOf (headers: IncomingHttpHeaders): string | undefined {
    const cookies = header(headers, 'cookie')
    if (cookies === undefined) return undefined
    const prefix = `${this.cookieName}=`
    for (const part of cookies.split(';')) {
      const c = part.trim()
      if (c.startsWith(prefix)) return c.slice(prefix.length)
    }
    return undefined
  }

  private sessionOf (headers: IncomingHttpHeaders): Session | undefined {
    const id = this.cookieOf(headers)
    if (id === undefined) return undefined
    const session = this.sessions.get(id)
    if (session === undefined) return undefined
    if (this.now() - session.lastUsed > SESSION_IDLE_MS) { this.sessions.delete(id); return undefined }
    return session
  }

  private expire (): void {
    const now = this.now()
    for (const [id, s] of this.sessions) if (now - s.lastUsed > SESSION_IDLE_MS) this.sessions.delete(id)
  }
}
