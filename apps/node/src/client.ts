import { readFile } from 'node:fs/promises'
import { fromJson, toJson } from '@icn/identity'
import { dataDirLayout, readApiToken } from './data-dir.js'
import { ApiUnreachableError, NodeError } from './errors.js'

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
    return JSON.parse(await readFile(dataDirLayout(dataDir).runtime, 'utf8')) as RuntimeInfo
  } catch (cause) {
    throw new ApiUnreachableError(`no running node found for ${dataDir} (is \`icn-node run --data-dir ${dataDir}\` running?)`, { cause })
  }
}

/** Connects to the node running on `dataDir` using its token file. */
export async function connectApi (dataDir: string): Promise<ApiClient> {
  const runtime = await readRuntimeInfo(dataDir)
  const token = await readApiToken(dataDir)
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> => {
    let response: Response
    try {
      response = await fetch(`http://127.0.0.1:${runtime.apiPort}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: method === 'POST' ? toJson(body ?? {}) : undefined,
        signal
      })
    } catch (cause) {
      if (signal?.aborted === true) throw cause
      throw new ApiUnreachableError(`node API at 127.0.0.1:${runtime.apiPort} is not answering`, { cause })
    }
    const value = fromJson(await response.text())
    if (!response.ok) {
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
