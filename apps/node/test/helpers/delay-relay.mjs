#!/usr/bin/env node
// A TCP relay that adds latency, jitter and loss-like stalls, for the network-namespace chaos case
// on kernels without sch_netem: delay-relay.mjs '<json spec>'
// spec: { listen: [{ host, port, to: { host, port } }], delayMs: [min, max], stallChance, stallMs }
// Every chunk in each direction is delivered after a delay drawn from [min, max] (order kept: never
// before the previous chunk), and with `stallChance` it is held `stallMs` more: what a lost segment's
// retransmission looks like to the application. Prints "READY" once listening.
import { createConnection, createServer } from 'node:net'

const spec = JSON.parse(process.argv[2])
const [min, max] = spec.delayMs
const delays = { chunks: 0, totalMs: 0, stalls: 0 }

/** Forwards `from` → `to`, each chunk at its due time, strictly in order (one timer per direction, for the head). */
function pipeDelayed (from, to) {
  const queue = []
  let lastDue = 0
  let timer
  let ended = false
  const flush = () => {
    timer = undefined
    while (queue.length > 0 && queue[0].due <= Date.now()) { const { chunk } = queue.shift(); if (!to.destroyed) to.write(chunk) }
    if (queue.length > 0) timer = setTimeout(flush, queue[0].due - Date.now())
    else if (ended) to.end()
  }
  from.on('data', (chunk) => {
    let delay = min + Math.random() * (max - min)
    if (Math.random() < spec.stallChance) { delay += spec.stallMs; delays.stalls++ }
    const due = Math.max(lastDue, Date.now() + delay)
    lastDue = due
    delays.chunks++
    delays.totalMs += delay
    queue.push({ chunk, due })
    if (timer === undefined) timer = setTimeout(flush, due - Date.now())
  })
  from.on('end', () => { ended = true; if (timer === undefined && queue.length === 0) to.end() })
  from.on('error', () => { to.destroy() })
  from.on('close', () => { if (queue.length === 0) to.destroy(); else { const wait = lastDue - Date.now(); setTimeout(() => { to.destroy() }, Math.max(0, wait) + 5) } })
}

let listening = 0
for (const route of spec.listen) {
  const server = createServer((client) => {
    const upstream = createConnection(route.to.port, route.to.host)
    upstream.on('error', () => { client.destroy() })
    client.on('error', () => { upstream.destroy() })
    pipeDelayed(client, upstream)
    pipeDelayed(upstream, client)
  })
  server.listen(route.port, route.host, () => { if (++listening === spec.listen.length) console.log('READY') })
}
process.on('SIGTERM', () => {
  console.log(JSON.stringify(delays))
  process.exit(0)
})
