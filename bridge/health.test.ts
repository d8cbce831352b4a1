import { describe, expect, test } from 'vitest';
import { HealthCheck } from './health';

const target = { host: '127.0.0.1', port: 1 };

/** A probe the test resolves by hand, and a clock it moves by hand. */
function setup(cacheMs: number) {
  let clock = 0;
  const started: ((ok: boolean) => void)[] = [];
  const health = new HealthCheck(target, {
    timeoutMs: 1000,
    cacheMs,
    now: () => clock,
    probe: () => new Promise<boolean>((resolve) => started.push(resolve)),
  });
  return { health, started, advance: (ms: number) => (clock += ms) };
}

describe('HealthCheck', () => {
  test('1,000 checks at once share one probe; the result is reused for the cache period, then probed again', async () => {
    const { health, started, advance } = setup(5000);
    const answers = Array.from({ length: 1000 }, () => health.check());
    expect(started).toHaveLength(1);
    started[0]!(true);
    expect(new Set(await Promise.all(answers))).toEqual(new Set([true]));
    advance(4999);
    expect(await health.check()).toBe(true);
    expect(health.probes).toBe(1);
    advance(1);
    const next = health.check();
    expect(health.probes).toBe(2);
    started[1]!(false);
    expect(await next).toBe(false);
  });

  test('cache 0: only the probe in flight is shared', async () => {
    const { health, started } = setup(0);
    const a = health.check();
    const b = health.check();
    expect(started).toHaveLength(1);
    started[0]!(true);
    await Promise.all([a, b]);
    void health.check();
    expect(started).toHaveLength(2);
  });

  test('a probe that throws counts as unreachable', async () => {
    const health = new HealthCheck(target, {
      timeoutMs: 10,
      cacheMs: 0,
      probe: () => Promise.reject(new Error('x')),
    });
    expect(await health.check()).toBe(false);
  });
});
