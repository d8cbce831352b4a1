/**
 * The setup of the hostile tests that measure the bridge alone (its budgets and refusal
 * slots): a real bridge process in open mode, without PROXY headers, in front of a target
 * that reads and answers nothing, started before the file's tests and stopped after them;
 * a raw WebSocket upgrade for the attacks; and the check that a well-behaved client is still
 * served once the attack is over.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect } from 'vitest';
import {
  type FakeTarget,
  rawClient,
  requestFrame,
  type SpawnedBridge,
  spawnBridge,
  startTarget,
} from '../bridge/helpers';
import { sleep } from './hostile';

/** Registers the file's hooks; `bridge()` is the running bridge inside its tests. */
export function silentTargetBridge(args: readonly string[]): { bridge: () => SpawnedBridge } {
  let target: FakeTarget | undefined;
  let bridge: SpawnedBridge | undefined;
  beforeAll(async () => {
    target = await startTarget((s) => s.on('data', () => {}));
    bridge = await spawnBridge([
      ...['--target', `127.0.0.1:${target.port}`, '--access', 'open', '--no-proxy-protocol'],
      ...args,
    ]);
  });
  afterAll(async () => {
    await bridge?.stop();
    await target?.close();
  });
  return {
    bridge: () => {
      if (!bridge) throw new Error('the bridge is not started (used outside a test?)');
      return bridge;
    },
  };
}

/** A client of 127.0.0.1 connects, sends a request and is still connected a moment later. */
export async function expectStillServed(bridge: SpawnedBridge): Promise<void> {
  // The attack's connections are gone (closed by the test) first.
  await sleep(500);
  const c = await rawClient(bridge.url);
  c.ws.send(requestFrame());
  await sleep(100);
  expect(c.ws.readyState).toBe(c.ws.OPEN);
  c.ws.close();
}

/**
 * A raw WebSocket upgrade (the page's Origin unless `origin` says otherwise; `forwardedFor`
 * adds an X-Forwarded-For, `noDelay` turns Nagle off); resolves with the socket once the 101
 * has come, rejects on any other answer. It reads and ignores what follows (a close frame
 * for a refused one) and never answers it, so the bridge's writes never stall.
 */
export function rawUpgrade(
  port: number,
  opts: { origin?: string; forwardedFor?: string; noDelay?: boolean } = {},
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    if (opts.noDelay) s.setNoDelay(true);
    s.on('error', () => {});
    let got = '';
    const onData = (chunk: Buffer) => {
      got += chunk.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      s.off('data', onData);
      s.on('data', () => {});
      if (got.startsWith('HTTP/1.1 101')) resolve(s);
      else reject(new Error(`not upgraded: ${got.split('\r\n')[0]}`));
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error('closed before the upgrade')));
    s.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        `Origin: ${opts.origin ?? 'http://localhost:3000'}\r\n` +
        (opts.forwardedFor ? `X-Forwarded-For: ${opts.forwardedFor}\r\n` : '') +
        '\r\n',
    );
  });
}
