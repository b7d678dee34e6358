// The commands that work on the data directory itself, loaded by the CLI only when one of them runs:
// init, run (and join's run), backup, restore-backup, key export.
import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { PRODUCTION_CONFIG, EPHEMERAL_CONFIG, loadConfig } from './config.js'
import { initDataDir, loadIdentity } from './data-dir.js'
import { exportKeyPem, importKeyPem } from './key.js'
import { lockHolder, nodeRunningError } from './lock.js'
import type { LogLevel } from './log-levels.js'
import { createLogger } from './logger.js'

/** Options of the commands that run a node (`run`, `join`). */
export interface RunOptions { dataDir: string, logLevel: LogLevel, peer: string[], listen: string[], apiPort?: number, snapshotEvery?: number }

/**
 * `icn-node init`: an identity (fresh, or the key of `keyFile`, a PEM from `key export`) and config.json
 * (the production ports, or random loopback ones); returns the DID.
 */
export async function initCommand (dataDir: string, options: { ephemeral: boolean, keyFile?: string }): Promise<string> {
  const keyPair = options.keyFile === undefined ? undefined : importKeyPem(await readFile(resolve(options.keyFile), 'utf8'))
  return (await initDataDir(dataDir, keyPair, options.ephemeral ? EPHEMERAL_CONFIG : PRODUCTION_CONFIG)).did
}

/** `icn-node key export`: the node's key as PKCS#8 PEM, to `out` (mode 0600, never replacing a file) or returned for stdout. */
export async function exportKeyCommand (dataDir: string, out?: string): Promise<string | undefined> {
  const pem = exportKeyPem(await loadIdentity(dataDir))
  if (out === undefined) return pem
  await writeFile(resolve(out), pem, { mode: 0o600, flag: 'wx' })
  return undefined
}

export { createBackup, restoreBackup } from './backup.js'

/** Throws `NodeRunningError` (naming its PID and API port) when a node process holds `dataDir`. */
export async function refuseIfRunning (dataDir: string): Promise<void> {
  const holder = await lockHolder(dataDir)
  if (holder !== undefined) throw await nodeRunningError(dataDir, holder)
}

/** `icn-node run`: starts the node on its data directory and runs it until SIGINT/SIGTERM. */
export async function runNode (opts: RunOptions): Promise<void> {
  // A node already running here is named (PID, API port) before anything else is read or written.
  await refuseIfRunning(resolve(opts.dataDir))
  // Damage in the data directory is a one-line error naming the file, before any subsystem opens it.
  const { checkDataDir } = await import(new URL('./preflight.mjs', import.meta.url).href) as typeof import('./preflight.js')
  await checkDataDir(resolve(opts.dataDir))
  const config = await loadConfig(resolve(opts.dataDir), {
    peers: opts.peer,
    logLevel: opts.logLevel,
    ...(opts.listen.length > 0 ? { listen: opts.listen } : {}),
    ...(opts.apiPort !== undefined ? { apiPort: opts.apiPort } : {}),
    ...(opts.snapshotEvery !== undefined ? { snapshotEveryMs: opts.snapshotEvery * 1000 } : {})
  })
  const logger = createLogger(config.logLevel, {}, 1)
  // Listen before starting: a signal that arrives while the node starts (or right after
  // it logs 'node ready') must still stop it cleanly instead of killing the process.
  let onSignal: (signal: NodeJS.Signals) => void = () => {}
  const stopRequested = new Promise<NodeJS.Signals>((resolveSignal) => { onSignal = resolveSignal })
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const { isClosedStreamRace, isStorageFailure, startNode } = await import(new URL('./node.mjs', import.meta.url).href) as typeof import('./node.js')
  const onUncaught = (err: Error): void => {
    if (isClosedStreamRace(err)) {
      logger.warn({ err: err.message }, 'libp2p wrote to a stream its connection had closed meanwhile: ignored')
      return
    }
    logger.fatal({ err: err.stack ?? String(err) }, 'uncaught exception')
    process.exit(1)
  }
  process.on('uncaughtException', onUncaught)
  // lmdb-js rejects a failed commit's shared promise, which no caller holds, besides each write's own
  // promise (whose caller answers 507 or logs it): that one is logged, not fatal.
  const onUnhandled = (reason: unknown): void => {
    if (isStorageFailure(reason)) {
      logger.error({ err: (reason as Error).message }, 'a storage commit failed (disk full or failing); the writes in it were refused')
      return
    }
    onUncaught(reason instanceof Error ? reason : new Error(String(reason)))
  }
  process.on('unhandledRejection', onUnhandled)
  let stopped = false
  try {
    const node = await startNode({ logger }, config)
    logger.info({ signal: await stopRequested }, 'stopping')
    await node.stop()
    logger.info('node stopped')
    stopped = true
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('uncaughtException', onUncaught)
    process.off('unhandledRejection', onUnhandled)
  }
  // After a WebRTC connection between two hosts, node-datachannel 0.33 keeps native callbacks referenced
  // once every connection is closed (its cleanup() does not release them): the process would never end.
  // Everything of the node's has stopped (logs are synchronous), so it exits here.
  if (stopped && config.stunServers.length > 0) process.exit()
}
