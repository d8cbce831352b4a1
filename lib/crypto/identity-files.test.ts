import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  formatMeInfo,
  formatPrivKey,
  formatTransferInfo,
  type Identity,
  parseMeInfo,
  parsePrivKey,
  parseTransferInfo,
} from './identity-files';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 17 });
const PKCS8 = new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' }));
const B64 = Buffer.from(PKCS8).toString('base64');
const CLIENT_ID = new Uint8Array([...Array(16).keys()].map((i) => i * 17)); // 00 11 22 .. ff
const ID_HEX = '00112233445566778899aabbccddeeff';
const IDENTITY: Identity = { name: 'Alice Smith', clientId: CLIENT_ID, privateKeyPkcs8: PKCS8 };

const badIdentity = expect.objectContaining({ code: 'CRYPTO_ERR_BAD_IDENTITY_FILE' });
const badTransfer = expect.objectContaining({ code: 'CRYPTO_ERR_BAD_TRANSFER_INFO' });

describe('me.info', () => {
  it('formats name, lowercase hex ID and Base64 wrapped at 64 characters', () => {
    const text = formatMeInfo(IDENTITY);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Alice Smith');
    expect(lines[1]).toBe(ID_HEX);
    expect(text.endsWith('\n')).toBe(true);
    const keyLines = lines.slice(2, -1);
    expect(keyLines.slice(0, -1).every((l) => l.length === 64)).toBe(true);
    expect(keyLines.join('')).toBe(B64);
  });

  it('round-trips', () => {
    expect(parseMeInfo(formatMeInfo(IDENTITY))).toEqual(IDENTITY);
  });

  it('reads CRLF, trailing whitespace, a BOM, uppercase hex and one-line Base64', () => {
    const text = `\uFEFFAlice Smith  \r\n${ID_HEX.toUpperCase()}\t\r\n${B64}\r\n\r\n`;
    expect(parseMeInfo(text)).toEqual(IDENTITY);
  });

  it('reads Base64 wrapped at another width (e.g. Crypto++ 72) without a final newline', () => {
    const wrapped = B64.match(/.{1,72}/g)!.join('\n');
    expect(parseMeInfo(`Alice Smith\n${ID_HEX}\n${wrapped}`)).toEqual(IDENTITY);
  });

  it.each([
    ['empty file', ''],
    ['empty name', `\n${ID_HEX}\n${B64}\n`],
    ['name of 101 characters', `${'x'.repeat(101)}\n${ID_HEX}\n${B64}\n`],
    ['name with ESC', `Al\u001bice\n${ID_HEX}\n${B64}\n`],
    ['ID of 31 digits', `Alice\n${ID_HEX.slice(1)}\n${B64}\n`],
    ['ID with a non-hex digit', `Alice\n${ID_HEX.slice(1)}g\n${B64}\n`],
    ['missing key', `Alice\n${ID_HEX}\n`],
    ['key not Base64', `Alice\n${ID_HEX}\nnot base64!\n`],
    ['key not DER', `Alice\n${ID_HEX}\nQUJDRA==\n`],
  ])('rejects %s -> CRYPTO_ERR_BAD_IDENTITY_FILE', (_what, text) => {
    expect(() => parseMeInfo(text)).toThrow(badIdentity);
  });

  it('accepts a name of exactly 100 characters', () => {
    expect(parseMeInfo(`${'x'.repeat(100)}\n${ID_HEX}\n${B64}\n`).name).toBe('x'.repeat(100));
  });

  it('reads a name with a C1 or bidi character (registered before the rule) but writes none', () => {
    expect(parseMeInfo(`Al\u202Eice\n${ID_HEX}\n${B64}\n`).name).toBe('Al\u202Eice');
    expect(() => formatMeInfo({ ...IDENTITY, name: 'Al\u202Eice' })).toThrow(/U\+202E/);
    expect(() => formatMeInfo({ ...IDENTITY, name: 'Al\u009bice' })).toThrow(/U\+009B/);
  });

  it('refuses to format an invalid identity', () => {
    expect(() => formatMeInfo({ ...IDENTITY, name: '' })).toThrow(badIdentity);
    expect(() => formatMeInfo({ ...IDENTITY, name: 'a\nb' })).toThrow(badIdentity);
    expect(() => formatMeInfo({ ...IDENTITY, clientId: new Uint8Array(15) })).toThrow(badIdentity);
  });
});

