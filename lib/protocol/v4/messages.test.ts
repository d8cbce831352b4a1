import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageType, RECORD_SIZE } from './constants';
import {
  decodeAlert,
  decodeHello,
  decodeMessage,
  encodeAlert,
  encodeHello,
  encodeMessage,
  type Message,
  nameProblem,
} from './messages';

const b = (n: number, v = 7) => new Uint8Array(n).fill(v);

const SAMPLES: Message[] = [
  { type: MessageType.ClientAuth, clientKey: b(32), signature: b(64), name: 'alice', invite: 'sfi1.a.b' },
  { type: MessageType.ClientAuth, clientKey: b(32), signature: b(64), name: 'Zoë 東京', invite: '' },
  { type: MessageType.ServerAuth, serverKey: b(32, 1), signature: b(64, 2) },
  { type: MessageType.Welcome, clientId: b(16), registered: true, maxFileSize: 64 * 1024 ** 3 },
  {
    type: MessageType.UploadStart,
    uploadId: b(16),
    resume: true,
    fileKey: b(32),
    size: 5 * 1024 ** 3 + 1,
    recordSize: RECORD_SIZE,
    name: 'résumé.pdf',
  },
  { type: MessageType.UploadReady, uploadId: b(16), nextRecord: 2 ** 32 - 1 },
  {
    type: MessageType.UploadDone,
    uploadId: b(16),
    size: Number.MAX_SAFE_INTEGER,
    sha256: b(32),
    storedName: 'a (1).txt',
  },
  { type: MessageType.UploadAbort, uploadId: b(16) },
  { type: MessageType.UploadAborted, uploadId: b(16) },
  { type: MessageType.Bye },
  { type: MessageType.Error, code: 6, fatal: false, reason: 'over quota' },
];

describe('v4 messages', () => {
  it.each(SAMPLES.map((m) => [m.type, m] as const))('round-trips type 0x%s', (_t, m) => {
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('writes the UploadStart layout of the spec', () => {
    const bytes = encodeMessage(SAMPLES[4]!);
    expect(bytes.length).toBe(64 + 'résumé.pdf'.length + 2);
    expect(bytes[0]).toBe(0x20);
    expect(bytes[17]).toBe(1);
    const v = new DataView(bytes.buffer);
    expect(v.getUint32(50, true) + v.getUint32(54, true) * 2 ** 32).toBe(5 * 1024 ** 3 + 1);
    expect(v.getUint32(58, true)).toBe(RECORD_SIZE);
  });

  it('refuses trailing bytes, truncation, unknown types and over-large u64s', () => {
    for (const m of SAMPLES) {
      const bytes = encodeMessage(m);
      expect(() => decodeMessage(new Uint8Array([...bytes, 0]))).toThrow(
        expect.objectContaining({ name: 'V4ProtocolError' }),
      );
      if (bytes.length > 1)
        expect(() => decodeMessage(bytes.subarray(0, bytes.length - 1))).toThrow(
          expect.objectContaining({ name: 'V4ProtocolError' }),
        );
    }
    expect(() => decodeMessage(Uint8Array.of(0x55))).toThrow(
      expect.objectContaining({ code: 'V4_ERR_BAD_MESSAGE' }),
    );
    const ready = encodeMessage(SAMPLES[5]!);
    ready.fill(0xff, 17, 25);
    expect(() => decodeMessage(ready)).toThrow(expect.objectContaining({ code: 'V4_ERR_BAD_FIELD' }));
  });

  it.each(['', '.', '..', 'a/b', 'a\\b', 'a\u0000b', 'tab\there', 'x'.repeat(256)])(
    'refuses the file name %j',
    (name) => {
      const m = { ...(SAMPLES[4] as Extract<Message, { type: 0x20 }>), name };
      expect(() => encodeMessage(m)).toThrow();
    },
  );

  const UNSAFE_NAMES = [
    'report\u009b2J',
    'osc\u009d0;x\u009c',
    'nel\u0085',
    'invoice\u202Etxt.exe',
    'lre\u202a',
    'iso\u2066late\u2069',
    'mark\u200f',
    'alm\u061c',
    'line\u2028sep',
    'bom\ufeff',
  ];

  it.each(UNSAFE_NAMES)('nameProblem refuses %j as a file name and as a client name', (name) => {
    expect(nameProblem(name, true)).toMatch(
      /^A name may not contain control characters.*\(U\+[0-9A-F]{4}\)\.$/,
    );
    expect(nameProblem(name, false)).toBe(nameProblem(name, true));
  });

  it.each(['Zoë 東京', 'résumé.pdf', 'nbsp\u00a0x', 'zwj 👩‍💻', 'zwnj\u200c', 'a\u202fb'])(
    'nameProblem allows %j',
    (name) => {
      expect(nameProblem(name, true)).toBeNull();
      expect(nameProblem(name, false)).toBeNull();
    },
  );

  it.each(UNSAFE_NAMES)(
    'a ClientAuth naming %j is not encoded, and not decoded (Alert 1 at the server)',
    (name) => {
      const auth = { ...(SAMPLES[0] as Extract<Message, { type: 0x10 }>), name };
      expect(() => encodeMessage(auth)).toThrow(expect.objectContaining({ code: 'V4_ERR_BAD_FIELD' }));
      // The same bytes as another client would send them: a name of the same length, swapped in.
      const placeholder = 'x'.repeat(new TextEncoder().encode(name).length);
      const bytes = encodeMessage({ ...auth, name: placeholder });
      bytes.set(new TextEncoder().encode(name), 98);
      expect(() => decodeMessage(bytes)).toThrow(expect.objectContaining({ code: 'V4_ERR_BAD_FIELD' }));
    },
  );

  it.each(UNSAFE_NAMES)(
    'an UploadStart naming %j decodes (the server answers Error 15) but is not encoded',
    (name) => {
      const start = { ...(SAMPLES[4] as Extract<Message, { type: 0x20 }>), name };
      expect(() => encodeMessage(start)).toThrow(expect.objectContaining({ code: 'V4_ERR_BAD_FIELD' }));
      const placeholder = 'x'.repeat(new TextEncoder().encode(name).length);
      const bytes = encodeMessage({ ...start, name: placeholder });
      bytes.set(new TextEncoder().encode(name), 64);
      expect(decodeMessage(bytes)).toEqual(start);
    },
  );

  it('refuses a record size other than the suite’s', () => {
    const bytes = encodeMessage(SAMPLES[4]!);
    new DataView(bytes.buffer).setUint32(58, 65536, true);
    expect(() => decodeMessage(bytes)).toThrow(expect.objectContaining({ code: 'V4_ERR_BAD_FIELD' }));
  });

  it('hello and alert bodies round-trip; a long reason is cut on a character boundary', () => {
    expect(decodeHello(encodeHello({ suite: 1, ephemeral: b(32) }))).toEqual({ suite: 1, ephemeral: b(32) });
    const long = 'é'.repeat(600);
    const a = decodeAlert(encodeAlert({ code: 9, fatal: true, reason: long }));
    expect(a.reason).toBe('é'.repeat(512));
  });

  it('never throws anything but V4ProtocolError on random input (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 400 }),
        fc.constantFrom(0x10, 0x11, 0x12, 0x20, 0x21, 0x22, 0x7f),
        (rest, t) => {
          try {
            decodeMessage(new Uint8Array([t, ...rest]));
          } catch (e) {
            expect((e as Error).name).toBe('V4ProtocolError');
          }
        },
      ),
    );
  });
});
