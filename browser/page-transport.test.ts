import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientError } from '../lib/client/errors';
import { PageTransport, transportFailure } from './page-transport';

/** Just enough of a browser WebSocket: events, send, bufferedAmount the test drains. */
class FakeSocket extends EventTarget {
  binaryType = 'blob';
  bufferedAmount = 0;
  closedWith: number | undefined;
  send(data: Uint8Array) {
    this.bufferedAmount += data.length;
  }
  close(code?: number) {
    this.closedWith = code;
  }
  fire(type: string, props: Record<string, unknown> = {}) {
    this.dispatchEvent(Object.assign(new Event(type), props));
  }
}

const MS = 10_000;
const wait = (ms: number) => vi.advanceTimersByTimeAsync(ms);

async function connected() {
  const socket = new FakeSocket();
  const pending = PageTransport.connect('ws://bridge.test/', {
    answerTimeoutMs: MS,
    highWaterMark: 100,
    createSocket: () => socket as unknown as WebSocket,
  });
  socket.fire('open');
  return { socket, t: await pending };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PageTransport (the worker connection under the answer deadline)', () => {
  it('an answer that never comes closes the socket at the deadline; the session sees the end, the page the timeout', async () => {
    const { socket, t } = await connected();
    const answer = t.receive();
    await wait(MS - 100);
    expect(t.isOpen).toBe(true);
    await wait(200);
    expect(await answer).toBeNull();
    expect(t.timedOut).toBe(true);
    expect(t.isOpen).toBe(false);
    expect(socket.closedWith).toBe(1000);
    const e = transportFailure(new ClientError('CLIENT_ERR_CONNECTION_CLOSED', 'closed'), t);
    expect(e).toMatchObject({ code: 'CLIENT_ERR_TIMEOUT' });
    expect((e as Error).message).toBe(
      'The server stopped answering: it kept this page waiting 10 s without answering or taking its data, so the page closed the connection.',
    );
  });

  it('bytes still leaving the browser’s buffer count as taken (a slow link is not a silent server); a buffer that stops draining is cut', async () => {
    const { socket, t } = await connected();
    void t.receive(); // the answer the upload waits for all along
    // Settles at once (under the mark), but 90 bytes wait in the browser, leaving slowly.
    await t.send([new Uint8Array(90)]);
    for (let i = 0; i < 5; i++) {
      await wait(MS - 1);
      socket.bufferedAmount -= 10;
    }
    await wait(1);
    expect(t.timedOut).toBe(false);
    await wait(MS + 10);
    expect(t.timedOut).toBe(true);
  });

  it('a cancel stays a cancel; a connection it did not close keeps its own error', async () => {
    const { t } = await connected();
    const cancelled = new ClientError('CLIENT_ERR_CANCELLED', 'cancelled');
    const closed = new ClientError('CLIENT_ERR_CONNECTION_CLOSED', 'closed');
    expect(transportFailure(closed, t)).toBe(closed);
    void t.receive();
    await wait(MS + 10);
    expect(transportFailure(cancelled, t)).toBe(cancelled);
  });
});
