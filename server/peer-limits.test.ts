import { describe, expect, it } from 'vitest';
import { PeerLimits } from './peer-limits';

const limits = () =>
  new PeerLimits({ reconnectPerMinute: 6, clientDecryptFailuresPerHour: 2, registerPerMinute: 3 });

describe('PeerLimits', () => {
  it('1027s: a burst per source, sources apart', () => {
    const l = limits();
    for (let i = 0; i < 6; i++) expect(l.takeReconnect('a', 'victim')).toBe(true);
    expect(l.takeReconnect('a', 'victim')).toBe(false);
    expect(l.takeReconnect('b', 'victim')).toBe(true);
  });

  it('a failed decrypt costs its source the penalty (half the burst), never another source', () => {
    const l = limits();
    expect(l.takeReconnect('a', 'victim')).toBe(true);
    l.decryptFailed('a', 'victim'); // 5 - 3 = 2 left
    expect(l.takeReconnect('a', 'other')).toBe(true);
    expect(l.takeReconnect('a', 'other')).toBe(true);
    expect(l.takeReconnect('a', 'other')).toBe(false);
    for (let i = 0; i < 6; i++) expect(l.takeReconnect('owner', 'other')).toBe(true);
  });

  it('a client whose keys keep failing costs every source 1 + penalty per 1027; the owner still gets in', () => {
    const l = limits();
    l.decryptFailed('x', 'victim');
    l.decryptFailed('y', 'victim'); // the client's failure budget (2) is spent
    expect(l.takeReconnect('owner', 'victim')).toBe(true); // 6 - 4 = 2 left
    expect(l.takeReconnect('owner', 'victim')).toBe(false);
    expect(l.takeReconnect('owner', 'someone-else')).toBe(true);
  });

  it('1025s per source', () => {
    const l = limits();
    for (let i = 0; i < 3; i++) expect(l.takeRegistration('a')).toBe(true);
    expect(l.takeRegistration('a')).toBe(false);
    expect(l.takeRegistration('b')).toBe(true);
  });
});
