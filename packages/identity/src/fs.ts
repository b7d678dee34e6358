/**
 * @packageDocumentation
 * Node-only file helpers shared by every package that persists to files:
 * atomic replacement (write temp → fsync → rename → fsync dir) and
 * checksummed JSON snapshot files that refuse corrupt or truncated content.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { toHex, utf8, fromUtf8 } from './bytes.js'
import { sha256 } from './crypto.js'
import { CorruptFileError } from './errors.js'
import { fromJson, toJson } from './json.js'

export { CorruptFileError }

let tempCounter = 0

async function fsyncDirectory (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Replaces `path` with `bytes` atomically: the bytes go to a temporary file in
 * the same directory, are fsynced, renamed over `path`, and the directory is
 * fsynced. A crash leaves either the old file or the new one, never a mix.
 */
export async function writeFileAtomic (path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true })
  const temp = join(dir, `.${basename(path)}.${process.pid}.${++tempCounter}.tmp`)
  const handle = await open(temp, 'w', 0o600)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } catch (err) {
    await handle.close()
    await rm(temp, { force: true })
    throw err
  }
  await handle.close()
  try {
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
  await fsyncDirectory(dir)
}

/** The first line of a snapshot file. */
interface SnapshotHeader {
  format: typeof SNAPSHOT_FORMAT
  version: 1
  sha256: string
  length: number
}

const SNAPSHOT_FORMAT = 'icn-json-snapshot'

/**
 * Writes `data` as a checksummed JSON snapshot file, atomically. The file is a
 * header line `{"format","version","sha256","length"}` followed by the body
 * (JSON via `toJson`, so bytes and bigints survive). The header's checksum
 * covers the body's exact bytes.
 */
export async function writeJsonSnapshot (path: string, data: unknown): Promise<void> {
  const body = utf8(toJson(data))
  const header: SnapshotHeader = { format: SNAPSHOT_FORMAT, version: 1, sha256: toHex(sha256(body)), length: body.length }
  const headerBytes = utf8(`${JSON.stringify(header)}\n`)
  const file = new Uint8Array(headerBytes.length + body.length)
  file.set(headerBytes, 0)
  file.set(body, headerBytes.length)
  await writeFileAtomic(path, file)
}

/** Parses and checks snapshot file bytes; throws `CorruptFileError` naming what is wrong. */
export function parseJsonSnapshot (path: string, file: Uint8Array): unknown {
  const newline = file.indexOf(0x0a)
  if (newline < 0) throw new CorruptFileError(path, 'no header line (truncated or not a snapshot file)')
  let header: Partial<SnapshotHeader>
  try {
    header = JSON.parse(fromUtf8(file.subarray(0, newline))) as Partial<SnapshotHeader>
  } catch (cause) {
    throw new CorruptFileError(path, 'header is not valid JSON', { cause })
  }
  if (header.format !== SNAPSHOT_FORMAT || header.version !== 1) throw new CorruptFileError(path, `unknown format ${String(header.format)} v${String(header.version)}`)
  const body = file.subarray(newline + 1)
  if (body.length !== header.length) throw new CorruptFileError(path, `body is ${body.length} bytes, header says ${String(header.length)} (truncated?)`)
  const actual = toHex(sha256(body))
  if (actual !== header.sha256) throw new CorruptFileError(path, `checksum mismatch: header ${String(header.sha256)}, body ${actual}`)
  try {
    return fromJson(fromUtf8(body))
  } catch (cause) {
    throw new CorruptFileError(path, 'body is not valid JSON', { cause })
  }
}

/**
 * Reads a snapshot written by `writeJsonSnapshot`. Returns `undefined` when the
 * file does not exist; throws `CorruptFileError` when it exists but is bad.
 */
export async function readJsonSnapshot (path: string): Promise<unknown> {
  let file: Uint8Array
  try {
    file = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return parseJsonSnapshot(path, new Uint8Array(file.buffer, file.byteOffset, file.byteLength))
}
