import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Crypto as PeculiarCrypto } from '@peculiar/webcrypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ZERO_IV } from '../protocol';
import {
  type ChunkCipher,
  ciphertextSize,
  createAesCbcDecryptor,
  createAesCbcEncryptor,
} from './aes-cbc-stream';

/** The same suite runs on Node's WebCrypto and on the pure-JS-API @peculiar/webcrypto. */
const SUBTLES: [string, SubtleCrypto][] = [
  ['node webcrypto', globalThis.crypto.subtle],
  ['@peculiar/webcrypto', new PeculiarCrypto().subtle as SubtleCrypto],
];

const KEY = new Uint8Array(randomBytes(32));
const MiB = 1024 * 1024;

/** One-shot reference encryption by Node's OpenSSL. */
function nodeEncrypt(key: Uint8Array, plain: Uint8Array, autoPadding = true): Uint8Array {
  const c = createCipheriv('aes-256-cbc', key, ZERO_IV).setAutoPadding(autoPadding);
  return new Uint8Array(Buffer.concat([c.update(plain), c.final()]));
}

function nodeDecrypt(key: Uint8Array, cipher: Uint8Array): Uint8Array {
  const d = createDecipheriv('aes-256-cbc', key, ZERO_IV);
  return new Uint8Array(Buffer.concat([d.update(cipher), d.final()]));
}

/** Chunk sizes: a fixed number, or a seeded pseudo-random sequence in 1..200000. */
type Chunking = number | 'random';

function* chunks(bytes: Uint8Array, chunking: Chunking): Generator<Uint8Array> {
  let seed = 12345;
  for (let off = 0; off < bytes.length; ) {
    let size: number;
    if (chunking === 'random') {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      size = 1 + (seed % 200_000);
    } else size = chunking;
    yield bytes.subarray(off, off + size);
    off += size;
  }
}

/** Streams `bytes` through `cipher` in the given chunking and concatenates every output. */
async function run(cipher: ChunkCipher, bytes: Uint8Array, chunking: Chunking): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const chunk of chunks(bytes, chunking)) parts.push(await cipher.update(chunk));
  parts.push(await cipher.final());
  return new Uint8Array(Buffer.concat(parts));
}

const CASES: [number, Chunking[]][] = [
  [0, [1, 7, 4093]],
  [1, [1, 7, 4093]],
  [15, [1, 7, 4093]],
  [16, [1, 7, 4093]],
  [17, [1, 7, 4093]],
  [MiB - 1, [4093, 65536, 65537, 'random']],
  [MiB, [4093, 65536, 65537, 'random']],
  [MiB + 16, [4093, 65536, 65537, 'random']],
  [5 * MiB + 37, [65536, 65537, 'random']],
];

