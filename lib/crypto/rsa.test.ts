import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { Crypto as PeculiarCrypto } from '@peculiar/webcrypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  exportPrivateKeyPkcs8,
  generateRsaKeyPair,
  importPrivateKeyPkcs8,
  unwrapAesKey,
  validatePublicKeySpki,
  wrapAesKey,
} from './rsa';

const SUBTLES: [string, SubtleCrypto][] = [
  ['node webcrypto', globalThis.crypto.subtle],
  ['@peculiar/webcrypto', new PeculiarCrypto().subtle as SubtleCrypto],
];

/** A Node key pair as DER: SPKI and PKCS#8. */
function nodeKeyPair(modulusLength: number, publicExponent: number) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength, publicExponent });
  return {
    spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    pkcs8: new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })),
  };
}

/** Encrypts like the Python/C++ servers: RSA-OAEP with SHA-1 and MGF1-SHA-1. */
function nodeWrap(spkiDer: Uint8Array, aesKey: Uint8Array): Uint8Array {
  return new Uint8Array(
    publicEncrypt(
      {
        key: createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha1',
      },
      aesKey,
    ),
  );
}

// Crypto++'s default exponent, as the C++ reference client's keys have.
const E17 = nodeKeyPair(1024, 17);
const E65537 = nodeKeyPair(1024, 65537);
const RSA2048 = nodeKeyPair(2048, 17);

describe('validatePublicKeySpki', () => {
  it('accepts a Crypto++-style e=17 key: 160 bytes of DER', () => {
    expect(E17.spki.length).toBe(160);
    expect(validatePublicKeySpki(E17.spki)).toEqual({ modulusBits: 1024, exponent: 17n, derLength: 160 });
  });

  it('rejects e=65537 (162 bytes, does not fit the field)', () => {
    expect(E65537.spki.length).toBe(162);
    expect(() => validatePublicKeySpki(E65537.spki)).toThrow(
      expect.objectContaining({ code: 'CRYPTO_ERR_BAD_PUBLIC_KEY' }),
    );
  });

  const mutate = (edit: (b: Uint8Array) => void) => {
    const b = E17.spki.slice();
    edit(b);
    return b;
  };
  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['all zeros', new Uint8Array(160)],
    ['random garbage', new Uint8Array(randomBytes(160))],
    ['truncated to 100 bytes', E17.spki.slice(0, 100)],
    ['truncated by one byte', E17.spki.slice(0, 159)],
    ['a 2048-bit key (prefix that fits)', RSA2048.spki.slice(0, 160)],
    [
      'wrong OID (last arc 1 -> 5)',
      mutate((b) => {
        b[15] = 0x05;
      }),
    ],
    [
      'OID tag replaced',
      mutate((b) => {
        b[5] = 0x04;
      }),
    ],
    [
      'NULL parameters replaced',
      mutate((b) => {
        b[16] = 0x04;
      }),
    ],
    [
      'BIT STRING with unused bits',
      mutate((b) => {
        b[21] = 0x01;
      }),
    ],
    [
      'even exponent (e=16)',
      mutate((b) => {
        b[159] = 0x10;
      }),
    ],
    [
      'exponent 1',
      mutate((b) => {
        b[159] = 0x01;
      }),
    ],
    [
      'outer length says one byte more',
      mutate((b) => {
        b[2] = 0x9e;
      }),
    ],
    [
      'truncated, zero-filled to the field size',
      new Uint8Array([...E17.spki.slice(0, 150), ...new Array(10).fill(0)]),
    ],
    ['extra byte after a 160-byte key', new Uint8Array([...E17.spki, 0])],
  ];
  it.each(bad)('rejects %s', (_what, bytes) => {
    expect(() => validatePublicKeySpki(bytes)).toThrow(
      expect.objectContaining({ code: 'CRYPTO_ERR_BAD_PUBLIC_KEY' }),
    );
  });

  it('rejects a modulus that is not 1024 bits (a 1016-bit key, small enough to fit)', () => {
    const k = nodeKeyPair(1016, 17);
    expect(k.spki.length).toBeLessThan(160);
    expect(() => validatePublicKeySpki(k.spki)).toThrow(
      expect.objectContaining({ code: 'CRYPTO_ERR_BAD_PUBLIC_KEY' }),
    );
  });

  it('never throws anything but CryptoError on random mutations', () => {
    for (let i = 0; i < 2000; i++) {
      const b = E17.spki.slice();
      b[i % 160] = randomBytes(1)[0]!;
      try {
        validatePublicKeySpki(b);
      } catch (e) {
        expect(e).toMatchObject({ code: 'CRYPTO_ERR_BAD_PUBLIC_KEY' });
      }
    }
  });
});

