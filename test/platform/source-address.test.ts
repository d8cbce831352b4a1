import { describe, expect, it } from 'vitest';
import { sourceKey } from '../../platform/source-address';

describe('sourceKey', () => {
  it('IPv4 as it is; IPv4-mapped IPv6 as IPv4', () => {
    expect(sourceKey('127.0.0.2')).toBe('127.0.0.2');
    expect(sourceKey('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(sourceKey('::FFFF:7f00:3')).toBe('127.0.0.3');
  });

  it('IPv6 by /64: every address of one /64 is one source, the next /64 another', () => {
    expect(sourceKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:DB8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(sourceKey('2001:db8::')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });

  it('anything else as it is', () => {
    expect(sourceKey(undefined)).toBe('unknown');
    expect(sourceKey('not-an-address')).toBe('not-an-address');
  });
});
