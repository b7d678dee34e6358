import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { Gossip } from '@icn/gossip'
import { CorruptFileError } from '@icn/identity/fs'
import { type AddressBook, type AddressMessaging, openAddressBook, peerIdOfDid } from '@icn/transport'
import { InvalidConfigError } from './errors.js'
import type { Logger } from './logger.js'

/** The gossip topic whose direct messages carry members' signed address records (peer exchange). */
export const ADDRESS_TOPIC = 'net:addresses'

/**
 * The `announce` addresses of config.json as this node signs them: an operator writes the public address
 * (`/dns4/coop.example/tcp/4710`) and the node adds its own `/p2p/<peer id>`; an address naming another
 * peer is an `InvalidConfigError` at start, before anything is signed.
 */
export function announcedAddresses (announce: readonly string[], did: string): string[] {
  const suffix = `/p2p/${peerIdOfDid(did)}`
  return announce.map((addr) => {
    if (addr.endsWith(suffix)) return addr
    if (addr.includes('/p2p/')) throw new InvalidConfigError(`announce address ${addr} names another peer: this node is ${suffix.slice(1)} (leave the /p2p/ part out and it is added)`)
    return `${addr}${suffix}`
  })
}

/** The address book in a data directory: members' signed records and `peers --add` addresses. */
export function addressBookPath (dataDir: string): string {
  return join(dataDir, 'address-book.json')
}

/** Peer exchange over gossip direct messages (members only, like every gossip frame). */
export function gossipAddressMessaging (gossip: Gossip): AddressMessaging {
  return {
    send: (peer, bytes) => { gossip.send(peer, ADDRESS_TOPIC, bytes) },
    onMessage: (handler) => gossip.handleDirect(ADDRESS_TOPIC, async (message) => { await handler(message.from, message.payload) })
  }
}

/**
 * Opens the node's address book. A damaged file is moved aside (`address-book.json.damaged`) with a
 * warning and the node starts with an empty book: it only holds hints, which peers send again.
 */
export async function openNodeAddressBook (path: string, logger: Logger): Promise<AddressBook> {
  try {
    return await openAddressBook({ path })
  } catch (err) {
    if (!(err instanceof CorruptFileError)) throw err
    await rename(path, `${path}.damaged`)
    logger.warn({ file: path, movedTo: `${path}.damaged`, reason: err.message }, 'damaged address book moved aside; starting with an empty one')
    return await openAddressBook({ path })
  }
}
