import { type SignedEnvelope, IdentityError, InvalidSignatureError, isPlainMap, verifyEnvelope } from '@icn/identity'
import { ForgedSignatureError, InvalidEnvelopeError } from '../errors.js'

/**
 * Verifies an envelope from anywhere (local or gossip) under `domain`: shape,
 * signer DID, CID and signature. Throws `ForgedSignatureError` for a signature
 * that does not verify and `InvalidEnvelopeError` for anything else wrong.
 */
export function verifyAs (envelope: unknown, domain: string): SignedEnvelope {
  if (!isPlainMap(envelope) || typeof envelope.domain !== 'string' || typeof envelope.signer !== 'string' ||
    typeof envelope.cid !== 'string' || !(envelope.signature instanceof Uint8Array)) {
    throw new InvalidEnvelopeError('not a signed envelope')
  }
  const typed = envelope as unknown as SignedEnvelope
  try {
    verifyEnvelope(typed, domain)
  } catch (cause) {
    if (cause instanceof InvalidSignatureError) throw new ForgedSignatureError(cause.message, { cause })
    if (cause instanceof IdentityError) throw new InvalidEnvelopeError(cause.message, { cause })
    throw cause
  }
  return typed
}