describe.each(SUBTLES)('AES-256-CBC stream on %s', (_name, subtle) => {
  for (const [size, chunkings] of CASES) {
    const plain = new Uint8Array(randomBytes(size));
    const expected = nodeEncrypt(KEY, plain);
    for (const chunking of chunkings) {
      it(`${size} bytes in chunks of ${chunking}: encrypt equals OpenSSL, decrypt round-trips`, async () => {
        const cipher = await run(await createAesCbcEncryptor(subtle, KEY), plain, chunking);
        expect(cipher.length).toBe(ciphertextSize(size));
        expect(Buffer.from(cipher).equals(Buffer.from(expected))).toBe(true);
        const back = await run(await createAesCbcDecryptor(subtle, KEY), expected, chunking);
        expect(back.length).toBe(size);
        expect(Buffer.from(back).equals(Buffer.from(plain))).toBe(true);
      });
    }
  }

  it('random sizes and chunkings agree with OpenSSL (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 10 }),
        async (plain, sizes) => {
          const enc = await createAesCbcEncryptor(subtle, KEY);
          const dec = await createAesCbcDecryptor(subtle, KEY);
          const cipherParts: Uint8Array[] = [];
          const plainParts: Uint8Array[] = [];
          let off = 0;
          for (let i = 0; off < plain.length; i++) {
            const size = sizes[i % sizes.length]!;
            cipherParts.push(await enc.update(plain.subarray(off, off + size)));
            off += size;
          }
          cipherParts.push(await enc.final());
          // Decrypt in the chunking the encryptor happened to produce.
          for (const part of cipherParts) plainParts.push(await dec.update(part));
          plainParts.push(await dec.final());
          expect(Buffer.concat(cipherParts).equals(Buffer.from(nodeEncrypt(KEY, plain)))).toBe(true);
          expect(Buffer.concat(plainParts).equals(Buffer.from(plain))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('accepts a CryptoKey as well as raw bytes', async () => {
    const key = await subtle.importKey('raw', KEY, { name: 'AES-CBC' }, false, ['encrypt', 'decrypt']);
    const plain = new Uint8Array(randomBytes(100));
    const out = await run(await createAesCbcEncryptor(subtle, key), plain, 33);
    expect(nodeDecrypt(KEY, out)).toEqual(plain);
  });

  it('does not depend on the caller reusing its chunk buffer after update()', async () => {
    const enc = await createAesCbcEncryptor(subtle, KEY);
    const buf = new Uint8Array(40).fill(7);
    const a = await enc.update(buf); // 32 bytes out, 8 bytes kept
    buf.fill(9);
    const b = await enc.update(buf.subarray(0, 8));
    const c = await enc.final();
    const plain = new Uint8Array(48).fill(7);
    plain.fill(9, 40);
    expect(Buffer.concat([a, b, c]).equals(Buffer.from(nodeEncrypt(KEY, plain)))).toBe(true);
  });

  describe('decryptor rejects bad input', () => {
    /** Ciphertext of 16 * `blocks` bytes whose final plaintext block is `lastBlock` (no auto padding). */
    const withLastBlock = (lastBlock: number[]) =>
      nodeEncrypt(KEY, new Uint8Array([...new Uint8Array(32).fill(1), ...lastBlock]), false);
    const badPaddings: [string, number[]][] = [
      ['pad byte 0', [...new Array(15).fill(0x41), 0x00]],
      ['pad byte 17', [...new Array(15).fill(0x41), 0x11]],
      ['inconsistent pad bytes', [...new Array(13).fill(0x41), 0x02, 0x03, 0x03]],
      ['pad 16 with one wrong byte', [0x0f, ...new Array(15).fill(0x10)]],
    ];
    it.each(badPaddings)('%s -> CRYPTO_ERR_BAD_PADDING', async (_what, lastBlock) => {
      const dec = await createAesCbcDecryptor(subtle, KEY);
      const plain = await dec.update(withLastBlock(lastBlock));
      expect(plain.length).toBe(32); // the last block is held back until final()
      await expect(dec.final()).rejects.toMatchObject({ code: 'CRYPTO_ERR_BAD_PADDING' });
    });

    it('valid crafted padding of 16 is accepted (control for the cases above)', async () => {
      const dec = await createAesCbcDecryptor(subtle, KEY);
      await dec.update(withLastBlock(new Array(16).fill(0x10)));
      expect((await dec.final()).length).toBe(0);
    });

    it('a flipped bit in the second-to-last block breaks the padding', async () => {
      const cipher = nodeEncrypt(KEY, new Uint8Array(40)); // 48 bytes, padding 8
      cipher[31]! ^= 0x01; // flips bit 0 of the last plaintext byte: pad 8 -> 9
      const dec = await createAesCbcDecryptor(subtle, KEY);
      await dec.update(cipher);
      await expect(dec.final()).rejects.toMatchObject({ code: 'CRYPTO_ERR_BAD_PADDING' });
    });

    it.each([0, 15, 17, 33])('ciphertext of %i bytes -> CRYPTO_ERR_BAD_LENGTH', async (size) => {
      const dec = await createAesCbcDecryptor(subtle, KEY);
      await dec.update(new Uint8Array(size));
      await expect(dec.final()).rejects.toMatchObject({ code: 'CRYPTO_ERR_BAD_LENGTH' });
    });
  });

  it('a key of the wrong size -> CRYPTO_ERR_BAD_LENGTH', async () => {
    await expect(createAesCbcEncryptor(subtle, new Uint8Array(16))).rejects.toMatchObject({
      code: 'CRYPTO_ERR_BAD_LENGTH',
    });
  });

  it('update() or final() after final() -> CRYPTO_ERR_STATE', async () => {
    const valid = nodeEncrypt(KEY, new Uint8Array(5)); // input both ciphers accept
    for (const make of [createAesCbcEncryptor, createAesCbcDecryptor]) {
      const cipher = await make(subtle, KEY);
      await cipher.update(valid);
      await cipher.final();
      await expect(cipher.update(new Uint8Array(1))).rejects.toMatchObject({ code: 'CRYPTO_ERR_STATE' });
      await expect(cipher.final()).rejects.toMatchObject({ code: 'CRYPTO_ERR_STATE' });
    }
  });

  it('a second update() before the first settles -> CRYPTO_ERR_STATE', async () => {
    const enc = await createAesCbcEncryptor(subtle, KEY);
    const first = enc.update(new Uint8Array(64));
    await expect(enc.update(new Uint8Array(64))).rejects.toMatchObject({ code: 'CRYPTO_ERR_STATE' });
    expect((await first).length).toBe(64);
  });
});

describe('ciphertextSize', () => {
  it.each([
    [0, 16],
    [1, 16],
    [15, 16],
    [16, 32],
    [17, 32],
    [2 ** 32 - 17, 2 ** 32 - 16],
  ])('%i -> %i', (plain, cipher) => {
    expect(ciphertextSize(plain)).toBe(cipher);
  });
});
