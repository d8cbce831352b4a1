import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../platform/crc32c';
import { formatIp } from '../../platform/ip-address';
import {
  decodeProxyHeader,
  encodeProxyHeader,
  getTlv,
  PP2_DEFAULT_MAX_LENGTH,
  PP2_SIGNATURE,
  Pp2Type,
  type ProxyDecodeResult,
  type ProxyHeader,
  ProxyHeaderDecoder,
  type ProxyHeaderInit,
  ProxyProtocolError,
  type ProxyProtocolErrorCode,
  tcpProxyHeader,
} from '../../platform/proxy-protocol';
import { concatBytes } from '../support/arbitraries';

/** Hex with spaces and `#` comments allowed, so vectors can carry a comment per field. */
function hex(text: string): Uint8Array {
  const digits = text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  return Uint8Array.from(digits.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
}

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

function codeOf(fn: () => unknown): ProxyProtocolErrorCode | 'no error' | 'foreign error' {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return e instanceof ProxyProtocolError ? e.code : 'foreign error';
  }
}

interface Vector {
  name: string;
  bytes: Uint8Array;
  header: ProxyHeader;
  /** The encoder reproduces the bytes from `header` (false when TLV order/CRC differ by design). */
  encodes?: { init: ProxyHeaderInit; crc32c?: boolean };
}

const SIG_HEX = '0d0a0d0a000d0a515549540a';
const SIG = `${SIG_HEX} # signature\n`;

const handMade: Vector[] = [
  {
    name: 'TCP4, the example of the spec section 2.1 in binary form',
    bytes: hex(`${SIG}
      21          # version 2 | command PROXY
      11          # AF_INET | STREAM
      00 0c       # length 12: the address block only
      c0 a8 00 01 # source 192.168.0.1
      c0 a8 00 0b # destination 192.168.0.11
      dc 04       # source port 56324
      01 bb       # destination port 443`),
    header: {
      command: 'proxy',
      family: 'tcp4',
      source: { address: '192.168.0.1', port: 56324 },
      destination: { address: '192.168.0.11', port: 443 },
      tlvs: [],
    },
  },
  {
    name: 'TCP6 with a unique ID and an invite TLV',
    bytes: hex(`${SIG}
      21             # version 2 | command PROXY
      21             # AF_INET6 | STREAM
      00 34          # length 52 = 36 address + 7 unique ID + 9 invite
      20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 # source 2001:db8::1
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 # destination ::1
      c3 50          # source port 50000
      04 e8          # destination port 1256
      05 00 04       # PP2_TYPE_UNIQUE_ID, length 4
      01 02 03 04    #   opaque ID
      e0 00 06       # 0xE0 (application range): invite, length 6
      69 6e 76 69 74 65 # "invite"`),
    header: {
      command: 'proxy',
      family: 'tcp6',
      source: { address: '2001:db8::1', port: 50000 },
      destination: { address: '::1', port: 1256 },
      tlvs: [
        { type: Pp2Type.UNIQUE_ID, value: hex('01020304') },
        { type: Pp2Type.SFT_INVITE, value: ascii('invite') },
      ],
    },
  },
  {
    // HAProxy 2.6's health checks with `check-send-proxy` send exactly these 16 bytes.
    name: 'LOCAL without address (a health check)',
    bytes: hex(`${SIG}
      20    # version 2 | command LOCAL
      00    # AF_UNSPEC | UNSPEC
      00 00 # length 0`),
    header: { command: 'local', tlvs: [] },
  },
  {
    name: 'LOCAL with a NOOP TLV',
    bytes: hex(`${SIG}
      20       # version 2 | command LOCAL
      00       # AF_UNSPEC | UNSPEC
      00 05    # length 5
      04 00 02 # PP2_TYPE_NOOP, length 2
      00 00    #   padding`),
    header: { command: 'local', tlvs: [{ type: Pp2Type.NOOP, value: hex('0000') }] },
  },
];

