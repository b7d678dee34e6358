import { mkdir, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sha256, toHex } from '@icn/identity'
import { readJsonSnapshot } from '@icn/identity/fs'
import { ManualClock, SeededRng, withTempDir } from '@icn/testkit'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  type CompletedSnapshot, type DamageKind, type DamagedSnapshot, type SnapshotStore, type SnapshotSummary, SnapshotNotFoundError, SnapshotQuarantinedError,
  openSnapshotStore, snapshotFileNames, writeSnapshotFiles
} from '../src/index.js'
import { fieldsOf, realRecords } from './support/records.js'
import { Router } from './support/router.js'

const T0 = 1_800_000_000_000
const NOT_OURS = 'not a file of the snapshot store'

let a: CompletedSnapshot
let b: CompletedSnapshot
beforeAll(async () => {
  a = (await realRecords(901))[0]!
  b = (await realRecords(902))[0]!
})

function summaryOf (r: CompletedSnapshot): SnapshotSummary {
  return { snapshotId: r.snapshotId, node: r.node, initiator: r.initiator, timestamp: r.timestamp, completedAt: r.completedAt, participants: r.participants, root: r.root }
}

/** Summaries newest first, as `list()` orders them. */
function listed (...records: CompletedSnapshot[]): SnapshotSummary[] {
  return records.map(summaryOf).sort((x, y) => y.completedAt - x.completedAt || (x.snapshotId < y.snapshotId ? -1 : 1))
}

/** The files of a stored snapshot (its metadata and commit marker; its state is in chunks/), sorted. */
function filesOf (id: string): string[] {
  const names = snapshotFileNames(id)
  return [names.meta, names.checksum].sort()
}

/** The chunks (sha-256 hex, file names in chunks/) of a stored snapshot's local and channel state. */
async function chunksOf (dir: string, id: string): Promise<string[]> {
  const meta = await readJsonSnapshot(join(dir, snapshotFileNames(id).meta)) as Record<'localState' | 'channelState', { chunks: string[] }>
  return [...meta.localState.chunks, ...meta.channelState.chunks]
}

/** A chunk of snapshot `id` that snapshot `other` does not share (equal states share their chunks). */
async function ownChunk (dir: string, id: string, other: string): Promise<string> {
  const shared = new Set(await chunksOf(dir, other))
  const own = (await chunksOf(dir, id)).find((c) => !shared.has(c))
  if (own === undefined) throw new Error(`snapshot ${id} has no chunk of its own`)
  return own
}

/** The store opened on `dir` with a manual clock at `at`, and what its `onDamaged` reported while opening. */
async function open (dir: string, at: number): Promise<{ store: SnapshotStore, reported: DamagedSnapshot[], clock: ManualClock }> {
  const reported: DamagedSnapshot[] = []
  const clock = new ManualClock(at)
  const store = await openSnapshotStore({ path: dir, clock, onDamaged: (d) => { reported.push(d) } })
  return { store, reported, clock }
}

function entry (dir: string, file: string, snapshotId: string | null, kind: DamageKind, reason: string, detectedAt: number, name = file): DamagedSnapshot {
  return { file, snapshotId, kind, reason, movedTo: join(dir, 'damaged', name), detectedAt }
}

/** Replaces `file` with `mutate(bytes)`; returns the new bytes. */
async function rewrite (path: string, mutate: (bytes: Buffer) => Uint8Array): Promise<Uint8Array> {
  const bytes = mutate(await readFile(path))
  await writeFile(path, bytes)
  return bytes
}

interface DamageCase {
  what: string
  /** Damages `dir` (holding snapshots a and b); returns what `damaged()` must list (movedTo names = file names unless `name`), in order. */
  damage: (dir: string) => Promise<Array<Omit<DamagedSnapshot, 'movedTo' | 'detectedAt'> & { name?: string }>>
  /** The snapshots still intact. */
  intact: () => CompletedSnapshot[]
}

