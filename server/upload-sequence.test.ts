import { describe, expect, it } from 'vitest';
import { ciphertextSize } from '../lib/protocol';
import { ServerError } from './errors';
import { type PacketFields, PacketSequence } from './upload-sequence';

const limits = { maxFileSize: 1 << 30, maxContentPerPacket: 1024 };
const fields = (over: Partial<PacketFields> = {}): PacketFields => ({
  contentSize: 3008,
  origSize: 3000,
  packetNumber: 1,
  totalPackets: 3,
  fileName: 'f',
  ...over,
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof ServerError ? e.code : 'other';
  }
  return undefined;
}

describe('ciphertextSize', () => {
  it.each([
    [0, 16],
    [1, 16],
    [15, 16],
    [16, 32],
    [17, 32],
  ])('%i -> %i', (orig, ct) => expect(ciphertextSize(orig)).toBe(ct));
});

describe('PacketSequence', () => {
  it('accepts 1..N and reports the last packet', () => {
    const s = PacketSequence.start(fields(), limits);
    expect(s.accept(fields({ packetNumber: 1 }), 1024)).toEqual({ take: 1024, last: false });
    expect(s.accept(fields({ packetNumber: 2 }), 1024)).toEqual({ take: 1024, last: false });
    expect(s.accept(fields({ packetNumber: 3 }), 960)).toEqual({ take: 960, last: true });
  });

  it('accepts 0..N-1', () => {
    const s = PacketSequence.start(fields({ packetNumber: 0 }), limits);
    s.accept(fields({ packetNumber: 0 }), 1024);
    s.accept(fields({ packetNumber: 1 }), 1024);
    expect(s.accept(fields({ packetNumber: 2 }), 960).last).toBe(true);
  });

  it('ignores content beyond Content size (zero-padded last packet)', () => {
    const s = PacketSequence.start(fields(), limits);
    s.accept(fields({ packetNumber: 1 }), 1024);
    s.accept(fields({ packetNumber: 2 }), 1024);
    expect(s.accept(fields({ packetNumber: 3 }), 1024)).toEqual({ take: 960, last: true });
  });

  it('refuses a start other than 0 or 1', () => {
    expect(code(() => PacketSequence.start(fields({ packetNumber: 2 }), limits))).toBe(
      'SERVER_ERR_UPLOAD_SEQUENCE',
    );
  });

  it('refuses sizes that do not fit', () => {
    expect(code(() => PacketSequence.start(fields({ contentSize: 3000 }), limits))).toBe(
      'SERVER_ERR_UPLOAD_SIZE',
    );
    expect(code(() => PacketSequence.start(fields({ totalPackets: 0 }), limits))).toBe(
      'SERVER_ERR_UPLOAD_SIZE',
    );
    // 2 packets of at most 1024 bytes cannot carry 3008.
    expect(code(() => PacketSequence.start(fields({ totalPackets: 2 }), limits))).toBe(
      'SERVER_ERR_UPLOAD_SIZE',
    );
    // More packets than content bytes.
    expect(
      code(() => PacketSequence.start(fields({ origSize: 0, contentSize: 16, totalPackets: 17 }), limits)),
    ).toBe('SERVER_ERR_UPLOAD_SIZE');
    expect(
      code(() =>
        PacketSequence.start(fields({ origSize: 2000, contentSize: 2016 }), { ...limits, maxFileSize: 1000 }),
      ),
    ).toBe('SERVER_ERR_UPLOAD_SIZE');
  });

  it('refuses out-of-order and repeated packets', () => {
    const s = PacketSequence.start(fields(), limits);
    s.accept(fields({ packetNumber: 1 }), 1024);
    expect(code(() => s.accept(fields({ packetNumber: 3 }), 1024))).toBe('SERVER_ERR_UPLOAD_SEQUENCE');
    const t = PacketSequence.start(fields(), limits);
    t.accept(fields({ packetNumber: 1 }), 1024);
    expect(code(() => t.accept(fields({ packetNumber: 1 }), 1024))).toBe('SERVER_ERR_UPLOAD_SEQUENCE');
  });

  it.each([
    ['contentSize', { contentSize: 4000 }],
    ['origSize', { origSize: 3001 }],
    ['totalPackets', { totalPackets: 4 }],
    ['fileName', { fileName: 'g' }],
  ])('refuses a change of %s', (_k, change) => {
    const s = PacketSequence.start(fields(), limits);
    s.accept(fields({ packetNumber: 1 }), 1024);
    expect(code(() => s.accept(fields({ packetNumber: 2, ...change }), 1024))).toBe(
      'SERVER_ERR_UPLOAD_INCONSISTENT',
    );
  });

  it('refuses a file that ends short', () => {
    const s = PacketSequence.start(fields(), limits);
    s.accept(fields({ packetNumber: 1 }), 1024);
    s.accept(fields({ packetNumber: 2 }), 1024);
    expect(code(() => s.accept(fields({ packetNumber: 3 }), 100))).toBe('SERVER_ERR_UPLOAD_SIZE');
  });
});
