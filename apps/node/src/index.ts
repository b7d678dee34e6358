/**
 * @packageDocumentation
 * The ICN node: one OS process per cooperative node. It composes the ICN
 * packages (gossip, ledger, trust, governance, snapshot) over a js-libp2p
 * transport, supervises their lifecycle, and serves a local HTTP/JSON API
 * that the `icn-node` CLI uses. It owns no subsystem logic — only wiring.
 */
export {
  GOSSIP_PROTOCOL,
  type MessageTransport,
  type FrameHandler,
  type TransportStats,
  type ConnectedPeer,
  type PeerChangeListener,
  type Libp2pTransport,
  type Libp2pTransportComponents,
  type Libp2pTransportInit,
  createLibp2pTransport,
  didOfPeerId,
  isClosedStreamRace,
  networkPrefix,
  networkProtocols,
  peerIdOfDid,
  FrameTooLargeError,
  TransportClosedError
} from '@icn/transport'
export { type DataDirLayout, dataDirLayout, initDataDir, loadIdentity, writeApiToken, readApiToken } from './data-dir.js'
export { type NodeConfig, type NodeConfigFile, type LogLevel, LOG_LEVELS, loadConfig, validateConfigFile } from './config.js'
export { type Logger, createLogger } from './logger.js'
export * from './errors.js'
export { type IcnNode, type NodeStatus, type NodeServices, type NodeComponents, TRUST_GRAPH_OF, startNode } from './node.js'
export { type ChangeAnswer, ChangeFeed, MAX_WAIT_MS } from './changes.js'
export { type EventLoopStats, type LoopMonitor, createLoopMonitor } from './loop-monitor.js'
export { type Supervisor, type StopService, createSupervisor } from './supervisor.js'
export { type ApiRoute, type ApiRequest, type ApiHandler, type ApiServer, type ApiServerInit, startApiServer } from './api.js'
export { type ApiClient, type RuntimeInfo, ApiCallError, connectApi, readRuntimeInfo, versionOf, waitUntil } from './client.js'
export { TOPICS, bridgeLedger, bridgeTrust, bridgeGovernance, bridgeGovernanceEffects, snapshotMessaging } from './bridges.js'
export { charterPath, loadCharter, writeCharterFile } from './charter.js'
export { DEFAULT_CURRENCY, nodeRoutes } from './routes.js'
export { type LocalStateSummary, type RestoreReport, restoreSnapshot } from './restore.js'
export { type DemoOptions, type DemoResult, runDemo } from './demo.js'
export { type DataDirLock, type LockRecord, acquireDataDirLock, lockHolder } from './lock.js'
export { type NodeMetrics, createNodeMetrics } from './metrics.js'
export { type Statement, type StatementLine, accountStatement } from './statement.js'
export { type BackupManifest, type BackupReport, type RestoreBackupReport, createBackup, restoreBackup } from './backup.js'
export { exportKeyPem, importKeyPem } from './key.js'
export { EPHEMERAL_CONFIG, PRODUCTION_CONFIG, DEFAULT_LISTEN_PORT, DEFAULT_API_PORT } from './config.js'