const CASES: DamageCase[] = [
  {
    what: 'one byte flipped in a stored snapshot\'s metadata',
    damage: async (dir) => {
      const names = snapshotFileNames(b.snapshotId)
      const flipped = await rewrite(join(dir, names.meta), (bytes) => { bytes[bytes.length - 5]! ^= 1; return bytes })
      const sidecar = (await readFile(join(dir, names.checksum), 'utf8')).slice(0, 64)
      const reason = `${names.meta}: sha-256 ${toHex(sha256(flipped))} does not match ${names.checksum} (${sidecar})`
      return filesOf(b.snapshotId).map((file) => ({ file, snapshotId: b.snapshotId, kind: 'corrupt', reason }))
    },
    intact: () => [a]
  },
  {
    what: 'a stored snapshot\'s state chunk truncated to half',
    damage: async (dir) => {
      const hash = await ownChunk(dir, b.snapshotId, a.snapshotId)
      const path = join(dir, 'chunks', hash)
      await truncate(path, Math.floor((await readFile(path)).length / 2))
      const reason = `chunks/${hash}: state chunk does not match its sha-256 (its name)`
      return [...filesOf(b.snapshotId), `chunks/${hash}`].map((file) => ({ file, snapshotId: b.snapshotId, kind: 'corrupt', reason, name: file.replace('chunks/', '') }))
    },
    intact: () => [a]
  },
  {
    what: 'garbage over a stored snapshot\'s metadata (the store\'s extension)',
    damage: async (dir) => {
      const names = snapshotFileNames(a.snapshotId)
      const garbage = new SeededRng(7).bytes(300)
      await writeFile(join(dir, names.meta), garbage)
      const sidecar = (await readFile(join(dir, names.checksum), 'utf8')).slice(0, 64)
      const reason = `${names.meta}: sha-256 ${toHex(sha256(garbage))} does not match ${names.checksum} (${sidecar})`
      return filesOf(a.snapshotId).map((file) => ({ file, snapshotId: a.snapshotId, kind: 'corrupt', reason }))
    },
    intact: () => [b]
  },
  {
    what: 'garbage in a stored snapshot\'s .snapshot.sha256',
    damage: async (dir) => {
      const names = snapshotFileNames(a.snapshotId)
      await writeFile(join(dir, names.checksum), 'not a checksum\n')
      const reason = `${names.checksum}: not "<sha-256>  ${names.meta}"`
      return filesOf(a.snapshotId).map((file) => ({ file, snapshotId: a.snapshotId, kind: 'corrupt', reason }))
    },
    intact: () => [b]
  },
  {
    what: 'a junk x.snapshot.sha256 without its snapshot',
    damage: async (dir) => {
      await writeFile(join(dir, 'x.snapshot.sha256'), 'junk')
      return [{ file: 'x.snapshot.sha256', snapshotId: 'x', kind: 'corrupt', reason: 'x.snapshot: checksum file present but snapshot file missing' }]
    },
    intact: () => [a, b]
  },
  {
    what: 'a garbage file with the store\'s extension and no commit marker',
    damage: async (dir) => {
      await writeFile(join(dir, 'junk.snapshot'), new SeededRng(8).bytes(64))
      return [{ file: 'junk.snapshot', snapshotId: 'junk', kind: 'uncommitted', reason: 'no commit marker junk.snapshot.sha256 (an interrupted save or removal)' }]
    },
    intact: () => [a, b]
  },
  {
    what: 'unknown names: a file, a folder, a name that is no snapshot id, a file where damaged/ belongs',
    damage: async (dir) => {
      await writeFile(join(dir, 'notes.txt'), 'hello')
      await mkdir(join(dir, 'old'))
      await writeFile(join(dir, 'old', 'inside.bin'), 'kept')
      await writeFile(join(dir, 'not an id.snapshot.sha256'), 'junk')
      await writeFile(join(dir, 'damaged'), 'a file')
      return [
        { file: 'damaged', snapshotId: null, kind: 'unknown', reason: NOT_OURS },
        ...['not an id.snapshot.sha256', 'notes.txt', 'old'].map((file) => ({ file, snapshotId: null, kind: 'unknown' as const, reason: NOT_OURS }))
      ]
    },
    intact: () => [a, b]
  },
  {
    what: 'a temp file of an interrupted atomic write',
    damage: async (dir) => {
      const file = `.${snapshotFileNames(b.snapshotId).meta}.4242.1.tmp`
      await writeFile(join(dir, file), 'half')
      return [{ file, snapshotId: b.snapshotId, kind: 'uncommitted', reason: 'temporary file of an interrupted write' }]
    },
    intact: () => [a, b]
  }
]

