import { describe, expect, it } from 'vitest';
import { IdleCollector } from '../../platform/idle-gc';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('IdleCollector', () => {
  it('collects once after a quiet delay when enough was let go, and frees what nothing holds', async () => {
    const c = new IdleCollector({ minBytes: 1000, delayMs: 50 });
    const registry = new FinalizationRegistry<string>(() => finalized++);
    let finalized = 0;
    (() => {
      for (let i = 0; i < 4; i++) registry.register(new ArrayBuffer(1 << 20), 'buffer');
    })();
    c.released(600);
    await sleep(80);
    expect(c.collections).toBe(0); // 600 bytes are not worth one
    c.released(600);
    await sleep(20);
    c.released(600); // a further release pushes the collection back
    await sleep(30);
    expect(c.collections).toBe(0);
    await sleep(60);
    expect(c.collections).toBe(1);
    await sleep(10); // finalizers run on a later turn
    expect(finalized).toBeGreaterThan(0);
    c.stop();
  });

  it('stop() cancels a collection that was due', async () => {
    const c = new IdleCollector({ minBytes: 1, delayMs: 20 });
    c.released(10);
    c.stop();
    await sleep(50);
    expect(c.collections).toBe(0);
  });
});
