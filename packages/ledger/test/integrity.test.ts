// Damage to the store: what openLedger refuses at open, and what verifyLedger finds.
import { fileURLToPath } from 'node:url'
import { encode, decode, sha256, toHex } from '@icn/identity'
import { ManualClock, startSubprocess, withTempDir } from '@icn/testkit'
import { type RootDatabase, open } from 'lmdb'
import { expect, test } from 'vitest'
import { CorruptStoreError, type LedgerCheckReport, LedgerStore, computeStateRoot, openLedger, verifyLedger } from '../src/index.js'
import { handEntry, member, payment } from './fixtures.js'

const [a, b, c] = [member(0), member(1), member(2)]
const pad = (n: number): string => n.toString().padStart(16, '0')

/**
 * A ledger written through openLedger: a (2 entries) pays b and c, b pays c, c's entry arrives from a peer,
 * a forgery is quarantined, c's entry 4 is held at a gap, and b has a limit override.
 */
async function written (dir: string): Promise<{ ids: string[], held: string, forged: string, root: string }> {
  const ledger = await openLedger({ path: dir, clock: new ManualClock(), verifyWorkers: 0 })
  const e1 = await ledger.pay(a, b.did, 'HOUR', 120n, 'bread')
  const e2 = await ledger.pay(b, c.did, 'HOUR', 20n)
  const e3 = await ledger.pay(a, c.did, 'HOUR', 5n)
  const remote = handEntry(c, 1, undefined, payment(c.did, a.did, 5n))
  expect((await ledger.applyEnvelope(remote.bytes)).status).toBe('applied')
  const forged = await ledger.applyEnvelope(encode({ ...(decode(handEntry(c, 2, remote.id, payment(c.did, a.did, 1n)).bytes) as object), signature: new Uint8Array(64) }))
  expect(forged.status).toBe('quarantined')
  const held = handEntry(c, 4, 'f'.repeat(64), payment(c.did, a.did, 1n))
  expect((await ledger.applyEnvelope(held.bytes)).status).toBe('pending')
  await ledger.setCreditLimit(b.did, 'HOUR', 9_000n, 'decision-3')
  const root = ledger.stateRoot()
  await ledger.close()
  return { ids: [e1.id, e2.id, e3.id, remote.id], held: held.id, forged: forged.id, root }
}

/** Writes raw keys and values of the store's single LMDB database (what a damaged disk could leave). */
async function damage (dir: string, fn: (db: RootDatabase<Uint8Array, string>) => void): Promise<void> {
  const db = open<Uint8Array, string>({ path: dir, encoding: 'binary' })
  db.transactionSync(() => { fn(db) })
  await db.close()
}

/** Flips a bit inside the signature of the stored entry `id`; returns the damaged bytes' hash. */
function flipSignature (db: RootDatabase<Uint8Array, string>, id: string): string {
  const bytes = new Uint8Array(db.get(`entries ${id}`) as Uint8Array)
  bytes[bytes.length - 10] = (bytes[bytes.length - 10] as number) ^ 1
  db.putSync(`entries ${id}`, bytes)
  return toHex(sha256(bytes))
}

const text = (s: string): Uint8Array => Buffer.from(s, 'utf8')

/** openLedger's refusal, as { table, key, message }. */
async function refusal (dir: string): Promise<{ table: string, key: string, message: string }> {
  const err = await openLedger({ path: dir, verifyWorkers: 0 }).then(async (l) => { await l.close(); return undefined }, (e: unknown) => e)
  expect(err).toBeInstanceOf(CorruptStoreError)
  const { table, key, message, code } = err as CorruptStoreError
  expect(code).toBe('CORRUPT_STORE')
  return { table, key, message }
}

const CLEAN_ROWS = { entries: 4, slots: 4, chains: 3, credit: 3, balances: 3, unacked: 3, pending: 1, waits: 0, quarantine: 1, forks: 0, overrides: 1, history: 8, floors: 0 }

test('an intact store opens and verifies clean, with exact counts', async () => {
  await withTempDir(async (dir) => {
    const { root } = await written(dir)
    const report = await verifyLedger(dir)
    expect(report).toEqual<LedgerCheckReport>({
      path: dir,
      ok: true,
      rows: CLEAN_ROWS,
      accounts: 3,
      signatures: 5, // 4 applied + 1 held (the forgery is quarantined for its signature)
      stateRoot: root,
      expectedStateRoot: root,
      problemCount: 0,
      problems: []
    })
    const ledger = await openLedger({ path: dir, verifyWorkers: 0 })
    expect(ledger.stateRoot()).toBe(root)
    await ledger.close()
  })
})

