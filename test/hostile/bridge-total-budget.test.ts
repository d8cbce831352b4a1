/**
 * The bridge's total budget for unfinished WebSocket messages (--max-buffered) against the
 * attack it is for: many addresses together, here spoofed with X-Forwarded-For under
 * --trust-proxy (a fresh address per connection, so each stays within its per-address 32 MiB).
 * 8 connections each send 15 MiB of a 16 MiB message and never the rest: with a 64 MiB total,
 * 4 are held and 4 closed with 4004, and the bridge's RSS stays within the budget plus the
 * chunks in flight (without the total, all 8 were held: 120 MiB).
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEFAULT_MAX_REQUEST_PAYLOAD, PROTOCOL_VERSION } from '../../lib/protocol';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import { MiB, ORIGIN, type ServerProcess, sleep, startServerProcess, wsConn } from '../support/hostile';

const TOTAL_MIB = 64;
const CONNS = 8;
let srv: ServerProcess;
let bridge: SpawnedBridge;

beforeAll(async () => {
  srv = await startServerProcess(['--login-grace', '60']);
  bridge = await spawnBridge([
    ...['--target', `127.0.0.1:${srv.port}`, '--trust-proxy', '--access', 'open'],
    ...['--max-buffered', `${TOTAL_MIB}M`],
  ]);
});
afterAll(async () => {
  await bridge?.stop();
  await srv?.dispose();
});

function open(address: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(bridge.url, {
      perMessageDeflate: false,
      origin: ORIGIN,
      headers: { 'X-Forwarded-For': address },
    });
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.on('error', () => {});
    ws.once('open', () => res({ ws, closed }));
    ws.once('unexpected-response', () => rej(new Error('refused')));
  });
}

/** Until the bridge took every byte written, or refused (its close frame arrived); at most 10 s. */
async function flushedOrRefused(ws: WebSocket, sock: Socket): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (sock.writableLength > 0 && ws.readyState === WebSocket.OPEN && Date.now() < deadline)
    await sleep(20);
}

it(`${CONNS} spoofed addresses, 15 MiB each of an unfinished 16 MiB message: ${TOTAL_MIB} MiB in all held, the rest 4004`, async () => {
  await sleep(300);
  const before = bridge.rss();
  const conns = await Promise.all(Array.from({ length: CONNS }, (_, i) => open(`203.0.113.${i + 1}`)));
  const head = Buffer.alloc(14);
  head[0] = 0x82; // binary, FIN
  head[1] = 0x80 | 127; // masked, 64-bit length
  head.writeBigUInt64BE(BigInt(DEFAULT_MAX_REQUEST_PAYLOAD), 2);
  const body = Buffer.alloc(MiB, 0x41);
  body.writeUInt8(PROTOCOL_VERSION, 16);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, bridge.rss());
  }, 50);
  // One after another, so which ones pass the total does not depend on the scheduling.
  for (const { ws } of conns) {
    const sock = (ws as unknown as { _socket: Socket })._socket;
    sock.write(head);
    // Stop at the bridge's close frame (it reads nothing more once it refused).
    for (let i = 0; i < 15 && !sock.destroyed && ws.readyState === WebSocket.OPEN; i++) {
      if (!sock.write(body)) await flushedOrRefused(ws, sock);
    }
    await flushedOrRefused(ws, sock);
  }
  // Until the bridge has read what the kernel still holds: the refusals it owes, or 5 s.
  const codeOf = conns.map(() => 0);
  for (const [i, c] of conns.entries()) {
    void c.closed.then((code) => {
      codeOf[i] = code;
    });
  }
  const owed = CONNS - Math.floor(TOTAL_MIB / 15);
  const settle = Date.now() + 5_000;
  while (codeOf.filter((c) => c === 4004).length < owed && Date.now() < settle) await sleep(50);
  await sleep(300);
  clearInterval(sampler);
  const codes = [...codeOf];
  for (const { ws } of conns) ws.terminate();
  const refused = codes.filter((c) => c === 4004).length;
  console.log(`close codes: ${codes.join(',')}`);
  const held = codes.filter((c) => c === 0).length;
  console.log(
    `bridge RSS ${(before / MiB).toFixed(1)} -> peak ${(peak / MiB).toFixed(1)} MiB; ${held} held, ${refused} closed with 4004`,
  );
  // Chunks of several connections may arrive interleaved: the one crossing the total is refused.
  expect(held).toBeLessThanOrEqual(Math.floor(TOTAL_MIB / 15));
  expect(held).toBeGreaterThanOrEqual(Math.floor(TOTAL_MIB / 15) - 1);
  expect(refused).toBe(CONNS - held);
  // The budget, plus chunks in flight and ws's own copies (pinned-memory.test.ts allows 80 MiB for 32).
  expect(peak - before).toBeLessThan((TOTAL_MIB + 48) * MiB);
  // Another address is still served.
  const c = await wsConn(bridge.url);
  c.close();
}, 60_000);
