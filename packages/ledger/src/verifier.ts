import { Worker } from 'node:worker_threads'
import { type SignedEntry, hasValidSignature } from './entry.js'

/** Batches smaller than this are verified inline: posting to a worker costs more than it saves. */
const MIN_PARALLEL = 64
const CHUNK = 128

// The worker checks signatures with @icn/identity's own `verify` (same OpenSSL backend as the main thread).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
import(workerData.identity).then(({ verify, publicKeyFromDid }) => {
  parentPort.on('message', ({ id, items }) => {
    const ok = items.map(([signature, body, author]) => {
      try { return verify(signature, body, publicKeyFromDid(author)) } catch { return false }
    })
    parentPort.postMessage({ id, ok })
  })
})`

interface Job { resolve: (ok: boolean[]) => void, reject: (err: Error) => void }

/** One verification thread; answers jobs in order. */
class VerifyWorker {
  private readonly worker: Worker
  private readonly jobs = new Map<number, Job>()
  private nextId = 0
  private failure: Error | undefined

  constructor (identityUrl: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { identity: identityUrl } })
    this.worker.unref()
    this.worker.on('message', ({ id, ok }: { id: number, ok: boolean[] }) => {
      this.jobs.get(id)?.resolve(ok)
      this.jobs.delete(id)
    })
    const fail = (err: Error): void => {
      this.failure = err
      for (const job of this.jobs.values()) job.reject(err)
      this.jobs.clear()
    }
    this.worker.on('error', fail)
    this.worker.on('exit', (code) => { fail(new Error(`verify worker exited (${code})`)) })
  }

  get broken (): boolean { return this.failure !== undefined }

  async verify (entries: readonly SignedEntry[]): Promise<boolean[]> {
    if (this.failure !== undefined) throw this.failure
    const id = this.nextId++
    return await new Promise<boolean[]>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject })
      this.worker.postMessage({ id, items: entries.map((e) => [e.signature, e.body, e.entry.author]) })
    })
  }

  async terminate (): Promise<void> {
    this.worker.removeAllListeners('exit')
    await this.worker.terminate()
  }
}

/**
 * Verifies the signatures of a batch across `workers` threads plus the calling
 * thread. Workers start on the first large batch; with 0 workers, or if a
 * worker fails, everything is verified inline (same result, just slower).
 */
export class SignatureVerifier {
  private pool: VerifyWorker[] | undefined

  constructor (private readonly workers: number) {}

  async verifyAll (entries: readonly SignedEntry[]): Promise<boolean[]> {
    const pool = entries.length >= MIN_PARALLEL ? this.start() : []
    if (pool.length === 0) return entries.map(hasValidSignature)
    const results = new Array<boolean>(entries.length)
    const posted: Array<Promise<void>> = []
    const inline: Array<[number, number]> = []
    for (let start = 0, k = 0; start < entries.length; start += CHUNK, k++) {
      const end = Math.min(entries.length, start + CHUNK)
      const worker = pool[k % (pool.length + 1)]
      if (worker === undefined) { inline.push([start, end]); continue }
      const chunk = entries.slice(start, end)
      posted.push(worker.verify(chunk)
        .catch(() => chunk.map(hasValidSignature))
        .then((ok) => { ok.forEach((v, i) => { results[start + i] = v }) }))
    }
    for (const [start, end] of inline) for (let i = start; i < end; i++) results[i] = hasValidSignature(entries[i] as SignedEntry)
    await Promise.all(posted)
    return results
  }

  async close (): Promise<void> {
    const pool = this.pool ?? []
    this.pool = []
    await Promise.all(pool.map(async (w) => { await w.terminate() }))
  }

  private start (): VerifyWorker[] {
    if (this.pool === undefined) {
      try {
        const identityUrl = import.meta.resolve('@icn/identity')
        this.pool = Array.from({ length: this.workers }, () => new VerifyWorker(identityUrl))
      } catch {
        this.pool = []
      }
    }
    return this.pool.filter((w) => !w.broken)
  }
}
