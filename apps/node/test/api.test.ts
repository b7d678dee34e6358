import { request } from 'node:http'
import { toJson } from '@icn/identity'
import { afterEach, describe, expect, it } from 'vitest'
import { type ApiServer, requireAmount, requireString, startApiServer } from '../src/api.js'
import { createLogger } from '../src/logger.js'

const token = 'a'.repeat(64)
let server: ApiServer | undefined
afterEach(async () => { await server?.close(); server = undefined })

class DomainError extends Error {
  override readonly name = 'DomainError'
  readonly code = 'INSUFFICIENT_CREDIT'
}

async function start (): Promise<ApiServer> {
  server = await startApiServer({
    token,
    logger: createLogger('silent'),
    routes: [
      { method: 'GET', path: '/hello', handler: async ({ query }) => ({ hello: query.get('name') }) },
      { method: 'POST', path: '/pay', handler: async ({ body }) => ({ to: requireString(body, 'to'), amount: requireAmount(body, 'amount') }) },
      { method: 'POST', path: '/items/:id/check', handler: async ({ params }) => ({ id: params.id }) },
      { method: 'POST', path: '/fail', handler: async () => { throw new DomainError('over the limit') } },
      // What lmdb-js throws when a commit finds the disk full (no string code).
      { method: 'POST', path: '/full', handler: async () => { throw new Error('No space left on device: Attempting to write page at position 49152, size 12288') } },
      { method: 'POST', path: '/eio', handler: async () => { throw new Error('Input/output error') } }
    ]
  })
  return server
}

async function call (method: string, path: string, body?: string, auth: string | null = `Bearer ${token}`): Promise<{ status: number, json: unknown }> {
  const response = await fetch(`http://127.0.0.1:${server!.port}${path}`, { method, body, headers: auth === null ? {} : { authorization: auth } })
  return { status: response.status, json: await response.json() }
}

/**
 * Sends headers and the first `sent` bytes of a body declared (or streamed, with no length) as far larger,
 * and never the rest: resolves with the answer and whether the server closes the connection after it.
 */
async function partialPost (path: string, declared: number | undefined, sent: number, auth: string | null): Promise<{ status: number, connection: string | undefined, body: unknown }> {
  return await new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: server!.port,
      path,
      method: 'POST',
      headers: { ...(declared === undefined ? {} : { 'content-length': String(declared) }), ...(auth === null ? {} : { authorization: auth }) }
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { req.destroy(); resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown }) })
    })
    req.on('error', reject)
    req.write(Buffer.alloc(sent, 0x78))
  })
}

describe('local HTTP API', () => {
  it('answers an oversized or unauthorised body without reading it to its end, and closes the connection', async () => {
    await start()
    // Each body is far larger than what is sent and never finished: a server that read to the end would never answer.
    expect(await partialPost('/pay', 512 * 1024 * 1024, 1024, `Bearer ${token}`)).toEqual({
      status: 413, connection: 'close', body: { error: 'ApiError', code: 'BAD_REQUEST', message: 'request body exceeds 1048576 bytes' }
    })
    expect(await partialPost('/pay', undefined, 2 * 1024 * 1024, `Bearer ${token}`)).toEqual({
      status: 413, connection: 'close', body: { error: 'ApiError', code: 'BAD_REQUEST', message: 'request body exceeds 1048576 bytes' }
    })
    const unauthorised = await partialPost('/pay', 256 * 1024 * 1024, 128 * 1024, null)
    expect([unauthorised.status, unauthorised.connection]).toEqual([401, 'close'])
    // A refused body of a declared size within a few times the limit is still read, so its client gets the answer.
    expect(await call('POST', '/pay', 'x'.repeat(1000), null)).toEqual({ status: 401, json: { error: 'ApiError', code: 'UNAUTHORIZED', message: expect.stringContaining('API token') as string } })
  })

  it('refuses requests without the right token with 401', async () => {
    await start()
    expect(await call('GET', '/hello', undefined, null)).toEqual({ status: 401, json: { error: 'ApiError', code: 'UNAUTHORIZED', message: expect.stringContaining('API token') as string } })
    expect((await call('GET', '/hello', undefined, `Bearer ${'b'.repeat(64)}`)).status).toBe(401)
    expect((await call('GET', '/hello', undefined, token)).status).toBe(401)
  })

  it('serves routes with query, body and path parameters', async () => {
    await start()
    expect(await call('GET', '/hello?name=coop')).toEqual({ status: 200, json: { hello: 'coop' } })
    expect(await call('POST', '/pay', toJson({ to: 'bob', amount: '250' }))).toEqual({ status: 200, json: { to: 'bob', amount: { $bigint: '250' } } })
    expect(await call('POST', '/items/x%2Fy/check', '{}')).toEqual({ status: 200, json: { id: 'x/y' } })
  })

  it('answers clear 4xx errors for malformed requests', async () => {
    await start()
    expect(await call('POST', '/pay', '{not json')).toEqual({ status: 400, json: { error: 'ApiError', code: 'BAD_REQUEST', message: 'request body is not valid JSON' } })
    expect(await call('POST', '/pay', '[1,2]')).toEqual({ status: 400, json: { error: 'ApiError', code: 'BAD_REQUEST', message: 'request body must be a JSON object' } })
    expect(await call('POST', '/pay', '{"to":"bob","amount":-5}')).toEqual({ status: 400, json: { error: 'ApiError', code: 'BAD_REQUEST', message: "field 'amount' must be a positive integer amount" } })
    expect(await call('POST', '/pay', '{"amount":"5"}')).toEqual({ status: 400, json: { error: 'ApiError', code: 'BAD_REQUEST', message: "field 'to' must be a non-empty string" } })
    expect((await call('POST', '/pay', 'x'.repeat(2 * 1024 * 1024))).status).toBe(413)
    expect(await call('GET', '/nowhere')).toEqual({ status: 404, json: { error: 'ApiError', code: 'NOT_FOUND', message: 'no route GET /nowhere' } })
    expect((await call('GET', '/pay')).status).toBe(405)
    expect(await call('POST', '/items/%E0%A4%A/check', '{}')).toEqual({ status: 400, json: { error: 'ApiError', code: 'BAD_REQUEST', message: "path segment '%E0%A4%A' is not valid percent-encoding" } })
    expect(await call('POST', '/fail', '{}')).toEqual({ status: 422, json: { error: 'DomainError', code: 'INSUFFICIENT_CREDIT', message: 'over the limit' } })
    expect(await call('POST', '/full', '{}')).toEqual({ status: 507, json: { error: 'InsufficientStorage', code: 'INSUFFICIENT_STORAGE', message: 'the disk holding the data directory is full (No space left on device: Attempting to write page at position 49152, size 12288): this write was not committed; free space there and retry' } })
    expect(await call('POST', '/eio', '{}')).toEqual({ status: 507, json: { error: 'InsufficientStorage', code: 'STORAGE_FAILED', message: 'the disk holding the data directory failed the write (Input/output error; a disk that fills up during a commit does this): this write was not committed; check the disk and free space there, then retry' } })
  })
})
