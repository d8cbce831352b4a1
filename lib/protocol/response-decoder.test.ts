import { describe, expect, test } from 'vitest';
import { concatBytes, expectProtocolError, splitAt } from '../../test/support/arbitraries';
import { MAX_RESPONSE_PAYLOAD, RESPONSE_HEADER_SIZE, ResponseCode } from './constants';
import { decodeResponseHeader, encodeResponseHeader } from './headers';
import { type ResponseFrame, ResponseFrameDecoder } from './response-decoder';
import { decodeResponse, encodeResponse, type Response } from './responses';

const ID = Uint8Array.from({ length: 16 }, (_, i) => 0x50 + i);
const pattern = (n: number, salt: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + salt) & 0xff);

const responses: Response[] = [
  { code: ResponseCode.ServerError },
  { code: ResponseCode.Registered, clientId: ID },
  { code: ResponseCode.RegisterFailed },
  { code: ResponseCode.PublicKeyAccepted, clientId: ID, encryptedKey: pattern(128, 4) },
  {
    code: ResponseCode.FileReceived,
    clientId: ID,
    contentSize: 65584,
    fileName: 'big.bin',
    cksum: 0x89abcdef,
  },
  { code: ResponseCode.Thanks, clientId: ID },
  { code: ResponseCode.Reconnected, clientId: ID, encryptedKey: pattern(128, 5) },
  { code: ResponseCode.ReconnectRejected, clientId: ID },
  { code: ResponseCode.ServerError },
];

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let i = 0;
  // Word-wise where both are aligned (a copied payload always is): keeps every-offset runs fast.
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0) {
    const n = a.length >>> 2;
    const wa = new Uint32Array(a.buffer, a.byteOffset, n);
    const wb = new Uint32Array(b.buffer, b.byteOffset, n);
    for (let w = 0; w < n; w++) if (wa[w] !== wb[w]) return false;
    i = n * 4;
  }
  for (; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Expected<H> {
  header: H;
  /** Aligned copy of the payload. */
  payload: Uint8Array;
  /** Where the payload starts in the stream. */
  offset: number;
}

function expectedFrames<H>(
  encoded: readonly Uint8Array[],
  headerSize: number,
  decodeHeader: (b: Uint8Array) => H,
): Expected<H>[] {
  let at = 0;
  return encoded.map((f) => {
    const e = { header: decodeHeader(f), payload: f.slice(headerSize), offset: at + headerSize };
    at += f.length;
    return e;
  });
}

/**
 * Exact comparison of decoded frames with the expected ones. A payload that is a view of
 * the fed stream is checked by position (same buffer, same offset, same length means same
 * bytes); a copied payload is compared byte for byte.
 */
function framesMatch<H extends { version: number; code: number; payloadSize: number; clientId?: Uint8Array }>(
  frames: readonly { header: H; payload: Uint8Array }[],
  expected: readonly Expected<H>[],
  stream: Uint8Array,
): boolean {
  if (frames.length !== expected.length) return false;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    const e = expected[i]!;
    const h = f.header;
    if (
      h.version !== e.header.version ||
      h.code !== e.header.code ||
      h.payloadSize !== e.header.payloadSize
    ) {
      return false;
    }
    if (e.header.clientId && !(h.clientId && sameBytes(h.clientId, e.header.clientId))) return false;
    const p = f.payload;
    if (p.length !== e.payload.length) return false;
    if (p.buffer === stream.buffer && p.length > 0) {
      if (p.byteOffset !== stream.byteOffset + e.offset) return false;
    } else if (!sameBytes(p, e.payload)) {
      return false;
    }
  }
  return true;
}

function feed(decoder: ResponseFrameDecoder, chunks: readonly Uint8Array[]): ResponseFrame[] {
  return chunks.flatMap((c) => decoder.push(c));
}

describe('ResponseFrameDecoder on a stream of every response kind', () => {
  const encoded = responses.map(encodeResponse);
  const stream = concatBytes(encoded);
  const expected = expectedFrames(encoded, RESPONSE_HEADER_SIZE, decodeResponseHeader);

  test('one chunk: decodes to exactly the responses, zero-payload 1601/1607 included', () => {
    const d = new ResponseFrameDecoder();
    const frames = d.push(stream);
    expect(frames.map((f) => f.header.payloadSize)).toEqual([0, 16, 0, 144, 279, 16, 144, 16, 0]);
    expect(frames.map((f) => decodeResponse(f.header, f.payload))).toEqual(responses);
  });

  test('split into two chunks at every offset', () => {
    const bad: number[] = [];
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new ResponseFrameDecoder();
      if (!framesMatch(feed(d, splitAt(stream, [cut])), expected, stream) || !d.idle) bad.push(cut);
    }
    expect(bad).toEqual([]);
  });

  test('three chunks: a second cut 1, 2, 3, 7, 16, 23 or 150 bytes after every offset', () => {
    const bad: number[][] = [];
    for (let a = 0; a <= stream.length; a++) {
      for (const gap of [1, 2, 3, 7, 16, 23, 150]) {
        const b = Math.min(stream.length, a + gap);
        const d = new ResponseFrameDecoder();
        if (!framesMatch(feed(d, splitAt(stream, [a, b])), expected, stream) || !d.idle) bad.push([a, b]);
      }
    }
    expect(bad).toEqual([]);
  });

  test('one byte at a time', () => {
    const d = new ResponseFrameDecoder();
    const frames: ResponseFrame[] = [];
    for (let i = 0; i < stream.length; i++) frames.push(...d.push(stream.subarray(i, i + 1)));
    expect(frames.map((f) => decodeResponse(f.header, f.payload))).toEqual(responses);
  });

  test('a zero-payload frame is emitted as soon as its header completes', () => {
    const d = new ResponseFrameDecoder();
    const only1607 = encodeResponse({ code: ResponseCode.ServerError });
    expect(d.push(only1607.subarray(0, 6))).toEqual([]);
    const frames = d.push(only1607.subarray(6));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.payload.length).toBe(0);
    expect(d.idle).toBe(true);
  });
});

