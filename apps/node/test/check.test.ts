// `icn-node check`: a data directory written by the real node, intact and with bytes of its ledger's data.mdb flipped.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Did, keyPairFromSeed } from '@icn/identity'
import { CorruptStoreError, openLedger, verifyLedger } from '@icn/ledger'
import { runSubprocess, withTempDir } from '@icn/testkit'
import { beforeAll, afterAll, describe, expect, it } from 'vitest'
import { formatDataDirCheck, verifyDataDir } from '../src/check.js'
import { loadIdentity } from '../src/data-dir.js'

const helper = fileURLToPath(new URL('./helpers/node-state.mjs', import.meta.url))
// The payee of node-state.mjs.
const payee = keyPairFromSeed(new Uint8Array(32).fill(42)).did

interface Written { dataDir: string, payer: Did, ids: string[], root: string }

/**
 * The real node writes its data directory (a payment, an attestation, a proposal: node-state.mjs), then
 * three more payments go through openLedger on its ledger with its identity.
 */
async function writeDataDir (dir: string): Promise<Written> {
  const dataDir = join(dir, 'node')
  const written = JSON.parse(await runSubprocess(helper, ['write', dataDir])) as { entryId: string }
  const keyPair = await loadIdentity(dataDir)
  const ledger = await openLedger({ path: join(dataDir, 'ledger'), verifyWorkers: 0 })
  const ids = [written.entryId]
  for (const [amount, reference] of [[10n, 'second'], [20n, 'third'], [30n, 'fourth']] as const) ids.push((await ledger.pay(keyPair, payee, 'ICN', amount, reference)).id)
  const root = ledger.stateRoot()
  await ledger.close()
  return { dataDir, payer: keyPair.did, ids, root }
}

/** A copy of the written data directory with `bytes[at]` of every occurrence of `needle` in the ledger's data.mdb XOR-ed with 1; returns it and the count. */
function flipped (from: Written, to: string, needle: string, at: number): { dataDir: string, flips: number } {
  const dataDir = join(to, 'node')
  cpSync(from.dataDir, dataDir, { recursive: true })
  const file = join(dataDir, 'ledger', 'data.mdb')
  const data = readFileSync(file)
  const pattern = Buffer.from(needle, 'utf8')
  let flips = 0
  for (let i = data.indexOf(pattern); i >= 0; i = data.indexOf(pattern, i + 1)) {
    data[i + at] = (data[i + at] as number) ^ 1
    flips++
  }
  writeFileSync(file, data)
  return { dataDir, flips }
}

async function openError (dataDir: string): Promise<CorruptStoreError> {
  const err = await openLedger({ path: join(dataDir, 'ledger'), verifyWorkers: 0 }).then(async (l) => { await l.close(); return undefined }, (e: unknown) => e)
  expect(err).toBeInstanceOf(CorruptStoreError)
  return err as CorruptStoreError
}

