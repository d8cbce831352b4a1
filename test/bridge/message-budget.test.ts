/**
 * The bridge's budget for unfinished WebSocket messages (in-process bridge, echo target): many
 * complete messages add up to far more than the budget and pass (the count does not drift),
 * one unfinished message past it closes the connection with 4004, and the budget is per
 * address: another address still gets through meanwhile.
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestCode } from '../../lib/protocol';
import { echoTarget, rawClient, requestFrame, startBridge, startTarget, until } from './helpers';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const received: Uint8Array[] = [];
  const target = await startTarget(echoTarget(received));
  cleanups.push(() => target.close());
  const b = await startBridge(target.port, { maxBufferedPerIp: 256 * 1024, maxBuffered: 1024 * 1024 });
  cleanups.push(() => b.close());
  return { b, received };
}

describe('budget for unfinished messages', () => {
  it('200 complete 100 KiB messages (20 MiB, 80 budgets) pass one after another', async () => {
    const { b, received } = await setup();
    const c = await rawClient(b.url);
    const frame = requestFrame(RequestCode.SendFile, 100 * 1024, 0x33);
    for (let i = 0; i < 200; i++) c.ws.send(frame);
    await until(() => received.length === 200, '200 frames at the target', 20_000);
    c.ws.close();
  });

  it('one unfinished 1 MiB message past 256 KiB: 4004; another connection is unaffected afterwards', async () => {
    const { b } = await setup();
    const c = await rawClient(b.url);
    const head = Buffer.alloc(14);
    head[0] = 0x82;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(1024 * 1024), 2);
    const sock = (c.ws as unknown as { _socket: Socket })._socket;
    sock.write(head);
    for (let i = 0; i < 8; i++) sock.write(Buffer.alloc(64 * 1024));
    expect((await c.closed).code).toBe(4004);
    const d = await rawClient(b.url);
    d.ws.send(requestFrame(RequestCode.CrcOk));
    await d.next();
    d.ws.close();
  });
});
