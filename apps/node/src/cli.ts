#!/usr/bin/env node
import { resolve } from 'node:path'
import { toJson } from '@icn/identity'
import { Command, InvalidArgumentError, Option } from 'commander'
import { connectApi } from './client.js'
import { LOG_LEVELS, type LogLevel, loadConfig } from './config.js'
import { initDataDir } from './data-dir.js'
import { createLogger } from './logger.js'
import { startNode } from './node.js'

interface CommonOptions { dataDir: string, logLevel: LogLevel }

const collect = (value: string, previous: string[]): string[] => [...previous, value]

function positiveInteger (value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

function portNumber (value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)')
  return n
}

/** Adds the options every command takes: `--data-dir` and `--log-level`. */
function common (command: Command, defaultLogLevel: LogLevel = 'warn'): Command {
  return command
    .addOption(new Option('--data-dir <dir>', 'the node\'s data directory').makeOptionMandatory())
    .addOption(new Option('--log-level <level>', 'log level of the JSON (pino) logs').choices(LOG_LEVELS).default(defaultLogLevel))
}

function print (value: unknown): void {
  process.stdout.write(toJson(value, 2) + '\n')
}

/** Runs a command against the running node's local API. */
async function withApi (opts: CommonOptions, fn: (api: Awaited<ReturnType<typeof connectApi>>) => Promise<unknown>): Promise<void> {
  const api = await connectApi(resolve(opts.dataDir))
  print(await fn(api))
}

const program = new Command('icn-node')
  .description('The ICN node: one process per cooperative node, its local API and a multi-node demo.')
  .showHelpAfterError()

common(program.command('init'))
  .description('create an ed25519 identity and a data directory (refuses to overwrite an existing identity)')
  .action(async (opts: CommonOptions) => {
    const keyPair = await initDataDir(resolve(opts.dataDir))
    process.stdout.write(`${keyPair.did}\n`)
  })

common(program.command('run'), 'info')
  .description('run the node until SIGINT/SIGTERM (JSON logs on stdout)')
  .option('--peer <multiaddr>', 'peer to dial and keep redialling (repeatable)', collect, [])
  .option('--listen <multiaddr>', 'libp2p listen address (repeatable)', collect, [])
  .option('--api-port <port>', 'local API port on 127.0.0.1 (0 = any free port)', portNumber)
  .option('--snapshot-every <seconds>', 'take a distributed snapshot this often', positiveInteger)
  .action(async (opts: CommonOptions & { peer: string[], listen: string[], apiPort?: number, snapshotEvery?: number }) => {
    const config = await loadConfig(resolve(opts.dataDir), {
      peers: opts.peer,
      logLevel: opts.logLevel,
      ...(opts.listen.length > 0 ? { listen: opts.listen } : {}),
      ...(opts.apiPort !== undefined ? { apiPort: opts.apiPort } : {}),
      ...(opts.snapshotEvery !== undefined ? { snapshotEveryMs: opts.snapshotEvery * 1000 } : {})
    })
    const logger = createLogger(config.logLevel, {}, 1)
    const node = await startNode({ logger }, config)
    await new Promise<void>((resolveSignal) => {
      const onSignal = (signal: string): void => {
        logger.info({ signal }, 'stopping')
        resolveSignal()
      }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
    })
    await node.stop()
    logger.info('node stopped')
  })

common(program.command('status'))
  .description('show the running node\'s DID, addresses, peers and services')
  .action(async (opts: CommonOptions) => { await withApi(opts, async (api) => await api.get('/status')) })

common(program.command('peers'))
  .description('list connected peers, or add one with --add')
  .option('--add <multiaddr>', 'dial this peer and keep redialling it')
  .action(async (opts: CommonOptions & { add?: string }) => {
    await withApi(opts, async (api) => opts.add !== undefined ? await api.post('/peers', { multiaddr: opts.add }) : await api.get('/peers'))
  })

try {
  await program.parseAsync()
} catch (err) {
  const error = err as Error & { code?: unknown }
  process.stderr.write(`icn-node: ${error.message}${typeof error.code === 'string' ? ` (${error.code})` : ''}\n`)
  process.exitCode = 1
}
