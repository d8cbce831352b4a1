import { describe, expect, it } from 'vitest';
import { MAX_BRIDGE_MESSAGE_BYTES } from '../lib/protocol';
import { BrowserError } from './errors';
import { transportFailure } from './page-transport';
import { WsTransport } from './ws-transport';

/** Just enough of a browser WebSocket for the transport: events, send, bufferedAmount. */
class FakeSocket extends EventTarget {
  binaryType = 'blob';
  bufferedAmount = 0;
  sent: Uint8Array[] = [];
  closedWith: number | undefined;
  send(data: Uint8Array) {
    this.sent.push(new Uint8Array(data));
    this.bufferedAmount += data.length;
  }
  close(code?: number) {
    this.closedWith = code;
  }
  fire(type: string, props: Record<string, unknown> = {}) {
    this.dispatchEvent(Object.assign(new Event(type), props));
  }
}

async function connected(opts: { highWaterMark?: number } = {}) {
  const socket = new FakeSocket();
  const pending = WsTransport.connect('ws://bridge.test/', {
    ...opts,
    createSocket: () => socket as unknown as WebSocket,
  });
  socket.fire('open');
  return { socket, transport: await pending };
}

describe('WsTransport', () => {
  it('offers the invite in Sec-WebSocket-Protocol beside sft, never in the URL; nothing without one', async () => {
    const seen: { url: string; protocols?: string[] }[] = [];
    for (const invite of ['sfi1.abc.def', undefined]) {
      const socket = new FakeSocket();
      const pending = WsTransport.connect('ws://bridge.test/', {
        invite,
        createSocket: (url, protocols) => {
          seen.push({ url, protocols });
          return socket as unknown as WebSocket;
        },
      });
      socket.fire('open');
      await pending;
    }
    expect(seen).toEqual([
      { url: 'ws://bridge.test/', protocols: ['sft', 'sft-invite.sfi1.abc.def'] },
      { url: 'ws://bridge.test/', protocols: undefined },
    ]);
  });

  it('uses binary ArrayBuffer messages and sends one frame per message, joining its parts', async () => {
    const { socket, transport } = await connected();
    expect(socket.binaryType).toBe('arraybuffer');
    await transport.send([new Uint8Array([1, 2]), new Uint8Array([3]), new Uint8Array([4, 5])]);
    await transport.send([new Uint8Array([9])]);
    expect(socket.sent.map((m) => [...m])).toEqual([[1, 2, 3, 4, 5], [9]]);
  });

  it('joins consecutive frames in one reused buffer without mixing them up, and larger ones in their own', async () => {
    const { socket, transport } = await connected();
    const big = new Uint8Array(2 * 1024 * 1024).fill(7);
    await transport.send([new Uint8Array([1, 1]), new Uint8Array([1])]);
    await transport.send([new Uint8Array([2]), new Uint8Array([2, 2, 2])]);
    await transport.send([new Uint8Array([3]), big]);
    await transport.send([new Uint8Array([4]), new Uint8Array([4])]);
    expect(socket.sent.map((m) => m.length)).toEqual([3, 4, big.length + 1, 2]);
    expect([...socket.sent[0]!]).toEqual([1, 1, 1]);
    expect([...socket.sent[1]!]).toEqual([2, 2, 2, 2]);
    expect(socket.sent[2]![0]).toBe(3);
    expect(socket.sent[2]!.subarray(1).every((b) => b === 7)).toBe(true);
    expect([...socket.sent[3]!]).toEqual([4, 4]);
  });

  it('delivers messages in order, queued or awaited, then null after the peer closes', async () => {
    const { socket, transport } = await connected();
    socket.fire('message', { data: new Uint8Array([1]).buffer });
    const waiting = transport.receive();
    expect([...((await waiting) ?? [])]).toEqual([1]);
    const next = transport.receive();
    socket.fire('message', { data: new Uint8Array([2, 3]).buffer });
    expect([...((await next) ?? [])]).toEqual([2, 3]);
    socket.fire('message', { data: new Uint8Array([4]).buffer });
    socket.fire('close', { code: 4005, reason: 'File server unreachable' });
    // Bytes that arrived before the close are still delivered first.
    expect([...((await transport.receive()) ?? [])]).toEqual([4]);
    expect(await transport.receive()).toBeNull();
    expect(transport.closeInfo).toEqual({ code: 4005, reason: 'File server unreachable' });
    await expect(transport.send([new Uint8Array(1)])).rejects.toMatchObject({
      code: 'BROWSER_ERR_CONNECTION_LOST',
    });
  });

  it('send() waits while bufferedAmount is at or above the mark (backpressure)', async () => {
    const { socket, transport } = await connected({ highWaterMark: 10 });
    let done = false;
    const sending = transport.send([new Uint8Array(12)]).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    socket.bufferedAmount = 9; // the browser drained some
    await sending;
    expect(done).toBe(true);
  });

  it('a send waiting for the buffer to drain fails when the connection closes', async () => {
    const { socket, transport } = await connected({ highWaterMark: 1 });
    const sending = transport.send([new Uint8Array(5)]);
    socket.fire('close', { code: 1006, reason: '' });
    await expect(sending).rejects.toBeInstanceOf(BrowserError);
  });

  it('connect() rejects BROWSER_ERR_BRIDGE_UNREACHABLE when the socket errors before opening', async () => {
    const socket = new FakeSocket();
    const pending = WsTransport.connect('ws://bridge.test/', {
      createSocket: () => socket as unknown as WebSocket,
    });
    socket.fire('error');
    await expect(pending).rejects.toMatchObject({ code: 'BROWSER_ERR_BRIDGE_UNREACHABLE' });
  });

  it('connect() gives up after the open timeout', async () => {
    const socket = new FakeSocket();
    const pending = WsTransport.connect('ws://bridge.test/', {
      openTimeoutMs: 20,
      createSocket: () => socket as unknown as WebSocket,
    });
    await expect(pending).rejects.toMatchObject({ code: 'BROWSER_ERR_BRIDGE_UNREACHABLE' });
  });

  it('close() ends a pending receive with null and closes the socket normally', async () => {
    const { socket, transport } = await connected();
    const waiting = transport.receive();
    transport.close();
    expect(await waiting).toBeNull();
    expect(socket.closedWith).toBe(1000);
    expect(transport.closeInfo).toBeUndefined();
  });

  it('a message larger than the bridge ever sends closes the connection as a protocol error, in a sentence; one at the limit is delivered', async () => {
    const { socket, transport } = await connected();
    socket.fire('message', { data: new ArrayBuffer(MAX_BRIDGE_MESSAGE_BYTES) });
    expect((await transport.receive())?.length).toBe(MAX_BRIDGE_MESSAGE_BYTES);
    expect(transport.protocolError).toBeUndefined();
    const waiting = transport.receive();
    socket.fire('message', { data: new ArrayBuffer(MAX_BRIDGE_MESSAGE_BYTES + 1) });
    expect(await waiting).toBeNull();
    expect(transport.isOpen).toBe(false);
    expect(socket.closedWith).toBe(1000);
    expect(transport.protocolError).toBe(
      'The bridge sent a message of 65,537 bytes, larger than any it sends (at most 65,536), so the page closed the connection: this is not a working bridge, or something on the way changed what it sent.',
    );
    // Nothing after it is taken either.
    socket.fire('message', { data: new Uint8Array([1]).buffer });
    expect(await transport.receive()).toBeNull();
    await expect(transport.send([new Uint8Array(1)])).rejects.toMatchObject({
      code: 'BROWSER_ERR_CONNECTION_LOST',
    });
    // What the worker reports instead of the session's "closed" (page-transport.ts).
    const said = transportFailure(new Error('The server closed the connection.'), {
      timedOut: false,
      timeoutMs: 1,
      protocolError: transport.protocolError,
    });
    expect(said).toMatchObject({ code: 'CLIENT_ERR_PROTOCOL', message: transport.protocolError });
  });
});
