import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { timingSafeEqual } from 'node:crypto'
import { fromJson, toJson } from '@icn/identity'
import { DashboardSessions, PAGE_HEADERS, readAsset } from './dashboard.js'
import { ApiError } from './errors.js'
import type { Logger } from './logger.js'

/** A parsed API request. */
export interface ApiRequest {
  /** The JSON body (bytes and bigints restored as by `fromJson`), `undefined` for GET. */
  body: unknown
  query: URLSearchParams
  /** Path segments after the route prefix, e.g. `['abc']` for `/snapshots/abc/verify` on route `/snapshots/:id/verify`. */
  params: Record<string, string>
  /** Aborted when the client goes away before the answer is written (a long-poll can stop waiting). */
  signal: AbortSignal
}

export type ApiHandler = (request: ApiRequest) => Promise<unknown>

/** A handler's answer that is not JSON (e.g. the Prometheus text of `GET /metrics`): sent as is with its content type. */
export class RawAnswer {
  constructor (readonly body: string, readonly contentType: string) {}
}

/** A route: method, path pattern (`:name` captures one segment) and handler. */
export interface ApiRoute {
  method: 'GET' | 'POST'
  path: string
  handler: ApiHandler
  /**
   * A long-poll: its handler may wait (bounded) for something to happen. When
   * the server closes, `ApiServerInit.release` is called and these requests'
   * answers are written before the connections are closed.
   */
  longPoll?: boolean
}

export interface ApiServerInit {
  token: string
  routes: ApiRoute[]
  logger: Logger
  /** @default 0 (a free port) */
  port?: number
  /** @default 1048576 */
  maxBodyBytes?: number
  /** Called first by `close()`: ends the waits of pending long-poll handlers so they answer. */
  release?: () => void
  /**
   * Serve the operator dashboard built in this directory (`GET /`, `GET /assets/*`) and accept its
   * sessions (`POST /session`, `GET /session`, `POST /session/end`; cookie + CSRF token, see dashboard.ts).
   * @default undefined (API only)
   */
  dashboardDir?: string
}

export interface ApiServer {
  readonly port: number
  close(): Promise<void>
}

/** A path parameter, percent-decoded; a malformed escape (`%E0%A4%A`) is the client's fault (400), not a URIError (500). */
function decodeSegment (segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new ApiError(400, 'BAD_REQUEST', `path segment '${segment.slice(0, 64)}' is not valid percent-encoding`)
  }
}

function matchRoute (routes: ApiRoute[], method: string, path: string): { route: ApiRoute, params: Record<string, string> } | 'wrong-method' | undefined {
  const segments = path.split('/').filter((s) => s !== '')
  let methodMismatch = false
  for (const route of routes) {
    const pattern = route.path.split('/').filter((s) => s !== '')
    if (pattern.length !== segments.length) continue
    const params: Record<string, string> = {}
    const matches = pattern.every((p, i) => {
      if (p.startsWith(':')) { params[p.slice(1)] = decodeSegment(segments[i]!); return true }
      return p === segments[i]
    })
    if (!matches) continue
    if (route.method !== method) { methodMismatch = true; continue }
    return { route, params }
  }
  return methodMismatch ? 'wrong-method' : undefined
}

