import { type KeyPair, keyPairFromSeed } from '@icn/identity'
import { peerIdOfDid } from '../../src/index.js'

/** A member key from one repeated seed byte. */
export const member = (byte: number): KeyPair => keyPairFromSeed(Uint8Array.from(new Array(32).fill(byte)))

/** A loopback TCP multiaddr of `did`'s node on `port`. */
export const addrOf = (did: string, port: number): string => `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdOfDid(did)}`
