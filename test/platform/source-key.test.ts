import { describe, expect, it } from 'vitest';
import { LimitError } from '../../platform/limit-error';
import { createSourceKey, sourceKey } from '../../platform/source-key';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return e instanceof LimitError ? e.code : 'foreign error';
  }
};

describe('sourceKey', () => {
  it('one key for every spelling of addresses in one /64', () => {
    const spellings = [
      '2001:db8:1:2::1',
      '2001:DB8:1:2::1',
      '2001:0db8:0001:0002:0000:0000:0000:0001',
      '2001:db8:1:2:ffff:ffff:ffff:ffff',
      '2001:db8:1:2:dead:beef:1:2',
      '2001:db8:1:2::',
      '2001:db8:1:2:0:0:0.0.0.1',
      '2001:db8:1:2::1%eth0',
    ];
    for (const s of spellings) expect(sourceKey(s), s).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(sourceKey('fe80::1')).toBe('fe80::/64');
    expect(sourceKey('::1')).toBe('::/64');
  });

  it('IPv4 on its own, also when a dual-stack socket reports it mapped', () => {
    expect(sourceKey('192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('::FFFF:c000:0207')).toBe('192.0.2.7');
    expect(sourceKey('192.0.2.8')).not.toBe(sourceKey('192.0.2.7'));
  });

  it('takes other prefix lengths, like PerSourceNetBlockSize', () => {
    const k = createSourceKey({ ipv4PrefixLength: 24, ipv6PrefixLength: 48 });
    expect(k('192.0.2.7')).toBe('192.0.2.0/24');
    expect(k('::ffff:192.0.2.200')).toBe('192.0.2.0/24');
    expect(k('2001:db8:1:2::1')).toBe('2001:db8:1::/48');
    expect(k('2001:db8:1:ffff::1')).toBe('2001:db8:1::/48');
    expect(sourceKey('10.1.2.3', { ipv4PrefixLength: 0 })).toBe('0.0.0.0/0');
    expect(sourceKey('10.255.2.3', { ipv4PrefixLength: 9 })).toBe('10.128.0.0/9');
    expect(sourceKey('2001:db8::1', { ipv6PrefixLength: 128 })).toBe('2001:db8::1');
    expect(sourceKey('2001:db8:1:2:3:4:5:6', { ipv6PrefixLength: 65 })).toBe('2001:db8:1:2::/65');
    expect(sourceKey('2001:db8:1:2:8000::', { ipv6PrefixLength: 65 })).toBe('2001:db8:1:2:8000::/65');
  });

  it('refuses text that is not an address and bad prefix lengths', () => {
    expect(codeOf(() => sourceKey(undefined))).toBe('LIMIT_BAD_ADDRESS');
    expect(codeOf(() => sourceKey('localhost'))).toBe('LIMIT_BAD_ADDRESS');
    expect(codeOf(() => sourceKey(''))).toBe('LIMIT_BAD_ADDRESS');
    expect(codeOf(() => createSourceKey({ ipv4PrefixLength: 33 }))).toBe('LIMIT_BAD_OPTION');
    expect(codeOf(() => createSourceKey({ ipv6PrefixLength: -1 }))).toBe('LIMIT_BAD_OPTION');
    expect(codeOf(() => sourceKey('::1', { ipv6PrefixLength: 64.5 }))).toBe('LIMIT_BAD_OPTION');
  });
});