function tokenMatches (header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false
  const given = Buffer.from(header.slice('Bearer '.length))
  const expected = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

const tooLarge = (limit: number): ApiError => new ApiError(413, 'BAD_REQUEST', `request body exceeds ${limit} bytes`)

/** Reads a body of at most `limit` bytes; refuses a larger one as soon as it is known (declared or read), without reading on. */
async function readBody (req: IncomingMessage, limit: number): Promise<string> {
  if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLarge(limit)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw tooLarge(limit)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * What a refused request's declared body may still be read of (and dropped), so its client reads the answer
 * rather than an EPIPE on the body it is still sending: a few times the body limit. A larger declared body,
 * or one of unknown length, is not read: the answer goes out and the connection closes.
 */
const DRAIN_LIMIT_BYTES = 4 * 1024 * 1024

/**
 * A write refused because the disk holding the data directory is full: Node's `ENOSPC`, LMDB's
 * "No space left on device" (lmdb-js gives it no string code) or a full LMDB map (`MDB_MAP_FULL`).
 */
function isStorageFull (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const { code, errno } = err as { code?: unknown, errno?: unknown }
  return code === 'ENOSPC' || errno === -28 || code === -30792 || err.message.startsWith('No space left on device') || err.message.includes('MDB_MAP_FULL')
}

/** A write the disk failed (`EIO`): what LMDB reports when the disk fills while its commit is flushed. */
function isStorageFailure (err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const { code, errno } = err as { code?: unknown, errno?: unknown }
  return code === 'EIO' || errno === -5 || err.message.startsWith('Input/output error')
}

/** Maps an error to an HTTP status: typed errors with a `code` are the caller's fault (4xx), a full or failing disk 507, anything else 500. */
function statusOf (err: unknown): number {
  if (err instanceof ApiError) return err.status
  if (isStorageFull(err) || isStorageFailure(err)) return 507
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'string') return 422
  return 500
}

// On every answer: nothing is cached, sniffed as another type or framed.
const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' }

/** Writes the answer; resolves once it has been handed to the socket (or the connection is gone). */
async function send (res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): Promise<void> {
  await sendRaw(res, status, Buffer.from(toJson(value)), { 'content-type': 'application/json', ...headers })
}

async function sendRaw (res: ServerResponse, status: number, body: Buffer, headers: Record<string, string>): Promise<void> {
  if (res.destroyed || res.writableEnded) return
  await new Promise<void>((resolve) => {
    res.once('close', resolve)
    res.writeHead(status, { ...COMMON_HEADERS, ...headers, 'content-length': body.length })
    res.end(body, resolve)
  })
}

/** Reads and discards what is left of a request body. */
/** Reads (and drops) what is left of a request's body, up to `limit` bytes: false when more was coming (or it failed). */
async function drain (req: IncomingMessage, limit: number): Promise<boolean> {
  let size = 0
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > limit) return false
    }
    return true
  } catch {
    return false // the client went away
  }
}