async function contents (path: string): Promise<string> {
  try {
    return toHex(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EISDIR') throw err
    const inside = (await readdir(path)).sort()
    return `folder ${inside.join(',')}: ${(await Promise.all(inside.map(async (n) => await contents(join(path, n))))).join(',')}`
  }
}

describe('a damaged snapshot store opens: damage is moved into damaged/, listed and reported, never a reason to fail', () => {
  for (const c of CASES) {
    it(c.what, async () => {
      await withTempDir(async (dir) => {
        await writeSnapshotFiles(dir, a)
        await writeSnapshotFiles(dir, b)
        const expected = (await c.damage(dir)).map(({ name, ...d }) => ({ ...d, movedTo: join(dir, 'damaged', name ?? d.file), detectedAt: T0 }))
        const before = await Promise.all(expected.map(async (d) => await contents(join(dir, d.file))))

        const first = await open(dir, T0)
        expect(first.store.damaged()).toEqual(expected)
        expect(first.reported).toEqual(expected)
        expect(await first.store.list()).toEqual(listed(...c.intact()))
        for (const r of c.intact()) expect(fieldsOf(await first.store.load(r.snapshotId))).toEqual(fieldsOf(r))
        // Moved by rename, bytes untouched; the store directory holds exactly the intact snapshots' files.
        expect(await Promise.all(expected.map(async (d) => await contents(d.movedTo)))).toEqual(before)
        expect((await readdir(dir)).sort()).toEqual([...c.intact().flatMap((r) => filesOf(r.snapshotId)), 'chunks', 'damaged'].sort())
        expect((await readdir(join(dir, 'damaged'))).sort()).toEqual([...expected.map((d) => d.movedTo.slice(join(dir, 'damaged').length + 1)), 'damaged.json'].sort())
        await first.store.close()

        // Reopened: nothing new to report, the same list (the record in damaged/ keeps reason and time).
        const second = await open(dir, T0 + 60_000)
        expect(second.reported).toEqual([])
        expect(second.store.damaged()).toEqual(expected)
        expect(await second.store.list()).toEqual(listed(...c.intact()))
        await second.store.close()
      })
    })
  }

  it('an intact store: nothing moved, no damaged/ folder', async () => {
    await withTempDir(async (dir) => {
      await writeSnapshotFiles(dir, a)
      await writeSnapshotFiles(dir, b)
      const { store, reported } = await open(dir, T0)
      expect([store.damaged(), reported, await store.list()]).toEqual([[], [], listed(a, b)])
      expect((await readdir(dir)).sort()).toEqual([...filesOf(a.snapshotId), ...filesOf(b.snapshotId), 'chunks'].sort())
      await store.close()
    })
  })

  it('a missing store directory opens empty and is not created', async () => {
    await withTempDir(async (dir) => {
      const { store } = await open(join(dir, 'none'), T0)
      expect([store.damaged(), await store.list()]).toEqual([[], []])
      expect(await readdir(dir)).toEqual([])
      await store.close()
    })
  })
})

describe('damage found after opening: that read fails, the snapshot is moved aside, the store carries on', () => {
  it('load of a snapshot whose blob went bad: SnapshotQuarantinedError once, then not found; list and reopen agree', async () => {
    await withTempDir(async (dir) => {
      await writeSnapshotFiles(dir, a)
      await writeSnapshotFiles(dir, b)
      const { store, reported, clock } = await open(dir, T0)
      expect(store.damaged()).toEqual([])
      const hash = await ownChunk(dir, a.snapshotId, b.snapshotId)
      const local = join('chunks', hash)
      await rewrite(join(dir, local), (bytes) => { bytes[0]! ^= 1; return bytes })
      clock.advance(5)

      const error = await store.load(a.snapshotId).then(() => undefined, (e: unknown) => e)
      const reason = `${local}: state chunk does not match its sha-256 (its name)`
      const moved = [...filesOf(a.snapshotId), local].map((file) => entry(dir, file, a.snapshotId, 'corrupt', reason, T0 + 5, file.replace('chunks/', '')))
      expect(error).toBeInstanceOf(SnapshotQuarantinedError)
      const q = error as SnapshotQuarantinedError
      expect([q.name, q.code, q.snapshotId, q.path, q.quarantined]).toEqual(['SnapshotQuarantinedError', 'CORRUPT_SNAPSHOT', a.snapshotId, join(dir, local), moved])
      expect(q.message).toBe(`${join(dir, local)}: state chunk does not match its sha-256 (its name) (snapshot ${a.snapshotId} moved aside: ${moved.map((d) => d.movedTo).join(', ')})`)
      expect([store.damaged(), reported]).toEqual([moved, moved])
      await expect(store.load(a.snapshotId)).rejects.toThrow(SnapshotNotFoundError)
      expect(await store.list()).toEqual(listed(b))

      // list() meets damaged metadata: no error, the snapshot is left out and moved aside.
      const meta = snapshotFileNames(b.snapshotId).meta
      await writeFile(join(dir, meta), 'garbage')
      clock.advance(5)
      expect(await store.list()).toEqual([])
      const sidecar = (await readFile(join(dir, 'damaged', snapshotFileNames(b.snapshotId).checksum), 'utf8')).slice(0, 64)
      const metaReason = `${meta}: sha-256 ${toHex(sha256(new TextEncoder().encode('garbage')))} does not match ${snapshotFileNames(b.snapshotId).checksum} (${sidecar})`
      const all = [...moved, ...filesOf(b.snapshotId).map((file) => entry(dir, file, b.snapshotId, 'corrupt', metaReason, T0 + 10))]
      expect([store.damaged(), reported]).toEqual([all, all])
      expect((await readdir(dir)).sort()).toEqual(['chunks', 'damaged'])
      await store.close()

      const again = await open(dir, T0 + 99)
      expect([again.reported, again.store.damaged(), await again.store.list()]).toEqual([[], all, []])
      await again.store.close()
    })
  })

  it('a load racing a save of the same snapshot is never taken for damage', async () => {
    await withTempDir(async (dir) => {
      const { store } = await open(dir, T0)
      // The metadata is already there without its commit marker, as in the middle of a save.
      await writeSnapshotFiles(dir, a)
      await rm(join(dir, snapshotFileNames(a.snapshotId).checksum))
      const saving = store.save(a)
      const loaded = await store.load(a.snapshotId)
      await saving
      expect(fieldsOf(loaded)).toEqual(fieldsOf(a))
      expect([store.damaged(), await store.list()]).toEqual([[], listed(a)])
      await store.close()
    })
  })

  it('loadStored skips a stored snapshot found damaged and loads the others', async () => {
    await withTempDir(async (dir) => {
      const { store, reported } = await open(join(dir, '0'), T0)
      const first = new Router({ size: 3, seed: 903, stores: [store] })
      const ids: string[] = []
      for (let round = 0; round < 2; round++) {
        const { snapshotId, outcome } = first.nodes[0]!.snap.startSnapshot()
        await first.run()
        expect((await outcome).status).toBe('complete')
        ids.push(snapshotId)
        await first.clock.advanceAsync(10)
      }
      await first.close()
      // Two snapshots of an idle network: equal states, so they share every chunk; the first one's metadata goes bad.
      expect(await chunksOf(join(dir, '0'), ids[0]!)).toEqual(await chunksOf(join(dir, '0'), ids[1]!))
      await rewrite(join(dir, '0', snapshotFileNames(ids[0]!).meta), (bytes) => { bytes[bytes.length - 5]! ^= 1; return bytes })
      const fresh = new Router({ size: 3, seed: 903, stores: [store] })
      expect(await fresh.nodes[0]!.snap.loadStored()).toEqual([ids[1]])
      expect(reported.map((d) => [d.file, d.kind])).toEqual(filesOf(ids[0]!).map((f) => [f, 'corrupt']))
      await fresh.close()
      await store.close()
    })
  })
})

describe('the record of damaged/ (damaged/damaged.json)', () => {
  it('files an operator deletes leave the list; files without a record are listed as unrecorded; a damaged record is itself moved aside; taken names get a suffix', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'x.snapshot.sha256'), 'junk')
      await writeFile(join(dir, 'notes.txt'), 'hello')
      const xReason = 'x.snapshot: checksum file present but snapshot file missing'
      const x = entry(dir, 'x.snapshot.sha256', 'x', 'corrupt', xReason, T0)
      const notes = entry(dir, 'notes.txt', null, 'unknown', NOT_OURS, T0)
      const first = await open(dir, T0)
      expect(first.store.damaged()).toEqual([notes, x])
      await first.store.close()
      const record = join(dir, 'damaged', 'damaged.json') // its exact content: layer1.store.test.ts

      // The operator deletes a damaged file: it leaves the list (and the record).
      await rm(join(dir, 'damaged', 'notes.txt'))
      const second = await open(dir, T0 + 1)
      expect([second.reported, second.store.damaged()]).toEqual([[], [x]])
      await second.store.close()
      expect((await readJsonSnapshot(record) as { entries: unknown[] }).entries.length).toBe(1)

      // The record is lost: what is in damaged/ is listed as unrecorded, once.
      await rm(record)
      const unrecorded = entry(dir, 'damaged/x.snapshot.sha256', 'x', 'unrecorded', 'in damaged/ without a record of why it was moved there', T0 + 2, 'x.snapshot.sha256')
      const third = await open(dir, T0 + 2)
      expect([third.reported, third.store.damaged()]).toEqual([[unrecorded], [unrecorded]])
      await third.store.close()
      const fourth = await open(dir, T0 + 3)
      expect([fourth.reported, fourth.store.damaged()]).toEqual([[], [unrecorded]])
      await fourth.store.close()

      // The record is garbage: it is moved aside in damaged/ and listed, the rest listed as unrecorded.
      await writeFile(record, 'garbage')
      const lost = entry(dir, 'damaged/damaged.json', null, 'corrupt', 'record of damaged files: no header line (truncated or not a snapshot file)', T0 + 4, 'damaged.json.1')
      const unrecordedAgain = { ...unrecorded, detectedAt: T0 + 4 }
      const fifth = await open(dir, T0 + 4)
      expect([fifth.reported, fifth.store.damaged()]).toEqual([[lost, unrecordedAgain], [lost, unrecordedAgain]])
      await fifth.store.close()

      // The same junk name again: moved next to the first as x.snapshot.sha256.1.
      await writeFile(join(dir, 'x.snapshot.sha256'), 'junk again')
      const sixth = await open(dir, T0 + 5)
      const x2 = entry(dir, 'x.snapshot.sha256', 'x', 'corrupt', xReason, T0 + 5, 'x.snapshot.sha256.1')
      expect([sixth.reported, sixth.store.damaged()]).toEqual([[x2], [lost, unrecordedAgain, x2]])
      expect(await readFile(x2.movedTo, 'utf8')).toBe('junk again')
      expect((await readdir(join(dir, 'damaged'))).sort()).toEqual(['damaged.json', 'damaged.json.1', 'x.snapshot.sha256', 'x.snapshot.sha256.1'])
      await sixth.store.close()
    })
  })

  it('a throwing onDamaged hook does not stop the move or the open', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'notes.txt'), 'hello')
      const store = await openSnapshotStore({ path: dir, clock: new ManualClock(T0), onDamaged: () => { throw new Error('logger down') } })
      expect(store.damaged()).toEqual([entry(dir, 'notes.txt', null, 'unknown', NOT_OURS, T0)])
      await store.close()
    })
  })
})
