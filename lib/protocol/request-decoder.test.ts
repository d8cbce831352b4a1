import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  arbChunkSizes,
  chunkBy,
  concatBytes,
  expectProtocolError,
  splitAt,
} from '../../test/support/arbitraries';
import { decodeRequests } from '../../test/support/request-frames';
import {
  DEFAULT_MAX_REQUEST_PAYLOAD,
  NAME_FIELD_SIZE,
  PUBLIC_KEY_SIZE,
  REQUEST_HEADER_SIZE,
  RequestCode,
  SEND_FILE_FIXED_SIZE,
} from './constants';
import { ProtocolError } from './errors';
import { encodeRequestHeader } from './headers';
import { RequestDecoder, type RequestEvent } from './request-decoder';
import { encodeRequest, type Request } from './requests';

const ID = Uint8Array.from({ length: 16 }, (_, i) => 0x50 + i);
const pattern = (n: number, salt: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + salt) & 0xff);
const sendFile = (packetNumber: number, totalPackets: number, content: Uint8Array): Request => ({
  code: RequestCode.SendFile,
  clientId: ID,
  contentSize: 65536 + 48,
  origSize: 65536 + 40,
  packetNumber,
  totalPackets,
  fileName: 'big.bin',
  content,
});

const requests: Request[] = [
  { code: RequestCode.Register, clientId: new Uint8Array(16), name: 'alice' },
  { code: RequestCode.SendPublicKey, clientId: ID, name: 'alice', publicKey: pattern(160, 1) },
  { code: RequestCode.Reconnect, clientId: ID, name: 'alice' },
  sendFile(1, 2, pattern(64 * 1024, 2)),
  sendFile(2, 2, pattern(48, 3)),
  { code: RequestCode.CrcRetry, clientId: ID, fileName: 'big.bin' },
  // A 1028 with no content at all (only its fixed part), counting from 0.
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
const encoded = requests.map(encodeRequest);
const stream = concatBytes(encoded);

/** Where each request's parts sit in `stream`. */
const layout = (() => {
  let at = 0;
  return encoded.map((f, i) => {
    const start = at;
    at += f.length;
    const payload = start + REQUEST_HEADER_SIZE;
    return requests[i]!.code === RequestCode.SendFile
      ? { streamed: true, start, fixedAt: payload, contentAt: payload + SEND_FILE_FIXED_SIZE, end: at }
      : { streamed: false, start, fixedAt: payload, contentAt: at, end: at };
  });
})();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * True when the events are exactly the stream's requests: headers as encoded, whole payloads
 * and fixed parts byte for byte, and every content slice a view of the stream at the next
 * expected offset (a copy would fail: content must never be copied).
 */
function eventsMatch(events: readonly RequestEvent[]): boolean {
  let i = 0;
  for (const want of layout) {
    const head = stream.subarray(want.start, want.start + REQUEST_HEADER_SIZE);
    const first = events[i++];
    if (first === undefined || !('header' in first)) return false;
    const h = first.header;
    const v = new DataView(head.buffer, head.byteOffset);
    if (
      h.version !== head[16] ||
      h.code !== v.getUint16(17, true) ||
      h.payloadSize !== want.end - want.fixedAt
    )
      return false;
    if (!sameBytes(h.clientId, head.subarray(0, 16))) return false;
    if (!want.streamed) {
      if (first.type !== 'frame' || !sameBytes(first.payload, stream.subarray(want.fixedAt, want.end)))
        return false;
      continue;
    }
    if (first.type !== 'file-start' || first.contentLength !== want.end - want.contentAt) return false;
    if (!sameBytes(first.fixed, stream.subarray(want.fixedAt, want.contentAt))) return false;
    let at = want.contentAt;
    for (let e = events[i++]; e?.type !== 'file-end'; e = events[i++]) {
      if (e?.type !== 'file-content' || e.chunk.length === 0) return false;
      if (e.chunk.buffer !== stream.buffer || e.chunk.byteOffset !== stream.byteOffset + at) return false;
      at += e.chunk.length;
    }
    if (at !== want.end) return false;
  }
  return i === events.length;
}

function feed(d: RequestDecoder, chunks: readonly Uint8Array[]): RequestEvent[] {
  return chunks.flatMap((c) => d.push(c));
}

/** Small deterministic PRNG so the "random" splits are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x1_0000_0000;
  };
}

function header(code: number, payloadSize: number, version = 3): Uint8Array {
  return encodeRequestHeader({ clientId: ID, version, code, payloadSize });
}

/** The error a push throws, or undefined. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('RequestDecoder on a stream of every request kind', () => {
  it('the stream holds a 1028 with 64 KiB of content', () => {
    expect(encoded[3]!.length).toBe(REQUEST_HEADER_SIZE + SEND_FILE_FIXED_SIZE + 65536);
  });

  it('one chunk: whole frames, 1028 as start/content/end, decoding to exactly the requests', () => {
    const d = new RequestDecoder();
    const events = d.push(stream);
    expect(events.map((e) => e.type)).toEqual([
      'frame',
      'frame',
      'frame',
      ...['file-start', 'file-content', 'file-end'],
      ...['file-start', 'file-content', 'file-end'],
      'frame',
      ...['file-start', 'file-end'],
      'frame',
      'frame',
    ]);
    expect(eventsMatch(events)).toBe(true);
    expect(decodeRequests(new RequestDecoder(), [stream])).toEqual(requests);
    expect(d.idle).toBe(true);
  });

  it('split into two chunks at every byte offset: the same events, content always a view', () => {
    const bad: number[] = [];
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new RequestDecoder();
      if (!eventsMatch(feed(d, splitAt(stream, [cut]))) || !d.idle) bad.push(cut);
    }
    expect(bad).toEqual([]);
  });

  it('three chunks at 2000 pseudo-random cut pairs, plus cuts at every frame boundary ±1', () => {
    const rand = lcg(1028);
    const pairs: [number, number][] = [];
    for (let i = 0; i < 2000; i++) {
      const a = Math.floor(rand() * (stream.length + 1));
      const b = Math.floor(rand() * (stream.length + 1));
      pairs.push(a < b ? [a, b] : [b, a]);
    }
    for (const { start, contentAt } of layout) {
      for (const base of [start, contentAt]) {
        for (const delta of [
          -1,
          0,
          1,
          REQUEST_HEADER_SIZE - 1,
          REQUEST_HEADER_SIZE,
          REQUEST_HEADER_SIZE + 1,
        ]) {
          const a = Math.max(0, Math.min(stream.length, base + delta));
          pairs.push([a, Math.min(stream.length, a + 1)], [a, Math.min(stream.length, a + 300)]);
        }
      }
    }
    const bad: [number, number][] = [];
    for (const [a, b] of pairs) {
      if (!eventsMatch(feed(new RequestDecoder(), splitAt(stream, [a, b])))) bad.push([a, b]);
    }
    expect(bad).toEqual([]);
  });

  it('one byte at a time', () => {
    const d = new RequestDecoder();
    const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    expect(eventsMatch(feed(d, bytes))).toBe(true);
    expect(decodeRequests(new RequestDecoder(), bytes)).toEqual(requests);
    expect(d.idle).toBe(true);
  });

  it('empty chunks change nothing', () => {
    const d = new RequestDecoder();
    expect(d.push(new Uint8Array(0))).toEqual([]);
    const empty = new Uint8Array(0);
    expect(eventsMatch(feed(d, [stream.subarray(0, 10), empty, stream.subarray(10), empty]))).toBe(true);
  });

  it('a payload copied from several chunks is not disturbed when the caller reuses its buffer', () => {
    const d = new RequestDecoder();
    const scratch = new Uint8Array(100);
    const events: RequestEvent[] = [];
    const frame = encoded[1]!; // 1026, 438 bytes
    for (let at = 0; at < frame.length; at += 100) {
      const n = Math.min(100, frame.length - at);
      scratch.set(frame.subarray(at, at + n));
      events.push(...d.push(scratch.subarray(0, n)));
      scratch.fill(0xee);
    }
    expect(events).toHaveLength(1);
    expect(
      events[0]!.type === 'frame' && sameBytes(events[0]!.payload, frame.subarray(REQUEST_HEADER_SIZE)),
    ).toBe(true);
  });
});

describe('the header check', () => {
  const fixedSizes: [number, number][] = [
    [RequestCode.Register, NAME_FIELD_SIZE],
    [RequestCode.SendPublicKey, NAME_FIELD_SIZE + PUBLIC_KEY_SIZE],
    [RequestCode.Reconnect, NAME_FIELD_SIZE],
    [RequestCode.CrcOk, NAME_FIELD_SIZE],
    [RequestCode.CrcRetry, NAME_FIELD_SIZE],
    [RequestCode.CrcAbort, NAME_FIELD_SIZE],
  ];

  it.each(fixedSizes)(
    '%i: exactly %i payload bytes; one more or one less fails at the header',
    (code, size) => {
      const d = new RequestDecoder();
      expect(d.push(header(code, size))).toEqual([]);
      expect(d.currentPayloadSize).toBe(size);
      for (const wrong of [0, size - 1, size + 1]) {
        const e = expectProtocolError(
          () => new RequestDecoder().push(header(code, wrong)),
          'PROTO_ERR_BAD_PAYLOAD_SIZE',
        );
        expect(e.header).toMatchObject({ code, payloadSize: wrong, version: 3 });
      }
    },
  );

  it('1028: at least the 267-byte fixed part, at most the limit', () => {
    const d = new RequestDecoder({ maxPayload: 1000 });
    const fixedOnly = d.push(
      concatBytes([header(RequestCode.SendFile, SEND_FILE_FIXED_SIZE), pattern(267, 9)]),
    );
    expect(fixedOnly.map((e) => e.type)).toEqual(['file-start', 'file-end']);
    expect(d.push(header(RequestCode.SendFile, 1000))).toEqual([]);
    expectProtocolError(
      () => new RequestDecoder().push(header(RequestCode.SendFile, SEND_FILE_FIXED_SIZE - 1)),
      'PROTO_ERR_BAD_PAYLOAD_SIZE',
    );
    expectProtocolError(
      () => new RequestDecoder({ maxPayload: 1000 }).push(header(RequestCode.SendFile, 1001)),
      'PROTO_ERR_PAYLOAD_TOO_LARGE',
    );
  });

  it('0xFFFFFFFF declared: PROTO_ERR_PAYLOAD_TOO_LARGE at the header (before version or code), no allocation', () => {
    const d = new RequestDecoder();
    const head = header(RequestCode.SendFile, 0xffffffff);
    // The header arrives in two pieces; nothing of the payload ever arrives.
    expect(d.push(head.subarray(0, 22))).toEqual([]);
    // A 4 GiB allocation would throw RangeError (or succeed); a ProtocolError proves the check came first.
    const e = expectProtocolError(() => d.push(head.subarray(22)), 'PROTO_ERR_PAYLOAD_TOO_LARGE');
    expect(e.header?.payloadSize).toBe(0xffffffff);
    expectProtocolError(
      () => new RequestDecoder().push(header(7, 0xffffffff, 9)),
      'PROTO_ERR_PAYLOAD_TOO_LARGE',
    );
  });

  it('exactly the default limit passes, one byte over fails', () => {
    const d = new RequestDecoder();
    expect(d.push(header(RequestCode.SendFile, DEFAULT_MAX_REQUEST_PAYLOAD))).toEqual([]);
    expect(d.currentPayloadSize).toBe(DEFAULT_MAX_REQUEST_PAYLOAD);
    expectProtocolError(
      () => new RequestDecoder().push(header(RequestCode.SendFile, DEFAULT_MAX_REQUEST_PAYLOAD + 1)),
      'PROTO_ERR_PAYLOAD_TOO_LARGE',
    );
  });

  it.each([
    [2, RequestCode.Register, 'PROTO_ERR_BAD_VERSION'],
    [4, RequestCode.Register, 'PROTO_ERR_BAD_VERSION'],
    [3, 1600, 'PROTO_ERR_UNKNOWN_CODE'],
    [3, 1024, 'PROTO_ERR_UNKNOWN_CODE'],
  ] as const)(
    'refuses version %i code %i at the header (%s), carrying the header',
    (version, code, expected) => {
      const e = expectProtocolError(() => new RequestDecoder().push(header(code, 255, version)), expected);
      expect(e.header).toMatchObject({ version, code, payloadSize: 255 });
    },
  );

  it('after an error the decoder stays dead: every push throws the same error', () => {
    const d = new RequestDecoder({ maxPayload: 1000 });
    const err = expectProtocolError(() => d.push(header(RequestCode.CrcOk, 3)), 'PROTO_ERR_BAD_PAYLOAD_SIZE');
    for (const chunk of [encoded[0]!, new Uint8Array(0), new Uint8Array(1)]) {
      expect(thrown(() => d.push(chunk))).toBe(err);
    }
  });

  it('requests complete before a bad header in the same chunk are lost with it (the stream is untrusted)', () => {
    const d = new RequestDecoder();
    expect(thrown(() => d.push(concatBytes([encoded[0]!, header(RequestCode.CrcOk, 3)])))).toBeInstanceOf(
      ProtocolError,
    );
  });
});

describe('idle and currentPayloadSize', () => {
  it('track a request through header, payload and the next request', () => {
    const d = new RequestDecoder();
    const frame = encoded[0]!; // 23 + 255
    expect([d.idle, d.currentPayloadSize]).toEqual([true, 0]);
    expect(d.push(frame.subarray(0, 5))).toEqual([]);
    expect([d.idle, d.currentPayloadSize]).toEqual([false, 0]); // header partly buffered
    expect(d.push(frame.subarray(5, 23))).toEqual([]);
    expect([d.idle, d.currentPayloadSize]).toEqual([false, 255]);
    expect(d.push(frame.subarray(23, 277))).toEqual([]);
    // Last payload byte plus the first 3 bytes of the next request.
    expect(d.push(concatBytes([frame.subarray(277), frame.subarray(0, 3)]))).toHaveLength(1);
    expect([d.idle, d.currentPayloadSize]).toEqual([false, 0]);
    expect(d.push(frame.subarray(3))).toHaveLength(1);
    expect([d.idle, d.currentPayloadSize]).toEqual([true, 0]);
  });

  it('through a 1028: busy until its last content byte', () => {
    const d = new RequestDecoder();
    const f = encoded[4]!; // 1028 with 48 bytes of content
    d.push(f.subarray(0, f.length - 1));
    expect([d.idle, d.currentPayloadSize]).toEqual([false, SEND_FILE_FIXED_SIZE + 48]);
    expect(d.push(f.subarray(f.length - 1)).map((e) => e.type)).toEqual(['file-content', 'file-end']);
    expect(d.idle).toBe(true);
  });
});

describe('construction', () => {
  it.each([Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY])('maxPayload %d is refused', (maxPayload) => {
    expectProtocolError(() => new RequestDecoder({ maxPayload }), 'PROTO_ERR_BAD_FIELD');
  });
});

describe('random bytes', () => {
  it('throw only ProtocolError, never anything else, for any chunking and limit', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        arbChunkSizes,
        fc.constantFrom(undefined, 0, 255, 300, 4096),
        (bytes, sizes, maxPayload) => {
          const d = new RequestDecoder(maxPayload === undefined ? {} : { maxPayload });
          try {
            for (const c of chunkBy(bytes, sizes)) d.push(c);
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
          }
        },
      ),
      { numRuns: 2000, seed: 20261201 },
    );
  });
});
