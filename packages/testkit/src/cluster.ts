import { SimNetwork, type LinkConditions, type SimEndpoint } from './simnet.js'

/** Thrown when a cluster does not converge within its simulated-time budget. */
export class ConvergenceTimeoutError extends Error {
  override readonly name = 'ConvergenceTimeoutError'
}

export interface ClusterInit<T> {
  /** Number of nodes, named `n0` … `n{size-1}`. */
  size: number
  seed: number
  /** Builds one node on its endpoint (e.g. a gossip instance over the sim transport). */
  create: (endpoint: SimEndpoint, index: number, network: SimNetwork) => T | Promise<T>
  defaults?: Partial<LinkConditions>
}

export interface Cluster<T> {
  readonly network: SimNetwork
  readonly nodes: T[]
  readonly endpoints: SimEndpoint[]
  /**
   * Advances simulated time in `stepMs` steps until `predicate` holds; returns
   * the simulated milliseconds it took. Throws `ConvergenceTimeoutError` after `timeoutMs`.
   */
  awaitConvergence(predicate: () => boolean | Promise<boolean>, options?: { timeoutMs?: number, stepMs?: number }): Promise<number>
}

/** `size` fully connected nodes on one seeded simulated network. */
export async function createCluster<T> (init: ClusterInit<T>): Promise<Cluster<T>> {
  const network = new SimNetwork({ seed: init.seed, defaults: init.defaults })
  const endpoints: SimEndpoint[] = []
  const nodes: T[] = []
  for (let i = 0; i < init.size; i++) endpoints.push(network.addNode(`n${i}`))
  for (let i = 0; i < init.size; i++) nodes.push(await init.create(endpoints[i] as SimEndpoint, i, network))
  return {
    network,
    nodes,
    endpoints,
    awaitConvergence: async (predicate, options = {}) => {
      const timeoutMs = options.timeoutMs ?? 120_000
      const stepMs = options.stepMs ?? 100
      const start = network.clock.now()
      for (;;) {
        await network.settle()
        if (await predicate()) return network.clock.now() - start
        if (network.clock.now() - start >= timeoutMs) {
          throw new ConvergenceTimeoutError(`no convergence after ${timeoutMs} ms of simulated time (seed ${init.seed})`)
        }
        await network.runFor(stepMs)
      }
    }
  }
}
