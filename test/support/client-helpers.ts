/**
 * TEST USE ONLY: key pairs, encryptors and byte sources for the lib/client tests, over
 * Node's WebCrypto (the same lib/crypto code path the browser takes) and node:crypto.
 */
import { createCipheriv } from 'node:crypto';
import type { NewKeyPair } from '../../lib/client/establish';
import type { EncryptorFactory, FileSource } from '../../lib/client/types';
import { createAesCbcEncryptor, generateRsaKeyPair, unwrapAesKey } from '../../lib/crypto';
import { ZERO_IV } from '../../lib/protocol';

const subtle = globalThis.crypto.subtle;

/** Streaming AES-CBC from lib/crypto over WebCrypto (what the browser uses). */
export const webCryptoEncryptor: EncryptorFactory = (key) => createAesCbcEncryptor(subtle, key);

/** Node's OpenSSL AES-256-CBC (what the CLI uses). */
export const nodeEncryptor: EncryptorFactory = (key) => {
  const cipher = createCipheriv('aes-256-cbc', key, ZERO_IV);
  return { update: (chunk) => cipher.update(chunk), final: () => cipher.final() };
};

export interface TestKeyPair extends NewKeyPair {
  privateKey: CryptoKey;
}

export async function makeKeyPair(): Promise<TestKeyPair> {
  const pair = await generateRsaKeyPair(subtle);
  return {
    publicKeySpki: pair.publicKeySpki,
    privateKey: pair.privateKey,
    unwrap: (encrypted) => unwrapAesKey(subtle, pair.privateKey, encrypted),
  };
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function testBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A source over `bytes`, yielding chunks of the given sizes in turn (cycled). */
export function bytesSource(
  name: string,
  bytes: Uint8Array,
  chunkSizes: number[] = [64 * 1024],
  declaredSize = bytes.length,
): FileSource & { opened: number } {
  const src = {
    name,
    size: declaredSize,
    opened: 0,
    async *open(): AsyncGenerator<Uint8Array> {
      src.opened++;
      let i = 0;
      for (let at = 0; at < bytes.length; i++) {
        const n = chunkSizes[i % chunkSizes.length]!;
        yield bytes.slice(at, at + n);
        at += n;
      }
    },
  };
  return src;
}
