/**
 * The v4 frame decoder: any split of the stream gives the same frames; the preamble and
 * every header are judged before a body byte is buffered.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../bytes';
import {
  CLIENT_HANDSHAKE_FRAMES,
  CLIENT_TO_SERVER_FRAMES,
  FrameType,
  RECORD_SIZE,
  SERVER_TO_CLIENT_FRAMES,
  TAG_SIZE,
} from './constants';
import { FrameDecoder } from './frame-decoder';
import { encodeFrame, encodeFrameHeader, encodePreamble } from './frames';

const STREAM = concatBytes([
  encodePreamble(),
  encodeFrame(FrameType.ClientHello, new Uint8Array(34).fill(1)),
  encodeFrame(FrameType.Sealed, new Uint8Array(40).fill(2)),
  encodeFrame(FrameType.Chunk, new Uint8Array(1000).fill(3)),
  encodeFrame(FrameType.Chunk, new Uint8Array(16).fill(4)),
]);

const server = () => new FrameDecoder({ allowed: CLIENT_TO_SERVER_FRAMES, preamble: true });

describe('v4 FrameDecoder', () => {
  it('splits at every offset into the same frames', () => {
    const whole = server().push(STREAM);
    expect(whole.map((f) => [f.type, f.body.length])).toEqual([
      [1, 34],
      [3, 40],
      [4, 1000],
      [4, 16],
    ]);
    for (let cut = 1; cut < STREAM.length; cut++) {
      const d = server();
      const got = [...d.push(STREAM.subarray(0, cut)), ...d.push(STREAM.subarray(cut))];
      expect(got).toEqual(whole);
      expect(d.idle).toBe(true);
    }
  });

  it('fills every byte of a buffer from `allocate` (Node hands out unzeroed ones): same frames at every split', () => {
    const whole = server().push(STREAM);
    const dirty = () =>
      new FrameDecoder({
        allowed: CLIENT_TO_SERVER_FRAMES,
        preamble: true,
        allocate: (n) => new Uint8Array(n).fill(0xee),
      });
    for (let cut = 1; cut < STREAM.length; cut++) {
      const d = dirty();
      expect([...d.push(STREAM.subarray(0, cut)), ...d.push(STREAM.subarray(cut))]).toEqual(whole);
    }
  });

  it('gives the same frames for random chunkings (property)', () => {
    const whole = server().push(STREAM);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 40 }), (sizes) => {
        const d = server();
        const got = [];
        let at = 0;
        for (let i = 0; at < STREAM.length; i++) {
          const n = sizes[i % sizes.length]!;
          got.push(...d.push(STREAM.subarray(at, at + n)));
          at += n;
        }
        expect(got).toEqual(whole);
      }),
    );
  });

  it('refuses a wrong preamble at its 23rd byte', () => {
    const bad = encodePreamble();
    bad[3] = 0x21;
    const d = server();
    expect(d.push(bad.subarray(0, 22))).toEqual([]);
    expect(() => d.push(bad.subarray(22))).toThrow(expect.objectContaining({ code: 'V4_ERR_BAD_PREAMBLE' }));
    expect(() => d.push(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'V4_ERR_BAD_PREAMBLE' }));
  });

  it.each([
    ['a version other than 4', Uint8Array.of(3, 1, 34, 0, 0, 0), 'V4_ERR_BAD_VERSION'],
    [
      'a type the client may not send',
      encodeFrameHeader(FrameType.ServerHello, 34),
      'V4_ERR_UNEXPECTED_FRAME',
    ],
    ['an unknown type', Uint8Array.of(4, 0x99, 1, 0, 0, 0), 'V4_ERR_UNEXPECTED_FRAME'],
    ['a ClientHello of 35 bytes', encodeFrameHeader(FrameType.ClientHello, 35), 'V4_ERR_BAD_LENGTH'],
    [
      'a Chunk over one record',
      encodeFrameHeader(FrameType.Chunk, RECORD_SIZE + TAG_SIZE + 1),
      'V4_ERR_BAD_LENGTH',
    ],
    ['a Chunk of 4 GiB', Uint8Array.of(4, 4, 0xff, 0xff, 0xff, 0xff), 'V4_ERR_BAD_LENGTH'],
    ['a Sealed frame shorter than a tag', encodeFrameHeader(FrameType.Sealed, 16), 'V4_ERR_BAD_LENGTH'],
    ['a Sealed frame over 4 KiB', encodeFrameHeader(FrameType.Sealed, 4113), 'V4_ERR_BAD_LENGTH'],
  ])('refuses %s from its header alone', (_what, header, code) => {
    const d = server();
    d.push(encodePreamble());
    expect(() => d.push(header)).toThrow(expect.objectContaining({ code }));
  });

  it('the client side refuses frames only a client sends', () => {
    const d = new FrameDecoder({ allowed: SERVER_TO_CLIENT_FRAMES });
    expect(() => d.push(encodeFrameHeader(FrameType.Chunk, 16))).toThrow(
      expect.objectContaining({ code: 'V4_ERR_UNEXPECTED_FRAME' }),
    );
  });

  it('judges each header by the types allowed when it completes: allow() widens them from the next header on', () => {
    const d = new FrameDecoder({ allowed: CLIENT_HANDSHAKE_FRAMES, preamble: true });
    const hello = encodeFrame(FrameType.ClientHello, new Uint8Array(34));
    expect(d.push(concatBytes([encodePreamble(), hello])).map((f) => f.type)).toEqual([
      FrameType.ClientHello,
    ]);
    d.allow(CLIENT_TO_SERVER_FRAMES);
    expect(d.push(encodeFrame(FrameType.Chunk, new Uint8Array(16))).map((f) => f.type)).toEqual([
      FrameType.Chunk,
    ]);
    // Before the widening a Chunk header is refused whole, before any body byte is buffered.
    const early = new FrameDecoder({
      allowed: CLIENT_HANDSHAKE_FRAMES,
      preamble: true,
      allocate: () => {
        throw new Error('a body was allocated');
      },
    });
    expect(() =>
      early.push(
        concatBytes([
          encodePreamble(),
          encodeFrameHeader(FrameType.Chunk, RECORD_SIZE + TAG_SIZE),
          new Uint8Array(1),
        ]),
      ),
    ).toThrow(/not allowed/);
  });
});
