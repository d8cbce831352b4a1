/** The fault injector itself: it must flip exactly the chosen byte however the stream is split. */
import { describe, expect, it } from 'vitest';
import { concatBytes, encodeRequest, encodeSendFilePrefix, RequestCode } from '../../lib/protocol';
import { encodePreamble } from '../../lib/protocol/v4/frames';
import { encodeProxyHeader, tcpProxyHeader } from '../../platform/proxy-protocol';
import { createRequestCorrupter, createVersionGate } from '../support/flip-proxy';

const clientId = new Uint8Array(16).fill(7);

/** One 1028 sequence of `contentSize` bytes in packets of `packetSize` (numbered from `first`), then a 1030. */
function sequence(contentSize: number, packetSize: number, first = 1): Uint8Array[] {
  const total = Math.ceil(contentSize / packetSize);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < total; i++) {
    const content = new Uint8Array(Math.min(packetSize, contentSize - i * packetSize)).map(
      (_, j) => (i * packetSize + j) & 0xff,
    );
    const prefix = encodeSendFilePrefix(
      {
        clientId,
        contentSize,
        origSize: contentSize - 1,
        packetNumber: first + i,
        totalPackets: total,
        fileName: 'f',
      },
      content.length,
    );
    frames.push(prefix, content);
  }
  frames.push(encodeRequest({ code: RequestCode.CrcRetry, clientId, fileName: 'f' }));
  return frames;
}

/** Offsets in `stream` where `a` and `b` differ. */
function diff(a: Uint8Array, b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

/** Stream offset of file offset `off` in a sequence of packets of `packetSize` (prefix 290 bytes each). */
function streamOffset(off: number, packetSize: number, base = 0): number {
  return base + (Math.floor(off / packetSize) + 1) * 290 + off;
}

describe('flip proxy corrupter', () => {
  const original = concatBytes([...sequence(1000, 300), ...sequence(1000, 300), ...sequence(1000, 300)]);
  const seqLen = original.length / 3;

  it.each([1, 2, 7, 23, 290, 301, 4096])(
    'flips exactly one byte per corrupted sequence, chunks of %i',
    (step) => {
      const stats = { corrupted: 0, sequences: 0 };
      const corrupt = createRequestCorrupter({ flipOffset: 450, corruptSequences: 2 }, stats);
      const stream = original.slice();
      for (let at = 0; at < stream.length; at += step) corrupt(stream.subarray(at, at + step));
      expect(stats).toEqual({ corrupted: 2, sequences: 3 });
      expect(diff(original, stream)).toEqual([streamOffset(450, 300), streamOffset(450, 300, seqLen)]);
      expect(stream[streamOffset(450, 300)]).toBe(original[streamOffset(450, 300)]! ^ 0xff);
    },
  );

  it('counts sequences that start at packet 0', () => {
    const stats = { corrupted: 0, sequences: 0 };
    const corrupt = createRequestCorrupter({ flipOffset: 0 }, stats);
    const from0 = concatBytes(sequence(1000, 300, 0));
    const stream = from0.slice();
    corrupt(stream);
    expect(stats).toEqual({ corrupted: 1, sequences: 1 });
    expect(diff(from0, stream)).toEqual([290]);
  });

  it('asks `enabled` as each sequence starts: switched off, a sequence passes untouched and is not counted', () => {
    const stats = { corrupted: 0, sequences: 0 };
    let on = false;
    const corrupt = createRequestCorrupter({ flipOffset: 0, enabled: () => on }, stats);
    const stream = original.slice();
    corrupt(stream.subarray(0, seqLen));
    on = true;
    corrupt(stream.subarray(seqLen, seqLen + 40)); // past packet 1's number: the switch holds for the whole sequence...
    on = false;
    corrupt(stream.subarray(seqLen + 40, 2 * seqLen)); // ...even if flipped back meanwhile
    corrupt(stream.subarray(2 * seqLen));
    expect(stats).toEqual({ corrupted: 1, sequences: 3 });
    expect(diff(original, stream)).toEqual([streamOffset(0, 300, seqLen)]);
  });

  it('leaves other requests alone', () => {
    const corrupt = createRequestCorrupter({ flipOffset: 0 });
    const reg = encodeRequest({ code: RequestCode.Register, clientId, name: 'someone' });
    const copy = reg.slice();
    corrupt(copy);
    expect(copy).toEqual(reg);
  });
});

describe('the v3-only gate: tells a v4 ClientHello from a v3 request however the bytes arrive', () => {
  const proxyHeader = encodeProxyHeader(
    tcpProxyHeader({ address: '127.0.0.1', port: 1 }, { address: '127.0.0.1', port: 2 }),
  );
  const v3 = encodeRequest({ code: RequestCode.CrcRetry, clientId, fileName: 'f' });
  /** Feeds `stream` in pieces of `size`; the first answer that is not 'wait'. */
  const feed = (stream: Uint8Array, size: number) => {
    const gate = createVersionGate();
    for (let at = 0; at < stream.length; at += size) {
      const r = gate(stream.subarray(at, at + size));
      if (r !== 'wait') return r;
    }
    return 'wait';
  };
  it('after a PROXY v2 header or without one, in one piece or byte by byte', () => {
    for (const size of [1, 7, 4096]) {
      expect(feed(concatBytes([proxyHeader, encodePreamble()]), size)).toBe('v4');
      expect(feed(encodePreamble(), size)).toBe('v4');
      // Passed with every byte held so far, in order (a prefix of the stream, past the version byte).
      for (const stream of [concatBytes([proxyHeader, v3]), v3]) {
        const r = feed(stream, size);
        if (typeof r === 'string') throw new Error(`gate said ${r}`);
        expect(r.pass).toEqual(stream.subarray(0, r.pass.length));
        expect(r.pass.length).toBeGreaterThan(stream.length - v3.length + 16);
      }
    }
    expect(feed(proxyHeader, 4096)).toBe('wait');
  });
});
