/**
 * @packageDocumentation
 * ICN's libp2p transport: TCP, noise, yamux and identify, a connection gater that admits members only,
 * and one long-lived length-prefixed stream per peer pair under the network's protocol prefix. Peers are
 * named by DID (the node's ed25519 key is its libp2p key). Give it to `@icn/gossip`, history sync and
 * `@icn/snapshot` as their `MessageTransport`.
 */
export {
  GOSSIP_PROTOCOL,
  MAX_ADMISSION_BYTES,
  OPEN_ADMISSION,
  type AdmissionHandler,
  type ConnectedPeer,
  type FrameHandler,
  type Libp2pTransport,
  type Libp2pTransportComponents,
  type Libp2pTransportInit,
  type TransportFactory,
  type MessageTransport,
  type PeerAdmission,
  type PeerChangeListener,
  type Reachability,
  type TransportStats,
  createLibp2pTransport,
  didOfPeerId,
  isClosedStreamRace,
  isFramingError,
  networkPrefix,
  networkProtocols,
  peerIdOfDid,
  requestAdmission
} from './transport.js'
export { type TransportErrorCode, TransportError, FrameTooLargeError, TransportClosedError, AddressRecordError } from './errors.js'
export {
  ADDRESS_RECORD_DOMAIN,
  MAX_RECORD_ADDRS,
  type AddressBook,
  type AddressBookContents,
  type AddressBookInit,
  type AddressRecord,
  openAddressBook,
  openAddressRecord,
  readAddressBookFile,
  signAddressRecord,
  writeAddressBookFile
} from './address-book.js'
export {
  type AddressMessaging,
  type PeerExchange,
  type PeerExchangeComponents,
  type PeerExchangeInit,
  type PeerExchangeStats,
  startPeerExchange
} from './peer-exchange.js'
export { type TransportLogger, silentLogger } from './logger.js'
