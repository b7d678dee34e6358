import { type ChildProcess, execFile, spawn } from 'node:child_process'

/** Options for running a Node script in a fresh process. */
export interface SubprocessOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** @default 60000 */
  timeoutMs?: number
}

/** Thrown when a subprocess exits non-zero, is killed, or times out; carries its output. */
export class SubprocessError extends Error {
  override readonly name = 'SubprocessError'
  constructor (message: string, readonly code: number | string | null, readonly stdout: string, readonly stderr: string) {
    super(message)
  }
}

/**
 * Runs `node script ...args` in a fresh OS process (Layer 4 tests), asserts
 * exit code 0 (throwing `SubprocessError` with stderr otherwise) and returns
 * trimmed stdout.
 */
export async function runSubprocess (script: string, args: readonly string[] = [], options: SubprocessOptions = {}): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [script, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 60_000,
      maxBuffer: 64 * 1024 * 1024
    }, (error, stdout, stderr) => {
      if (error !== null) {
        const code = (error as NodeJS.ErrnoException & { code?: number | string }).code ?? null
        reject(new SubprocessError(
          `subprocess ${script} ${args.join(' ')} failed (${String(code ?? error.signal)}):\n${stderr}`,
          code, stdout, stderr))
        return
      }
      resolve(stdout.trim())
    })
  })
}

/** A running child Node process, for tests that kill it mid-work. */
export interface RunningSubprocess {
  readonly child: ChildProcess
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | string>
  /** Everything written to stdout so far. */
  stdout(): string
  stderr(): string
  /** Resolves once stdout contains `text` (rejects if the process ends first). */
  waitForOutput(text: string): Promise<void>
  kill(signal?: NodeJS.Signals): void
}

/** Starts `node script ...args` without waiting for it. */
export function startSubprocess (script: string, args: readonly string[] = [], options: SubprocessOptions = {}): RunningSubprocess {
  const child = spawn(process.execPath, [script, ...args], { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const waiters: Array<{ text: string, resolve: () => void }> = []
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    for (const w of waiters.filter((w) => out.includes(w.text))) {
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve()
    }
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'))
  })
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    kill: (signal = 'SIGKILL') => { child.kill(signal) },
    waitForOutput: async (text) => {
      if (out.includes(text)) return
      await Promise.race([
        new Promise<void>((resolve) => waiters.push({ text, resolve })),
        exited.then((code) => {
          if (!out.includes(text)) throw new SubprocessError(`process ended (${String(code)}) before printing '${text}':\n${err}`, code, out, err)
        })
      ])
    }
  }
}
