/**
 * fast-check arbitraries for protocol values, shared by every fuzz test in the project,
 * and the assertion helper the protocol tests share.
 * Test support only (imports fast-check and vitest), so it lives outside lib/.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import {
  CLIENT_ID_SIZE,
  ENCRYPTED_AES_KEY_SIZE,
  MAX_CLIENT_NAME_LENGTH,
  MAX_FILE_NAME_LENGTH,
  MAX_PACKETS,
  MAX_U32,
  PUBLIC_KEY_SIZE,
  RequestCode,
  ResponseCode,
} from '../../lib/protocol/constants';
import { ProtocolError, type ProtocolErrorCode } from '../../lib/protocol/errors';
import type { Request } from '../../lib/protocol/requests';
import type { Response } from '../../lib/protocol/responses';

/** One printable ASCII character (0x20..0x7e), the alphabet of Name fields. */
export const arbPrintableChar: fc.Arbitrary<string> = fc
  .integer({ min: 0x20, max: 0x7e })
  .map((c) => String.fromCharCode(c));

/** Printable ASCII text of minLength..maxLength characters. */
export function arbName(minLength = 1, maxLength = MAX_FILE_NAME_LENGTH): fc.Arbitrary<string> {
  return fc.string({ unit: arbPrintableChar, minLength, maxLength });
}

/** A client name the client side accepts: 1..100 printable ASCII characters. */
export const arbClientName: fc.Arbitrary<string> = arbName(1, MAX_CLIENT_NAME_LENGTH);

/** A file name that fits a FileName field: 1..254 printable ASCII characters. */
export const arbFileName: fc.Arbitrary<string> = arbName(1, MAX_FILE_NAME_LENGTH);

/** Random bytes of exactly `size` length. */
export function arbBytes(size: number): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ minLength: size, maxLength: size });
}

/** A 16-byte client ID (any bytes, including all zeros). */
export const arbClientId: fc.Arbitrary<Uint8Array> = arbBytes(CLIENT_ID_SIZE);

/** Any u32 value, biased towards the edges by fast-check. */
export const arbU32: fc.Arbitrary<number> = fc.integer({ min: 0, max: MAX_U32 });

/** Any u16 value. */
export const arbU16: fc.Arbitrary<number> = fc.integer({ min: 0, max: MAX_PACKETS });

/** A 1028 request with up to `maxContent` content bytes and random (independent) size fields. */
export function arbSendFileRequest(maxContent = 512): fc.Arbitrary<Request> {
  return fc.record({
    code: fc.constant(RequestCode.SendFile),
    clientId: arbClientId,
    contentSize: arbU32,
    origSize: arbU32,
    packetNumber: arbU16,
    totalPackets: arbU16,
    fileName: arbFileName,
    content: fc.uint8Array({ maxLength: maxContent }),
  });
}

/** Any valid request, 1025..1031. */
export function arbRequest(maxContent = 512): fc.Arbitrary<Request> {
  return fc.oneof(
    fc.record({
      code: fc.constantFrom(RequestCode.Register, RequestCode.Reconnect),
      clientId: arbClientId,
      name: arbClientName,
    }),
    fc.record({
      code: fc.constant(RequestCode.SendPublicKey),
      clientId: arbClientId,
      name: arbClientName,
      publicKey: arbBytes(PUBLIC_KEY_SIZE),
    }),
    arbSendFileRequest(maxContent),
    fc.record({
      code: fc.constantFrom(RequestCode.CrcOk, RequestCode.CrcRetry, RequestCode.CrcAbort),
      clientId: arbClientId,
      fileName: arbFileName,
    }),
  );
}

/** Any valid response, 1600..1607 (1602/1605 with a 1..256-byte key, mostly 128). */
export const arbResponse: fc.Arbitrary<Response> = fc.oneof(
  fc.record({
    code: fc.constantFrom(ResponseCode.Registered, ResponseCode.Thanks, ResponseCode.ReconnectRejected),
    clientId: arbClientId,
  }),
  fc.record({ code: fc.constantFrom(ResponseCode.RegisterFailed, ResponseCode.ServerError) }),
  fc.record({
    code: fc.constantFrom(ResponseCode.PublicKeyAccepted, ResponseCode.Reconnected),
    clientId: arbClientId,
    encryptedKey: fc.oneof(arbBytes(ENCRYPTED_AES_KEY_SIZE), fc.uint8Array({ minLength: 1, maxLength: 256 })),
  }),
  fc.record({
    code: fc.constant(ResponseCode.FileReceived),
    clientId: arbClientId,
    contentSize: arbU32,
    fileName: arbFileName,
    cksum: arbU32,
  }),
);

