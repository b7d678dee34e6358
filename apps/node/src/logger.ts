import { pino, type Logger } from 'pino'
import type { LogLevel } from './log-levels.js'

export type { Logger }

/** JSON logs (pino) on `destination` (stderr by default, so stdout stays for command output). */
export function createLogger (level: LogLevel, bindings: Record<string, unknown> = {}, destination: number = 2): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd: destination, sync: true }))
}
