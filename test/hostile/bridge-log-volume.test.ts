/**
 * Issue 14, item 12, at the bridge: one line per connection is the attacker's to multiply
 * (connect, get refused, connect again). The real bridge process: 300 connections with a
 * foreign Origin from 127.0.0.1 in a row write a bounded number of `connection` lines and a
 * `log-suppressed` count, while the few from 127.0.0.2 are all logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import { type ServerProcess, startServerProcess } from '../support/hostile';

const FLOOD = 300;
const LOG_RATE = 5;

let srv: ServerProcess;
let bridge: SpawnedBridge;

/** One WebSocket with a foreign Origin (refused with 4003); resolves with its close code. */
function refusedOnce(url: string, localAddress: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { origin: 'https://evil.example', localAddress, perMessageDeflate: false });
    ws.on('error', () => {});
    ws.on('close', (code) => resolve(code));
  });
}

const connectionLines = (source: string) =>
  bridge.lines.filter((l) => l.event === 'connection' && String(l.peer).startsWith(source)).length;

beforeAll(async () => {
  srv = await startServerProcess();
  bridge = await spawnBridge(['--target', `127.0.0.1:${srv.port}`, '--log-rate', String(LOG_RATE)]);
});
afterAll(async () => {
  await bridge?.stop();
  await srv?.stop();
});

describe('bridge log volume', () => {
  it(`${FLOOD} refused connections from one address: lines bounded by the rate, counted, another address fully logged`, async () => {
    const t0 = Date.now();
    const codes: number[] = [];
    for (let i = 0; i < FLOOD; i++) codes.push(await refusedOnce(bridge.url, '127.0.0.1'));
    for (let i = 0; i < 3; i++) codes.push(await refusedOnce(bridge.url, '127.0.0.2'));
    const seconds = (Date.now() - t0) / 1000;
    expect(codes.every((c) => c === 4003)).toBe(true);
    // Burst of 5 s of the rate, then the rate: what the sampler allows in `seconds`.
    const allowed = LOG_RATE * 5 + LOG_RATE * Math.ceil(seconds);
    const deadline = Date.now() + 10_000;
    while (!bridge.lines.some((l) => l.event === 'log-suppressed') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const flooded = connectionLines('127.0.0.1');
    const summary = bridge.lines.find((l) => l.event === 'log-suppressed');
    console.log(
      `bridge: ${FLOOD} refusals in ${seconds.toFixed(1)} s wrote ${flooded} connection lines (allowed ${allowed}), summary dropped ${String(summary?.dropped)}`,
    );
    expect(flooded).toBeLessThanOrEqual(allowed);
    expect(flooded).toBeGreaterThan(0);
    expect(Number(summary?.dropped)).toBeGreaterThanOrEqual(FLOOD - allowed);
    expect(connectionLines('127.0.0.2')).toBe(3);
  });
});
