import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes } from './encoding';

const ascii = (s: string) => new TextEncoder().encode(s);

describe('Base64', () => {
  // RFC 4648 section 10 test vectors.
  it.each([
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
  ])('%j <-> %j', (plain, b64) => {
    expect(bytesToBase64(ascii(plain))).toBe(b64);
    expect(base64ToBytes(b64)).toEqual(ascii(plain));
  });

  it('matches Buffer for random inputs and round-trips (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => {
        const b64 = bytesToBase64(bytes);
        expect(b64).toBe(Buffer.from(bytes).toString('base64'));
        expect(base64ToBytes(b64)).toEqual(bytes);
      }),
    );
  });

  it('handles 8 MiB without stack overflow', () => {
    const bytes = new Uint8Array(randomBytes(8 * 1024 * 1024));
    const b64 = bytesToBase64(bytes);
    expect(b64).toBe(Buffer.from(bytes).toString('base64'));
    expect(Buffer.from(base64ToBytes(b64)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('ignores spaces, tabs, CR and LF anywhere (wrapped lines)', () => {
    expect(base64ToBytes(' Zm9v\r\nYmFy\n\t')).toEqual(ascii('foobar'));
    expect(base64ToBytes('Zm9v\nYg=\n=\n')).toEqual(ascii('foob'));
  });

  it('accepts missing padding', () => {
    expect(base64ToBytes('Zm9vYg')).toEqual(ascii('foob'));
    expect(base64ToBytes('Zm9vYmE')).toEqual(ascii('fooba'));
  });

  it.each([
    ['invalid character', 'Zm9v!mFy'],
    ['URL-safe alphabet', 'Zm9v-_'],
    ['non-ASCII', 'Zm9vé'],
    ['data after padding', 'Zg==Zg=='],
    ['one leftover character', 'Zm9vY'],
    ['three padding characters', 'Zg==='],
    ['padding where none belongs', 'Zm9v='],
  ])('rejects %s -> CRYPTO_ERR_BAD_ENCODING', (_what, text) => {
    expect(() => base64ToBytes(text)).toThrow(expect.objectContaining({ code: 'CRYPTO_ERR_BAD_ENCODING' }));
  });
});

describe('hex', () => {
  it('encodes lowercase and decodes either case', () => {
    expect(bytesToHex(new Uint8Array([0x00, 0x0f, 0xa5, 0xff]))).toBe('000fa5ff');
    expect(hexToBytes('000FA5ff')).toEqual(new Uint8Array([0x00, 0x0f, 0xa5, 0xff]));
    expect(hexToBytes('')).toEqual(new Uint8Array(0));
  });

  it('round-trips and matches Buffer (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(bytesToHex(bytes)).toBe(Buffer.from(bytes).toString('hex'));
        expect(hexToBytes(bytesToHex(bytes))).toEqual(bytes);
      }),
    );
  });

  it.each([
    ['odd length', 'abc'],
    ['non-hex digit', '0g'],
    ['whitespace', '00 11'],
    ['prefix', '0x00'],
  ])('rejects %s -> CRYPTO_ERR_BAD_ENCODING', (_what, text) => {
    expect(() => hexToBytes(text)).toThrow(expect.objectContaining({ code: 'CRYPTO_ERR_BAD_ENCODING' }));
  });
});
