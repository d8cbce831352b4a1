/**
 * Node's side of the CLI's cryptography.
 * - AES: OpenSSL through createCipheriv, the fast path (WebCrypto has no streaming CBC
 *   and would cost a copy per chunk); same bytes as lib/crypto's streaming encryptor.
 * - RSA: Node's own WebCrypto (`globalThis.crypto.subtle`) through lib/crypto, so key
 *   generation and unwrapping are the exact code the browser runs. Node's native
 *   WebCrypto is used rather than @peculiar/webcrypto: it is OpenSSL underneath and
 *   supports e=3 RSA-OAEP/SHA-1 keys, so no extra provider is needed.
 */
import { createCipheriv } from 'node:crypto';
import type { EncryptorFactory, NewKeyPair } from '../lib/client';
import { generateRsaKeyPair, importPrivateKeyPkcs8, unwrapAesKey } from '../lib/crypto';
import { ZERO_IV } from '../lib/protocol';

function subtle(): SubtleCrypto {
  return globalThis.crypto.subtle;
}

/** AES-256-CBC, zero IV, PKCS#7, over OpenSSL; update() returns whole blocks at once. */
export const nodeEncryptorFactory: EncryptorFactory = (key) => {
  const cipher = createCipheriv('aes-256-cbc', key, ZERO_IV);
  return { update: (chunk) => cipher.update(chunk), final: () => cipher.final() };
};

/** A new identity's key pair, with the private key exportable so me.info can be written. */
export interface CliKeyPair extends NewKeyPair {
  privateKeyPkcs8: Uint8Array;
}

export async function createKeyPair(): Promise<CliKeyPair> {
  const pair = await generateRsaKeyPair(subtle(), { extractable: true });
  const privateKeyPkcs8 = pair.privateKeyPkcs8!;
  return {
    publicKeySpki: pair.publicKeySpki,
    privateKeyPkcs8,
    unwrap: (encrypted) => unwrapAesKey(subtle(), pair.privateKey, encrypted),
  };
}

/** An unwrap function over a stored PKCS#8 private key (from me.info). */
export async function unwrapperFor(
  pkcs8: Uint8Array,
): Promise<(encrypted: Uint8Array) => Promise<Uint8Array>> {
  const key = await importPrivateKeyPkcs8(subtle(), pkcs8);
  return (encrypted) => unwrapAesKey(subtle(), key, encrypted);
}
