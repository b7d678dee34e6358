import { rm } from 'node:fs/promises'
import { type Clock, type Did, type KeyPair, systemClock } from '@icn/identity'
import { writeFileAtomic } from '@icn/identity/fs'
import { type ApiRoute, type ApiServer, requireString, startApiServer } from './api.js'
import type { RuntimeInfo } from './client.js'
import type { NodeConfig } from './config.js'
import { dataDirLayout, loadIdentity, writeApiToken } from './data-dir.js'
import type { Logger } from './logger.js'
import { createSupervisor } from './supervisor.js'
import { type ConnectedPeer, type Libp2pTransport, type TransportStats, createLibp2pTransport } from './transport.js'

/** What `GET /status` answers. */
export interface NodeStatus {
  did: Did
  peerId: string
  multiaddrs: string[]
  peers: number
  services: string[]
  transport: TransportStats
  uptimeMs: number
}

/** A running node. */
export interface IcnNode {
  readonly did: Did
  readonly keyPair: KeyPair
  readonly transport: Libp2pTransport
  readonly apiPort: number
  status(): NodeStatus
  peers(): ConnectedPeer[]
  /** Stops every service in reverse start order; resolves when all background work has ended. Idempotent. */
  stop(): Promise<void>
}

export interface NodeComponents {
  logger: Logger
  /** @default systemClock */
  clock?: Clock
}

/**
 * Starts a node from its data directory: identity → transport → local API,
 * each under the supervisor so `stop()` (SIGINT/SIGTERM in `icn-node run`)
 * takes them down in reverse order.
 */
export async function startNode (components: NodeComponents, config: NodeConfig): Promise<IcnNode> {
  const { logger } = components
  const clock = components.clock ?? systemClock
  const layout = dataDirLayout(config.dataDir)
  const supervisor = createSupervisor(logger)
  const startedAt = clock.now()

  const keyPair = await supervisor.start('identity', async () => ({ value: await loadIdentity(config.dataDir), stop: async () => {} }))

  const transport = await supervisor.start('transport', async () => {
    const value = await createLibp2pTransport({ keyPair, logger: logger.child({ service: 'transport' }), clock }, {
      listen: config.listen,
      peers: config.peers,
      maxFrameBytes: config.maxFrameBytes
    })
    return { value, stop: async () => { await value.close() } }
  })

  const status = (): NodeStatus => ({
    did: keyPair.did,
    peerId: transport.peerId,
    multiaddrs: transport.multiaddrs(),
    peers: transport.peers().length,
    services: supervisor.running(),
    transport: { ...transport.stats },
    uptimeMs: clock.now() - startedAt
  })

  const routes: ApiRoute[] = [
    { method: 'GET', path: '/status', handler: async () => status() },
    { method: 'GET', path: '/peers', handler: async () => transport.connectedPeers() },
    {
      method: 'POST',
      path: '/peers',
      handler: async ({ body }) => {
        const addr = requireString(body, 'multiaddr')
        transport.addPeer(addr)
        return { added: addr }
      }
    }
  ]

  const api = await supervisor.start<ApiServer>('api', async () => {
    const token = await writeApiToken(config.dataDir)
    const server = await startApiServer({ token, routes, logger: logger.child({ service: 'api' }), port: config.apiPort })
    const runtime: RuntimeInfo = { did: keyPair.did, peerId: transport.peerId, pid: process.pid, apiPort: server.port, multiaddrs: transport.multiaddrs() }
    await writeFileAtomic(layout.runtime, new TextEncoder().encode(JSON.stringify(runtime, null, 2) + '\n'))
    return {
      value: server,
      stop: async () => {
        await rm(layout.runtime, { force: true })
        await server.close()
      }
    }
  })

  logger.info({ did: keyPair.did, peerId: transport.peerId, multiaddrs: transport.multiaddrs(), apiPort: api.port }, 'node ready')
  return {
    did: keyPair.did,
    keyPair,
    transport,
    apiPort: api.port,
    status,
    peers: () => transport.connectedPeers(),
    stop: async () => { await supervisor.stop() }
  }
}
