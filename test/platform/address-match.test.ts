import { describe, expect, it } from 'vitest';
import { createAddressMatcher, LOOPBACK_CIDRS, parseCidr } from '../../platform/address-match';
import { LimitError } from '../../platform/limit-error';

describe('createAddressMatcher', () => {
  it('loopback by default in both families, mapped IPv4 included', () => {
    const trusted = createAddressMatcher(LOOPBACK_CIDRS);
    for (const a of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      expect(trusted(a), a).toBe(true);
    }
    for (const a of [
      '128.0.0.1',
      '10.0.0.1',
      '::2',
      '::ffff:10.0.0.1',
      '::127.0.0.1',
      'localhost',
      undefined,
    ]) {
      expect(trusted(a), String(a)).toBe(false);
    }
  });

  it('prefixes of any length, bare addresses and mapped CIDRs', () => {
    const m = createAddressMatcher([
      '192.0.2.0/25',
      '2001:db8:1::/48',
      '198.51.100.7',
      '::ffff:203.0.113.0/120',
    ]);
    expect(m('192.0.2.127')).toBe(true);
    expect(m('192.0.2.128')).toBe(false);
    expect(m('2001:db8:1:ffff::1')).toBe(true);
    expect(m('2001:db8:2::1')).toBe(false);
    expect(m('198.51.100.7')).toBe(true);
    expect(m('198.51.100.8')).toBe(false);
    expect(m('203.0.113.77')).toBe(true);
    expect(m('fe80::1%eth0')).toBe(false);
    expect(createAddressMatcher(['fe80::/10'])('fe80::1%eth0')).toBe(true);
    expect(createAddressMatcher(['0.0.0.0/0'])('8.8.8.8')).toBe(true);
    expect(createAddressMatcher(['0.0.0.0/0'])('::1')).toBe(false);
    expect(createAddressMatcher([])('127.0.0.1')).toBe(false);
  });

  it('clears host bits and refuses malformed entries', () => {
    expect(parseCidr('10.1.2.3/8')).toEqual({ network: Uint8Array.of(10, 0, 0, 0), bits: 8 });
    for (const bad of [
      '10.0.0.0/33',
      '::/129',
      '10.0.0.0/',
      '10.0.0.0/08',
      '10.0.0.0/-1',
      'x/8',
      '10.0.0.0/8/8',
    ]) {
      expect(() => parseCidr(bad), bad).toThrow(LimitError);
    }
  });
});
