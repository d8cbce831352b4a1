/**
 * AES-256-GCM of protocol v4's file records with node:crypto, on the calling thread: the
 * server and the CLI give it to lib/v4's StreamOpener / StreamSealer (shape: RecordAead).
 * Per 256 KiB record it costs about a third of the CPU of Node's WebCrypto, which copies the
 * input, hops to the thread pool and back (bench "1 limits"). Same bytes on the wire.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

const TAG = 16;

export function nodeRecordAead(key: Uint8Array) {
  /** The ciphertext and the tag as node:crypto gives them (GCM's final() adds no bytes). */
  const sealParts = (nonce: Uint8Array, plain: Uint8Array): Uint8Array[] => {
    const c = createCipheriv('aes-256-gcm', key, nonce);
    const body = c.update(plain);
    c.final();
    return [body, c.getAuthTag()];
  };
  return {
    /** ciphertext || tag, as WebCrypto returns it. */
    seal(nonce: Uint8Array, plain: Uint8Array): Uint8Array {
      const [body, tag] = sealParts(nonce, plain);
      return Buffer.concat([body!, tag!]);
    },
    /** The same bytes without joining them: the CLI writes both to its socket. */
    sealParts,
    /** The plaintext; throws when the tag does not verify (nothing of it is returned then). */
    open(nonce: Uint8Array, sealed: Uint8Array): Uint8Array {
      if (sealed.length < TAG) throw new Error('A record is at least its tag.');
      const d = createDecipheriv('aes-256-gcm', key, nonce);
      d.setAuthTag(sealed.subarray(sealed.length - TAG));
      const plain = d.update(sealed.subarray(0, sealed.length - TAG));
      d.final();
      return plain;
    },
  };
}
