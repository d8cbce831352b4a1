import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AnswerDeadline } from './answer-deadline';
import type { Transport } from './transport';

/** A transport whose receive() and send() settle only when the test says so. */
class FakeTransport implements Transport {
  closed = 0;
  readonly receives: ((b: Uint8Array | null) => void)[] = [];
  readonly sends: { resolve: () => void; reject: (e: Error) => void }[] = [];
  send(): Promise<void> {
    return new Promise((resolve, reject) => this.sends.push({ resolve, reject }));
  }
  receive(): Promise<Uint8Array | null> {
    return new Promise((resolve) => this.receives.push(resolve));
  }
  close(): void {
    this.closed++;
    for (const r of this.receives.splice(0)) r(null);
    for (const s of this.sends.splice(0)) s.reject(new Error('closed'));
  }
}

const MS = 10_000;
const byte = () => new Uint8Array([1]);
/** Advances fake time (setTimeout and performance.now) and lets settled promises run. */
const wait = (ms: number) => vi.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('AnswerDeadline', () => {
  it('closes a connection whose answer never comes, once the deadline passes, and says it timed out', async () => {
    const inner = new FakeTransport();
    const t = new AnswerDeadline(inner, MS);
    const answer = t.receive();
    await wait(MS - 100);
    expect(inner.closed).toBe(0);
    expect(t.timedOut).toBe(false);
    await wait(200);
    expect(inner.closed).toBe(1);
    expect(t.timedOut).toBe(true);
    expect(await answer).toBeNull();
  });

  it('bytes from the server do not restart the clock: a drip is cut like silence', async () => {
    const inner = new FakeTransport();
    const t = new AnswerDeadline(inner, MS);
    // The session reads on and on, one byte each second, never getting a whole answer.
    let reads = 0;
    const reader = (async () => {
      while ((await t.receive()) !== null) reads++;
    })();
    for (let i = 0; i < 15 && inner.closed === 0; i++) {
      await wait(1_000);
      inner.receives.shift()?.(byte());
    }
    await reader;
    expect(t.timedOut).toBe(true);
    expect(reads).toBeGreaterThanOrEqual(9);
    expect(reads).toBeLessThan(11);
  });

  it('a send the server takes restarts the clock; one it never takes (it stopped reading) is cut', async () => {
    const inner = new FakeTransport();
    const t = new AnswerDeadline(inner, MS);
    void t.receive(); // the answer the upload waits for all along
    for (let i = 0; i < 5; i++) {
      const sent = t.send([byte()]);
      await wait(MS / 2);
      inner.sends.shift()!.resolve();
      await sent;
    }
    expect(t.timedOut).toBe(false);
    // Settling is the server taking our bytes: the clock starts over then, not at the send.
    const slow = t.send([byte()]);
    await wait(MS * 0.9);
    inner.sends.shift()!.resolve();
    await slow;
    await wait(MS * 0.9);
    expect(t.timedOut).toBe(false);
    const stuck = t.send([byte()]).catch((e: Error) => e.message);
    await wait(MS + 10);
    expect(t.timedOut).toBe(true);
    expect(await stuck).toBe('closed');
  });

  it('`taken` growing (a WebSocket buffer draining) restarts the clock; when it stops growing the connection is cut', async () => {
    const inner = new FakeTransport();
    let taken = 0;
    const t = new AnswerDeadline(inner, MS, { taken: () => taken });
    void t.receive();
    for (let i = 0; i < 4; i++) {
      await wait(MS - 1);
      taken += 1000;
    }
    await wait(1);
    expect(t.timedOut).toBe(false);
    await wait(MS + 10);
    expect(t.timedOut).toBe(true);
  });

  it('does not run while nothing is pending (an idle connection is not the server keeping us waiting)', async () => {
    const inner = new FakeTransport();
    const t = new AnswerDeadline(inner, MS);
    const r = t.receive();
    inner.receives.shift()!(byte());
    await r;
    await wait(5 * MS);
    expect(inner.closed).toBe(0);
    // Our own work took long; the next wait gets the whole deadline again.
    void t.receive();
    await wait(MS - 100);
    expect(inner.closed).toBe(0);
    await wait(200);
    expect(inner.closed).toBe(1);
  });

  it('close() and stop() stop the clock: no timeout is claimed for a connection we closed', async () => {
    for (const how of ['close', 'stop'] as const) {
      const inner = new FakeTransport();
      const t = new AnswerDeadline(inner, MS);
      void t.receive();
      t[how]();
      await wait(2 * MS);
      expect(t.timedOut).toBe(false);
      expect(inner.closed).toBe(how === 'close' ? 1 : 0);
    }
  });
});
