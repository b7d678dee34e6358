// Preloaded with `--import` (through NODE_OPTIONS) into a CLI process: records what the process loads and writes it as
// JSON to $ICN_MODULES_OUT when it exits — every ES module URL the loader resolves (a resolve hook, which Node runs
// in its own thread, posts them back), every CommonJS file in require.cache, and the built-ins in moduleLoadList.
import { writeFileSync } from 'node:fs'
import { createRequire, register } from 'node:module'
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads'

const out = process.env.ICN_MODULES_OUT
if (out === undefined) throw new Error('module-recorder: set ICN_MODULES_OUT')
const { port1, port2 } = new MessageChannel()
port1.unref()
register(new URL('./module-recorder-hooks.mjs', import.meta.url), { data: { port: port2 }, transferList: [port2] })

process.on('exit', () => {
  // The hooks thread resolves before each module loads, so its messages are queued by now: drain them synchronously.
  const esm = []
  for (let message = receiveMessageOnPort(port1); message !== undefined; message = receiveMessageOnPort(port1)) esm.push(message.message)
  const cjs = Object.keys(createRequire(import.meta.url).cache)
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length))
  writeFileSync(out, JSON.stringify({ esm, cjs, builtins }))
})