/**
 * Cut points that split a byte stream of `length` into chunks (sorted, unique, inside
 * 1..length-1). Empty array: one chunk.
 */
export function arbCuts(length: number, maxCuts = 8): fc.Arbitrary<number[]> {
  if (length < 2) return fc.constant([]);
  return fc
    .uniqueArray(fc.integer({ min: 1, max: length - 1 }), { maxLength: maxCuts })
    .map((cuts) => cuts.sort((a, b) => a - b));
}

/** Splits `bytes` at the given sorted cut points. */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(from, cut));
    from = cut;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

/** Chunk sizes for feeding a stream piecewise; cycled by chunkBy. Mostly small, some 1-byte. */
export const arbChunkSizes: fc.Arbitrary<number[]> = fc.array(
  fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 4096 })),
  { minLength: 1, maxLength: 12 },
);

/** Cuts `bytes` into chunks of the given sizes, cycling through them until the end. */
export function chunkBy(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length] ?? 1);
    chunks.push(bytes.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

/** Concatenates byte arrays (the core's own, for the tests that import it from here). */
export { concatBytes } from '../../lib/protocol/bytes';

/** How the fuzzers reorder a sequence of frames or records (indexes taken modulo its length). */
export type SequenceOp =
  | { kind: 'swap'; i: number; j: number }
  | { kind: 'drop'; i: number }
  | { kind: 'dup'; i: number }
  | { kind: 'cut'; at: number };

/** `list` after `op` (changed in place, except a cut, which returns a shorter copy). */
export function applySequenceOp<T>(list: T[], op: SequenceOp): T[] {
  const n = list.length;
  if (n === 0) return list;
  switch (op.kind) {
    case 'swap': {
      const [i, j] = [op.i % n, op.j % n];
      [list[i], list[j]] = [list[j]!, list[i]!];
      return list;
    }
    case 'drop':
      list.splice(op.i % n, 1);
      return list;
    case 'dup':
      list.splice(op.i % n, 0, list[op.i % n]!);
      return list;
    case 'cut':
      return list.slice(0, op.at % (n + 1));
  }
}

/** One mutation of an encoded frame or stream, applied by `mutate`. */
export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'size'; value: number }
  | { kind: 'byte'; at: number; value: number };

/**
 * Mutations of a frame: bit flips, truncation, a byte overwrite, and rewrites of the
 * header's payload-size field (small values, u32 edges, 0xFFFFFFFF). `at` is a fraction
 * of the length, resolved by `mutate`.
 */
export const arbMutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({
      kind: fc.constant('size' as const),
      value: fc.oneof(
        fc.integer({ min: 0, max: 2048 }),
        fc.constantFrom(MAX_U32, MAX_U32 - 1, 0x8000_0000, 0x7fff_ffff, 0x0100_0000, 0x00ff_ffff),
        arbU32,
      ),
    }),
  ),
  { minLength: 1, maxLength: 4 },
);

/**
 * Applies mutations to a copy of `frame`. `sizeOffset` is where the header's u32 payload
 * size sits (19 for requests, 3 for responses).
 */
export function mutate(frame: Uint8Array, mutations: readonly Mutation[], sizeOffset: number): Uint8Array {
  let out = frame.slice();
  for (const m of mutations) {
    if (out.length === 0) break;
    switch (m.kind) {
      case 'flip': {
        const i = m.at % out.length;
        out[i] = out[i]! ^ (1 << m.bit);
        break;
      }
      case 'byte':
        out[m.at % out.length] = m.value;
        break;
      case 'truncate':
        out = out.slice(0, m.at % out.length);
        break;
      case 'size':
        if (out.length >= sizeOffset + 4) {
          new DataView(out.buffer, out.byteOffset).setUint32(sizeOffset, m.value, true);
        }
        break;
    }
  }
  return out;
}

/** Runs `fn` and asserts that it throws a ProtocolError with `code` (never a message check). */
export function expectProtocolError(fn: () => unknown, code: ProtocolErrorCode): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  expect((caught as ProtocolError).code).toBe(code);
  return caught as ProtocolError;
}
