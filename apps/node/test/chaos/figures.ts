// Shared pieces of the chaos suite (test/chaos): run size, figures output, process sampling.
import { appendFile, readFile } from 'node:fs/promises'

/** `pnpm test:chaos` sets ICN_CHAOS_FULL=1: the full run's counts; otherwise the short run inside `pnpm test`. */
export const FULL = process.env.ICN_CHAOS_FULL === '1'

/** A count for this run: `ICN_CHAOS_<name>` when set, else the full or the short default. */
export function chaosCount (name: string, full: number, short: number): number {
  const text = process.env[`ICN_CHAOS_${name}`]
  if (text === undefined || text === '') return FULL ? full : short
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`ICN_CHAOS_${name} must be a positive integer, got '${text}'`)
  return value
}

/** One case's figures: the row of docs/chaos.md's table. */
export interface ChaosFigures {
  case: string
  tries: number
  failures: number
  /** Writes the API acknowledged that are missing afterwards (null: the case makes no acknowledged writes). */
  acknowledgedLost: number | null
  p99Ms?: number
  peakRssMiB?: number
  /** Anything else the case measured. */
  notes?: string
}

/**
 * Prints the figures (one `CHAOS-FIGURES {json}` line, also in a short run) and appends them to
 * the file named by ICN_CHAOS_FIGURES when set (`pnpm test:chaos` does, for docs/chaos.md).
 */
export async function reportFigures (figures: ChaosFigures): Promise<void> {
  const line = JSON.stringify({ ...figures, full: FULL, at: new Date().toISOString() })
  process.stdout.write(`CHAOS-FIGURES ${line}\n`)
  const file = process.env.ICN_CHAOS_FIGURES
  if (file !== undefined && file !== '') await appendFile(file, line + '\n')
}

/** The resident set size of process `pid` in MiB (from /proc), or undefined when it has exited. */
export async function rssMiB (pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) / 1024
  } catch {
    return undefined
  }
}

/** The p-quantile (0..1) of `values` (nearest rank), 0 for none. */
export function quantile (values: readonly number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

/** Rounds to one decimal for printing. */
export const round1 = (n: number): number => Math.round(n * 10) / 10

/**
 * Processes a chaos case started: `reapAll()` (the case's afterAll) SIGKILLs those still running,
 * so a failed or timed-out case leaves none behind.
 */
const started = new Set<import('node:child_process').ChildProcess>()
export function reaped<T extends { child: import('node:child_process').ChildProcess }> (proc: T): T {
  started.add(proc.child)
  proc.child.once('exit', () => { started.delete(proc.child) })
  return proc
}
export function reapAll (): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  started.clear()
}