describe.each(SUBTLES)('RSA-OAEP SHA-1 on %s', (name, subtle) => {
  it('imports a Node e=17 PKCS#8 key and unwraps a key wrapped by Node publicEncrypt', async () => {
    const key = await importPrivateKeyPkcs8(subtle, E17.pkcs8);
    const aesKey = new Uint8Array(randomBytes(32));
    const wrapped = nodeWrap(E17.spki, aesKey);
    expect(wrapped.length).toBe(128);
    expect(await unwrapAesKey(subtle, key, wrapped)).toEqual(aesKey);
  });

  it('PKCS#8 round-trips through import (extractable) and export', async () => {
    const key = await importPrivateKeyPkcs8(subtle, E17.pkcs8, { extractable: true });
    const again = await importPrivateKeyPkcs8(subtle, await exportPrivateKeyPkcs8(subtle, key));
    const aesKey = new Uint8Array(randomBytes(32));
    expect(await unwrapAesKey(subtle, again, nodeWrap(E17.spki, aesKey))).toEqual(aesKey);
  });

  it('wrapAesKey output is decrypted by Node privateDecrypt (OAEP SHA-1)', async () => {
    const aesKey = new Uint8Array(randomBytes(32));
    const wrapped = await wrapAesKey(subtle, E17.spki, aesKey);
    const plain = privateDecrypt(
      {
        key: createPrivateKey({ key: Buffer.from(E17.pkcs8), format: 'der', type: 'pkcs8' }),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha1',
      },
      wrapped,
    );
    expect(new Uint8Array(plain)).toEqual(aesKey);
  });

  it('rejects garbage and 2048-bit private keys -> CRYPTO_ERR_BAD_PRIVATE_KEY', async () => {
    await expect(importPrivateKeyPkcs8(subtle, new Uint8Array(randomBytes(600)))).rejects.toMatchObject({
      code: 'CRYPTO_ERR_BAD_PRIVATE_KEY',
    });
    await expect(importPrivateKeyPkcs8(subtle, RSA2048.pkcs8)).rejects.toMatchObject({
      code: 'CRYPTO_ERR_BAD_PRIVATE_KEY',
    });
  });

  it('unwrap failures -> CRYPTO_ERR_UNWRAP_FAILED', async () => {
    const key = await importPrivateKeyPkcs8(subtle, E17.pkcs8);
    const wrapped = nodeWrap(E17.spki, new Uint8Array(32));
    await expect(unwrapAesKey(subtle, key, wrapped.subarray(0, 127))).rejects.toMatchObject({
      code: 'CRYPTO_ERR_UNWRAP_FAILED',
    });
    const tampered = wrapped.slice();
    tampered[5]! ^= 1;
    await expect(unwrapAesKey(subtle, key, tampered)).rejects.toMatchObject({
      code: 'CRYPTO_ERR_UNWRAP_FAILED',
    });
    // Wrapped with another key pair's public key.
    const other = nodeKeyPair(1024, 17);
    await expect(unwrapAesKey(subtle, key, nodeWrap(other.spki, new Uint8Array(32)))).rejects.toMatchObject({
      code: 'CRYPTO_ERR_UNWRAP_FAILED',
    });
    // A 16-byte payload decrypts but is not an AES-256 key.
    await expect(unwrapAesKey(subtle, key, nodeWrap(E17.spki, new Uint8Array(16)))).rejects.toMatchObject({
      code: 'CRYPTO_ERR_UNWRAP_FAILED',
    });
  });

  it('exporting a non-extractable key -> CRYPTO_ERR_BAD_PRIVATE_KEY', async () => {
    const key = await importPrivateKeyPkcs8(subtle, E17.pkcs8);
    await expect(exportPrivateKeyPkcs8(subtle, key)).rejects.toMatchObject({
      code: 'CRYPTO_ERR_BAD_PRIVATE_KEY',
    });
  });

  // @peculiar/webcrypto (webcrypto-core) rejects publicExponent [3] through a Base64 padding
  // bug ("Must be [3] or [1,0,1]"), so key generation is only exercised on Node's WebCrypto
  // (and on Chromium by the e2e suite); its keys are still tested on both via PKCS#8 import.
  describe.skipIf(name === '@peculiar/webcrypto')('generateRsaKeyPair', () => {
    let pair: Awaited<ReturnType<typeof generateRsaKeyPair>>;
    beforeAll(async () => {
      pair = await generateRsaKeyPair(subtle, { extractable: true });
    });

    it('makes an e=3, 1024-bit key whose SPKI is exactly 160 bytes and validates', () => {
      expect(pair.publicKeySpki.length).toBe(160);
      expect(validatePublicKeySpki(pair.publicKeySpki)).toEqual({
        modulusBits: 1024,
        exponent: 3n,
        derLength: 160,
      });
      expect(pair.privateKeyPkcs8).toBeInstanceOf(Uint8Array);
    });

    it('a key wrapped by Node with our SPKI is unwrapped by our private key', async () => {
      const aesKey = new Uint8Array(randomBytes(32));
      expect(await unwrapAesKey(subtle, pair.privateKey, nodeWrap(pair.publicKeySpki, aesKey))).toEqual(
        aesKey,
      );
    });

    it('its PKCS#8 works on every implementation', async () => {
      const aesKey = new Uint8Array(randomBytes(32));
      const wrapped = nodeWrap(pair.publicKeySpki, aesKey);
      for (const [, other] of SUBTLES) {
        const key = await importPrivateKeyPkcs8(other, pair.privateKeyPkcs8!);
        expect(await unwrapAesKey(other, key, wrapped)).toEqual(aesKey);
      }
    });

    it('non-extractable by default: no PKCS#8', async () => {
      const p = await generateRsaKeyPair(subtle);
      expect(p.privateKeyPkcs8).toBeUndefined();
      expect(p.privateKey.extractable).toBe(false);
    });
  });
});