// Captured from HAProxy 2.6.12 (Debian) `server ... send-proxy-v2` to a listener on 127.0.0.1; the
// addresses of the last two were set with `tcp-request connection set-src/set-dst(-port)`.
const fromHaproxy: Vector[] = [
  {
    name: 'HAProxy: TCP4 127.0.0.1:33936 -> 127.0.0.1:17001',
    bytes: hex('0d0a0d0a000d0a515549540a 21 11 000c 7f000001 7f000001 8490 4269'),
    header: {
      command: 'proxy',
      family: 'tcp4',
      source: { address: '127.0.0.1', port: 33936 },
      destination: { address: '127.0.0.1', port: 17001 },
      tlvs: [],
    },
  },
  {
    name: 'HAProxy: proxy-v2-options unique-id ("abc123")',
    bytes: hex('0d0a0d0a000d0a515549540a 21 11 0015 7f000001 7f000001 83c4 426a 05 0006 616263313233'),
    header: {
      command: 'proxy',
      family: 'tcp4',
      source: { address: '127.0.0.1', port: 33732 },
      destination: { address: '127.0.0.1', port: 17002 },
      tlvs: [{ type: Pp2Type.UNIQUE_ID, value: ascii('abc123') }],
    },
  },
  {
    name: 'HAProxy: TCP6 [2001:db8::1]:50000 -> [2001:db8:0:1::2]:443',
    bytes: hex(`0d0a0d0a000d0a515549540a 21 21 0024
      20010db8000000000000000000000001 20010db8000000010000000000000002 c350 01bb`),
    header: {
      command: 'proxy',
      family: 'tcp6',
      source: { address: '2001:db8::1', port: 50000 },
      destination: { address: '2001:db8:0:1::2', port: 443 },
      tlvs: [],
    },
  },
  {
    name: 'HAProxy: proxy-v2-options crc32c, 192.0.2.1:56324 -> 198.51.100.7:1256',
    bytes: hex('0d0a0d0a000d0a515549540a 21 11 0013 c0000201 c6336407 dc04 04e8 03 0004 bb99402d'),
    header: {
      command: 'proxy',
      family: 'tcp4',
      source: { address: '192.0.2.1', port: 56324 },
      destination: { address: '198.51.100.7', port: 1256 },
      tlvs: [{ type: Pp2Type.CRC32C, value: hex('bb99402d') }],
    },
    encodes: {
      init: {
        command: 'proxy',
        family: 'tcp4',
        source: { address: '192.0.2.1', port: 56324 },
        destination: { address: '198.51.100.7', port: 1256 },
      },
      crc32c: true,
    },
  },
];

const vectors = [...handMade, ...fromHaproxy];
const STREAM = ascii('hello, protocol v3');

describe('PROXY v2 known answers', () => {
  it.each(vectors)('decodes $name', ({ bytes, header }) => {
    const r = decodeProxyHeader(concat(bytes, STREAM));
    expect(r?.header).toEqual(header);
    expect(r?.headerLength).toBe(bytes.length);
    expect(r?.consumed).toBe(bytes.length);
    expect(r?.rest).toEqual(STREAM);
  });

  it.each(vectors)('encodes $name', ({ bytes, header, encodes }) => {
    const init = encodes?.init ?? (header as ProxyHeaderInit);
    expect(encodeProxyHeader(init, { crc32c: encodes?.crc32c })).toEqual(bytes);
  });

  it('crc32c: the RFC 3720 B.4 check value and HAProxy checksum', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    const h = fromHaproxy[3]!.bytes.slice();
    h.fill(0, h.length - 4);
    expect(crc32c(h)).toBe(0xbb99402d);
  });
});

