#!/usr/bin/env node
import { resolve } from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import { ApiCallError, connectApi, jsonText } from './client.js'
import type { SnapshotAudit } from './audit.js'
import { auditedBalances, auditedBalancesCsv, formatAudit } from './audit-format.js'
import * as format from './format.js'
import { LOG_LEVELS, type LogLevel } from './log-levels.js'
import type { RunOptions } from './commands.js'
import { VERSION } from './version.js'

interface CommonOptions { dataDir: string, logLevel: LogLevel, json?: boolean }

/**
 * Client commands load only this file (built as one CommonJS file with commander in it) and Node built-ins: the
 * commands that work on the data directory itself (init, run, backup, …) and the composed node are ES module
 * entries (`.mjs` beside cli.js) loaded on use, so a `status` or `pay` does not load libp2p, LMDB or the crypto
 * stack (`pnpm bench`: CLI latency; test/cli-imports.test.ts).
 */
async function loadCommands (): Promise<typeof import('./commands.js')> {
  return await import(new URL('./commands.mjs', import.meta.url).href) as typeof import('./commands.js')
}

const collect = (value: string, previous: string[]): string[] => [...previous, value]

function positiveInteger (value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}

function trustScore (value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number from 0 to 1, e.g. 0.8')
  return n
}

/** A duration: a number with a unit (s, m, h, d), e.g. 7d; milliseconds. */
function duration (value: string): number {
  const match = /^([0-9]+)(s|m|h|d)$/.exec(value.trim())
  if (match === null) throw new InvalidArgumentError('must be a duration such as 30m, 12h or 7d')
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd']
  return Number(match[1]) * unit
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

/** A command that talks to the running node: `common` options plus `--json`. */
function client (command: Command): Command {
  return common(command).option('--json', 'print the API\'s JSON answer instead of a table or sentence (for scripts)')
}

type Api = Awaited<ReturnType<typeof connectApi>>

/**
 * Runs a command against the running node's local API and prints the answer: as JSON with `--json`,
 * else as `human` writes it (a table or a sentence).
 */
async function withApi (opts: CommonOptions, fn: (api: Api) => Promise<unknown>, human: (value: unknown) => string): Promise<void> {
  const api = await connectApi(resolve(opts.dataDir))
  const value = await fn(api)
  process.stdout.write((opts.json === true ? await jsonText(value, 2) : human(value)) + '\n')
}

const program = new Command('icn-node')
  .description('The ICN node: one process per cooperative node, its local API and a multi-node demo.')
  .version(VERSION, '-V, --version', 'print the version of icn-node')
  .showHelpAfterError()

common(program.command('init'))
  .description('create an ed25519 identity and a data directory (refuses to overwrite an existing identity); its config.json listens on the fixed port 4710 on every interface and serves the local API on 127.0.0.1:4711')
  .option('--ephemeral', 'random ports on 127.0.0.1 instead (tests, trying several nodes on one machine)')
  .option('--key <file>', 'use this ed25519 key (a PEM from `icn-node key export`) instead of a new one')
  .action(async (opts: CommonOptions & { ephemeral?: boolean, key?: string }) => {
    const { initCommand } = await loadCommands()
    process.stdout.write(`${await initCommand(resolve(opts.dataDir), { ephemeral: opts.ephemeral === true, ...(opts.key === undefined ? {} : { keyFile: opts.key }) })}\n`)
  })

const keyCommand = program.command('key').description('the node\'s ed25519 key (its DID)')
common(keyCommand.command('export'))
  .description('print the node\'s private key as PKCS#8 PEM (keep it offline: whoever holds it signs as this node); `init --key <file>` brings it back')
  .option('--out <file>', 'write it to this new file (mode 0600) instead of stdout')
  .action(async (opts: CommonOptions & { out?: string }) => {
    const pem = await (await loadCommands()).exportKeyCommand(resolve(opts.dataDir), opts.out)
    if (pem !== undefined) process.stdout.write(pem)
  })

common(program.command('backup'))
  .description('write a backup of the data directory to a new file, while the node runs or not: identity, charter, config, invitations and every store (each LMDB store copied from one consistent read), one gzipped tar with a sha-256 per file (docs/operations.md)')
  .argument('<file>', 'the backup file to create (never replaces one)')
  .option('--json', 'print the report as JSON')
  .action(async (file: string, opts: CommonOptions) => {
    const report = await (await loadCommands()).createBackup(resolve(opts.dataDir), resolve(file))
    process.stdout.write(opts.json === true ? await jsonText(report, 2) + '\n' : `backup of ${report.did} written to ${report.file}: ${report.files} files, ${report.bytes} bytes (stores: ${report.stores.join(', ')})\n`)
  })

common(program.command('restore-backup'))
  .description('restore a backup into a new or empty data directory (checks every file\'s sha-256 first); then `icn-node run` it: peers send what happened since the backup')
  .argument('<file>', 'a file written by `icn-node backup`')
  .option('--json', 'print the report as JSON')
  .action(async (file: string, opts: CommonOptions) => {
    const report = await (await loadCommands()).restoreBackup(resolve(file), resolve(opts.dataDir))
    process.stdout.write(opts.json === true ? await jsonText(report, 2) + '\n' : `restored ${report.did} into ${report.dataDir} from the backup of ${new Date(report.createdAt).toISOString()}: ${report.files} files (stores: ${report.stores.join(', ')}); start it with \`icn-node run --data-dir ${report.dataDir}\`\n`)
  })

/** The options of every command that runs a node (`run`, `join`). */
function runOptions (command: Command): Command {
  return command
    .option('--peer <multiaddr>', 'peer to dial and keep redialling (repeatable)', collect, [])
    .option('--listen <multiaddr>', 'libp2p listen address (repeatable)', collect, [])
    .option('--api-port <port>', 'local API port on 127.0.0.1 (0 = any free port)', portNumber)
    .option('--snapshot-every <seconds>', 'take a distributed snapshot this often', positiveInteger)
}

common(runOptions(program.command('run')), 'info')
  .description('run the node until SIGINT/SIGTERM (JSON logs on stdout)')
  .action(async (opts: RunOptions) => { await (await loadCommands()).runNode(opts) })

common(runOptions(program.command('join')), 'info')
  .description('join a cooperative with an invitation code: creates this data directory\'s identity (if it has none), presents the code to the inviter, receives the network\'s genesis charter, then runs the node (it catches up once the membership proposal passes)')
  .argument('<code>', 'the invitation code (icn-invite:…) from `icn-node invite create` on a member\'s node')
  .option('--name <name>', 'your display name, shown to the other members')
  .action(async (code: string, opts: RunOptions & { name?: string }) => {
    const { joinNetwork } = await import(new URL('./join.mjs', import.meta.url).href) as typeof import('./join.js')
    const { refuseIfRunning, runNode } = await loadCommands()
    // Joining writes the charter and identity: never under a node that runs on this directory.
    await refuseIfRunning(resolve(opts.dataDir))
    const joined = await joinNetwork(resolve(opts.dataDir), code, opts.name === undefined ? {} : { name: opts.name })
    process.stderr.write(`joined ${joined.domain} (network ${joined.network}) as ${joined.did}, invited by ${joined.inviter}` +
      (joined.proposal === null ? '\n' : `; membership proposal ${joined.proposal} raised: this node reaches only its inviter until it passes\n`))
    await runNode(opts)
  })

const inviteCommand = program.command('invite').description('invitations: a signed, expiring, single-use code a new member joins with')
client(inviteCommand.command('create'))
  .description('create an invitation and print its code (hand it to the new member over a channel you trust)')
  .option('--expires <duration>', 'how long it stays usable: 30m, 12h, 7d', duration, 7 * 24 * 3600 * 1000)
  .option('--name <name>', 'the new member\'s display name (they may give their own at join)')
  .action(async (opts: CommonOptions & { expires: number, name?: string }) => {
    await withApi(opts, async (api) => await api.post('/invitations', { expiresInMs: opts.expires, ...(opts.name === undefined ? {} : { name: opts.name }) }), format.formatInvitation)
  })
client(inviteCommand.command('list'))
  .description('this node\'s invitations: pending, used (by whom), expired')
  .action(async (opts: CommonOptions) => { await withApi(opts, async (api) => await api.get('/invitations'), format.formatInvitations) })

client(program.command('members'))
  .description('the cooperative\'s members (names, roles, frozen), invitees not yet admitted, and what this node refused')
  .option('--set-name <name>', 'set this node\'s own display name (signed, gossiped)')
  .action(async (opts: CommonOptions & { setName?: string }) => {
    if (opts.setName !== undefined) await withApi(opts, async (api) => await api.post('/profile', { name: opts.setName }), format.formatNameSet)
    else await withApi(opts, async (api) => await api.get('/members'), format.formatMembers)
  })

client(program.command('status'))
  .description('show the running node\'s DID, addresses, peers and services')
  .action(async (opts: CommonOptions) => { await withApi(opts, async (api) => await api.get('/status'), format.formatStatus) })

client(program.command('peers'))
  .description('list connected peers, or add one with --add')
  .option('--add <multiaddr>', 'dial this peer and keep redialling it')
  .option('--block <did>', 'cut the link to this peer and refuse it for --for ms (then redials heal it)')
  .option('--for <ms>', 'how long --block lasts', positiveInteger, 10_000)
  .action(async (opts: CommonOptions & { add?: string, block?: string, for: number }) => {
    if (opts.add !== undefined) await withApi(opts, async (api) => await api.post('/peers', { multiaddr: opts.add }), format.formatPeerAdded)
    else if (opts.block !== undefined) await withApi(opts, async (api) => await api.post('/peers/block', { did: opts.block, ms: opts.for }), format.formatPeerBlocked)
    else await withApi(opts, async (api) => await api.get('/peers'), format.formatPeers)
  })

client(program.command('pay'))
  .description('pay another member: a signed double entry, applied here and gossiped')
  .requiredOption('--to <did>', 'the payee\'s DID')
  .requiredOption('--amount <n>', 'amount in minor units (a positive integer)')
  .option('--currency <code>', 'currency', 'ICN')
  .option('--reference <text>', 'free reference')
  .action(async (opts: CommonOptions & { to: string, amount: string, currency: string, reference?: string }) => {
    await withApi(opts, async (api) => await api.post('/pay', { to: opts.to, amount: opts.amount, currency: opts.currency, reference: opts.reference }), format.formatPayment)
  })

client(program.command('balance'))
  .description('show an account\'s balance and credit limit (default: this node\'s own account)')
  .option('--account <did>', 'account DID')
  .option('--currency <code>', 'currency', 'ICN')
  .option('--all', 'every balance this node knows')
  .action(async (opts: CommonOptions & { account?: string, currency: string, all?: boolean }) => {
    const query = new URLSearchParams({ currency: opts.currency, ...(opts.account === undefined ? {} : { account: opts.account }) })
    if (opts.all === true) await withApi(opts, async (api) => await api.get('/balances'), format.formatBalances)
    else await withApi(opts, async (api) => await api.get(`/balance?${query.toString()}`), format.formatBalance)
  })

client(program.command('statement'))
  .description('an account\'s entries in a period with the running balance after each (default: this node\'s account, all time); the period is [--from, --to)')
  .option('--account <did>', 'account DID')
  .option('--currency <code>', 'currency', 'ICN')
  .option('--from <date>', 'first day or instant, e.g. 2026-01-01 or 2026-01-01T09:00:00Z')
  .option('--to <date>', 'end of the period, excluded: --to 2026-02-01 ends with January')
  .option('--csv', 'print CSV (one line per entry) for a spreadsheet')
  .action(async (opts: CommonOptions & { account?: string, currency: string, from?: string, to?: string, csv?: boolean }) => {
    const query = new URLSearchParams({ currency: opts.currency })
    for (const key of ['account', 'from', 'to'] as const) if (opts[key] !== undefined) query.set(key, opts[key])
    await withApi(opts, async (api) => await api.get(`/statement?${query.toString()}`), opts.csv === true ? format.formatStatementCsv : format.formatStatement)
  })

const ledgerCommand = program.command('ledger').description('ledger maintenance after a snapshot restore')
client(ledgerCommand.command('floors'))
  .description('chains a restore moved back below entries this node had signed or held: their authors cannot pay until those entries come back')
  .action(async (opts: CommonOptions) => { await withApi(opts, async (api) => await api.get('/ledger/floors'), format.formatFloors) })
client(ledgerCommand.command('release-floor'))
  .description('declare the entries above a restored chain lost for good, so its author (default: this node) can pay again; if they do exist somewhere they will show up as forks')
  .requiredOption('--reference <text>', 'who decided this and why (logged)')
  .option('--author <did>', 'the author held back (default: this node)')
  .action(async (opts: CommonOptions & { reference: string, author?: string }) => {
    await withApi(opts, async (api) => await api.post('/ledger/floors/release', { reference: opts.reference, ...(opts.author === undefined ? {} : { author: opts.author }) }), format.formatFloorReleased)
  })

common(program.command('check'))
  .description('verify the data directory without starting the node (a running node may keep writing): the start-up checks, then every ledger entry\'s hash and signature, chain links, balances and state root recomputed, and every trust and governance record; prints each problem and exits 1 if there is any')
  .option('--json', 'print the report as JSON (for scripts)')
  .action(async (opts: CommonOptions) => {
    const { formatDataDirCheck, verifyDataDir } = await import(new URL('./check.mjs', import.meta.url).href) as typeof import('./check.js')
    const report = await verifyDataDir(resolve(opts.dataDir))
    process.stdout.write((opts.json === true ? await jsonText(report, 2) : formatDataDirCheck(report)) + '\n')
    if (!report.ok) process.exitCode = 1
  })

client(program.command('trust'))
  .description('attest trust in a DID (with --score), or show this node\'s computed trust in it')
  .requiredOption('--subject <did>', 'the DID trusted')
  .option('--score <0..1>', 'attest this score (0 revokes)', trustScore)
  .addOption(new Option('--graph <graph>', 'trust graph').choices(['social', 'economic', 'technical']).default('economic'))
  .action(async (opts: CommonOptions & { subject: string, score?: number, graph: string }) => {
    if (opts.score === undefined) await withApi(opts, async (api) => await api.get(`/trust?${new URLSearchParams({ subject: opts.subject, graph: opts.graph }).toString()}`), format.formatTrust)
    else await withApi(opts, async (api) => await api.post('/trust', { subject: opts.subject, score: opts.score, graph: opts.graph }), format.formatAttestation)
  })

client(program.command('propose'))
  .description('raise and submit a governance proposal (or list proposals with --list)')
  .option('--kind <kind>', 'proposal kind (text, config-change, membership, …)')
  .option('--title <title>', 'title')
  .option('--payload <json>', 'the kind\'s payload as JSON, e.g. \'{"key":"ledger.creditLimit","subject":"did:icn:…","value":{"currency":"ICN","limit":"50000"}}\'')
  .option('--description <text>', 'description')
  .option('--deliberation-ms <ms>', 'deliberation period within the charter\'s bounds', Number)
  .option('--list', 'list proposals instead')
  .action(async (opts: CommonOptions & { kind?: string, title?: string, payload?: string, description?: string, deliberationMs?: number, list?: boolean }) => {
    if (opts.list === true) { await withApi(opts, async (api) => await api.get('/proposals'), format.formatProposals); return }
    if (opts.kind === undefined || opts.title === undefined) throw new InvalidArgumentError('--kind and --title are required to propose')
    let payload: unknown = {}
    if (opts.payload !== undefined) {
      try { payload = JSON.parse(opts.payload) } catch { throw new InvalidArgumentError('--payload must be JSON') }
    }
    await withApi(opts, async (api) => await api.post('/proposals', {
      kind: opts.kind, title: opts.title, payload, description: opts.description, ...(opts.deliberationMs === undefined ? {} : { deliberationMs: opts.deliberationMs })
    }), format.formatProposed)
  })

client(program.command('vote'))
  .description('vote on a proposal (a later vote replaces an earlier one while it is open)')
  .requiredOption('--proposal <id>', 'proposal id')
  .addOption(new Option('--choice <choice>', 'your vote').choices(['for', 'against', 'abstain']).makeOptionMandatory())
  .action(async (opts: CommonOptions & { proposal: string, choice: string }) => {
    await withApi(opts, async (api) => await api.post('/votes', { proposal: opts.proposal, choice: opts.choice }), format.formatVote)
  })

const snapshotCommand = program.command('snapshot').description('distributed snapshots: take, list, verify, show (audit), export, restore')
client(snapshotCommand.command('take'))
  .description('take a distributed snapshot with every connected peer (waits for completion); it needs `snapshotMinParticipants` connected members this node trusts, itself included: 3 unless config.json says otherwise (a two-member cooperative sets 2)')
  .action(async (opts: CommonOptions) => {
    process.stderr.write('taking a distributed snapshot (markers out, waiting for every participant\'s ack)…\n')
    await withApi(opts, async (api) => await api.post('/snapshots'), format.formatSnapshotTaken)
  })
client(snapshotCommand.command('list'))
  .description('list completed snapshots stored on this node, newest first')
  .action(async (opts: CommonOptions) => { await withApi(opts, async (api) => await api.get('/snapshots'), format.formatSnapshots) })
client(snapshotCommand.command('verify'))
  .description('verify a completed snapshot: every participant recomputes the global root')
  .argument('<id>', 'snapshot id')
  .action(async (id: string, opts: CommonOptions) => {
    process.stderr.write(`verifying ${id} with every participant…\n`)
    await withApi(opts, async (api) => await api.post(`/snapshots/${encodeURIComponent(id)}/verify`), format.formatVerification)
  })
client(snapshotCommand.command('show'))
  .description('audit a completed snapshot without restoring it: per participant the recorded balances and chain heads, the ledger entries recorded in flight and its leaf in the root; per currency, recorded states + in flight = 0')
  .argument('<id>', 'snapshot id (see `snapshot list`)')
  .action(async (id: string, opts: CommonOptions) => {
    await withApi(opts, async (api) => await api.get(`/snapshots/${encodeURIComponent(id)}/audit`), formatAudit)
  })
client(snapshotCommand.command('export'))
  .description('the audited balances of a completed snapshot (per participant and currency: recorded, in flight, audited), as JSON or CSV')
  .argument('<id>', 'snapshot id (see `snapshot list`)')
  .option('--csv', 'CSV with a header row instead of JSON')
  .action(async (id: string, opts: CommonOptions & { csv?: boolean }) => {
    const api = await connectApi(resolve(opts.dataDir))
    const audit = await api.get(`/snapshots/${encodeURIComponent(id)}/audit`) as SnapshotAudit
    process.stdout.write((opts.csv === true ? auditedBalancesCsv(audit) : await jsonText(auditedBalances(audit), 2)) + '\n')
  })

client(snapshotCommand.command('prune'))
  .description('remove stored snapshots beyond the newest N and/or older than a duration, then the state chunks none of the rest uses')
  .option('--keep <n>', 'keep the newest N snapshots', (v: string) => (v === '0' ? 0 : positiveInteger(v)))
  .option('--older-than <duration>', 'remove snapshots completed longer ago than this, e.g. 30d', duration)
  .action(async (opts: CommonOptions & { keep?: number, olderThan?: number }) => {
    if (opts.keep === undefined && opts.olderThan === undefined) throw new InvalidArgumentError('give --keep, --older-than or both')
    const body = { ...(opts.keep === undefined ? {} : { keepNewest: opts.keep }), ...(opts.olderThan === undefined ? {} : { maxAgeMs: opts.olderThan }) }
    await withApi(opts, async (api) => await api.post('/snapshots/prune', body), (value) => {
      const r = value as { removed: string[], kept: number, chunks: number, chunkBytes: number }
      return `removed ${r.removed.length} snapshot(s)${r.removed.length > 0 ? ` (${r.removed.join(', ')})` : ''}; ${r.kept} kept, their state in ${r.chunks} chunk(s), ${r.chunkBytes} bytes`
    })
  })
client(snapshotCommand.command('restore'))
  .description('replace this node\'s trust, ledger, governance and gossip state with what it recorded in a completed snapshot; prints what was restored (peers still send entries newer than the snapshot again)')
  .argument('<id>', 'snapshot id (see `snapshot list`)')
  .action(async (id: string, opts: CommonOptions) => {
    process.stderr.write(`restoring this node's state from snapshot ${id}…\n`)
    await withApi(opts, async (api) => await api.post(`/snapshots/${encodeURIComponent(id)}/restore`), format.formatRestore)
  })

program.command('demo')
  .description('start N real node processes on loopback, run a scenario (trust, payments, a proposal, snapshots) and print a summary')
  .option('--nodes <n>', 'number of node processes (3-20)', positiveInteger, 3)
  .option('--timeout <seconds>', 'hard limit for the whole demo', positiveInteger, 55)
  .option('--keep', 'keep the temporary data directories and logs')
  .action(async (opts: { nodes: number, timeout: number, keep?: boolean }) => {
    const { runDemo } = await import(new URL('./demo.mjs', import.meta.url).href) as typeof import('./demo.js')
    await runDemo({ nodes: opts.nodes, timeoutMs: opts.timeout * 1000, keep: opts.keep === true })
  })

/**
 * What the operator can do about a damaged data-directory file that a subsystem's loader refused
 * (the preflight's own errors say it in their message).
 */
const DATA_DIR_HINTS: Record<string, string> = {
  INVALID_CONFIG: 'fix the file (docs/node.md lists its fields), or remove config.json to run with the defaults',
  INVALID_IDENTITY: 'restore identity.json from a backup: the node\'s data is signed under that identity',
  CORRUPT_FILE: 'restore the file from a backup; for gossip/state.json, removing it starts gossip with an empty log (the ledger, trust and governance stores keep their data)',
  CHARTER_MISMATCH: 'charter.json must be the cooperative\'s genesis charter this node\'s governance data was created with (every member holds the same file): restore it',
  INVALID_CHARTER: 'charter.json must be the cooperative\'s genesis charter (every member holds the same file): restore it',
  INVALID_BACKUP: 'take a new backup with `icn-node backup`, or use an older backup file',
  CORRUPT_STORE: 'run `icn-node check --data-dir <dir>` to list every problem; then restore that store\'s folder from a backup, or remove it to start that subsystem empty'
}

/** Prints a command's error as one line (with the hint for a damaged data-directory file) and sets exit code 1. */
function reportError (err: unknown): void {
  const error = err as Error & { code?: unknown }
  // An API error's message already carries the node's status and code ("404 NOT_FOUND: …").
  const code = error instanceof ApiCallError || typeof error.code !== 'string' ? '' : ` (${error.code})`
  const hint = typeof error.code === 'string' && !(error instanceof ApiCallError) ? DATA_DIR_HINTS[error.code] : undefined
  process.stderr.write(`icn-node: ${error.message}${code}${hint === undefined ? '' : ` — ${hint}`}\n`)
  process.exitCode = 1
}

// A CommonJS file has no top-level await: the process lives until the command's promise settles.
program.parseAsync().catch(reportError)
