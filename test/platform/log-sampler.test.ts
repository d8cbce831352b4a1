import { describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../platform/log';
import { LogSampler } from '../../platform/log-sampler';

function setup(rate = 2) {
  let now = 0;
  const { log, lines } = createMemoryLogger('test');
  const sampler = new LogSampler({ rate, log, now: () => now, summaryMs: 60_000 });
  return { sampler, lines, advance: (ms: number) => (now += ms) };
}

describe('LogSampler', () => {
  it('lets a burst of 5 s at the rate through per source and kind, then the rate, and counts the rest', () => {
    const { sampler, lines, advance } = setup(2);
    const allowed = Array.from({ length: 100 }, () => sampler.allow('192.0.2.1', 'k')).filter(Boolean).length;
    expect(allowed).toBe(10);
    advance(1000);
    expect(Array.from({ length: 10 }, () => sampler.allow('192.0.2.1', 'k')).filter(Boolean).length).toBe(2);
    expect(sampler.dropped).toBe(98);
    sampler.flush();
    expect(lines).toMatchObject([{ event: 'log-suppressed', source: '192.0.2.1', dropped: 98 }]);
  });

  it('another source, or another kind, has buckets of its own; a source has a cap over all kinds', () => {
    const { sampler } = setup(2);
    for (let i = 0; i < 50; i++) sampler.allow('192.0.2.1', 'a');
    expect(sampler.allow('192.0.2.2', 'a')).toBe(true);
    expect(sampler.allow('192.0.2.1', 'b')).toBe(true);
    // Four times the rate over all kinds: 40 lines of burst in all for one source.
    const kinds = Array.from({ length: 60 }, (_, i) => sampler.allow('192.0.2.3', `kind-${i}`));
    expect(kinds.filter(Boolean).length).toBe(40);
  });

  it('writes nothing when nothing was dropped, and one summary per source otherwise', () => {
    const { sampler, lines } = setup(1);
    sampler.allow('a', 'k');
    sampler.flush();
    expect(lines).toEqual([]);
    for (let i = 0; i < 20; i++) {
      sampler.allow('a', 'k');
      sampler.allow('b', 'k');
    }
    sampler.flush();
    expect(lines.map((l) => (l as { source: string }).source).sort()).toEqual(['a', 'b']);
  });
});
