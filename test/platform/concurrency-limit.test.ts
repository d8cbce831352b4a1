import { describe, expect, it } from 'vitest';
import { type ConnectionLease, ConnectionLimiter, KeyedBudget } from '../../platform/concurrency-limit';
import { LimitError } from '../../platform/limit-error';

describe('KeyedBudget', () => {
  it('caps per key and in total, and forgets keys at zero', () => {
    const b = new KeyedBudget({ perKey: 2, total: 3 });
    const a1 = b.tryReserve('a');
    const a2 = b.tryReserve('a');
    expect(b.tryReserve('a')).toEqual({ ok: false, reason: 'per-key' });
    const b1 = b.tryReserve('b');
    expect(b.tryReserve('c')).toEqual({ ok: false, reason: 'total' });
    expect([a1.ok, a2.ok, b1.ok]).toEqual([true, true, true]);
    expect(b.used).toBe(3);
    expect(b.keys).toBe(2);
    if (!a1.ok || !a2.ok || !b1.ok) throw new Error('unreachable');
    a1.reservation.release();
    a1.reservation.release(); // idempotent: releases once
    expect(b.usedBy('a')).toBe(1);
    expect(b.tryReserve('c').ok).toBe(true);
    a2.reservation.release();
    b1.reservation.release();
    expect(b.usedBy('a')).toBe(0);
    expect(b.keys).toBe(1);
  });

  it('holds byte amounts and resizes within the caps', () => {
    const b = new KeyedBudget({ perKey: 1000, total: 1500 });
    const r = b.tryReserve('a', 400);
    if (!r.ok) throw new Error('refused');
    expect(r.reservation.tryResize(1000)).toBe(true);
    expect(r.reservation.tryResize(1001)).toBe(false);
    expect(b.usedBy('a')).toBe(1000);
    expect(b.tryReserve('b', 600)).toEqual({ ok: false, reason: 'total' });
    expect(r.reservation.tryResize(100)).toBe(true);
    expect(b.tryReserve('b', 600).ok).toBe(true);
    expect(b.used).toBe(700);
    r.reservation.release();
    expect(r.reservation.amount).toBe(0);
    expect(r.reservation.tryResize(10)).toBe(false);
    expect(b.used).toBe(600);
    expect(() => b.tryReserve('a', -1)).toThrow(LimitError);
    expect(() => new KeyedBudget({ perKey: Number.NaN, total: 1 })).toThrow(LimitError);
  });
});

function acquire(l: ConnectionLimiter, key: string): ConnectionLease {
  const r = l.tryAcquire(key);
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.lease;
}

describe('ConnectionLimiter', () => {
  const options = { perSource: 4, total: 10, startupsPerSource: 2, startups: 5 };

  it('64 idle sockets from one host get 2 slots, and other hosts still get in', () => {
    const l = new ConnectionLimiter({ ...options, total: 64, startups: 16 });
    let held = 0;
    for (let i = 0; i < 64; i++) if (l.tryAcquire('attacker').ok) held++;
    expect(held).toBe(2);
    expect(l.tryAcquire('attacker')).toEqual({ ok: false, reason: 'startups-per-source' });
    expect(l.tryAcquire('someone else').ok).toBe(true);
  });

  it('an authenticated connection leaves the startup tier but still counts per source', () => {
    const l = new ConnectionLimiter(options);
    const a = acquire(l, 'a');
    const b = acquire(l, 'a');
    expect(l.tryAcquire('a')).toEqual({ ok: false, reason: 'startups-per-source' });
    a.markAuthenticated();
    a.markAuthenticated();
    expect(a.authenticated).toBe(true);
    expect(l.usedBy('a')).toEqual({ connections: 2, startups: 1 });
    b.markAuthenticated();
    acquire(l, 'a');
    acquire(l, 'a');
    expect(l.tryAcquire('a')).toEqual({ ok: false, reason: 'per-source' });
    a.release();
    a.release();
    expect(l.usedBy('a')).toEqual({ connections: 3, startups: 2 });
  });

  it('caps startups and connections in total', () => {
    const l = new ConnectionLimiter(options);
    for (const k of ['a', 'b', 'c', 'd', 'e']) acquire(l, k);
    expect(l.tryAcquire('f')).toEqual({ ok: false, reason: 'startups' });
    expect(l.startups).toBe(5);
    const m = new ConnectionLimiter(options);
    for (let i = 0; i < 10; i++) acquire(m, `k${i}`).markAuthenticated();
    expect(m.tryAcquire('k99')).toEqual({ ok: false, reason: 'total' });
    expect(m.connections).toBe(10);
    expect(m.sources).toBe(10);
  });

  it('a lease released before authenticating frees both tiers', () => {
    const l = new ConnectionLimiter(options);
    const a = acquire(l, 'a');
    a.release();
    a.markAuthenticated();
    expect(l.usedBy('a')).toEqual({ connections: 0, startups: 0 });
    expect(l.sources).toBe(0);
  });

  it('drops early at random between start and full, like MaxStartups 2:50:5', () => {
    let next = 0;
    const l = new ConnectionLimiter({ ...options, earlyDrop: { start: 2, rate: 0.5 }, random: () => next });
    acquire(l, 'a');
    acquire(l, 'b');
    // 2 startups: drop probability 0.5.
    next = 0.49;
    expect(l.tryAcquire('c')).toEqual({ ok: false, reason: 'early-drop' });
    next = 0.5;
    acquire(l, 'c');
    // 3 startups: 0.5 + 0.5 * 1/3.
    next = 0.66;
    expect(l.tryAcquire('d')).toEqual({ ok: false, reason: 'early-drop' });
    next = 0.67;
    acquire(l, 'd');
    expect(l.startups).toBe(4);
    expect(() => new ConnectionLimiter({ ...options, earlyDrop: { start: 1, rate: 2 } })).toThrow(LimitError);
  });
});