describe('payload limit and header check', () => {
  const responseHeader = (payloadSize: number, code: number = ResponseCode.RegisterFailed, version = 3) =>
    encodeResponseHeader({ version, code, payloadSize });

  test('0xFFFFFFFF declared is refused at the header', () => {
    const d = new ResponseFrameDecoder();
    expectProtocolError(() => d.push(responseHeader(0xffffffff)), 'PROTO_ERR_PAYLOAD_TOO_LARGE');
  });

  test('exactly the limit passes, one byte over fails (default and custom limits)', () => {
    // 1601 and 1607 may carry any payload (some servers add bytes); it is read and ignored.
    expect(new ResponseFrameDecoder().push(responseHeader(MAX_RESPONSE_PAYLOAD))).toEqual([]);
    expectProtocolError(
      () => new ResponseFrameDecoder().push(responseHeader(MAX_RESPONSE_PAYLOAD + 1)),
      'PROTO_ERR_PAYLOAD_TOO_LARGE',
    );
    const small = new ResponseFrameDecoder({ maxPayload: 300 });
    expect(small.push(concatBytes([responseHeader(300), new Uint8Array(300)]))).toHaveLength(1);
    expectProtocolError(() => small.push(responseHeader(301)), 'PROTO_ERR_PAYLOAD_TOO_LARGE');
  });

  test.each([
    [ResponseCode.Registered, [16], [0, 15, 17]],
    [ResponseCode.Thanks, [16], [0, 15, 17]],
    [ResponseCode.FileReceived, [279], [0, 278, 280, 4096]],
    [ResponseCode.ReconnectRejected, [16, 0], [1, 15, 17]],
    [ResponseCode.PublicKeyAccepted, [17, 144, 272, 4096], [0, 16]],
    [ResponseCode.Reconnected, [17, 144, 272, 4096], [0, 16]],
    [ResponseCode.RegisterFailed, [0, 1, 16, 4096], []],
    [ResponseCode.ServerError, [0, 1, 16, 4096], []],
  ])('%i: sizes %j pass the header check, %j fail at the header', (code, good, bad) => {
    for (const size of good)
      expect(new ResponseFrameDecoder().push(responseHeader(size, code))).toBeDefined();
    for (const size of bad) {
      const e = expectProtocolError(
        () => new ResponseFrameDecoder().push(responseHeader(size, code)),
        'PROTO_ERR_BAD_PAYLOAD_SIZE',
      );
      expect(e.header).toEqual({ version: 3, code, payloadSize: size });
    }
  });

  test('a version or code we do not speak fails at the header', () => {
    expectProtocolError(
      () => new ResponseFrameDecoder().push(responseHeader(0, 1607, 2)),
      'PROTO_ERR_BAD_VERSION',
    );
    expectProtocolError(
      () => new ResponseFrameDecoder().push(responseHeader(0, 1608)),
      'PROTO_ERR_UNKNOWN_CODE',
    );
  });

  test('after the error the decoder stays dead: every push throws the same error', () => {
    const d = new ResponseFrameDecoder({ maxPayload: 1000 });
    const err = expectProtocolError(() => d.push(responseHeader(1001)), 'PROTO_ERR_PAYLOAD_TOO_LARGE');
    const valid = encodeResponse(responses[0]!);
    for (const chunk of [valid, new Uint8Array(0), new Uint8Array(1)]) {
      let again: unknown;
      try {
        d.push(chunk);
      } catch (e) {
        again = e;
      }
      expect(again).toBe(err);
    }
  });
});

describe('idle and pendingPayload', () => {
  test('track a frame through header, payload and the next frame', () => {
    const d = new ResponseFrameDecoder();
    const frame = encodeResponse(responses[3]!); // 7 + 144
    expect([d.idle, d.pendingPayload]).toEqual([true, 0]);
    d.push(frame.subarray(0, 3));
    expect([d.idle, d.pendingPayload]).toEqual([false, 0]); // header partly buffered
    d.push(frame.subarray(3, RESPONSE_HEADER_SIZE));
    expect([d.idle, d.pendingPayload]).toEqual([false, 144]);
    d.push(frame.subarray(RESPONSE_HEADER_SIZE, 100));
    expect(d.pendingPayload).toBe(144 - 93);
    // Last payload bytes plus the first 3 bytes of the next frame.
    expect(d.push(concatBytes([frame.subarray(100), frame.subarray(0, 3)]))).toHaveLength(1);
    expect([d.idle, d.pendingPayload]).toEqual([false, 0]);
    expect(d.push(frame.subarray(3))).toHaveLength(1);
    expect([d.idle, d.pendingPayload]).toEqual([true, 0]);
  });
});

describe('construction', () => {
  test.each([Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY])('maxPayload %d is refused', (maxPayload) => {
    expectProtocolError(() => new ResponseFrameDecoder({ maxPayload }), 'PROTO_ERR_BAD_FIELD');
  });
});
