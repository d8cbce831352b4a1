import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIp, isIpv4Mapped, mapIpv4, parseIp, unmapIpv4 } from '../../platform/ip-address';

/** The WHATWG URL serializer is an independent RFC 5952 implementation (bar mapped addresses). */
const urlForm = (bytes: Uint8Array): string => {
  const words = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
};

describe('parseIp', () => {
  it('agrees with node:net isIP on addresses and near-addresses', () => {
    const v6Text = fc.ipV6();
    const noise = fc.stringMatching(/^[0-9a-fA-F:.]{0,20}$/);
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), v6Text, noise), (text) => {
        const ip = parseIp(text);
        expect(ip?.family ?? 0).toBe(isIP(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('reads every spelling to the same bytes', () => {
    const same = [
      '2001:db8::1',
      '2001:DB8:0:0:0:0:0:1',
      '2001:0db8:0000:0000:0000:0000:0000:0001',
      '2001:db8:0::0:1',
    ];
    const bytes = same.map((s) => parseIp(s)?.bytes);
    for (const b of bytes) expect(b).toEqual(bytes[0]);
    expect(parseIp('::ffff:192.0.2.1')?.bytes).toEqual(parseIp('0:0:0:0:0:ffff:c000:201')?.bytes);
  });

  it('refuses what a socket never reports and what is ambiguous', () => {
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4',
      '256.1.1.1',
      '1.2.3.4 ',
      '::1%eth0',
      '[::1]',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7::8',
      '12345::',
      ':1::',
      '::1.2.3.4:5',
      'localhost',
    ]) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });
});

describe('formatIp', () => {
  it('is RFC 5952 canonical and round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const text = formatIp(bytes);
        expect(parseIp(text)?.bytes).toEqual(bytes);
        if (!isIpv4Mapped(bytes)) expect(text).toBe(urlForm(bytes));
      }),
      { numRuns: 3000 },
    );
    // Sparse addresses exercise the zero-run choice that random bytes rarely reach.
    const sparse = fc
      .array(fc.constantFrom(0, 0, 0, 1, 0xffff), { minLength: 8, maxLength: 8 })
      .map((w) => Uint8Array.from(w.flatMap((x) => [x >> 8, x & 0xff])));
    fc.assert(
      fc.property(sparse, (bytes) => {
        if (!isIpv4Mapped(bytes)) expect(formatIp(bytes)).toBe(urlForm(bytes));
        expect(parseIp(formatIp(bytes))?.bytes).toEqual(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('writes known forms', () => {
    const f = (t: string) => formatIp(parseIp(t)!.bytes);
    expect(f('0:0:0:0:0:0:0:0')).toBe('::');
    expect(f('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(f('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(f('0:0:0:0:0:ffff:7f00:1')).toBe('::ffff:127.0.0.1');
    expect(f('203.0.113.9')).toBe('203.0.113.9');
    expect(() => formatIp(new Uint8Array(5))).toThrow(RangeError);
  });

  it('maps and unmaps IPv4', () => {
    const v4 = parseIp('192.0.2.1')!.bytes;
    expect(formatIp(mapIpv4(v4))).toBe('::ffff:192.0.2.1');
    expect(unmapIpv4(mapIpv4(v4))).toEqual(v4);
    const v6 = parseIp('::1')!.bytes;
    expect(unmapIpv4(v6)).toBe(v6);
    expect(mapIpv4(v6)).toBe(v6);
  });
});
