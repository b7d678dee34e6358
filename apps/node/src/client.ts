import { readFileSync } from 'node:fs'
import { MAX_WAIT_MS } from './changes.js'
import { ApiUnreachableError, NodeError } from './errors.js'
import { dataDirLayout, readApiToken } from './layout.js'

// node:http as its CommonJS object: on Node 22+, an ES import of it reads every export, and its lazy WebSocket,
// CloseEvent and MessageEvent exports then load undici (~30 ms of CPU for each CLI command).
const { request } = process.getBuiltinModule('node:http')

/** What a running node writes to `<data-dir>/node.json`. */
export interface RuntimeInfo {
  did: string
  peerId: string
  pid: number
  apiPort: number
  multiaddrs: string[]
}

/** An error answer from the node's API, carrying its status and typed code. */
export class ApiCallError extends NodeError {
  override readonly name = 'ApiCallError'
  constructor (readonly status: number, readonly remoteCode: string, message: string) {
    super('BAD_REQUEST', `${status} ${remoteCode}: ${message}`)
  }
}

/** Client of a node's local API, found through its data directory. */
export interface ApiClient {
  readonly runtime: RuntimeInfo
  /** `signal` aborts the request (e.g. a `GET /wait` long-poll no longer needed). */
  get(path: string, options?: { signal?: AbortSignal }): Promise<unknown>
  post(path: string, body?: unknown): Promise<unknown>
}

/** Reads the runtime facts a running node wrote to its data directory. */
export async function readRuntimeInfo (dataDir: string): Promise<RuntimeInfo> {
  try {
    // Read synchronously, as readApiToken does: a client command's first asynchronous file read starts libuv's thread
    // pool (~7 ms of CPU), for two small files.
    return JSON.parse(readFileSync(dataDirLayout(dataDir).runtime, 'utf8')) as RuntimeInfo
  } catch (cause) {
    throw new ApiUnreachableError(`no running node found for ${dataDir} (is \`icn-node run --data-dir ${dataDir}\` running?)`, { cause })
  }
}

/**
 * `@icn/identity`'s JSON codec (bytes and bigints as tagged objects), loaded only for a body or answer
 * that carries them: most client commands then start without loading the crypto stack.
 */
let taggedJson: Promise<typeof import('@icn/identity')> | undefined
const codec = async (): Promise<typeof import('@icn/identity')> => await (taggedJson ??= import('@icn/identity'))

/** JSON text of `value` as `toJson` of `@icn/identity` writes it (the same text; plain JSON when no bytes or bigints are in it). */
export async function jsonText (value: unknown, space?: number): Promise<string> {
  let tagged = false
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint' || v instanceof Uint8Array || (typeof v === 'number' && !Number.isFinite(v))) { tagged = true; return null }
    return v
  }, space)
  return tagged ? (await codec()).toJson(value, space) : text
}

/** Parses an API answer as `fromJson` does (restoring bytes and bigints), without loading it when no tag is in the text. */
export async function parseAnswer (text: string): Promise<unknown> {
  if (text.includes('"$bytes"') || text.includes('"$bigint"')) return (await codec()).fromJson(text)
  try {
    return JSON.parse(text)
  } catch {
    return (await codec()).fromJson(text) // throws its typed EncodingError
  }
}

/** One HTTP exchange with the local API on 127.0.0.1 (node:http: it loads faster than fetch's undici). */
async function exchange (port: number, method: 'GET' | 'POST', path: string, token: string, body: string | undefined, signal?: AbortSignal): Promise<{ status: number, text: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      method,
      path,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }) },
      ...(signal === undefined ? {} : { signal })
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => { chunks.push(chunk) })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Connects to the node running on `dataDir` using its token file. */
export async function connectApi (dataDir: string): Promise<ApiClient> {
  const runtime = await readRuntimeInfo(dataDir)
  const token = await readApiToken(dataDir)
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> => {
    const payload = method === 'POST' ? await jsonText(body ?? {}) : undefined
    let response: { status: number, text: string }
    try {
      response = await exchange(runtime.apiPort, method, path, token, payload, signal)
    } catch (cause) {
      if (signal?.aborted === true) throw cause
      throw new ApiUnreachableError(`node API at 127.0.0.1:${runtime.apiPort} is not answering`, { cause })
    }
    const value = await parseAnswer(response.text)
    if (response.status < 200 || response.status >= 300) {
      const error = value as { code?: string, message?: string }
      throw new ApiCallError(response.status, error.code ?? 'UNKNOWN', error.message ?? 'request failed')
    }
    return value
  }
  return {
    runtime,
    get: async (path, options) => await call('GET', path, undefined, options?.signal),
    post: async (path, body) => await call('POST', path, body)
  }
}

/** A node's change-feed version: `GET /wait?since=0`, which answers at once (a whole `/status` costs far more). */
export async function versionOf (api: ApiClient): Promise<number> {
  return (await api.get('/wait?since=0&timeoutMs=1') as { version: number }).version
}

/**
 * Waits, without polling, until `probe` returns a value (not undefined), re-running it
 * whenever the change feed of one of the nodes in `watch` (those the probe reads) moves:
 * it reads their versions, runs the probe and, if that is not satisfied, long-polls
 * `GET /wait?since=<version>` on every one of them; the first answer re-runs the probe and
 * the other long-polls are aborted. A probe that throws counts as not satisfied (e.g. a 404
 * for something not arrived yet). Each long-poll asks for at most the time left before
 * `deadline` (a `Date.now()` time), so the node's own timer answers at the deadline; the
 * probe then runs once more and, still unsatisfied, this resolves undefined. Reading a
 * version or a long-poll failing (the node's API went away) rejects. No timer is left behind.
 */
export async function waitUntil<T> (watch: readonly ApiClient[], probe: () => Promise<T | undefined>, deadline: number): Promise<T | undefined> {
  for (;;) {
    // Versions first: a change made after this read moves them on, so the long-poll below sees it.
    const versions = await Promise.all(watch.map(versionOf))
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    const left = deadline - Date.now()
    if (left <= 0) return undefined
    const abort = new AbortController()
    const polls = watch.map(async (api, i) => await api.get(`/wait?since=${versions[i]!}&timeoutMs=${Math.min(MAX_WAIT_MS, left)}`, { signal: abort.signal }))
    for (const poll of polls) poll.catch(() => {}) // the losers are aborted below
    try {
      await Promise.race(polls)
    } finally {
      abort.abort()
    }
  }
}
