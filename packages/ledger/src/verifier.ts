import { Worker } from 'node:worker_threads'
import { type SignedEntry, hasValidSignature } from './entry.js'

/** Batches smaller than this are verified inline: posting to a worker costs more than it saves. */
const MIN_PARALLEL = 64
const CHUNK = 32
/** Entries decoded (and, inline, verified) between two turns of the event loop: ~15 ms of work. */
const SLICE = 128
/** Yields to the event loop for one turn (I/O callbacks run): long loops in this package step with it. */
export const nextTurn = async (): Promise<void> => { await new Promise<void>((resolve) => { setImmediate(resolve) }) }
/** How long the applying thread waits for a worker's verdict before checking the signature itself. */
const WORKER_PATIENCE_MS = 2_000

// Shared verdict board of one batch of n entries in c chunks: slots 0 … c−1 are claim flags (0 free, 1 taken),
// slot c + i is entry i's verdict (0 pending, 1 valid, 2 invalid). Workers claim chunks front to back, the
// applying thread claims the chunk it needs next or, while a worker holds that one, steals from the back:
// compare-and-swap on the flag makes every chunk verified exactly once, by whoever gets to it first.
const PENDING = 0
const VALID = 1
const INVALID = 2

// The worker checks signatures with @icn/identity's own `verify` (same OpenSSL backend as the main thread).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
import(workerData.identity).then(({ verify, publicKeyFromDid }) => {
  parentPort.on('message', ({ board, chunk, verdictSlot, items }) => {
    const shared = new Int32Array(board)
    if (Atomics.compareExchange(shared, chunk, 0, 1) !== 0) return
    items.forEach(([signature, body, author], k) => {
      let ok = false
      try { ok = verify(signature, body, publicKeyFromDid(author)) } catch {}
      Atomics.store(shared, verdictSlot + k, ok ? ${VALID} : ${INVALID})
      Atomics.notify(shared, verdictSlot + k)
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

  offer (board: SharedArrayBuffer, chunk: number, verdictSlot: number, entries: readonly SignedEntry[]): void {
    this.worker.postMessage({ board, chunk, verdictSlot, items: entries.map((e) => [e.signature, e.body, e.entry.author]) })
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
 * it. Every decoded chunk is offered to every worker at once (they take them
 * front to back); the calling thread, applying entries in order, verifies a
 * chunk itself when no worker has started it, and while a worker holds the
 * chunk it needs it verifies the last unclaimed chunk instead of idling. So
 * signature checks overlap with decoding and with the apply transaction.
 * Workers start on the first batch of at least 64 entries; with 0 workers, or
 * if they fail, everything is verified inline (same verdicts, just slower).
 */
export class SignatureVerifier {
  private pool: VerifyWorker[] | undefined

  constructor (private readonly workers: number) {}

  /**
   * Decodes every input (the first malformed one throws, after abandoning what was offered) and starts
   * verifying. Works in slices of SLICE entries with a turn of the event loop between them, so a large
   * batch never holds the loop for long.
   */
  async prepare<I> (inputs: readonly I[], decode: (input: I) => SignedEntry): Promise<VerifiedBatch> {
    const pool = inputs.length >= MIN_PARALLEL ? this.start() : []
    if (pool.length === 0) {
      // Verified now, not lazily inside the write transaction: measured ~20 % faster batches this way
      // (interleaved A/B runs; why holding the write transaction longer costs that much was not pinned down).
      const entries: SignedEntry[] = []
      const verdicts: boolean[] = []
      for (let start = 0; start < inputs.length; start += SLICE) {
        if (start > 0) await nextTurn()
        for (const input of inputs.slice(start, start + SLICE)) {
          const entry = decode(input)
          entries.push(entry)
          verdicts.push(hasValidSignature(entry))
        }
      }
      return { entries, valid: (i) => verdicts[i] === true, abandon: () => {} }
    }
    const chunks = Math.ceil(inputs.length / CHUNK)
    const board = new SharedArrayBuffer(4 * (chunks + inputs.length))
    const shared = new Int32Array(board)
    const abandon = (): void => { for (let c = 0; c < chunks; c++) Atomics.store(shared, c, 1) }
    const entries: SignedEntry[] = []
    try {
      for (let start = 0, chunk = 0; start < inputs.length; start += CHUNK, chunk++) {
        if (start > 0 && start % SLICE === 0) await nextTurn()
        const decoded = inputs.slice(start, start + CHUNK).map(decode)
        entries.push(...decoded)
        for (const worker of pool) worker.offer(board, chunk, chunks + start, decoded)
      }
    } catch (err) {
      abandon()
      throw err
    }
    const claim = (chunk: number): boolean => Atomics.compareExchange(shared, chunk, 0, 1) === 0
    const verifyHere = (chunk: number): void => {
      for (let i = chunk * CHUNK; i < Math.min(entries.length, (chunk + 1) * CHUNK); i++) {
        if (Atomics.load(shared, chunks + i) === PENDING) Atomics.store(shared, chunks + i, hasValidSignature(entries[i] as SignedEntry) ? VALID : INVALID)
      }
    }
    let back = chunks - 1
    const valid = (i: number): boolean => {
      const chunk = Math.floor(i / CHUNK)
      const slot = chunks + i
      while (Atomics.load(shared, slot) === PENDING) {
        if (claim(chunk)) {
          verifyHere(chunk)
          continue
        }
        // A worker holds this chunk: verify the last chunk nobody has claimed meanwhile, else wait.
        while (back > chunk && !claim(back)) back--
        if (back > chunk) {
          verifyHere(back--)
        } else if (Atomics.wait(shared, slot, PENDING, WORKER_PATIENCE_MS) === 'timed-out') {
          verifyHere(chunk) // its worker died or stalls: check here (same verdicts)
        }
      }
      return Atomics.load(shared, slot) === VALID
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
