#!/usr/bin/env node
// Runs the built CLI (`icn-node <args>`) inside this process and, once the command has
// returned (for `run`: after SIGINT/SIGTERM and `node.stop()`), prints one line
//   {"exitAudit":{"lingeringTimers":[…]}}
// listing every timer still pending that would hold the process open: referenced, and
// due later than the next turn of the event loop (Node runs a 0 ms timeout as 1 ms).
// Each is described as "<delay> ms <first frame outside node:>". The process then
// ends on its own (no process.exit), so its exit code is the CLI's.
import { createHook } from 'node:async_hooks'
import { fileURLToPath } from 'node:url'

Error.stackTraceLimit = 30
const cli = new URL('../../dist/cli.js', import.meta.url)
/** Timers created and neither fired nor cleared, by async id. */
const pending = new Map()

createHook({
  init (id, type, _trigger, resource) {
    if (type !== 'Timeout') return
    const frame = (new Error().stack ?? '').split('\n').slice(1).map((l) => l.trim()).find((l) => !l.includes('node:') && !l.includes('exit-audit.mjs'))
    pending.set(id, { timer: resource, where: frame ?? 'unknown' })
  },
  destroy (id) { pending.delete(id) }
}).enable()

process.argv = [process.argv[0], fileURLToPath(cli), ...process.argv.slice(2)]
await import(cli.href)

const lingeringTimers = [...pending.values()]
  .filter(({ timer }) => {
    // `_idleTimeout` is Node's delay field of a Timeout (-1 once cleared).
    const delay = Reflect.get(timer, '_idleTimeout')
    return timer.hasRef() && typeof delay === 'number' && delay > 1
  })
  .map(({ timer, where }) => `${String(Reflect.get(timer, '_idleTimeout'))} ms ${where}`)
process.stdout.write(JSON.stringify({ exitAudit: { lingeringTimers } }) + '\n')
