import { describe, expect, it } from 'vitest';
import { LimitError } from '../../platform/limit-error';
import { KeyedTokenBucket, TokenBucket } from '../../platform/rate-limit';

function clock(start = 1000): {
  now: () => number;
  advance: (ms: number) => void;
  set: (ms: number) => void;
} {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms), set: (ms) => (t = ms) };
}

describe('TokenBucket', () => {
  it('allows the burst at once, then the rate', () => {
    const c = clock();
    const b = new TokenBucket({ rate: 2, burst: 3, now: c.now });
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    expect(b.retryAfterMs()).toBe(500);
    c.advance(499);
    expect(b.take()).toBe(false);
    c.advance(1);
    expect(b.take()).toBe(true);
    c.advance(60_000);
    expect(b.full).toBe(true);
    // Refill stops at the burst however long it was idle.
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
  });

  it('charges costs, and a cost over the burst never passes', () => {
    const c = clock();
    const b = new TokenBucket({ rate: 1, burst: 5, now: c.now });
    expect(b.take(4)).toBe(true);
    expect(b.take(2)).toBe(false);
    expect(b.retryAfterMs(2)).toBe(1000);
    expect(b.retryAfterMs(6)).toBe(Number.POSITIVE_INFINITY);
    expect(b.take(1)).toBe(true);
  });

  it('a clock stepping back refills nothing', () => {
    const c = clock(10_000);
    const b = new TokenBucket({ rate: 1, burst: 1, now: c.now });
    expect(b.take()).toBe(true);
    c.set(0);
    expect(b.take()).toBe(false);
    c.set(10_999);
    expect(b.take()).toBe(false);
    c.set(11_000);
    expect(b.take()).toBe(true);
  });

  it('refuses options that make no sense', () => {
    for (const o of [
      { rate: 0, burst: 1 },
      { rate: -1, burst: 1 },
      { rate: Number.NaN, burst: 1 },
      { rate: 1, burst: 0.5 },
      { rate: 1, burst: Number.POSITIVE_INFINITY },
    ]) {
      expect(() => new TokenBucket(o)).toThrow(LimitError);
    }
    expect(() => new KeyedTokenBucket({ rate: 1, burst: 1, maxKeys: 0 })).toThrow(LimitError);
  });
});

describe('KeyedTokenBucket', () => {
  it('keeps one bucket per key', () => {
    const c = clock();
    const k = new KeyedTokenBucket({ rate: 1, burst: 2, now: c.now });
    expect([k.take('a'), k.take('a'), k.take('a')]).toEqual([true, true, false]);
    expect([k.take('b'), k.take('b'), k.take('b')]).toEqual([true, true, false]);
    expect(k.retryAfterMs('a')).toBe(1000);
    expect(k.retryAfterMs('never seen')).toBe(0);
    expect(k.size).toBe(2);
  });

  it('forgets buckets that have refilled, so idle sources cost no memory', () => {
    const c = clock();
    const k = new KeyedTokenBucket({ rate: 10, burst: 10, now: c.now });
    for (let i = 0; i < 1000; i++) k.take(`old-${i}`);
    expect(k.size).toBe(1000);
    c.advance(1000);
    // Each take sweeps a couple of idle buckets from the least recently used end.
    for (let i = 0; i < 600; i++) k.take('busy');
    expect(k.size).toBe(1);
  });

  it('tracks at most maxKeys; more sources share one overflow bucket', () => {
    const c = clock();
    const k = new KeyedTokenBucket({ rate: 1, burst: 1, maxKeys: 100, now: c.now });
    let allowed = 0;
    // An attacker with 10,000 addresses, each asking once within one refill period.
    for (let i = 0; i < 10_000; i++) if (k.take(`attacker-${i}`)) allowed++;
    expect(k.size).toBe(100);
    // 100 tracked buckets plus the one overflow token: not one token per address.
    expect(allowed).toBe(101);
    expect(k.overflowed).toBe(9900);
    expect(k.retryAfterMs('newcomer')).toBe(1000);
    // Once the tracked buckets refill they are dropped and newcomers get their own again.
    c.advance(1000);
    expect(k.take('newcomer')).toBe(true);
    expect(k.take('newcomer')).toBe(false);
    expect(k.size).toBeLessThanOrEqual(100);
  });

  it('a key already tracked keeps its own bucket while the table is full', () => {
    const c = clock();
    const k = new KeyedTokenBucket({ rate: 1, burst: 3, maxKeys: 2, now: c.now });
    k.take('owner');
    k.take('x');
    for (let i = 0; i < 50; i++) k.take(`flood-${i}`);
    expect(k.take('owner')).toBe(true);
    expect(k.take('owner')).toBe(true);
    expect(k.take('owner')).toBe(false);
  });
});