test('a changed balance: refused at open (balances no longer sum to zero); the check names the row and the state root', async () => {
  await withTempDir(async (dir) => {
    const { root } = await written(dir)
    await damage(dir, (db) => { db.putSync(`balances ${a.did} HOUR`, text('-125')) })
    expect(await refusal(dir)).toEqual({ table: 'balances', key: 'HOUR', message: `ledger store ${dir}/data.mdb is damaged: balances "HOUR": the balances of HOUR sum to -5, not 0` })
    const damagedRoot = computeStateRoot([
      { account: a.did, currency: 'HOUR', balance: -125n }, { account: b.did, currency: 'HOUR', balance: 100n }, { account: c.did, currency: 'HOUR', balance: 20n }
    ], await heads(dir))
    const report = await verifyLedger(dir)
    expect(report.ok).toBe(false)
    expect(report.stateRoot).toBe(damagedRoot)
    expect(report.expectedStateRoot).toBe(root)
    expect(report.problems).toEqual([
      { table: 'balances', key: 'HOUR', problem: 'the balances of HOUR sum to -5, not 0' },
      { table: 'balances', key: `${a.did} HOUR`, problem: 'stored -125, the entries give -120' },
      { table: 'store', key: 'state root', problem: `the stored balances and heads give ${damagedRoot}, the entries give ${root}` }
    ])
    expect(report.problemCount).toBe(3)
  })
})

/** The chain heads as stored (read through the storage adapter). */
async function heads (dir: string): Promise<Array<{ author: typeof a.did, seq: number, id: string }>> {
  const store = LedgerStore.open(dir, { readOnly: true })
  const out = store.heads()
  await store.close()
  return out
}

test('an account key that is no DID (the measured "did:in:z12EK…" row) is refused at open', async () => {
  await withTempDir(async (dir) => {
    const w = await written(dir)
    const broken = `did:in:z${c.did.slice('did:icn:z'.length)}`
    await damage(dir, (db) => {
      db.removeSync(`balances ${c.did} HOUR`)
      db.putSync(`balances ${broken} HOUR`, text('20'))
    })
    expect(await refusal(dir)).toEqual({
      table: 'balances', key: `${broken} HOUR`, message: `ledger store ${dir}/data.mdb is damaged: balances "${broken} HOUR": account "${broken}" is not a did:icn DID`
    })
    const report = await verifyLedger(dir)
    expect(report.expectedStateRoot).toBe(w.root)
    expect(report.problems).toEqual([
      { table: 'balances', key: `${broken} HOUR`, problem: `account "${broken}" is not a did:icn DID` },
      { table: 'balances', key: 'HOUR', problem: 'the balances of HOUR sum to -20, not 0' },
      { table: 'balances', key: `${c.did} HOUR`, problem: 'missing: the entries give 20' },
      { table: 'store', key: 'state root', problem: `the stored balances and heads give ${report.stateRoot}, the entries give ${w.root}` }
    ])
    expect(report.stateRoot).not.toBe(w.root)
  })
})

test('damaged derived records are refused at open, each naming its table and key', async () => {
  const cases: Array<{ name: string, damage: (db: RootDatabase<Uint8Array, string>, w: Awaited<ReturnType<typeof written>>) => void, table: string, key: (w: Awaited<ReturnType<typeof written>>) => string, problem: (w: Awaited<ReturnType<typeof written>>) => string }> = [
    {
      name: 'chain record',
      damage: (db) => { db.putSync(`chains ${b.did}`, text('1 1 zz')) },
      table: 'chains',
      key: () => b.did,
      problem: () => 'record "1 1 zz" is not "seq applied head" (seq ≥ 1, 0 ≤ applied ≤ seq, head an entry id)'
    },
    {
      name: 'chain head pointing elsewhere',
      damage: (db, w) => { db.putSync(`chains ${b.did}`, text(`1 1 ${w.ids[0] as string}`)) },
      table: 'chains',
      key: () => b.did,
      problem: (w) => `head ${w.ids[0] as string} is not the entry of slot 1, which holds "${w.ids[1] as string}"`
    },
    {
      name: 'credit row of an author without a chain',
      damage: (db) => { db.putSync(`credit ${member(5).did} HOUR`, text('0 0')) },
      table: 'credit',
      key: () => `${member(5).did} HOUR`,
      problem: () => 'the author has no chain'
    },
    {
      name: 'credit record',
      damage: (db) => { db.putSync(`credit ${a.did} HOUR`, text('-125 x')) },
      table: 'credit',
      key: () => `${a.did} HOUR`,
      problem: () => 'record "-125 x" is not "known volume" (integers, volume ≥ 0)'
    },
    {
      name: 'unacknowledged credit of an entry that is not applied',
      damage: (db) => { db.putSync(`unacked ${a.did} ${'e'.repeat(64)}`, text('HOUR 3')) },
      table: 'unacked',
      key: () => `${a.did} ${'e'.repeat(64)}`,
      problem: () => `entry ${'e'.repeat(64)} is not applied`
    },
    {
      name: 'held entry under another slot',
      damage: (db, w) => {
        const bytes = db.get(`pending ${c.did} ${pad(4)} ${w.held}`) as Uint8Array
        db.putSync(`pending ${c.did} ${pad(9)} ${w.held}`, bytes)
      },
      table: 'pending',
      key: (w) => `${c.did} ${pad(9)} ${w.held}`,
      problem: () => `held entry is ${c.did}'s entry 4`
    },
    {
      name: 'override record',
      damage: (db) => { db.putSync(`overrides ${b.did} HOUR`, encode({ limit: '-1', reference: 'decision-3' })) },
      table: 'overrides',
      key: () => `${b.did} HOUR`,
      problem: () => 'record is not { limit in [0, 2^63 − 1], reference }'
    },
    {
      name: 'floor at or below its chain head',
      damage: (db) => { db.putSync(`floors ${a.did}`, text('2')) },
      table: 'floors',
      key: () => a.did,
      problem: () => 'floor 2 is not above the chain head 2'
    },
    {
      name: 'wait marker',
      damage: (db) => { db.putSync(`waits ${'d'.repeat(64)} ${c.did}`, Uint8Array.of(7)) },
      table: 'waits',
      key: () => `${'d'.repeat(64)} ${c.did}`,
      problem: () => 'marker is not the byte 1'
    },
    {
      name: 'key outside every table',
      damage: (db) => { db.putSync('balancez x', text('1')) },
      table: 'store',
      key: () => 'balancez x',
      problem: () => 'key outside every table'
    }
  ]
  for (const k of cases) {
    await withTempDir(async (dir) => {
      const w = await written(dir)
      await damage(dir, (db) => { k.damage(db, w) })
      const key = k.key(w)
      const problem = k.problem(w)
      expect(await refusal(dir), k.name).toEqual({ table: k.table, key, message: `ledger store ${dir}/data.mdb is damaged: ${k.table} ${JSON.stringify(key)}: ${problem}` })
      const report = await verifyLedger(dir)
      expect(report.problems, k.name).toContainEqual({ table: k.table, key, problem })
    })
  }
})

