/**
 * @packageDocumentation
 * Shared test helpers for ICN: temporary directories, a seeded RNG, a manual
 * clock, a subprocess runner for Layer 4 (cross-process) tests, and a
 * deterministic simulated network with partitions for multi-node tests.
 */
export { withTempDir } from './temp.js'
export { SeededRng } from './rng.js'
export { ManualClock, flushMicrotasks } from './clock.js'
export {
  runSubprocess, startSubprocess, SubprocessError, type SubprocessOptions, type RunningSubprocess
} from './subprocess.js'
export {
  SimNetwork, type SimNetworkInit, type SimEndpoint, type LinkConditions, type MessageHandler, type NetworkStats
} from './simnet.js'
export { createCluster, ConvergenceTimeoutError, type Cluster, type ClusterInit } from './cluster.js'
