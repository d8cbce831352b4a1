import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_CLIENT_ID,
  encodeRequest,
  encodeRequestHeader,
  PROTOCOL_VERSION,
  RequestCode,
  SEND_FILE_FIXED_SIZE,
} from '../lib/protocol';
import { type FrameEvent, FrameReader, FrameReaderError } from './frame-reader';

const clientId = new Uint8Array(16).fill(0xaa);
const content = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
const stream = Buffer.concat([
  encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name: 'alice' }),
  encodeRequest({
    code: RequestCode.SendFile,
    clientId,
    contentSize: 304,
    origSize: 300,
    packetNumber: 1,
    totalPackets: 1,
    fileName: 'f.bin',
    content,
  }),
  // A 1028 with no content at all, then one too short for its fixed part.
  encodeRequest({
    code: RequestCode.SendFile,
    clientId,
    contentSize: 16,
    origSize: 0,
    packetNumber: 1,
    totalPackets: 1,
    fileName: 'e',
    content: new Uint8Array(0),
  }),
  (() => {
    const f = new Uint8Array(23 + 5);
    encodeRequestHeader(
      { clientId, version: PROTOCOL_VERSION, code: RequestCode.SendFile, payloadSize: 5 },
      f,
    );
    return f;
  })(),
  encodeRequest({ code: RequestCode.CrcOk, clientId, fileName: 'f.bin' }),
]);

/** Events flattened to comparable values: content slices are joined per packet. */
function summarise(events: FrameEvent[]): unknown[] {
  const out: unknown[] = [];
  let packet: number[] | null = null;
  for (const e of events) {
    if (e.type === 'frame') out.push(['frame', e.header.code, Buffer.from(e.payload).toString('hex')]);
    else if (e.type === 'file-start') {
      out.push([
        'start',
        e.header.payloadSize,
        e.fixed.length,
        e.contentLength,
        Buffer.from(e.fixed).toString('hex'),
      ]);
      packet = [];
    } else if (e.type === 'file-content') packet!.push(...e.chunk);
    else {
      out.push(['end', Buffer.from(packet!).toString('hex')]);
      packet = null;
    }
  }
  return out;
}

describe('FrameReader', () => {
  const whole = summarise(new FrameReader(1 << 20).push(stream));

  it('reads whole frames, 1028 as start/content/end', () => {
    expect(whole.map((e) => (e as unknown[])[0])).toEqual([
      'frame',
      'start',
      'end',
      'start',
      'end',
      'frame',
      'frame',
    ]);
    expect(whole[1]).toEqual([
      'start',
      SEND_FILE_FIXED_SIZE + 300,
      SEND_FILE_FIXED_SIZE,
      300,
      expect.any(String),
    ]);
    expect(whole[2]).toEqual(['end', Buffer.from(content).toString('hex')]);
    expect(whole[5]).toEqual(['frame', RequestCode.SendFile, '0000000000']);
  });

  it('gives the same events for every split of the stream in two, and byte by byte', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = new FrameReader(1 << 20);
      const ev = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))];
      expect(summarise(ev)).toEqual(whole);
      expect(r.idle).toBe(true);
    }
    const r = new FrameReader(1 << 20);
    const ev: FrameEvent[] = [];
    for (let i = 0; i < stream.length; i++) ev.push(...r.push(stream.subarray(i, i + 1)));
    expect(summarise(ev)).toEqual(whole);
  });

  it('hands out content as views of the pushed chunk (no copy)', () => {
    const r = new FrameReader(1 << 20);
    const ev = r.push(stream);
    const c = ev.find((e) => e.type === 'file-content')!;
    expect(c.type === 'file-content' && c.chunk.buffer).toBe(stream.buffer);
  });

  it('refuses a declared payload over the limit as soon as the header is complete', () => {
    const r = new FrameReader(1000);
    const h = encodeRequestHeader({
      clientId,
      version: 3,
      code: RequestCode.SendFile,
      payloadSize: 0xffffffff,
    });
    expect(() => r.push(h)).toThrow(FrameReaderError);
    try {
      r.push(new Uint8Array(1));
    } catch (e) {
      expect((e as FrameReaderError).protocolError.code).toBe('PROTO_ERR_PAYLOAD_TOO_LARGE');
      expect((e as FrameReaderError).header?.payloadSize).toBe(0xffffffff);
    }
  });

  it.each([
    [2, RequestCode.Register, 'PROTO_ERR_BAD_VERSION'],
    [3, 1600, 'PROTO_ERR_UNKNOWN_CODE'],
  ])('refuses version %i code %i at the header (%s)', (version, code, expected) => {
    const r = new FrameReader(1000);
    const h = encodeRequestHeader({ clientId, version, code, payloadSize: 500 });
    let err: FrameReaderError | undefined;
    try {
      r.push(h);
    } catch (e) {
      err = e as FrameReaderError;
    }
    expect(err?.protocolError.code).toBe(expected);
  });

  it('random bytes: only FrameReaderError, never anything else', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 8 }), (chunks) => {
        const r = new FrameReader(4096);
        try {
          for (const c of chunks) r.push(c);
        } catch (e) {
          if (!(e instanceof FrameReaderError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
