/**
 * Keys of protocol v4 over WebCrypto: long-term Ed25519 signing keys (server and client),
 * ephemeral X25519 keys, their raw 32-byte encodings, PKCS #8 for storage, fingerprints.
 */
import { base64ToBytes, bytesToBase64 } from '../crypto/encoding';
import { KEY_SIZE } from '../protocol/v4/constants';
import { V4Error } from './errors';

const ED25519 = { name: 'Ed25519' } as const;
const X25519 = { name: 'X25519' } as const;
// PKCS #8 of a raw 32-byte private key (RFC 8410): the same 16-byte prefix, OID 1.3.101.112 / .110.
const ED25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const X25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

export function subtle(): SubtleCrypto {
  return globalThis.crypto.subtle;
}

/** TS 5.9's BufferSource excludes SharedArrayBuffer views; ours never are. */
export function bs(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>;
}

/** A key pair with its public half as raw bytes (what travels on the wire). */
export interface KeyPairWithRaw {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicRaw: Uint8Array;
}

function pkcs8Of(prefix: Uint8Array, seed: Uint8Array): Uint8Array {
  if (seed.length !== KEY_SIZE) throw new V4Error('V4_ERR_BAD_KEY', 'A private key seed is 32 bytes.');
  const out = new Uint8Array(48);
  out.set(prefix);
  out.set(seed, 16);
  return out;
}

async function withRaw(pair: CryptoKeyPair): Promise<KeyPairWithRaw> {
  const publicRaw = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicRaw };
}

/** A new long-term signing key. `extractable: false` in the browser (stored as a CryptoKey). */
export async function generateSigningKey(extractable: boolean): Promise<KeyPairWithRaw> {
  return withRaw((await subtle().generateKey(ED25519, extractable, ['sign', 'verify'])) as CryptoKeyPair);
}

/** A fresh ephemeral key for one handshake. */
export async function generateEphemeralKey(): Promise<KeyPairWithRaw> {
  return withRaw((await subtle().generateKey(X25519, true, ['deriveBits'])) as CryptoKeyPair);
}

/** The public half of a PKCS #8 private key, by way of its JWK (the only way WebCrypto gives it). */
async function fromPkcs8(pkcs8: Uint8Array, alg: typeof ED25519 | typeof X25519): Promise<KeyPairWithRaw> {
  const usages: KeyUsage[] = alg === ED25519 ? ['sign'] : ['deriveBits'];
  let privateKey: CryptoKey;
  try {
    privateKey = await subtle().importKey('pkcs8', bs(pkcs8), alg, true, usages);
  } catch (e) {
    throw new V4Error('V4_ERR_BAD_KEY', `Not a usable ${alg.name} private key.`, { cause: e });
  }
  const jwk = await subtle().exportKey('jwk', privateKey);
  const publicRaw = base64ToBytes((jwk.x ?? '').replace(/-/g, '+').replace(/_/g, '/'));
  const publicKey = await subtle().importKey(
    'raw',
    bs(publicRaw),
    alg,
    true,
    alg === ED25519 ? ['verify'] : [],
  );
  return { privateKey, publicKey, publicRaw };
}

export function importSigningKey(pkcs8: Uint8Array): Promise<KeyPairWithRaw> {
  return fromPkcs8(pkcs8, ED25519);
}
export function signingKeyFromSeed(seed: Uint8Array): Promise<KeyPairWithRaw> {
  return fromPkcs8(pkcs8Of(ED25519_PKCS8_PREFIX, seed), ED25519);
}
export function ephemeralKeyFromSeed(seed: Uint8Array): Promise<KeyPairWithRaw> {
  return fromPkcs8(pkcs8Of(X25519_PKCS8_PREFIX, seed), X25519);
}

export async function exportSigningKey(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await subtle().exportKey('pkcs8', key));
}

export async function importVerifyKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== KEY_SIZE) throw new V4Error('V4_ERR_BAD_KEY', 'An Ed25519 public key is 32 bytes.');
  try {
    return await subtle().importKey('raw', bs(raw), ED25519, true, ['verify']);
  } catch (e) {
    throw new V4Error('V4_ERR_BAD_KEY', 'Not a usable Ed25519 public key.', { cause: e });
  }
}

export async function sign(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().sign(ED25519, key, bs(data)));
}

export async function verify(
  publicRaw: Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  const key = await importVerifyKey(publicRaw);
  return subtle().verify(ED25519, key, bs(signature), bs(data));
}

/** `SHA256:` + base64 (no padding) of SHA-256(raw public key), as SSH writes fingerprints. */
export async function fingerprint(publicRaw: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await subtle().digest('SHA-256', bs(publicRaw)));
  return `SHA256:${bytesToBase64(digest).replace(/=+$/, '')}`;
}
