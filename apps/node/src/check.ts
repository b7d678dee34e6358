import { GovernanceStore } from '@icn/governance'
import { type LedgerCheckReport, verifyLedger } from '@icn/ledger'
import { openTrustStore } from '@icn/trust'
import { dataDirLayout, pathExists } from './data-dir.js'
import { DataDirMissingError } from './errors.js'
import { checkDataDir } from './preflight.js'

/** One thing wrong in a data directory. */
export interface DataDirProblem {
  /** `data-dir`: what the start-up preflight refuses (permissions, identity, LMDB files, snapshots). */
  readonly store: 'data-dir' | 'ledger' | 'trust' | 'governance'
  /** The ledger table (or `store`) holding the damaged record. */
  readonly table?: string
  /** The damaged record's key within its table. */
  readonly key?: string
  readonly problem: string
}

/** What a store's check found: `absent` (no folder: that subsystem starts empty), `ok`, `damaged`, or `skipped` (the preflight failed, so its LMDB files are not opened). */
export type StoreVerdict = 'absent' | 'ok' | 'damaged' | 'skipped'

/** What `verifyDataDir` found. */
export interface DataDirCheckReport {
  readonly dataDir: string
  /** True when nothing is wrong. */
  readonly ok: boolean
  readonly stores: { readonly ledger: StoreVerdict, readonly trust: StoreVerdict, readonly governance: StoreVerdict }
  /** The ledger's full report (counts, state roots), when its store was verified. */
  readonly ledger?: LedgerCheckReport
  /** Every problem (the ledger's listed up to 1000; `ledger.problemCount` counts them all). */
  readonly problems: readonly DataDirProblem[]
}

const message = (err: unknown): string => {
  const e = err as Error & { code?: unknown }
  return `${e.message}${typeof e.code === 'string' ? ` (${e.code})` : ''}`
}

/**
 * `icn-node check`: verifies a data directory without starting the node (a running node may keep
 * writing: every store is read in one committed state). First the start-up preflight (permissions,
 * identity, each LMDB file's meta pages, stored snapshots); if it passes, the ledger's full verification
 * (`verifyLedger`: every entry's hash and signature, chain links, balances, credit views, history and
 * state root recomputed), every trust record decoded, and every governance record decoded, as their
 * start does. Throws only on what is not damage (e.g. a data directory that does not exist).
 */
export async function verifyDataDir (root: string): Promise<DataDirCheckReport> {
  const layout = dataDirLayout(root)
  if (!(await pathExists(root))) throw new DataDirMissingError(root)
  const problems: DataDirProblem[] = []
  const stores = { ledger: 'absent' as StoreVerdict, trust: 'absent' as StoreVerdict, governance: 'absent' as StoreVerdict }
  let ledger: LedgerCheckReport | undefined
  try {
    await checkDataDir(root)
  } catch (err) {
    problems.push({ store: 'data-dir', problem: message(err) })
    for (const name of ['ledger', 'trust', 'governance'] as const) if (await pathExists(layout[name])) stores[name] = 'skipped'
    return { dataDir: root, ok: false, stores, problems }
  }
  if (await pathExists(layout.ledger)) {
    try {
      ledger = await verifyLedger(layout.ledger)
      stores.ledger = ledger.ok ? 'ok' : 'damaged'
      for (const p of ledger.problems) problems.push({ store: 'ledger', table: p.table, key: p.key, problem: p.problem })
    } catch (err) {
      stores.ledger = 'damaged'
      problems.push({ store: 'ledger', problem: message(err) })
    }
  }
  if (await pathExists(layout.trust)) {
    try {
      const trust = await openTrustStore(layout.trust)
      try { trust.all() } finally { await trust.close() }
      stores.trust = 'ok'
    } catch (err) {
      stores.trust = 'damaged'
      problems.push({ store: 'trust', problem: message(err) })
    }
  }
  if (await pathExists(layout.governance)) {
    try {
      const governance = GovernanceStore.open(layout.governance)
      try { governance.contents() } finally { await governance.close() }
      stores.governance = 'ok'
    } catch (err) {
      stores.governance = 'damaged'
      problems.push({ store: 'governance', problem: message(err) })
    }
  }
  return { dataDir: root, ok: problems.length === 0, stores, ...(ledger === undefined ? {} : { ledger }), problems }
}

/** The report as the CLI prints it: one line per store, then one per problem. */
export function formatDataDirCheck (report: DataDirCheckReport): string {
  const lines: string[] = []
  const l = report.ledger
  lines.push(`ledger: ${report.stores.ledger}` + (l === undefined
    ? ''
    : ` — ${l.rows.entries} entries, ${l.rows.chains} chains, ${l.accounts} accounts, ${l.signatures} signatures verified, ` +
      `${l.rows.quarantine} quarantined, ${l.rows.pending} held; state root ${l.stateRoot}` +
      (l.expectedStateRoot === l.stateRoot ? '' : ` (the entries give ${l.expectedStateRoot})`)))
  lines.push(`trust: ${report.stores.trust}`)
  lines.push(`governance: ${report.stores.governance}`)
  for (const p of report.problems) {
    lines.push(`  ${p.store}${p.table === undefined ? '' : ` ${p.table}`}${p.key === undefined ? '' : ` ${JSON.stringify(p.key)}`}: ${p.problem}`)
  }
  const more = l === undefined ? 0 : l.problemCount - l.problems.length
  if (more > 0) lines.push(`  … and ${more} more ledger problems`)
  lines.push(report.ok ? 'no problems found' : `${report.problems.length + more} problem${report.problems.length + more === 1 ? '' : 's'} found`)
  return lines.join('\n')
}
