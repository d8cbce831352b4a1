/**
 * RSA-1024 with OAEP SHA-1 (MGF1-SHA-1) over an injected `SubtleCrypto`, and a small pure
 * DER check of the 160-byte public key field (docs/PROTOCOL.md "RSA public key").
 */
import {
  AES_KEY_SIZE,
  ENCRYPTED_AES_KEY_SIZE,
  PUBLIC_KEY_SIZE,
  RSA_MODULUS_BITS,
} from '../protocol/constants';
import { CryptoError } from './errors';
import { modulusDefect } from './rsa-modulus';

// `as Uint8Array<ArrayBuffer>` below: TS 5.9's BufferSource excludes SharedArrayBuffer views;
// our inputs are never shared, and WebCrypto copies them on call.
/** WebCrypto algorithm for every RSA key here. */
const RSA_OAEP_SHA1 = { name: 'RSA-OAEP', hash: 'SHA-1' } as const;
/** e = 3: with e=65537 the SPKI is 162 bytes and does not fit the field; Chromium allows only 3 or 65537. */
const PUBLIC_EXPONENT_3 = new Uint8Array([0x03]);

/** DER tags used by SubjectPublicKeyInfo. */
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_NULL = 0x05;
const TAG_OID = 0x06;
const TAG_SEQUENCE = 0x30;
/** DER content of OID 1.2.840.113549.1.1.1 (rsaEncryption). */
const OID_RSA_ENCRYPTION = new Uint8Array([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);

export interface RsaKeyPair {
  /** DER SubjectPublicKeyInfo, exactly PUBLIC_KEY_SIZE (160) bytes. */
  publicKeySpki: Uint8Array;
  privateKey: CryptoKey;
  /** PKCS#8 DER of the private key; present when generated extractable. */
  privateKeyPkcs8?: Uint8Array;
}

/** Generates an RSA-1024 OAEP SHA-1 key pair with e=3, whose SPKI is exactly 160 bytes. */
export async function generateRsaKeyPair(
  subtle: SubtleCrypto,
  opts: { extractable?: boolean } = {},
): Promise<RsaKeyPair> {
  const extractable = opts.extractable ?? false;
  const pair = await subtle.generateKey(
    { ...RSA_OAEP_SHA1, modulusLength: RSA_MODULUS_BITS, publicExponent: PUBLIC_EXPONENT_3 },
    extractable,
    ['encrypt', 'decrypt'],
  );
  const publicKeySpki = new Uint8Array(await subtle.exportKey('spki', pair.publicKey));
  if (publicKeySpki.length !== PUBLIC_KEY_SIZE) {
    throw new CryptoError(
      'CRYPTO_ERR_BAD_PUBLIC_KEY',
      `Generated public key is ${publicKeySpki.length} bytes, the protocol needs ${PUBLIC_KEY_SIZE}.`,
    );
  }
  validatePublicKeySpki(publicKeySpki);
  const result: RsaKeyPair = { publicKeySpki, privateKey: pair.privateKey };
  if (extractable) result.privateKeyPkcs8 = await exportPrivateKeyPkcs8(subtle, pair.privateKey);
  return result;
}

/** Reads DER TLVs from a byte range, throwing CRYPTO_ERR_BAD_PUBLIC_KEY on anything malformed. */
class DerReader {
  readonly #bytes: Uint8Array;
  #pos: number;
  readonly #end: number;

  constructor(bytes: Uint8Array, pos: number, end: number) {
    this.#bytes = bytes;
    this.#pos = pos;
    this.#end = end;
  }

  get done(): boolean {
    return this.#pos === this.#end;
  }

  /** Reads one TLV with tag `tag`; returns a reader over its content and the content bounds. */
  read(tag: number, what: string): { start: number; end: number; reader: DerReader } {
    const b = this.#bytes;
    if (this.#pos >= this.#end || b[this.#pos] !== tag) {
      bad(`${what}: expected tag 0x${tag.toString(16)} at byte ${this.#pos}`);
    }
    let p = this.#pos + 1;
    if (p >= this.#end) bad(`${what}: length missing`);
    let len = b[p++]!;
    // Length: short form < 0x80, else 0x81/0x82 + that many bytes, minimal (DER).
    if (len >= 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 2) bad(`${what}: unsupported length form 0x${len.toString(16)}`);
      if (p + n > this.#end) bad(`${what}: length truncated`);
      len = 0;
      for (let i = 0; i < n; i++) len = (len << 8) | b[p++]!;
      if (len < 0x80 || (n === 2 && len < 0x100)) bad(`${what}: non-minimal length encoding`);
    }
    if (p + len > this.#end) bad(`${what}: declares ${len} bytes but only ${this.#end - p} remain`);
    this.#pos = p + len;
    return { start: p, end: p + len, reader: new DerReader(b, p, p + len) };
  }

  /** Reads a DER INTEGER that must be positive and minimally encoded; returns its magnitude bytes. */
  readPositiveInteger(what: string): Uint8Array {
    const { start, end } = this.read(TAG_INTEGER, what);
    const v = this.#bytes.subarray(start, end);
    if (v.length === 0) bad(`${what}: empty INTEGER`);
    if (v[0]! & 0x80) bad(`${what}: negative INTEGER`);
    if (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) bad(`${what}: non-minimal INTEGER`);
    return v[0] === 0 ? v.subarray(1) : v;
  }

  expectEnd(what: string): void {
    if (!this.done) bad(`${what}: ${this.#end - this.#pos} unexpected trailing bytes`);
  }
}

function bad(message: string): never {
  throw new CryptoError('CRYPTO_ERR_BAD_PUBLIC_KEY', `Invalid RSA public key: ${message}.`);
}

/** Magnitude bytes (big-endian, no leading zero) -> bit length. */
function bitLength(magnitude: Uint8Array): number {
  if (magnitude.length === 0) return 0;
  return (magnitude.length - 1) * 8 + (32 - Math.clz32(magnitude[0]!));
}

function toBigInt(magnitude: Uint8Array): bigint {
  let v = 0n;
  for (const byte of magnitude) v = (v << 8n) | BigInt(byte);
  return v;
}

/**
 * Validates the public key field: a DER SubjectPublicKeyInfo of at most 160 bytes, any rest
 * of the field zero bytes.
 *   SEQUENCE {
 *     SEQUENCE { OID 1.2.840.113549.1.1.1 (rsaEncryption), NULL }
 *     BIT STRING (0 unused bits) { SEQUENCE { INTEGER n (1024 bits), INTEGER e (odd, >= 3) } }
 *   }
 * n must also be odd with no prime factor below 2000 and not probably prime (rsa-modulus.ts).
 * Returns the key size, exponent and the DER length (the bytes to import).
 */
export function validatePublicKeySpki(spki: Uint8Array): {
  modulusBits: number;
  exponent: bigint;
  derLength: number;
} {
  if (spki.length > PUBLIC_KEY_SIZE) bad(`it is ${spki.length} bytes, the field holds ${PUBLIC_KEY_SIZE}`);
  const outer = new DerReader(spki, 0, spki.length).read(TAG_SEQUENCE, 'SubjectPublicKeyInfo');
  const derLength = outer.end;
  for (let i = derLength; i < spki.length; i++) {
    if (spki[i] !== 0) bad(`non-zero byte after the ${derLength}-byte key at offset ${i}`);
  }
  const info = outer.reader;
  const alg = info.read(TAG_SEQUENCE, 'AlgorithmIdentifier').reader;
  const oid = alg.read(TAG_OID, 'algorithm OID');
  const oidBytes = spki.subarray(oid.start, oid.end);
  if (oidBytes.length !== OID_RSA_ENCRYPTION.length || oidBytes.some((b, i) => b !== OID_RSA_ENCRYPTION[i])) {
    bad('algorithm is not rsaEncryption (1.2.840.113549.1.1.1)');
  }
  const params = alg.read(TAG_NULL, 'algorithm parameters (NULL)');
  if (params.end !== params.start) bad('algorithm parameters NULL is not empty');
  alg.expectEnd('AlgorithmIdentifier');
  const bits = info.read(TAG_BIT_STRING, 'subjectPublicKey BIT STRING');
  if (bits.end === bits.start || spki[bits.start] !== 0) bad('BIT STRING must start with 0 unused bits');
  info.expectEnd('SubjectPublicKeyInfo');
  const rsa = new DerReader(spki, bits.start + 1, bits.end).read(TAG_SEQUENCE, 'RSAPublicKey');
  const n = rsa.reader.readPositiveInteger('modulus');
  const e = rsa.reader.readPositiveInteger('public exponent');
  rsa.reader.expectEnd('RSAPublicKey');
  if (rsa.end !== bits.end) bad('trailing bytes after RSAPublicKey');
  const modulusBits = bitLength(n);
  if (modulusBits !== RSA_MODULUS_BITS) bad(`modulus is ${modulusBits} bits, must be ${RSA_MODULUS_BITS}`);
  const defect = modulusDefect(toBigInt(n));
  if (defect !== undefined) bad(defect);
  const exponent = toBigInt(e);
  if (exponent < 3n || exponent % 2n === 0n) bad(`public exponent ${exponent} must be odd and at least 3`);
  return { modulusBits, exponent, derLength };
}

/** Imports a PKCS#8 RSA-1024 private key for OAEP SHA-1 decryption. */
export async function importPrivateKeyPkcs8(
  subtle: SubtleCrypto,
  pkcs8: Uint8Array,
  opts: { extractable?: boolean } = {},
): Promise<CryptoKey> {
  let key: CryptoKey;
  try {
    key = await subtle.importKey(
      'pkcs8',
      pkcs8 as Uint8Array<ArrayBuffer>,
      RSA_OAEP_SHA1,
      opts.extractable ?? false,
      ['decrypt', 'unwrapKey'],
    );
  } catch (cause) {
    throw new CryptoError('CRYPTO_ERR_BAD_PRIVATE_KEY', 'The private key is not a valid PKCS#8 RSA key.', {
      cause,
    });
  }
  const bits = (key.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  if (bits !== RSA_MODULUS_BITS) {
    throw new CryptoError(
      'CRYPTO_ERR_BAD_PRIVATE_KEY',
      `The private key is ${bits} bits; the protocol uses ${RSA_MODULUS_BITS}-bit RSA.`,
    );
  }
  return key;
}

/** Exports an extractable private key as PKCS#8 DER. */
export async function exportPrivateKeyPkcs8(subtle: SubtleCrypto, key: CryptoKey): Promise<Uint8Array> {
  try {
    return new Uint8Array(await subtle.exportKey('pkcs8', key));
  } catch (cause) {
    throw new CryptoError(
      'CRYPTO_ERR_BAD_PRIVATE_KEY',
      'The private key cannot be exported (it was created non-extractable).',
      { cause },
    );
  }
}

/** Decrypts the 128-byte RSA-OAEP blob of 1602/1605 into the 32-byte AES key. */
export async function unwrapAesKey(
  subtle: SubtleCrypto,
  privateKey: CryptoKey,
  encrypted: Uint8Array,
): Promise<Uint8Array> {
  if (encrypted.length !== ENCRYPTED_AES_KEY_SIZE) {
    throw new CryptoError(
      'CRYPTO_ERR_UNWRAP_FAILED',
      `Encrypted AES key is ${encrypted.length} bytes, expected ${ENCRYPTED_AES_KEY_SIZE}.`,
    );
  }
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(
      await subtle.decrypt({ name: 'RSA-OAEP' }, privateKey, encrypted as Uint8Array<ArrayBuffer>),
    );
  } catch (cause) {
    throw new CryptoError(
      'CRYPTO_ERR_UNWRAP_FAILED',
      'Could not decrypt the AES key: the server used a different public key than this private key.',
      { cause },
    );
  }
  if (plain.length !== AES_KEY_SIZE) {
    throw new CryptoError(
      'CRYPTO_ERR_UNWRAP_FAILED',
      `Decrypted AES key is ${plain.length} bytes, expected ${AES_KEY_SIZE}.`,
    );
  }
  return plain;
}

/** Encrypts a 32-byte AES key with a client's public key field (server side of 1602/1605). */
export async function wrapAesKey(
  subtle: SubtleCrypto,
  publicKeySpki: Uint8Array,
  aesKey: Uint8Array,
): Promise<Uint8Array> {
  if (aesKey.length !== AES_KEY_SIZE) {
    throw new CryptoError(
      'CRYPTO_ERR_BAD_LENGTH',
      `AES key must be ${AES_KEY_SIZE} bytes, got ${aesKey.length}.`,
    );
  }
  const { derLength } = validatePublicKeySpki(publicKeySpki);
  let key: CryptoKey;
  try {
    const der = publicKeySpki.slice(0, derLength);
    key = await subtle.importKey('spki', der, RSA_OAEP_SHA1, true, ['encrypt']);
  } catch (cause) {
    throw new CryptoError('CRYPTO_ERR_BAD_PUBLIC_KEY', 'The public key could not be imported.', { cause });
  }
  return new Uint8Array(await subtle.encrypt({ name: 'RSA-OAEP' }, key, aesKey as Uint8Array<ArrayBuffer>));
}
