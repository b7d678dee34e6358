// The contract that holds in every runtime; `index.ts` adds the Node-only backend factory.
export { type CryptoBackend, nobleBackend, blake3, isValidPublicKey } from './backend.js'
export { cryptoBackend, sha256, randomBytes } from './crypto.js'
export { toHex, fromHex, bytesEqual, compareBytes, concatBytes, utf8, fromUtf8 } from './bytes.js'
export { type KeyPair, keyPairFromSeed, generateKeyPair, sign, verify, setVerifiedSignatureCacheSize, assertPublicKey } from './keys.js'
export { type Did, didFromPublicKey, publicKeyFromDid, parseDid, isDid, toDidKey, fromDidKey } from './did.js'
export { encode, decode, cidOf, cidOfBytes, parseCid, CID, DAG_CBOR_CODE, RAW_CODE } from './encoding.js'
export {
  type SignedEnvelope,
  type SealedEnvelope,
  signEnvelope,
  sealEnvelope,
  verifyEnvelope,
  isValidEnvelope,
  encodeEnvelope,
  decodeEnvelope,
  openEnvelope,
  envelopeSigningBytes,
  envelopeBodyFromBytes
} from './envelope.js'
export { type Clock, type CancelTimer, systemClock } from './clock.js'
export { type MembershipStatus, type MembershipAt, type IsMember, EVERYONE_IS_A_MEMBER } from './membership.js'
export { toJson, fromJson } from './json.js'
export { type MerkleStep, merkleLeafHash, merkleNodeHash, merkleRootOf, merkleRootInSteps, merklePath, merkleFoldsTo } from './merkle.js'
export {
  type IdentityErrorCode,
  IdentityError,
  InvalidDidError,
  InvalidKeyError,
  InvalidSignatureError,
  EncodingError,
  NonCanonicalError,
  EnvelopeError,
  CorruptFileError
} from './errors.js'
export {
  type Fail, isPlainMap, checkFields, checkString, checkInteger, checkDid, checkDecimal, checkOneOf
} from './shape.js'
