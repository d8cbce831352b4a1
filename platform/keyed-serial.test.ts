import { describe, expect, it } from 'vitest';
import { KeyedSerial } from './keyed-serial';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('KeyedSerial', () => {
  it('runs the calls of one key in order, never two at once; other keys meanwhile; a failure does not stop the next', async () => {
    const q = new KeyedSerial();
    const log: string[] = [];
    let running = 0;
    const call =
      (name: string, fail = false) =>
      async () => {
        running++;
        expect(running).toBeLessThanOrEqual(2); // one per key, two keys
        log.push(`${name}+`);
        await tick();
        log.push(`${name}-`);
        running--;
        if (fail) throw new Error(name);
        return name;
      };
    const a1 = q.run('a', call('a1', true));
    const a2 = q.run('a', call('a2'));
    const b1 = q.run('b', call('b1'));
    await expect(a1).rejects.toThrow('a1');
    expect(await a2).toBe('a2');
    expect(await b1).toBe('b1');
    expect(log.indexOf('a1-')).toBeLessThan(log.indexOf('a2+'));
    expect(log.indexOf('b1+')).toBeLessThan(log.indexOf('a1-'));
    await tick();
    expect(q.size).toBe(0);
  });
});
