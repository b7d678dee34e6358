import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { withTempDir } from '@icn/testkit'
import { describe, expect, it } from 'vitest'
import { loadConfig, validateConfigFile } from '../src/config.js'
import { dataDirLayout, initDataDir, loadIdentity } from '../src/data-dir.js'
import { DataDirExistsError, DataDirMissingError, InvalidConfigError, InvalidIdentityError } from '../src/errors.js'
import { keyPairFromSeed } from '@icn/identity'
import { writeJsonSnapshot } from '@icn/identity/fs'
import { peerIdOfDid } from '@icn/transport'
import { announcedAddresses } from '../src/discovery.js'

describe('config', () => {
  it('merges defaults, the config file and flags (peers are merged, flags win)', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'config.json'), JSON.stringify({ peers: ['/ip4/127.0.0.1/tcp/4001'], apiPort: 7000, logLevel: 'debug' }))
      const config = await loadConfig(dir, { peers: ['/ip4/127.0.0.1/tcp/4002'], apiPort: 7001 })
      expect(config).toEqual({
        dataDir: dir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        peers: ['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002'],
        apiPort: 7001,
        logLevel: 'debug',
        maxFrameBytes: 4 * 1024 * 1024,
        snapshotTimeoutMs: 60_000,
        gossipMaxEntriesPerTopic: 10_000,
        historySyncIntervalMs: 30_000,
        snapshotMinParticipants: 3,
        relay: false,
        natTraversal: true,
        stunServers: [],
        maxInboundPerHostPerSecond: 5,
        degree: 8
      })
    })
  })

  it('refuses bad fields with a typed error naming the field', async () => {
    expect(() => validateConfigFile({ peers: ['not a multiaddr'] })).toThrow(InvalidConfigError)
    expect(() => validateConfigFile({ peers: ['not a multiaddr'] })).toThrow("peers: 'not a multiaddr' is not a multiaddr")
    expect(() => validateConfigFile({ apiPort: 70000 })).toThrow('apiPort must be at most 65535, got 70000')
    expect(() => validateConfigFile({ logLevel: 'loud' })).toThrow('logLevel must be one of')
    expect(() => validateConfigFile({ snapshotEveryMs: 0 })).toThrow('snapshotEveryMs must be a positive integer, got 0')
    expect(() => validateConfigFile({ snapshotMinParticipants: 1 })).toThrow('snapshotMinParticipants must be at least 2 (a snapshot is taken with other members)')
    expect(validateConfigFile({ snapshotMinParticipants: 2 })).toEqual({ snapshotMinParticipants: 2 })
    expect(() => validateConfigFile({ relay: 'yes' })).toThrow('relay must be true or false, got "yes"')
    expect(() => validateConfigFile({ natTraversal: 1 })).toThrow('natTraversal must be true or false, got 1')
    expect(validateConfigFile({ relay: true, natTraversal: false })).toEqual({ relay: true, natTraversal: false })
    expect(() => validateConfigFile({ stunServers: ['11.0.0.10:3478'] })).toThrow(`stunServers must be an array of 'stun:<host>:<port>' strings, got ["11.0.0.10:3478"]`)
    expect(() => validateConfigFile({ stunServers: 'stun:11.0.0.10:3478' })).toThrow('stunServers must be an array')
    expect(validateConfigFile({ stunServers: ['stun:11.0.0.10:3478'] })).toEqual({ stunServers: ['stun:11.0.0.10:3478'] })
    expect(() => validateConfigFile({ maxInboundPerHostPerSecond: 0 })).toThrow('maxInboundPerHostPerSecond must be a positive integer, got 0')
    expect(validateConfigFile({ maxInboundPerHostPerSecond: 200 })).toEqual({ maxInboundPerHostPerSecond: 200 })
    expect(() => validateConfigFile({ degree: 0 })).toThrow('degree must be a positive integer, got 0')
    expect(() => validateConfigFile({ maxPeers: 2.5 })).toThrow('maxPeers must be a positive integer, got 2.5')
    expect(validateConfigFile({ degree: 4, maxPeers: 6 })).toEqual({ degree: 4, maxPeers: 6 })
    expect(() => validateConfigFile({ colour: 'red' })).toThrow("unknown config field 'colour'")
    expect(() => validateConfigFile([])).toThrow('config must be a JSON object')
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'config.json'), '{ broken')
      await expect(loadConfig(dir)).rejects.toThrow(InvalidConfigError)
      // Room for fewer members than this node dials itself: refused with both values named.
      await writeFile(join(dir, 'config.json'), JSON.stringify({ maxPeers: 4 }))
      await expect(loadConfig(dir)).rejects.toThrow('maxPeers (4) must be at least degree (8)')
      expect((await loadConfig(dir, { degree: 4 })).maxPeers).toBe(4)
    })
  })
})

describe('data directory', () => {
  it('stores the identity so it loads back exactly, and never overwrites it', async () => {
    await withTempDir(async (dir) => {
      const keyPair = keyPairFromSeed(new Uint8Array(32).fill(9))
      expect((await initDataDir(dir, keyPair)).did).toBe(keyPair.did)
      const loaded = await loadIdentity(dir)
      expect(loaded.did).toBe(keyPair.did)
      expect(loaded.seed).toEqual(keyPair.seed)
      await expect(initDataDir(dir)).rejects.toThrow(DataDirExistsError)
      expect((await loadIdentity(dir)).did).toBe(keyPair.did)
    })
  })

  it('refuses a missing, corrupt or inconsistent identity with typed errors', async () => {
    await withTempDir(async (dir) => {
      await expect(loadIdentity(dir)).rejects.toThrow(DataDirMissingError)
      await writeFile(dataDirLayout(dir).identity, 'garbage')
      await expect(loadIdentity(dir)).rejects.toMatchObject({ code: 'CORRUPT_FILE' })
      const other = keyPairFromSeed(new Uint8Array(32).fill(1))
      await writeJsonSnapshot(dataDirLayout(dir).identity, { version: 1, did: other.did, seed: new Uint8Array(32).fill(2) })
      await expect(loadIdentity(dir)).rejects.toThrow(InvalidIdentityError)
    })
  })
})

describe('announce addresses', () => {
  const did = keyPairFromSeed(new Uint8Array(32).fill(7)).did
  const own = `/p2p/${peerIdOfDid(did)}`
  const other = `/p2p/${peerIdOfDid(keyPairFromSeed(new Uint8Array(32).fill(8)).did)}`

  it('adds the node\'s own /p2p/ part to an address without one and keeps one that has it', () => {
    expect(announcedAddresses(['/dns4/coop.example/tcp/4710', `/ip4/203.0.113.5/tcp/4710${own}`], did))
      .toEqual([`/dns4/coop.example/tcp/4710${own}`, `/ip4/203.0.113.5/tcp/4710${own}`])
  })

  it('refuses an address naming another peer with a typed error that says what to do', () => {
    expect(() => announcedAddresses([`/ip4/203.0.113.5/tcp/4710${other}`], did))
      .toThrow(new InvalidConfigError(`announce address /ip4/203.0.113.5/tcp/4710${other} names another peer: this node is ${own.slice(1)} (leave the /p2p/ part out and it is added)`))
  })
})
