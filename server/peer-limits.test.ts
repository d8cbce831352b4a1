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

describe('PeerLimits: clients whose keys failed, past 10,000 of them', () => {
  it("10,010 clients with a failed key (an attacker's own, from 100 sources) do not put every other client under attack", () => {
    const l = new PeerLimits({
      reconnectPerMinute: 30,
      clientDecryptFailuresPerHour: 10,
      registerPerMinute: 60,
      maxClients: 20_000,
    });
    // Each failure bucket stays short of full for 6 minutes: all 10,010 are held at once.
    for (let i = 0; i < 10_010; i++) l.decryptFailed(`attacker-${i % 100}`, `own-${i}`);
    // Before, clients past the 10,000th shared one overflow bucket, whose 10 failures were
    // spent by then, so every client never attacked read as under attack: 1 + 15 a 1027.
    for (let i = 0; i < 30; i++) expect(l.takeReconnect('owner', 'innocent')).toBe(true);
  });
});