/** Pushes the chunks; returns the result and the stream bytes after the header, joined. */
function feed(chunks: Uint8Array[]): { result: ProxyDecodeResult; stream: Uint8Array } {
  const d = new ProxyHeaderDecoder();
  let result: ProxyDecodeResult | undefined;
  const after: Uint8Array[] = [];
  for (const c of chunks) {
    if (result) after.push(c);
    else result = d.push(c);
    if (result && after.length === 0) after.push(result.rest);
  }
  if (!result) throw new Error('incomplete');
  return { result, stream: concat(...after) };
}

describe('PROXY v2 incremental decoding', () => {
  it.each(vectors)('any two- or three-way split of $name', ({ bytes, header }) => {
    const all = concat(bytes, STREAM);
    for (let i = 0; i <= all.length; i++) {
      for (let j = i; j <= all.length; j++) {
        const { result, stream } = feed([all.subarray(0, i), all.subarray(i, j), all.subarray(j)]);
        expect(result.header).toEqual(header);
        expect(stream).toEqual(STREAM);
        // The chunk that completed the header had exactly `consumed` header bytes in it.
        const ends = [i, j, all.length];
        const starts = [0, i, j];
        const k = ends.findIndex((e) => e >= bytes.length && e > 0);
        expect(result.consumed).toBe(bytes.length - starts[k]!);
      }
    }
  });

  it('one byte at a time, reporting nothing before the last header byte', () => {
    for (const { bytes, header } of vectors) {
      const d = new ProxyHeaderDecoder();
      for (let i = 0; i < bytes.length - 1; i++) expect(d.push(bytes.subarray(i, i + 1))).toBeUndefined();
      const r = d.push(bytes.subarray(bytes.length - 1));
      expect(r?.header).toEqual(header);
      expect(r?.consumed).toBe(1);
      expect(r?.rest.length).toBe(0);
      expect(d.bytesReceived).toBe(bytes.length);
    }
  });

  it('empty chunks change nothing; pushing after the header is PP2_DONE', () => {
    const d = new ProxyHeaderDecoder();
    expect(d.push(new Uint8Array(0))).toBeUndefined();
    expect(d.push(vectors[0]!.bytes)?.header).toEqual(vectors[0]!.header);
    expect(codeOf(() => d.push(STREAM))).toBe('PP2_DONE');
  });
});

/** The TCP4 vector with byte `at` set to `value`. */
function patched(at: number, value: number, base = vectors[0]!.bytes): Uint8Array {
  const b = base.slice();
  b[at] = value;
  return b;
}