test('a damaged chain head entry is refused at open; a damaged older entry opens, is refused when read, and the check finds it', async () => {
  await withTempDir(async (dir) => {
    const w = await written(dir)
    const e3 = w.ids[2] as string
    let hash = ''
    await damage(dir, (db) => { hash = flipSignature(db, e3) })
    expect(await refusal(dir)).toEqual({ table: 'chains', key: a.did, message: `ledger store ${dir}/data.mdb is damaged: chains "${a.did}": head entry ${e3} bytes hash to ${hash}, not to their id` })
  })
  await withTempDir(async (dir) => {
    const w = await written(dir)
    const [e1] = w.ids as [string]
    let hash = ''
    await damage(dir, (db) => { hash = flipSignature(db, e1) })
    // history is not read at open: it opens, with the stored (intact) balances and heads
    const ledger = await openLedger({ path: dir, verifyWorkers: 0 })
    expect(ledger.stateRoot()).toBe(w.root)
    expect(() => ledger.entry(e1)).toThrow(new CorruptStoreError(dir, 'entries', e1, `stored bytes hash to ${hash}, not to their id`))
    expect(() => ledger.chainRange(a.did, 1)).toThrow(new CorruptStoreError(dir, 'entries', e1, `stored bytes of ${a.did}'s entry 1 hash to ${hash}, not to their id`))
    await ledger.close()
    const report = await verifyLedger(dir)
    expect(report.problems[0]).toEqual({ table: 'entries', key: e1, problem: `bytes hash to ${hash}, not to their id` })
    // …and what follows from e1 missing: its slot (held by no entry, so a gap), a's chain count, its 2 history rows (in key order), 2 balances, 2 credit views, the state root
    expect(report.problems.slice(1).map((p) => `${p.table} ${p.key}`)).toEqual([
      `slots ${a.did} ${pad(1)}`, `slots ${a.did} ${pad(1)}`, `chains ${a.did}`, `history ${b.did} ${pad(1_700_000_000_000)} ${e1}`,
      `history ${a.did} ${pad(1_700_000_000_000)} ${e1}`, `balances ${a.did} HOUR`, `balances ${b.did} HOUR`, `credit ${a.did} HOUR`, `credit ${b.did} HOUR`,
      'store state root'
    ])
    expect(report.expectedStateRoot).not.toBe(w.root)
    expect(report.stateRoot).toBe(w.root)
  })
})

test('a check while another process keeps writing reads one committed state each time: never a problem', async () => {
  await withTempDir(async (dir) => {
    const writer = startSubprocess(fileURLToPath(new URL('./helpers/ledger-crash.mjs', import.meta.url)), ['run', dir, '11', '1000000'])
    try {
      await writer.waitForOutput('applied 10\n')
      const seen: number[] = []
      for (let i = 0; i < 5; i++) {
        const report = await verifyLedger(dir)
        expect(report.problems).toEqual([])
        expect(report.stateRoot).toBe(report.expectedStateRoot)
        seen.push(report.rows.entries)
      }
      expect(seen.every((n, i) => n >= 10 && n >= (seen[i - 1] ?? 0))).toBe(true)
    } finally {
      writer.kill('SIGKILL')
      await writer.exited
    }
  })
}, 60_000)
