#!/usr/bin/env node
// Run inside a network namespace: ns-forward.mjs <unix socket path> <port>. Forwards connections on
// the unix socket (the filesystem is shared across namespaces) to 127.0.0.1:<port> of this namespace,
// so a test in the host namespace reaches a node's loopback-only API. Prints "READY".
import { createConnection, createServer } from 'node:net'
import { rmSync } from 'node:fs'

const [socketPath, port] = process.argv.slice(2)
rmSync(socketPath, { force: true })
const server = createServer((client) => {
  const upstream = createConnection(Number(port), '127.0.0.1')
  client.pipe(upstream).pipe(client)
  upstream.on('error', () => { client.destroy() })
  client.on('error', () => { upstream.destroy() })
})
server.listen(socketPath, () => { console.log('READY') })
process.on('SIGTERM', () => { server.close(); process.exit(0) })
