import { Worker } from 'node:worker_threads'
import { type SignedEntry, hasValidSignature } from './entry.js'

/** Batches smaller than this are verified inline: posting to a worker costs more than it saves. */
const MIN_PARALLEL = 64
const CHUNK = 32

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

/** Lets queued worker replies be handled between chunks of synchronous work. */
const yieldToEventLoop = async (): Promise<void> => { await new Promise<void>((resolve) => { setImmediate(resolve) }) }

/**
 * Decodes a batch and verifies its signatures across `workers` threads plus the
 * calling thread. Decoding overlaps with verification: each decoded chunk goes
 * to an idle worker at once (at most two chunks in flight per worker), and the
 * calling thread verifies what is left once it has decoded everything. Workers
 * start on the first batch of at least 64 entries; with 0 workers, or if a
 * worker fails, everything is verified inline (same verdicts, just slower).
 */
export class SignatureVerifier {
  private pool: VerifyWorker[] | undefined

  constructor (private readonly workers: number) {}

  /** Decodes every input (the first malformed one throws) and returns the entries with their signature verdicts. */
  async decodeAndVerify<I> (inputs: readonly I[], decode: (input: I) => SignedEntry): Promise<{ entries: SignedEntry[], valid: boolean[] }> {
    const pool = inputs.length >= MIN_PARALLEL ? this.start() : []
    if (pool.length === 0) {
      const entries = inputs.map(decode)
      return { entries, valid: entries.map(hasValidSignature) }
    }
    const entries: SignedEntry[] = []
    const valid = new Array<boolean>(inputs.length)
    const inFlight = new Map<VerifyWorker, number>(pool.map((w) => [w, 0]))
    const queued: Array<{ start: number, chunk: SignedEntry[] }> = []
    const posted: Array<Promise<void>> = []
    const dispatch = (): void => {
      for (const worker of pool) {
        while (queued.length > 0 && (inFlight.get(worker) ?? 0) < 2 && !worker.broken) {
          const { start, chunk } = queued.shift() as { start: number, chunk: SignedEntry[] }
          inFlight.set(worker, (inFlight.get(worker) ?? 0) + 1)
          posted.push(worker.verify(chunk)
            .catch(() => chunk.map(hasValidSignature))
            .then((ok) => {
              ok.forEach((v, i) => { valid[start + i] = v })
              inFlight.set(worker, (inFlight.get(worker) ?? 1) - 1)
              dispatch()
            }))
        }
      }
    }
    try {
      for (let start = 0; start < inputs.length; start += CHUNK) {
        const chunk = inputs.slice(start, start + CHUNK).map(decode)
        entries.push(...chunk)
        queued.push({ start, chunk })
        dispatch()
        await yieldToEventLoop()
      }
      while (queued.length > 0) {
        const { start, chunk } = queued.pop() as { start: number, chunk: SignedEntry[] }
        chunk.forEach((e, i) => { valid[start + i] = hasValidSignature(e) })
        await yieldToEventLoop()
      }
    } finally {
      // Also on a decode error: nothing may be left running when the caller gets its answer.
      queued.length = 0
      await Promise.all(posted)
    }
    return { entries, valid }
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
