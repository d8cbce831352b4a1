import { describe, expect, test } from 'vitest';
import { expectProtocolError } from '../../test/support/arbitraries';
import {
  DEFAULT_MAX_REQUEST_PAYLOAD,
  MAX_RESPONSE_PAYLOAD,
  REQUEST_HEADER_SIZE,
  RESPONSE_HEADER_SIZE,
  RequestCode,
  ResponseCode,
} from './constants';
import { type Frame, RequestFrameDecoder, ResponseFrameDecoder } from './frame-decoder';
import {
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  type RequestHeader,
  type ResponseHeader,
} from './headers';
import { decodeRequest, encodeRequest, type Request } from './requests';
import { decodeResponse, encodeResponse, type Response } from './responses';

const ID = Uint8Array.from({ length: 16 }, (_, i) => 0x50 + i);
const pattern = (n: number, salt: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + salt) & 0xff);

const requests: Request[] = [
  { code: RequestCode.Register, clientId: new Uint8Array(16), name: 'alice' },
  { code: RequestCode.SendPublicKey, clientId: ID, name: 'alice', publicKey: pattern(160, 1) },
  { code: RequestCode.Reconnect, clientId: ID, name: 'alice' },
  {
    code: RequestCode.SendFile,
    clientId: ID,
    contentSize: 65536 + 48,
    origSize: 65536 + 40,
    packetNumber: 1,
    totalPackets: 2,
    fileName: 'big.bin',
    content: pattern(64 * 1024, 2),
  },
  {
    code: RequestCode.SendFile,
    clientId: ID,
    contentSize: 65536 + 48,
    origSize: 65536 + 40,
    packetNumber: 2,
    totalPackets: 2,
    fileName: 'big.bin',
    content: pattern(48, 3),
  },
  { code: RequestCode.CrcRetry, clientId: ID, fileName: 'big.bin' },
  {
    code: RequestCode.SendFile,
    clientId: ID,
    contentSize: 16,
    origSize: 0,
    packetNumber: 0,
    totalPackets: 1,
    fileName: 'empty',
    content: new Uint8Array(0),
  },
  { code: RequestCode.CrcOk, clientId: ID, fileName: 'big.bin' },
  { code: RequestCode.CrcAbort, clientId: ID, fileName: 'big.bin' },
];

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

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

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
  frames: readonly Frame<H>[],
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

function feed<H>(decoder: { push(c: Uint8Array): Frame<H>[] }, chunks: readonly Uint8Array[]): Frame<H>[] {
  return chunks.flatMap((c) => decoder.push(c));
}

function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of cuts) {
    out.push(bytes.subarray(from, cut));
    from = cut;
  }
  out.push(bytes.subarray(from));
  return out;
}