describe('icn-node check', () => {
  // One data directory written by the node for the whole suite (each damage test flips bytes in a copy).
  const baseDir = mkdtempSync(join(tmpdir(), 'icn-check-'))
  let base: Written
  beforeAll(async () => {
    // The node's identity is random. The account-key case flips the payee's key into one that sorts first,
    // where the check reads it as the table's first key; a payer sorting before the payee (about 1 in 20)
    // would make it a key out of order instead. So the node's DID must sort after the payee's.
    for (let attempt = 0; ; attempt++) {
      base = await writeDataDir(join(baseDir, String(attempt)))
      if (base.payer > payee) break
    }
  }, 240_000)
  afterAll(() => { rmSync(baseDir, { recursive: true, force: true }) })

  it('an intact data directory: every store checks out, with exact counts', async () => {
    const report = await verifyDataDir(base.dataDir)
    expect(report.ok).toBe(true)
    expect(report.problems).toEqual([])
    expect(report.stores).toEqual({ ledger: 'ok', trust: 'ok', governance: 'ok' })
    expect(report.ledger?.rows).toEqual({
      entries: 4, slots: 4, chains: 1, credit: 1, balances: 2, unacked: 4, pending: 0, waits: 0, quarantine: 0, forks: 0, overrides: 0, history: 8, floors: 0
    })
    expect(report.ledger?.accounts).toBe(2)
    expect(report.ledger?.signatures).toBe(4)
    expect(report.ledger?.stateRoot).toBe(base.root)
    expect(report.ledger?.expectedStateRoot).toBe(base.root)
    expect(formatDataDirCheck(report)).toBe([
      `ledger: ok — 4 entries, 1 chains, 2 accounts, 4 signatures verified, 0 quarantined, 0 held; state root ${base.root}`,
      'trust: ok',
      'governance: ok',
      'no problems found'
    ].join('\n'))
  })

  it('a flipped digit of a balance: the ledger refuses to open; check names the row', async () => {
    await withTempDir(async (dir) => {
      // the payer's balance: -1234 - 10 - 20 - 30 = -1294; its '9' becomes '8'
      const { dataDir, flips } = flipped(base, dir, `balances ${base.payer} ICN-1294`, `balances ${base.payer} ICN-12`.length)
      expect(flips).toBeGreaterThanOrEqual(1)
      const err = await openError(dataDir)
      expect([err.table, err.key, err.message]).toEqual(['balances', 'ICN', `ledger store ${join(dataDir, 'ledger', 'data.mdb')} is damaged: balances "ICN": the balances of ICN sum to 10, not 0`])
      const report = await verifyDataDir(dataDir)
      expect(report.ok).toBe(false)
      expect(report.stores).toEqual({ ledger: 'damaged', trust: 'ok', governance: 'ok' })
      expect(report.ledger?.expectedStateRoot).toBe(base.root)
      expect(report.problems).toEqual([
        { store: 'ledger', table: 'balances', key: 'ICN', problem: 'the balances of ICN sum to 10, not 0' },
        { store: 'ledger', table: 'balances', key: `${base.payer} ICN`, problem: 'stored -1284, the entries give -1294' },
        { store: 'ledger', table: 'store', key: 'state root', problem: `the stored balances and heads give ${report.ledger?.stateRoot as string}, the entries give ${base.root}` }
      ])
    })
  })

  it('a flipped byte in an account key (the measured "did:in:z…" row): refused at open', async () => {
    await withTempDir(async (dir) => {
      // 'did:icn' → 'did:ibn' in the payee's balance key
      const { dataDir, flips } = flipped(base, dir, `balances ${payee} ICN`, 'balances did:i'.length)
      expect(flips).toBeGreaterThanOrEqual(1)
      const broken = `did:ibn${payee.slice('did:icn'.length)}`
      const err = await openError(dataDir)
      expect([err.table, err.key, err.message]).toEqual(['balances', `${broken} ICN`, `ledger store ${join(dataDir, 'ledger', 'data.mdb')} is damaged: balances "${broken} ICN": account "${broken}" is not a did:icn DID`])
      const report = await verifyDataDir(dataDir)
      expect(report.problems.slice(0, 3)).toEqual([
        { store: 'ledger', table: 'balances', key: `${broken} ICN`, problem: `account "${broken}" is not a did:icn DID` },
        { store: 'ledger', table: 'balances', key: 'ICN', problem: 'the balances of ICN sum to -1294, not 0' },
        { store: 'ledger', table: 'balances', key: `${payee} ICN`, problem: 'missing: the entries give 1294' }
      ])
      expect(report.problems).toHaveLength(4) // and the state root
    })
  })

  it('a flipped hex digit of the chain head: refused at open', async () => {
    await withTempDir(async (dir) => {
      const head = base.ids[3] as string
      // the first hex digit that stays a hex digit when its low bit flips (not 'a' or 'f')
      const at = [...head].findIndex((ch) => ch !== 'a' && ch !== 'f')
      const { dataDir, flips } = flipped(base, dir, `chains ${base.payer}4 4 ${head}`, `chains ${base.payer}4 4 `.length + at)
      expect(flips).toBeGreaterThanOrEqual(1)
      const damaged = head.slice(0, at) + String.fromCharCode(head.charCodeAt(at) ^ 1) + head.slice(at + 1)
      const err = await openError(dataDir)
      expect([err.table, err.key, err.message]).toEqual(['chains', base.payer, `ledger store ${join(dataDir, 'ledger', 'data.mdb')} is damaged: chains "${base.payer}": head ${damaged} is not the entry of slot 4, which holds "${head}"`])
      const report = await verifyDataDir(dataDir)
      expect(report.problems[0]).toEqual({ store: 'ledger', table: 'chains', key: base.payer, problem: `head ${damaged} is not the entry of slot 4, which holds "${head}"` })
    })
  })

  it('a flipped byte inside an older entry: opens (history is not read at open), refused when read, and check finds it', async () => {
    await withTempDir(async (dir) => {
      // the reference 'second' of the payer's entry 2 becomes 'recond'
      const { dataDir, flips } = flipped(base, dir, 'second', 0)
      expect(flips).toBeGreaterThanOrEqual(1)
      const id = base.ids[1] as string
      const ledger = await openLedger({ path: join(dataDir, 'ledger'), verifyWorkers: 0 })
      expect(ledger.stateRoot()).toBe(base.root)
      expect(() => ledger.entry(id)).toThrow(CorruptStoreError)
      await ledger.close()
      const report = await verifyDataDir(dataDir)
      expect(report.ok).toBe(false)
      expect(report.problems[0]?.table).toBe('entries')
      expect(report.problems[0]?.key).toBe(id)
      expect(report.problems[0]?.problem).toMatch(/^bytes hash to [0-9a-f]{64}, not to their id$/)
      expect((await verifyLedger(join(dataDir, 'ledger'))).problems[0]).toEqual({ table: 'entries', key: id, problem: report.problems[0]?.problem })
      expect(formatDataDirCheck(report).split('\n').slice(0, 4)).toEqual([
        `ledger: damaged — 4 entries, 1 chains, 2 accounts, 3 signatures verified, 0 quarantined, 0 held; state root ${base.root} (the entries give ${report.ledger?.expectedStateRoot as string})`,
        'trust: ok',
        'governance: ok',
        `  ledger entries "${id}": ${report.problems[0]?.problem as string}`
      ])
    })
  })

  it('a data directory the preflight refuses is reported, and its stores are not opened', async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, 'node')
      cpSync(base.dataDir, dataDir, { recursive: true })
      writeFileSync(join(dataDir, 'ledger', 'data.mdb'), Buffer.alloc(100))
      const report = await verifyDataDir(dataDir)
      expect(report.ok).toBe(false)
      expect(report.stores).toEqual({ ledger: 'skipped', trust: 'skipped', governance: 'skipped' })
      expect(report.problems).toEqual([{ store: 'data-dir', problem: `${join(dataDir, 'ledger', 'data.mdb')}: not a valid LMDB data file (100 bytes): restore ${join(dataDir, 'ledger')} from a backup; or, to start this subsystem empty (what it held is lost on this node), remove the folder ${join(dataDir, 'ledger')} (DATA_DIR_CORRUPT)` }])
    })
  })
})
