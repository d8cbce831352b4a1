import { describe, expect, it } from 'vitest';
import { ReceiveQueue } from './receive-queue';

const chunk = (n: number) => new Uint8Array([n]);
const first = (c: Uint8Array | null) => (c === null ? null : c[0]);

describe('ReceiveQueue', () => {
  it('hands out chunks in arrival order, queued or awaited, and answers waiting calls in call order', async () => {
    const q = new ReceiveQueue();
    q.push(chunk(1));
    const a = q.receive();
    const b = q.receive();
    const c = q.receive();
    q.push(chunk(2));
    q.push(chunk(3));
    expect((await Promise.all([a, b, c])).map(first)).toEqual([1, 2, 3]);
  });

  it('end(): queued chunks first, then null for good; later pushes are ignored', async () => {
    const q = new ReceiveQueue();
    q.push(chunk(1));
    q.end();
    q.push(chunk(2));
    expect(q.isEnded).toBe(true);
    expect(first(await q.receive())).toBe(1);
    expect(await q.receive()).toBeNull();
    expect(await q.receive()).toBeNull();
    await q.ended;
  });

  it('end() resolves every waiting receive() with null', async () => {
    const q = new ReceiveQueue();
    const waiting = [q.receive(), q.receive()];
    q.end();
    expect(await Promise.all(waiting)).toEqual([null, null]);
  });

  it('discard() drops unread chunks', async () => {
    const q = new ReceiveQueue();
    q.push(chunk(1));
    q.discard();
    expect(q.size).toBe(0);
    expect(await q.receive()).toBeNull();
  });

  it('asks the source to stop at the high-water mark and to read again at half of it', async () => {
    const calls: string[] = [];
    const q = new ReceiveQueue({
      highWaterMark: 4,
      onFull: () => calls.push('full'),
      onRoom: () => calls.push('room'),
    });
    for (let i = 0; i < 5; i++) q.push(chunk(i));
    expect(calls).toEqual(['full']);
    await q.receive(); // 4 left
    await q.receive(); // 3 left
    expect(calls).toEqual(['full']);
    await q.receive(); // 2 left: half the mark
    expect(calls).toEqual(['full', 'room']);
    for (let i = 0; i < 2; i++) q.push(chunk(i));
    expect(calls).toEqual(['full', 'room', 'full']);
  });
});
