import { Worker } from 'node:worker_threads'
import { type SignedEntry, hasValidSignature } from './entry.js'

/** Batches smaller than this are verified inline: posting to a worker costs more than it saves. */
const MIN_PARALLEL = 64
const CHUNK = 32
/** How long the applying thread waits for a worker's verdict before checking the signature itself. */
const WORKER_PATIENCE_MS = 2_000

// Shared verdict board of one batch: slot 0 is the next chunk nobody has claimed yet; slot 1 + i is entry
// i's verdict (0 pending, 1 valid, 2 invalid). Workers and the applying thread claim chunks in order with
// compare-and-swap on slot 0, so every chunk is verified exactly once, by whoever gets to it first.
const NEXT_CHUNK = 0
const PENDING = 0
const VALID = 1
const INVALID = 2
/** Written to NEXT_CHUNK when a batch is abandoned, so that workers skip the rest of it. */
const ABANDONED = 0x3fffffff

// The worker checks signatures with @icn/identity's own `verify` (same OpenSSL backend as the main thread).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
import(workerData.identity).then(({ verify, publicKeyFromDid }) => {
  parentPort.on('message', ({ board, chunk, start, items }) => {
    const shared = new Int32Array(board)
    if (Atomics.compareExchange(shared, ${NEXT_CHUNK}, chunk, chunk + 1) !== chunk) return
    items.forEach(([signature, body, author], k) => {
      let ok = false
      try { ok = verify(signature, body, publicKeyFromDid(author)) } catch {}
      Atomics.store(shared, 1 + start + k, ok ? ${VALID} : ${INVALID})
      Atomics.notify(shared, 1 + start + k)
    })
  })
})`

/** One verification thread, fed every chunk of a batch; it verifies the chunks it manages to claim. */
class VerifyWorker {
  private readonly worker: Worker
  private failed = false

  constructor (identityUrl: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { identity: identityUrl } })
    this.worker.unref()
    this.worker.on('error', () => { this.failed = true })
    this.worker.on('exit', () => { this.failed = true })
  }

  get broken (): boolean { return this.failed }

  offer (board: SharedArrayBuffer, chunk: number, start: number, entries: readonly SignedEntry[]): void {
    this.worker.postMessage({ board, chunk, start, items: entries.map((e) => [e.signature, e.body, e.entry.author]) })
  }

  async terminate (): Promise<void> {
    this.worker.removeAllListeners('exit')
    await this.worker.terminate()
  }
}

/** A decoded batch whose signature verdicts are produced in the background and read in order. */
export interface VerifiedBatch {
  readonly entries: readonly SignedEntry[]
  /** Entry `i`'s verdict: waits for a worker that is checking it, or checks its chunk here if nobody has. */
  valid(i: number): boolean
  /** Tells the workers to skip whatever of this batch they have not started. */
  abandon(): void
}

/**
 * Decodes batches and verifies their signatures on `workers` threads while the
 * calling thread goes on — first decoding the rest of the batch, then applying
 * it. Every decoded chunk is offered to every worker at once; the calling
 * thread, applying entries in order, verifies itself any chunk no worker has
 * started and waits for the others, so signature checks overlap with decoding
 * and with the apply transaction. Workers start on the first batch of at least
 * 64 entries; with 0 workers, or if they fail, everything is verified inline
 * (same verdicts, just slower).
 */
export class SignatureVerifier {
  private pool: VerifyWorker[] | undefined

  constructor (private readonly workers: number) {}

  /** Decodes every input (the first malformed one throws, after abandoning what was offered) and starts verifying. */
  prepare<I> (inputs: readonly I[], decode: (input: I) => SignedEntry): VerifiedBatch {
    const pool = inputs.length >= MIN_PARALLEL ? this.start() : []
    if (pool.length === 0) {
      const entries = inputs.map(decode)
      return { entries, valid: (i) => hasValidSignature(entries[i] as SignedEntry), abandon: () => {} }
    }
    const board = new SharedArrayBuffer(4 * (1 + inputs.length))
    const shared = new Int32Array(board)
    const abandon = (): void => { Atomics.store(shared, NEXT_CHUNK, ABANDONED) }
    const entries: SignedEntry[] = []
    try {
      for (let start = 0, chunk = 0; start < inputs.length; start += CHUNK, chunk++) {
        const decoded = inputs.slice(start, start + CHUNK).map(decode)
        entries.push(...decoded)
        for (const worker of pool) worker.offer(board, chunk, start, decoded)
      }
    } catch (err) {
      abandon()
      throw err
    }
    const verifyHere = (chunk: number): void => {
      for (let i = chunk * CHUNK; i < Math.min(entries.length, (chunk + 1) * CHUNK); i++) {
        if (Atomics.load(shared, 1 + i) === PENDING) Atomics.store(shared, 1 + i, hasValidSignature(entries[i] as SignedEntry) ? VALID : INVALID)
      }
    }
    const valid = (i: number): boolean => {
      const chunk = Math.floor(i / CHUNK)
      // Claim unclaimed chunks in order up to this entry's (earlier ones are only unclaimed when every entry in
      // them was skipped as a duplicate); once someone else holds this entry's chunk, wait for its verdict.
      while (Atomics.load(shared, 1 + i) === PENDING) {
        const next = Atomics.load(shared, NEXT_CHUNK)
        if (next > chunk) {
          if (Atomics.wait(shared, 1 + i, PENDING, WORKER_PATIENCE_MS) === 'timed-out') verifyHere(chunk) // its worker died or stalls
        } else if (Atomics.compareExchange(shared, NEXT_CHUNK, next, next + 1) === next) {
          verifyHere(next)
        }
      }
      return Atomics.load(shared, 1 + i) === VALID
    }
    return { entries, valid, abandon }
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
