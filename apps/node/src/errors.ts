/** Machine-readable reason carried by every node error. */
export type NodeErrorCode =
  | 'DATA_DIR_EXISTS'
  | 'DATA_DIR_MISSING'
  | 'DATA_DIR_CORRUPT'
  | 'DATA_DIR_PERMISSION'
  | 'INVALID_CONFIG'
  | 'INVALID_CHARTER'
  | 'INVALID_IDENTITY'
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'INSUFFICIENT_STORAGE'
  | 'API_UNREACHABLE'
  | 'DEMO_FAILED'
  | 'NOT_A_MEMBER'
  | 'SELF_PAYMENT'
  | 'NOT_PERMITTED'
  | 'INVITATION_MALFORMED'
  | 'INVITATION_FORGED'
  | 'INVITATION_EXPIRED'
  | 'INVITATION_USED'
  | 'INVITATION_UNKNOWN'
  | 'INVITATION_FOREIGN_NETWORK'
  | 'INVITATION_UNREACHABLE'
  | 'NODE_RUNNING'
  | 'INVALID_BACKUP'
  | 'INVALID_KEY'

/** Base class of every error thrown by `@icn/node`. */
export class NodeError extends Error {
  override readonly name: string = 'NodeError'
  readonly code: NodeErrorCode

  constructor (code: NodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** `init` on a directory that already holds an identity: a key is never overwritten. */
export class DataDirExistsError extends NodeError {
  override readonly name = 'DataDirExistsError'
  constructor (path: string) { super('DATA_DIR_EXISTS', `${path} already holds an ICN identity; refusing to overwrite it`) }
}

/** A command needs an initialised data directory and there is none. */
export class DataDirMissingError extends NodeError {
  override readonly name = 'DataDirMissingError'
  constructor (path: string) { super('DATA_DIR_MISSING', `${path} is not an initialised ICN data directory (run \`icn-node init --data-dir ${path}\`)`) }
}

/** A data-directory file that is damaged or missing while the data it belongs to is there; the message names it and what to do. */
export class DataDirCorruptError extends NodeError {
  override readonly name = 'DataDirCorruptError'
  readonly path: string
  constructor (path: string, message: string, options?: { cause?: unknown }) {
    super('DATA_DIR_CORRUPT', `${path}: ${message}`, options)
    this.path = path
  }
}

/** A data-directory file or folder this process may not read and write. */
export class DataDirPermissionError extends NodeError {
  override readonly name = 'DataDirPermissionError'
  readonly path: string
  constructor (path: string, message: string) {
    super('DATA_DIR_PERMISSION', `${path}: ${message}`)
    this.path = path
  }
}

/** A config file or option with a wrong value. */
export class InvalidConfigError extends NodeError {
  override readonly name = 'InvalidConfigError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_CONFIG', message, options) }
}

/** An identity file that does not hold a valid ed25519 seed for its DID. */
export class InvalidIdentityError extends NodeError {
  override readonly name = 'InvalidIdentityError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_IDENTITY', message, options) }
}

/** An HTTP API error with its status: malformed body (400), missing token (401), cross-site or CSRF-less dashboard request (403), unknown route (404), full disk (507), … */
export class ApiError extends NodeError {
  override readonly name: string = 'ApiError'
  readonly status: number
  constructor (status: number, code: 'BAD_REQUEST' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'INSUFFICIENT_STORAGE', message: string) {
    super(code, message)
    this.status = status
  }
}

/** `snapshot restore|verify <id>` with an id this node holds no completed snapshot under (404). */
export class UnknownSnapshotError extends ApiError {
  override readonly name = 'UnknownSnapshotError'
  readonly snapshotId: string
  constructor (snapshotId: string) {
    super(404, 'NOT_FOUND', `no completed snapshot ${snapshotId} on this node (\`icn-node snapshot list\` shows the ones it holds)`)
    this.snapshotId = snapshotId
  }
}

/** The CLI could not reach the node's local API. */
export class ApiUnreachableError extends NodeError {
  override readonly name = 'ApiUnreachableError'
  constructor (message: string, options?: { cause?: unknown }) { super('API_UNREACHABLE', message, options) }
}

/** The demo could not complete its scenario. */
export class DemoFailedError extends NodeError {
  override readonly name = 'DemoFailedError'
  constructor (message: string, options?: { cause?: unknown }) { super('DEMO_FAILED', message, options) }
}

/** What is wrong with an invitation code or a join request. */
export type InvitationErrorCode = Extract<NodeErrorCode, `INVITATION_${string}`>

/**
 * An invitation that cannot be used: malformed, forged (its signature does not verify), expired, already
 * used, unknown to the inviter, for another network, or an inviter that could not be reached.
 */
export class InvitationError extends NodeError {
  override readonly name = 'InvitationError'
  constructor (code: InvitationErrorCode, message: string, options?: { cause?: unknown }) { super(code, message, options) }
}

/** A DID that is not a member (or is frozen) where a member is required: a payee, an inviter. */
export class NotAMemberError extends NodeError {
  override readonly name = 'NotAMemberError'
  constructor (message: string) { super('NOT_A_MEMBER', message) }
}

/** The charter does not let this node do that (e.g. invite, when its role may not raise membership proposals). */
export class NotPermittedError extends NodeError {
  override readonly name = 'NotPermittedError'
  constructor (message: string) { super('NOT_PERMITTED', message) }
}

/** A payment to oneself: it moves nothing and would only inflate the payer's cleared volume. */
export class SelfPaymentError extends NodeError {
  override readonly name = 'SelfPaymentError'
  constructor () { super('SELF_PAYMENT', 'a payment to oneself moves nothing: pay another member') }
}

/** `charter.json` is not a valid genesis charter (`CooperativeCharterInit`); the message names the file and the field. */
export class InvalidCharterFileError extends NodeError {
  override readonly name = 'InvalidCharterFileError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_CHARTER', message, options) }
}

/** A node process already runs on this data directory (its lock file names a live process). */
export class NodeRunningError extends NodeError {
  override readonly name = 'NodeRunningError'
  readonly pid: number | undefined
  readonly apiPort: number | undefined
  constructor (dataDir: string, pid: number | undefined, apiPort: number | undefined) {
    super('NODE_RUNNING', pid === undefined
      ? `${dataDir} is locked by another icn-node process`
      : `a node is already running on ${dataDir}: pid ${pid}, ${apiPort === undefined ? 'its API not up yet' : `API on 127.0.0.1:${apiPort}`} (stop it first: kill -TERM ${pid})`)
    this.pid = pid
    this.apiPort = apiPort
  }
}

/** A backup file that cannot be restored: not a backup, damaged (checksum), or for a directory that already holds a node. */
export class InvalidBackupError extends NodeError {
  override readonly name = 'InvalidBackupError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_BACKUP', message, options) }
}

/** A key file (`init --key`) that is not an ed25519 private key in PEM. */
export class InvalidKeyError extends NodeError {
  override readonly name = 'InvalidKeyError'
  constructor (message: string, options?: { cause?: unknown }) { super('INVALID_KEY', message, options) }
}