/** Small deterministic PRNG so the "random" splits are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x1_0000_0000;
  };
}

describe('RequestFrameDecoder on a stream of every request kind', () => {
  const encoded = requests.map(encodeRequest);
  const stream = concat(encoded);
  const expected = expectedFrames(encoded, REQUEST_HEADER_SIZE, decodeRequestHeader);

  test('the stream holds a 1028 with 64 KiB of content', () => {
    expect(encoded[3]!.length).toBe(REQUEST_HEADER_SIZE + 267 + 65536);
  });

  test('one chunk: decodes to exactly the requests', () => {
    const d = new RequestFrameDecoder();
    const frames = d.push(stream);
    expect(frames.map((f) => decodeRequest(f.header, f.payload))).toEqual(requests);
    expect(d.idle).toBe(true);
  });

  test('split into two chunks at every byte offset', () => {
    const bad: number[] = [];
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new RequestFrameDecoder();
      const frames = feed(d, splitAt(stream, [cut]));
      if (!d.idle || !framesMatch(frames, expected, stream)) {
        bad.push(cut);
      }
    }
    expect(bad).toEqual([]);
  });

  test('three chunks at 2000 pseudo-random cut pairs, plus cuts at every frame boundary ±1', () => {
    const rand = lcg(1028);
    const pairs: [number, number][] = [];
    for (let i = 0; i < 2000; i++) {
      const a = Math.floor(rand() * (stream.length + 1));
      const b = Math.floor(rand() * (stream.length + 1));
      pairs.push(a < b ? [a, b] : [b, a]);
    }
    let boundary = 0;
    for (const frame of encoded) {
      for (const delta of [-1, 0, 1, REQUEST_HEADER_SIZE - 1, REQUEST_HEADER_SIZE, REQUEST_HEADER_SIZE + 1]) {
        const a = Math.max(0, Math.min(stream.length, boundary + delta));
        pairs.push([a, Math.min(stream.length, a + 1)], [a, Math.min(stream.length, a + 300)]);
      }
      boundary += frame.length;
    }
    const bad: [number, number][] = [];
    for (const [a, b] of pairs) {
      const d = new RequestFrameDecoder();
      const frames = feed(d, splitAt(stream, [a, b]));
      if (!framesMatch(frames, expected, stream)) bad.push([a, b]);
    }
    expect(bad).toEqual([]);
  });

  test('one byte at a time', () => {
    const d = new RequestFrameDecoder();
    const frames: Frame<RequestHeader>[] = [];
    for (let i = 0; i < stream.length; i++) frames.push(...d.push(stream.subarray(i, i + 1)));
    expect(frames.map((f) => decodeRequest(f.header, f.payload))).toEqual(requests);
    expect(d.idle).toBe(true);
  });

  test('empty chunks change nothing', () => {
    const d = new RequestFrameDecoder();
    expect(d.push(new Uint8Array(0))).toEqual([]);
    const frames = feed(d, [
      stream.subarray(0, 10),
      new Uint8Array(0),
      stream.subarray(10),
      new Uint8Array(0),
    ]);
    expect(framesMatch(frames, expected, stream)).toBe(true);
  });

  test('a payload copied from several chunks is not disturbed when the caller reuses its buffer', () => {
    const d = new RequestFrameDecoder();
    const scratch = new Uint8Array(100);
    const frames: Frame<RequestHeader>[] = [];
    const frame = encoded[1]!; // 1026, 438 bytes
    for (let at = 0; at < frame.length; at += 100) {
      const n = Math.min(100, frame.length - at);
      scratch.set(frame.subarray(at, at + n));
      frames.push(...d.push(scratch.subarray(0, n)));
      scratch.fill(0xee);
    }
    expect(frames).toHaveLength(1);
    expect(decodeRequest(frames[0]!.header, frames[0]!.payload)).toEqual(requests[1]);
  });
});

describe('ResponseFrameDecoder on a stream of every response kind', () => {
  const encoded = responses.map(encodeResponse);
  const stream = concat(encoded);
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
    const frames: Frame<ResponseHeader>[] = [];
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

describe('payload limit', () => {
  const requestHeader = (payloadSize: number) =>
    encodeRequestHeader({ clientId: ID, version: 3, code: RequestCode.SendFile, payloadSize });
  const responseHeader = (payloadSize: number) =>
    encodeResponseHeader({ version: 3, code: ResponseCode.FileReceived, payloadSize });

  test('0xFFFFFFFF declared with the default limit: PROTO_ERR_PAYLOAD_TOO_LARGE at the header, no allocation', () => {
    const d = new RequestFrameDecoder();
    const head = requestHeader(0xffffffff);
    // The header arrives in two pieces; nothing of the payload ever arrives.
    expect(d.push(head.subarray(0, 22))).toEqual([]);
    // A 4 GiB allocation would throw RangeError (or succeed); a ProtocolError proves the check came first.
    expectProtocolError(() => d.push(head.subarray(22)), 'PROTO_ERR_PAYLOAD_TOO_LARGE');
  });

  test('responses: 0xFFFFFFFF declared is refused at the header', () => {
    const d = new ResponseFrameDecoder();
    expectProtocolError(() => d.push(responseHeader(0xffffffff)), 'PROTO_ERR_PAYLOAD_TOO_LARGE');
  });

  test('exactly the limit passes, one byte over fails (default and custom limits)', () => {
    const atLimit = new RequestFrameDecoder();
    expect(atLimit.push(requestHeader(DEFAULT_MAX_REQUEST_PAYLOAD))).toEqual([]);
    expect(atLimit.pendingPayload).toBe(DEFAULT_MAX_REQUEST_PAYLOAD);
    expectProtocolError(
      () => new RequestFrameDecoder().push(requestHeader(DEFAULT_MAX_REQUEST_PAYLOAD + 1)),
      'PROTO_ERR_PAYLOAD_TOO_LARGE',
    );

    expect(new ResponseFrameDecoder().push(responseHeader(MAX_RESPONSE_PAYLOAD))).toEqual([]);
    expectProtocolError(
      () => new ResponseFrameDecoder().push(responseHeader(MAX_RESPONSE_PAYLOAD + 1)),
      'PROTO_ERR_PAYLOAD_TOO_LARGE',
    );

    const small = new RequestFrameDecoder({ maxPayload: 300 });
    const frame = concat([requestHeader(300), new Uint8Array(300)]);
    expect(small.push(frame)).toHaveLength(1);
    expectProtocolError(() => small.push(requestHeader(301)), 'PROTO_ERR_PAYLOAD_TOO_LARGE');
  });

  test('after the error the decoder stays dead: every push throws the same error', () => {
    const d = new RequestFrameDecoder({ maxPayload: 1000 });
    const err = expectProtocolError(() => d.push(requestHeader(1001)), 'PROTO_ERR_PAYLOAD_TOO_LARGE');
    const valid = encodeRequest(requests[0]!);
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
    const d = new RequestFrameDecoder();
    const frame = encodeRequest(requests[0]!); // 23 + 255
    expect([d.idle, d.pendingPayload]).toEqual([true, 0]);

    expect(d.push(frame.subarray(0, 5))).toEqual([]);
    expect([d.idle, d.pendingPayload]).toEqual([false, 0]); // header partly buffered

    expect(d.push(frame.subarray(5, 23))).toEqual([]);
    expect([d.idle, d.pendingPayload]).toEqual([false, 255]); // header complete, no payload yet

    expect(d.push(frame.subarray(23, 123))).toEqual([]);
    expect([d.idle, d.pendingPayload]).toEqual([false, 155]);

    expect(d.push(frame.subarray(123, 277))).toEqual([]);
    expect([d.idle, d.pendingPayload]).toEqual([false, 1]);

    // Last payload byte plus the first 3 bytes of the next frame.
    const frames = d.push(concat([frame.subarray(277), frame.subarray(0, 3)]));
    expect(frames).toHaveLength(1);
    expect([d.idle, d.pendingPayload]).toEqual([false, 0]);

    expect(d.push(frame.subarray(3))).toHaveLength(1);
    expect([d.idle, d.pendingPayload]).toEqual([true, 0]);
  });

  test('response decoder reports the same way', () => {
    const d = new ResponseFrameDecoder();
    const frame = encodeResponse(responses[3]!); // 7 + 144
    d.push(frame.subarray(0, RESPONSE_HEADER_SIZE));
    expect([d.idle, d.pendingPayload]).toEqual([false, 144]);
    d.push(frame.subarray(RESPONSE_HEADER_SIZE, 100));
    expect(d.pendingPayload).toBe(144 - 93);
    expect(d.push(frame.subarray(100))).toHaveLength(1);
    expect([d.idle, d.pendingPayload]).toEqual([true, 0]);
  });
});

describe('construction', () => {
  test.each([Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY])('maxPayload %d is refused', (maxPayload) => {
    expectProtocolError(() => new RequestFrameDecoder({ maxPayload }), 'PROTO_ERR_BAD_FIELD');
    expectProtocolError(() => new ResponseFrameDecoder({ maxPayload }), 'PROTO_ERR_BAD_FIELD');
  });
});
