import type { Logger } from './logger.js'

/** Stops a started service, awaiting all of its background work. */
export type StopService = () => Promise<void>

/** Stops a started service (awaiting its background work); returned by each service's start function. */
export interface Supervisor {
  /** Starts `name` now; it will be stopped in reverse start order. A failed start stops everything already started. */
  start<T>(name: string, start: () => Promise<{ value: T, stop: StopService }>): Promise<T>
  /** Names of the running services in start order. */
  running(): string[]
  /** Stops every service in reverse order, awaiting each; idempotent. Errors are logged and the first is rethrown after all stopped. */
  stop(): Promise<void>
}

/** Starts services in dependency order and stops them in reverse. */
export function createSupervisor (logger: Logger): Supervisor {
  const services: Array<{ name: string, stop: StopService }> = []
  let stopping: Promise<void> | undefined

  const stopAll = async (): Promise<void> => {
    let firstError: unknown
    while (services.length > 0) {
      const service = services.pop()!
      const started = Date.now()
      try {
        await service.stop()
        logger.info({ service: service.name, ms: Date.now() - started }, 'service stopped')
      } catch (err) {
        logger.error({ service: service.name, err: (err as Error).message }, 'service failed to stop')
        firstError ??= err
      }
    }
    if (firstError !== undefined) throw firstError
  }

  return {
    async start (name, start) {
      if (stopping !== undefined) throw new Error(`cannot start ${name}: supervisor is stopping`)
      const began = Date.now()
      try {
        const { value, stop } = await start()
        services.push({ name, stop })
        logger.info({ service: name, ms: Date.now() - began }, 'service started')
        return value
      } catch (err) {
        logger.error({ service: name, err: (err as Error).message }, 'service failed to start; stopping the others')
        await stopAll().catch(() => {})
        throw err
      }
    },
    running: () => services.map((s) => s.name),
    async stop () {
      stopping ??= stopAll()
      await stopping
    }
  }
}
