// The dashboard's client of the node's API: same origin, session cookie (set by the node, HttpOnly) plus the
// session's CSRF token, kept in memory only and sent as `x-icn-csrf` on every call.

/** A typed error answer of the node (`{ error, code, message }`) or a failed request. */
export class ApiFailure extends Error {
  override readonly name = 'ApiFailure'
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

const CSRF_HEADER = 'x-icn-csrf'
let csrf: string | undefined
const signedOutListeners = new Set<() => void>()

/** Called when the node answers 401 to a signed-in page (its session ended: a restart rewrote the token). */
export function onSignedOut (listener: () => void): () => void {
  signedOutListeners.add(listener)
  return () => { signedOutListeners.delete(listener) }
}

/** Parses the node's JSON: tagged bigints (`{"$bigint": "…"}`) and bytes (`{"$bytes": "…"}`) become strings. */
export function parseJson (text: string): unknown {
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const keys = Object.keys(value)
      const record = value as Record<string, unknown>
      if (keys.length === 1 && typeof record.$bigint === 'string') return record.$bigint
      if (keys.length === 1 && typeof record.$bytes === 'string') return record.$bytes
    }
    return value
  })
}

/** One request; the answer's body as text when `asText` (a CSV download), else parsed JSON. A refusal throws `ApiFailure`. */
async function call<T> (method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal, asText = false): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (csrf !== undefined) headers[CSRF_HEADER] = csrf
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      // A string is sent as it is (a form's raw JSON, so the node's parser judges it).
      body: method === 'POST' ? (typeof body === 'string' ? body : JSON.stringify(body ?? {})) : undefined,
      signal
    })
  } catch (cause) {
    if (signal?.aborted === true) throw cause
    throw new ApiFailure(0, 'API_UNREACHABLE', 'the node is not answering')
  }
  const text = await response.text()
  if (asText && response.ok) return text as T
  let value: unknown
  try {
    value = parseJson(text)
  } catch {
    throw new ApiFailure(response.status, 'BAD_RESPONSE', `the node answered ${response.status} with something that is not JSON`)
  }
  if (!response.ok) {
    const error = value as { code?: unknown, message?: unknown }
    const failure = new ApiFailure(response.status, typeof error.code === 'string' ? error.code : 'UNKNOWN', typeof error.message === 'string' ? error.message : 'request failed')
    if (response.status === 401 && csrf !== undefined && !path.startsWith('/session')) {
      csrf = undefined
      for (const listener of signedOutListeners) listener()
    }
    throw failure
  }
  return value as T
}

export async function get<T> (path: string, signal?: AbortSignal): Promise<T> {
  return await call<T>('GET', path, undefined, signal)
}

/** GETs a route that answers text (the audited balances as CSV): the body as it is. */
export async function getText (path: string): Promise<string> {
  return await call<string>('GET', path, undefined, undefined, true)
}

/** POSTs `body` (an object, sent as JSON, or a string sent as it is). */
export async function post<T> (path: string, body?: unknown): Promise<T> {
  return await call<T>('POST', path, body)
}

/** Signs in with the node's API token: the node sets the session cookie and answers the CSRF token. */
export async function signIn (token: string): Promise<void> {
  csrf = undefined
  csrf = (await call<{ csrf: string }>('POST', '/session', { token })).csrf
}

/** After a reload: the cookie's session, if it is still live. */
export async function resumeSession (): Promise<boolean> {
  try {
    csrf = (await call<{ csrf: string }>('GET', '/session')).csrf
    return true
  } catch {
    return false
  }
}

export async function signOut (): Promise<void> {
  try {
    await call('POST', '/session/end')
  } finally {
    csrf = undefined
  }
}

/** An error in words, as forms show it: what the node said and its typed code. */
export function describeError (err: unknown): string {
  if (err instanceof ApiFailure) return `Refused: ${err.message} (${err.code}${err.status === 0 ? '' : `, HTTP ${err.status}`})`
  return `Failed: ${err instanceof Error ? err.message : String(err)}`
}
