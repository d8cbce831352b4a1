import { describe, expect, it } from 'vitest';
import { RestartPolicy } from '../../scripts/restart-policy';

describe('RestartPolicy', () => {
  it('backs off, doubling, and gives up at the fifth death within a minute', () => {
    const p = new RestartPolicy();
    expect(p.died(0)).toEqual({ restart: true, delayMs: 500, recent: 1 });
    expect(p.died(1000)).toEqual({ restart: true, delayMs: 1000, recent: 2 });
    expect(p.died(2000)).toEqual({ restart: true, delayMs: 2000, recent: 3 });
    expect(p.died(3000)).toEqual({ restart: true, delayMs: 4000, recent: 4 });
    expect(p.died(4000)).toEqual({ restart: false, recent: 5 });
  });

  it('forgets deaths older than the window', () => {
    const p = new RestartPolicy();
    for (const t of [0, 10_000, 20_000, 30_000]) p.died(t);
    expect(p.died(70_000)).toEqual({ restart: true, delayMs: 2000, recent: 3 });
  });
});
