import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { Gossip } from '@icn/gossip'
import { CorruptFileError } from '@icn/identity/fs'
import { type AddressBook, type AddressMessaging, openAddressBook } from '@icn/transport'
import type { Logger } from './logger.js'

/** The gossip topic whose direct messages carry members' signed address records (peer exchange). */
export const ADDRESS_TOPIC = 'net:addresses'

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
