import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  CLOSE_REASONS,
  CloseCode,
  encodeRequest,
  MAX_CLOSE_REASON_BYTES,
  REQUEST_HEADER_SIZE,
  RequestCode,
} from '../lib/protocol';
import { BridgeError, type BridgeErrorCode } from './errors';
import { checkRequestMessage, closeCodeFor } from './frame-check';

const LIMIT = 1024;
const ZERO_ID = new Uint8Array(16);

/** A request header spelled out byte by byte, then `payload` bytes of 0xab. */
function message(opts: { version?: number; code?: number; declared: number; payload: number }): Uint8Array {
  const code = opts.code ?? RequestCode.CrcOk;
  // biome-ignore format: one wire field per line
  const header = [
    ...new Array<number>(16).fill(0x11), // client ID
    opts.version ?? 3, // version
    code & 0xff, code >> 8, // code, u16 LE
    opts.declared & 0xff, (opts.declared >>> 8) & 0xff, (opts.declared >>> 16) & 0xff, opts.declared >>> 24, // payload size, u32 LE
  ];
  return new Uint8Array([...header, ...new Array<number>(opts.payload).fill(0xab)]);
}

function failure(bytes: Uint8Array, limit = LIMIT): BridgeErrorCode {
  try {
    checkRequestMessage(bytes, limit);
  } catch (err) {
    expect(err).toBeInstanceOf(BridgeError);
    return (err as BridgeError).code;
  }
  throw new Error('expected the check to fail');
}

describe('checkRequestMessage', () => {
  /** A payload size each request code allows (1028: its fixed part plus some content). */
  const VALID_SIZE: Record<number, number> = {
    [RequestCode.Register]: 255,
    [RequestCode.SendPublicKey]: 255 + 160,
    [RequestCode.Reconnect]: 255,
    [RequestCode.SendFile]: 267 + 100,
    [RequestCode.CrcOk]: 255,
    [RequestCode.CrcRetry]: 255,
    [RequestCode.CrcAbort]: 255,
  };

  test('accepts one whole frame of every request code and returns its header', () => {
    for (const code of Object.values(RequestCode)) {
      const size = VALID_SIZE[code]!;
      const h = checkRequestMessage(message({ code, declared: size, payload: size }), LIMIT);
      expect(h).toMatchObject({ version: 3, code, payloadSize: size });
    }
  });

  test('accepts frames made by the real encoder', () => {
    const bytes = encodeRequest({ code: RequestCode.Register, clientId: ZERO_ID, name: 'alice' });
    expect(checkRequestMessage(bytes, LIMIT).code).toBe(RequestCode.Register);
  });

  test('accepts a 1028 of only its fixed part and one exactly at the limit', () => {
    const code = RequestCode.SendFile;
    expect(checkRequestMessage(message({ code, declared: 267, payload: 267 }), LIMIT).payloadSize).toBe(267);
    expect(checkRequestMessage(message({ code, declared: LIMIT, payload: LIMIT }), LIMIT).payloadSize).toBe(
      LIMIT,
    );
  });

  test('refuses a declared size the code does not allow (the same check as the server), before the message length', () => {
    for (const code of Object.values(RequestCode)) {
      const size = VALID_SIZE[code]!;
      for (const wrong of code === RequestCode.SendFile ? [0, 266] : [0, size - 1, size + 1]) {
        expect(failure(message({ code, declared: wrong, payload: wrong }))).toBe('BRIDGE_ERR_FRAME_BAD_SIZE');
        expect(failure(message({ code, declared: wrong, payload: size }))).toBe('BRIDGE_ERR_FRAME_BAD_SIZE');
      }
    }
  });

  test('refuses a message shorter than the header', () => {
    expect(failure(new Uint8Array(0))).toBe('BRIDGE_ERR_FRAME_TRUNCATED');
    expect(failure(message({ declared: 0, payload: 0 }).subarray(0, REQUEST_HEADER_SIZE - 1))).toBe(
      'BRIDGE_ERR_FRAME_TRUNCATED',
    );
  });

  test('refuses a declared size different from the message', () => {
    expect(failure(message({ declared: 255, payload: 254 }))).toBe('BRIDGE_ERR_FRAME_SIZE_MISMATCH');
    expect(failure(message({ declared: 255, payload: 256 }))).toBe('BRIDGE_ERR_FRAME_SIZE_MISMATCH');
    const code = RequestCode.SendFile;
    expect(failure(message({ code, declared: 300, payload: 299 }))).toBe('BRIDGE_ERR_FRAME_SIZE_MISMATCH');
    // Two frames in one message: the second is extra bytes.
    const two = new Uint8Array([
      ...message({ declared: 255, payload: 255 }),
      ...message({ declared: 255, payload: 255 }),
    ]);
    expect(failure(two)).toBe('BRIDGE_ERR_FRAME_SIZE_MISMATCH');
  });

  test('refuses unknown codes and versions', () => {
    for (const code of [0, 1024, 1032, 1600, 0xffff]) {
      expect(failure(message({ code, declared: 0, payload: 0 }))).toBe('BRIDGE_ERR_FRAME_UNKNOWN_CODE');
    }
    for (const version of [0, 2, 4, 255]) {
      expect(failure(message({ version, declared: 0, payload: 0 }))).toBe('BRIDGE_ERR_FRAME_BAD_VERSION');
    }
  });

  test('refuses a declared payload over the limit before looking at the rest', () => {
    expect(failure(message({ declared: LIMIT + 1, payload: LIMIT + 1 }))).toBe('BRIDGE_ERR_FRAME_TOO_LARGE');
    expect(failure(message({ declared: 0xffffffff, payload: 0 }))).toBe('BRIDGE_ERR_FRAME_TOO_LARGE');
    expect(failure(message({ code: 7, declared: 0xffffffff, payload: 0 }))).toBe(
      'BRIDGE_ERR_FRAME_TOO_LARGE',
    );
  });

  test('random bytes: never throws anything but a BridgeError, accepts only self-consistent frames', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const h = checkRequestMessage(bytes, LIMIT);
          expect(h.payloadSize).toBe(bytes.length - REQUEST_HEADER_SIZE);
          expect(h.version).toBe(3);
        } catch (err) {
          expect(err).toBeInstanceOf(BridgeError);
        }
      }),
    );
  });
});

describe('close codes', () => {
  test('frame failures map to 4002 (too large) or 4001 (malformed)', () => {
    expect(closeCodeFor('BRIDGE_ERR_FRAME_TOO_LARGE')).toBe(CloseCode.FrameTooLarge);
    for (const code of [
      'BRIDGE_ERR_FRAME_TRUNCATED',
      'BRIDGE_ERR_FRAME_BAD_VERSION',
      'BRIDGE_ERR_FRAME_UNKNOWN_CODE',
      'BRIDGE_ERR_FRAME_BAD_SIZE',
      'BRIDGE_ERR_FRAME_SIZE_MISMATCH',
    ] as const) {
      expect(closeCodeFor(code)).toBe(CloseCode.MalformedFrame);
    }
  });

  test('every code has a reason that fits a close frame', () => {
    for (const code of Object.values(CloseCode)) {
      const reason = CLOSE_REASONS[code];
      expect(reason.length).toBeGreaterThan(0);
      expect(new TextEncoder().encode(reason).length).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
    }
  });

  test('application codes are in the private range 4000-4999', () => {
    const app = Object.values(CloseCode).filter((c) => c >= 4000);
    expect(app.every((c) => c <= 4999)).toBe(true);
    expect(new Set(app).size).toBe(app.length);
  });
});
