/**
 * The setup of the hostile tests that measure the bridge alone (its budgets and refusal
 * slots): a real bridge process in open mode, without PROXY headers, in front of a target
 * that reads and answers nothing, started before the file's tests and stopped after them;
 * and the check that a well-behaved client is still served once the attack is over.
 */
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