describe('PROXY v2 rejects', () => {
  it('a wrong signature at the first wrong byte, before the rest arrives', () => {
    for (let i = 0; i < PP2_SIGNATURE.length; i++) {
      const bad = patched(i, PP2_SIGNATURE[i]! ^ 0x40);
      const d = new ProxyHeaderDecoder();
      expect(d.push(bad.subarray(0, i))).toBeUndefined();
      expect(codeOf(() => d.push(bad.subarray(i, i + 1)))).toBe('PP2_BAD_SIGNATURE');
    }
  });

  it('a protocol v3 frame, a v1 text header and TLS from a direct client', () => {
    expect(codeOf(() => decodeProxyHeader(hex('00000401')))).toBe('PP2_BAD_SIGNATURE');
    expect(codeOf(() => decodeProxyHeader(ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n')))).toBe(
      'PP2_BAD_SIGNATURE',
    );
    expect(codeOf(() => decodeProxyHeader(hex('160301')))).toBe('PP2_BAD_SIGNATURE');
  });

  it('versions other than 2 and unassigned commands', () => {
    for (const v of [0x0, 0x1, 0x3, 0xf]) {
      expect(codeOf(() => decodeProxyHeader(patched(12, (v << 4) | 1)))).toBe('PP2_BAD_VERSION');
    }
    for (let c = 2; c <= 0xf; c++) {
      expect(codeOf(() => decodeProxyHeader(patched(12, 0x20 | c)))).toBe('PP2_BAD_COMMAND');
    }
  });

  it('family/transport bytes the spec does not define', () => {
    const valid = new Set([0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32]);
    for (let f = 0; f <= 0xff; f++) {
      if (valid.has(f)) continue;
      expect(codeOf(() => decodeProxyHeader(patched(13, f)))).toBe('PP2_BAD_FAMILY');
    }
  });

  it('a declared length over the maximum at its 16th byte, buffering nothing more', () => {
    const huge = hex('0d0a0d0a000d0a515549540a 21 11 ffff');
    const d = new ProxyHeaderDecoder();
    expect(d.push(huge.subarray(0, 15))).toBeUndefined();
    expect(codeOf(() => d.push(huge.subarray(15)))).toBe('PP2_TOO_LONG');
    const justOver = patched(
      15,
      (PP2_DEFAULT_MAX_LENGTH + 1) & 0xff,
      patched(14, (PP2_DEFAULT_MAX_LENGTH + 1) >> 8),
    );
    expect(codeOf(() => decodeProxyHeader(justOver))).toBe('PP2_TOO_LONG');
    const unique = vectors[5]!.bytes; // 12-byte address + 9-byte TLV: length 21
    expect(codeOf(() => decodeProxyHeader(unique, { maxLength: 20 }))).toBe('PP2_TOO_LONG');
    expect(decodeProxyHeader(unique, { maxLength: 21 })?.header.tlvs).toHaveLength(1);
  });

  it('a length shorter than the address block', () => {
    expect(codeOf(() => decodeProxyHeader(patched(15, 11)))).toBe('PP2_TRUNCATED_ADDRESS');
    const tcp6 = patched(15, 35, vectors[6]!.bytes);
    expect(codeOf(() => decodeProxyHeader(tcp6))).toBe('PP2_TRUNCATED_ADDRESS');
    // UNIX needs 216 bytes even though the decoder does not read them.
    expect(codeOf(() => decodeProxyHeader(patched(13, 0x31)))).toBe('PP2_TRUNCATED_ADDRESS');
  });

  it('malformed TLVs', () => {
    const tcp4 = (tail: string, extra = 0): Uint8Array => {
      const t = hex(tail);
      return concat(
        hex(`${SIG_HEX} 21 11`),
        Uint8Array.of(0, 12 + t.length + extra),
        hex('7f0000017f00000100010002'),
        t,
      );
    };
    expect(decodeProxyHeader(tcp4('e0 0000'))?.header.tlvs).toEqual([
      { type: 0xe0, value: new Uint8Array(0) },
    ]);
    expect(codeOf(() => decodeProxyHeader(tcp4('e0')))).toBe('PP2_BAD_TLV');
    expect(codeOf(() => decodeProxyHeader(tcp4('e0 00')))).toBe('PP2_BAD_TLV');
    expect(codeOf(() => decodeProxyHeader(tcp4('e0 0002 61')))).toBe('PP2_BAD_TLV');
    expect(codeOf(() => decodeProxyHeader(tcp4('e0 0001 61 05')))).toBe('PP2_BAD_TLV');
    expect(codeOf(() => decodeProxyHeader(tcp4('03 0003 000000')))).toBe('PP2_BAD_TLV');
    expect(codeOf(() => decodeProxyHeader(tcp4(`05 0081 ${'00'.repeat(129)}`)))).toBe('PP2_BAD_TLV');
    expect(decodeProxyHeader(tcp4(`05 0080 ${'00'.repeat(128)}`))?.header.tlvs[0]?.value).toHaveLength(128);
  });

  it('a CRC32C that does not match, and two CRC32C TLVs', () => {
    const good = fromHaproxy[3]!.bytes;
    expect(codeOf(() => decodeProxyHeader(patched(good.length - 1, 0x2c, good)))).toBe('PP2_BAD_CHECKSUM');
    expect(codeOf(() => decodeProxyHeader(patched(17, 0x01, good)))).toBe('PP2_BAD_CHECKSUM');
    const init: ProxyHeaderInit = { command: 'local', tlvs: [] };
    const one = encodeProxyHeader(init, { crc32c: true });
    const two = concat(one.subarray(0, 14), Uint8Array.of(0, 14), one.subarray(16), one.subarray(16));
    expect(['PP2_BAD_CHECKSUM', 'PP2_BAD_TLV']).toContain(codeOf(() => decodeProxyHeader(two)));
  });

  it('keeps failing with the same error after the first one', () => {
    const d = new ProxyHeaderDecoder();
    expect(codeOf(() => d.push(hex('ff')))).toBe('PP2_BAD_SIGNATURE');
    expect(codeOf(() => d.push(vectors[0]!.bytes))).toBe('PP2_BAD_SIGNATURE');
  });

  it('random bytes: only ProxyProtocolError, with a known code', () => {
    const codes = new Set<string>([
      'PP2_BAD_SIGNATURE',
      'PP2_BAD_VERSION',
      'PP2_BAD_COMMAND',
      'PP2_BAD_FAMILY',
      'PP2_TOO_LONG',
      'PP2_TRUNCATED_ADDRESS',
      'PP2_BAD_TLV',
      'PP2_BAD_CHECKSUM',
    ]);
    const prefixes = [
      new Uint8Array(0),
      PP2_SIGNATURE,
      hex(`${SIG_HEX} 21`),
      hex(`${SIG_HEX} 21 11`),
      hex(`${SIG_HEX} 20 00`),
      hex(`${SIG_HEX} 21 11 0020`),
      hex(`${SIG_HEX} 20 00 0010`),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...prefixes),
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(600), { maxLength: 4 }),
        (prefix, tail, cuts) => {
          const all = concat(prefix, tail);
          const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          const d = new ProxyHeaderDecoder();
          let from = 0;
          try {
            for (const to of [...points, all.length]) {
              if (d.push(all.subarray(from, to))) return;
              from = to;
            }
          } catch (e) {
            expect(e).toBeInstanceOf(ProxyProtocolError);
            expect(codes.has((e as ProxyProtocolError).code)).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('PROXY v2 encoding', () => {
  const endpointV4 = fc
    .tuple(fc.ipV4(), fc.integer({ min: 0, max: 0xffff }))
    .map(([address, port]) => ({ address, port }));
  const v6Bytes = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const tlv = fc.oneof(
    fc.record({ type: fc.constant(Pp2Type.UNIQUE_ID), value: fc.uint8Array({ maxLength: 128 }) }),
    fc.record({
      type: fc.integer({ min: 0, max: 0xff }).filter((t) => t !== Pp2Type.CRC32C && t !== Pp2Type.UNIQUE_ID),
      value: fc.uint8Array({ maxLength: 60 }),
    }),
  );
  const tlvs = fc.array(tlv, { maxLength: 3 });

  it('round-trips any header it can build, with and without CRC32C', () => {
    const header = fc.oneof(
      fc.record({ command: fc.constant('local' as const), tlvs }),
      fc.record({
        command: fc.constant('proxy' as const),
        family: fc.constant('tcp4' as const),
        source: endpointV4,
        destination: endpointV4,
        tlvs,
      }),
      fc.tuple(v6Bytes, v6Bytes, fc.nat(0xffff), fc.nat(0xffff), tlvs).map(
        ([s, d, sp, dp, t]): ProxyHeaderInit => ({
          command: 'proxy',
          family: 'tcp6',
          source: { address: formatIp(s), port: sp },
          destination: { address: formatIp(d), port: dp },
          tlvs: t,
        }),
      ),
    );
    fc.assert(
      fc.property(header, fc.boolean(), (init, crc) => {
        const bytes = encodeProxyHeader(init, { crc32c: crc });
        const r = decodeProxyHeader(bytes);
        const expected = [...(init.tlvs ?? [])];
        if (crc) expected.push({ type: Pp2Type.CRC32C, value: bytes.slice(-4) });
        expect(r?.header).toEqual({ ...init, tlvs: expected });
        expect(r?.consumed).toBe(bytes.length);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses what it cannot encode', () => {
    const tcp4 = (over: Partial<Extract<ProxyHeaderInit, { family: 'tcp4' | 'tcp6' }>>): ProxyHeaderInit => ({
      command: 'proxy',
      family: 'tcp4',
      source: { address: '192.0.2.1', port: 1 },
      destination: { address: '192.0.2.2', port: 2 },
      ...over,
    });
    const bad = (init: ProxyHeaderInit) => codeOf(() => encodeProxyHeader(init));
    expect(bad(tcp4({ source: { address: '::1', port: 1 } }))).toBe('PP2_BAD_ARGUMENT');
    expect(bad(tcp4({ family: 'tcp6' }))).toBe('PP2_BAD_ARGUMENT');
    expect(bad(tcp4({ source: { address: '192.0.2.1', port: 65536 } }))).toBe('PP2_BAD_ARGUMENT');
    expect(bad(tcp4({ source: { address: '192.0.2.1', port: 1.5 } }))).toBe('PP2_BAD_ARGUMENT');
    expect(bad(tcp4({ tlvs: [{ type: 256, value: new Uint8Array(0) }] }))).toBe('PP2_BAD_ARGUMENT');
    expect(bad(tcp4({ tlvs: [{ type: Pp2Type.CRC32C, value: new Uint8Array(4) }] }))).toBe(
      'PP2_BAD_ARGUMENT',
    );
    expect(bad(tcp4({ tlvs: [{ type: Pp2Type.UNIQUE_ID, value: new Uint8Array(129) }] }))).toBe(
      'PP2_BAD_ARGUMENT',
    );
    expect(bad(tcp4({ tlvs: [{ type: 0xe0, value: new Uint8Array(600) }] }))).toBe('PP2_TOO_LONG');
    expect(
      codeOf(() =>
        encodeProxyHeader(tcp4({ tlvs: [{ type: 0xe0, value: new Uint8Array(600) }] }), { maxLength: 700 }),
      ),
    ).toBe('no error');
  });

  it('tcpProxyHeader picks one family for both ends, as HAProxy does', () => {
    const v4 = tcpProxyHeader({ address: '::ffff:192.0.2.1', port: 5 }, { address: '127.0.0.1', port: 1256 });
    expect(v4).toMatchObject({ family: 'tcp4', source: { address: '192.0.2.1' } });
    const mixed = tcpProxyHeader({ address: '2001:DB8::1', port: 5 }, { address: '127.0.0.1', port: 1256 });
    expect(mixed).toMatchObject({
      family: 'tcp6',
      source: { address: '2001:db8::1', port: 5 },
      destination: { address: '::ffff:127.0.0.1', port: 1256 },
    });
    const token = ascii('tok');
    const bytes = encodeProxyHeader(
      tcpProxyHeader({ address: '::1', port: 5 }, { address: '::1', port: 6 }, [
        { type: Pp2Type.SFT_INVITE, value: token },
      ]),
    );
    expect(getTlv(decodeProxyHeader(bytes)!.header.tlvs, Pp2Type.SFT_INVITE)).toEqual(token);
    expect(codeOf(() => tcpProxyHeader({ address: 'localhost', port: 1 }, { address: '::1', port: 1 }))).toBe(
      'PP2_BAD_ARGUMENT',
    );
  });

  it('getTlv refuses a type that appears twice', () => {
    const t = { type: Pp2Type.SFT_INVITE, value: ascii('a') };
    expect(getTlv([t], Pp2Type.SFT_INVITE)).toEqual(ascii('a'));
    expect(getTlv([t], Pp2Type.UNIQUE_ID)).toBeUndefined();
    expect(codeOf(() => getTlv([t, t], Pp2Type.SFT_INVITE))).toBe('PP2_DUPLICATE_TLV');
  });
});