describe('priv.key', () => {
  it('round-trips, wrapped or on one line', () => {
    expect(parsePrivKey(formatPrivKey(PKCS8))).toEqual(PKCS8);
    expect(parsePrivKey(`${B64}\r\n`)).toEqual(PKCS8);
  });

  it.each([
    ['empty', ''],
    ['whitespace only', ' \n'],
    ['invalid Base64', '%%%'],
  ])('rejects %s -> CRYPTO_ERR_BAD_IDENTITY_FILE', (_what, text) => {
    expect(() => parsePrivKey(text)).toThrow(badIdentity);
  });
});

describe('transfer.info', () => {
  it('parses host:port, name and path', () => {
    expect(parseTransferInfo('127.0.0.1:1256\nAlice\n/tmp/file one.bin\n')).toEqual({
      host: '127.0.0.1',
      port: 1256,
      name: 'Alice',
      filePath: '/tmp/file one.bin',
    });
  });

  it('parses CRLF, [ipv6]:port and a missing final newline', () => {
    expect(parseTransferInfo('[::1]:8080\r\nBob\r\nC:\\data\\x.txt')).toEqual({
      host: '::1',
      port: 8080,
      name: 'Bob',
      filePath: 'C:\\data\\x.txt',
    });
  });

  it.each([
    { host: 'example.org', port: 1, name: 'A', filePath: 'a' },
    { host: 'fe80::1', port: 65535, name: 'x'.repeat(100), filePath: '/a b/c' },
  ])('round-trips %o', (info) => {
    expect(parseTransferInfo(formatTransferInfo(info))).toEqual(info);
  });

  it.each([
    ['empty file', ''],
    ['no port', 'localhost\nAlice\nf\n'],
    ['empty port', 'localhost:\nAlice\nf\n'],
    ['port 0', 'localhost:0\nAlice\nf\n'],
    ['port 65536', 'localhost:65536\nAlice\nf\n'],
    ['non-numeric port', 'localhost:12a\nAlice\nf\n'],
    ['empty host', ':1256\nAlice\nf\n'],
    ['unbracketed IPv6', '::1:1256\nAlice\nf\n'],
    ['unclosed bracket', '[::1:1256\nAlice\nf\n'],
    ['missing name', 'localhost:1256\n'],
    ['empty name', 'localhost:1256\n\nf\n'],
    ['name of 101 characters', `localhost:1256\n${'x'.repeat(101)}\nf\n`],
    ['name with a bidi isolate', 'localhost:1256\nAl\u2066ice\nf\n'],
    ['missing path', 'localhost:1256\nAlice\n'],
    ['a fourth line', 'localhost:1256\nAlice\nf\ng\n'],
  ])('rejects %s -> CRYPTO_ERR_BAD_TRANSFER_INFO', (_what, text) => {
    expect(() => parseTransferInfo(text)).toThrow(badTransfer);
  });

  it('refuses to format invalid values', () => {
    const ok = { host: 'h', port: 1, name: 'n', filePath: 'p' };
    expect(() => formatTransferInfo({ ...ok, port: 0 })).toThrow(badTransfer);
    expect(() => formatTransferInfo({ ...ok, host: '' })).toThrow(badTransfer);
    expect(() => formatTransferInfo({ ...ok, name: '' })).toThrow(badTransfer);
    expect(() => formatTransferInfo({ ...ok, filePath: 'a\nb' })).toThrow(badTransfer);
  });
});