async function readJsonObject (req: IncomingMessage, limit: number): Promise<unknown> {
  const text = await readBody(req, limit)
  if (text.trim() === '') return {}
  let body: unknown
  try {
    body = fromJson(text)
  } catch {
    throw new ApiError(400, 'BAD_REQUEST', 'request body is not valid JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'BAD_REQUEST', 'request body must be a JSON object')
  return body
}

/**
 * The node's local HTTP/JSON API: bound to 127.0.0.1 only, every request must
 * carry `Authorization: Bearer <token>` or, with `dashboardDir`, a dashboard
 * session cookie and its CSRF token (401 otherwise, 403 for a session request
 * without its CSRF token or from another origin); malformed JSON is 400,
 * unknown routes 404, wrong methods 405, domain validation errors 422.
 */
export async function startApiServer (init: ApiServerInit): Promise<ApiServer> {
  const maxBody = init.maxBodyBytes ?? 1024 * 1024
  const inFlight = new Set<Promise<void>>()
  const longPolls = new Set<Promise<void>>()
  let port = 0
  const dashboardDir = init.dashboardDir
  const sessions = dashboardDir === undefined ? undefined : new DashboardSessions(init.token, () => port)
  /** Answers the dashboard's own requests (files, sign-in/out); false when `req` is an API call. */
  const dashboardRequest = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    if (sessions === undefined || dashboardDir === undefined) return false
    const method = req.method ?? 'GET'
    if (path === '/session') {
      if (method === 'POST') {
        const signIn = sessions.signIn(req.headers, await readJsonObject(req, 4096))
        await send(res, 200, { csrf: signIn.csrf }, { 'set-cookie': signIn.cookie })
      } else if (method === 'GET') await send(res, 200, sessions.resume(req.headers))
      else throw new ApiError(405, 'BAD_REQUEST', `${method} is not allowed on /session`)
      return true
    }
    if (path === '/session/end') {
      if (method !== 'POST') throw new ApiError(405, 'BAD_REQUEST', `${method} is not allowed on /session/end`)
      await send(res, 200, { signedOut: true }, { 'set-cookie': sessions.signOut(req.headers) })
      return true
    }
    if (method !== 'GET') return false
    const asset = await readAsset(dashboardDir, path)
    if (asset === undefined) return false
    sessions.requireOwnOrigin(req.headers)
    await sendRaw(res, 200, asset.body, { 'content-type': asset.type, ...(asset.type.startsWith('text/html') ? PAGE_HEADERS : {}) })
    return true
  }
  const server = createServer((req, res) => {
    let longPoll = false
    const gone = new AbortController()
    res.once('close', () => { if (!res.writableFinished) gone.abort() })
    const task = (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      try {
        // Nothing is awaited here for an API path, so a long-poll is still known synchronously (below).
        const dashboardPath = url.pathname === '/' || url.pathname === '/index.html' || url.pathname.startsWith('/assets/') || url.pathname.startsWith('/session')
        if (dashboardPath && await dashboardRequest(req, res, url.pathname)) return
        if (!tokenMatches(req.headers.authorization, init.token) && sessions?.authorize(req.headers) !== true) {
          throw new ApiError(401, 'UNAUTHORIZED', 'missing or wrong API token (Authorization: Bearer <token from the data directory>)')
        }
        const match = matchRoute(init.routes, req.method ?? 'GET', url.pathname)
        if (match === undefined) throw new ApiError(404, 'NOT_FOUND', `no route ${req.method ?? ''} ${url.pathname}`)
        if (match === 'wrong-method') throw new ApiError(405, 'BAD_REQUEST', `${req.method ?? ''} is not allowed on ${url.pathname}`)
        longPoll = match.route.longPoll === true
        const body = req.method === 'POST' ? await readJsonObject(req, maxBody) : undefined
        const result = await match.route.handler({ body, query: url.searchParams, params: match.params, signal: gone.signal })
        if (result instanceof RawAnswer) await sendRaw(res, 200, Buffer.from(result.body), { 'content-type': result.contentType })
        else await send(res, 200, result ?? { ok: true })
      } catch (err) {
        // Refused before its body was read (401, 404, 405, 413, a bad path parameter): see DRAIN_LIMIT_BYTES.
        if (!req.complete) {
          const declared = Number(req.headers['content-length'] ?? NaN)
          if (!(declared <= DRAIN_LIMIT_BYTES) || !(await drain(req, DRAIN_LIMIT_BYTES))) res.shouldKeepAlive = false
        }
        const status = statusOf(err)
        const error = err as Error & { code?: unknown }
        if (status === 507 && !(err instanceof ApiError)) {
          // The write's transaction failed, so nothing of it was committed; the next one may succeed once space is freed.
          init.logger.warn({ err: error.message, path: url.pathname }, 'write refused: disk full')
          await send(res, 507, isStorageFull(err)
            ? { error: 'InsufficientStorage', code: 'INSUFFICIENT_STORAGE', message: `the disk holding the data directory is full (${error.message}): this write was not committed; free space there and retry` }
            : { error: 'InsufficientStorage', code: 'STORAGE_FAILED', message: `the disk holding the data directory failed the write (${error.message}; a disk that fills up during a commit does this): this write was not committed; check the disk and free space there, then retry` })
          return
        }
        if (status >= 500) init.logger.error({ err: error.message, path: url.pathname }, 'API handler failed')
        await send(res, status, { error: error.name, code: typeof error.code === 'string' ? error.code : 'INTERNAL', message: error.message })
      }
    })()
    inFlight.add(task)
    void task.finally(() => inFlight.delete(task))
    // Known synchronously: the route match above runs before the task's first await.
    if (longPoll) {
      longPolls.add(task)
      void task.finally(() => longPolls.delete(task))
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  port = (server.address() as AddressInfo).port
  return {
    port,
    async close () {
      // Stop accepting, let released long-polls write their answers, then cut every connection.
      const closed = new Promise<void>((resolve) => { server.close(() => resolve()) })
      init.release?.()
      await Promise.allSettled([...longPolls])
      server.closeAllConnections()
      await closed
      await Promise.allSettled([...inFlight])
    }
  }
}

/** Reads a required string field of a request body. */
export function requireString (body: unknown, field: string): string {
  const value = (body as Record<string, unknown>)[field]
  if (typeof value !== 'string' || value === '') throw new ApiError(400, 'BAD_REQUEST', `field '${field}' must be a non-empty string`)
  return value
}

/** Reads an optional string field. */
export function optionalString (body: unknown, field: string): string | undefined {
  const value = (body as Record<string, unknown>)[field]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new ApiError(400, 'BAD_REQUEST', `field '${field}' must be a string`)
  return value
}

/** Reads a required number field within [min, max]. */
export function requireNumber (body: unknown, field: string, min: number, max: number): number {
  const value = (body as Record<string, unknown>)[field]
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ApiError(400, 'BAD_REQUEST', `field '${field}' must be a number in [${min}, ${max}]`)
  }
  return value
}

/** Reads a positive integer amount given as a decimal string, a bigint, or a safe integer. */
export function requireAmount (body: unknown, field: string): bigint {
  const value = (body as Record<string, unknown>)[field]
  let amount: bigint | undefined
  if (typeof value === 'bigint') amount = value
  else if (typeof value === 'number' && Number.isSafeInteger(value)) amount = BigInt(value)
  else if (typeof value === 'string' && /^[0-9]+$/.test(value)) amount = BigInt(value)
  if (amount === undefined || amount <= 0n) throw new ApiError(400, 'BAD_REQUEST', `field '${field}' must be a positive integer amount`)
  return amount
}
