/**
 * Issue 14 item 5 against the real processes: memory pinned without a login. The server sizes
 * each request from its header (a 1026 is exactly 415 bytes), so 64 connections that declare
 * it and send part of it cost almost nothing (before: every request was buffered up to 16 MiB,
 * 84 -> 1,128 MiB). The bridge counts unfinished WebSocket messages per address: 16
 * connections each sending an unfinished 16 MiB message are closed past the budget (before:
 * 77 -> 334 MiB, and it stayed there), twice, and what stays does not grow. Figures are printed.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  DEFAULT_MAX_REQUEST_PAYLOAD,
  encodeRequestHeader,
  PROTOCOL_VERSION,
  REQUEST_HEADER_SIZE,
  RequestCode,
} from '../../lib/protocol';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import {
  expectHealthy,
  MiB,
  ORIGIN,
  rssBytes,
  type ServerProcess,
  sleep,
  startServerProcess,
  tcpConn,
  until,
  wsConn,
} from '../support/hostile';

let srv: ServerProcess;
let bridge: SpawnedBridge;

beforeAll(async () => {
  srv = await startServerProcess();
  // 16 upgrades at once from one address: on a loaded machine more than the default 8 may be
  // pending together, and the pending-upgrade cap would drop the excess (another test's limit).
  bridge = await spawnBridge(['--target', `127.0.0.1:${srv.port}`, '--max-pending-per-ip', '64']);
});

afterAll(async () => {
  await bridge?.stop();
  await srv?.dispose();
});

const mib = (n: number) => (n / MiB).toFixed(1);

describe('memory pinned without a login', () => {
  it('server: 64 connections (16 from each of 127.0.0.2..5) each send half of a 1026 (415 bytes declared): RSS stays near its baseline', async () => {
    await sleep(300);
    const before = rssBytes(srv.pid);
    const head = encodeRequestHeader({
      clientId: new Uint8Array(16),
      version: PROTOCOL_VERSION,
      code: RequestCode.SendPublicKey,
      payloadSize: 415,
    });
    const socks: Socket[] = await Promise.all(
      Array.from({ length: 64 }, async (_, i) => {
        const s = connect({ host: '127.0.0.1', port: srv.port, localAddress: `127.0.0.${2 + (i % 4)}` });
        s.on('error', () => {});
        await new Promise<void>((r) => s.once('connect', () => r()));
        await new Promise<void>((r) => s.write(Buffer.concat([head, randomBytes(200)]), () => r()));
        return s;
      }),
    );
    await sleep(800);
    const during = rssBytes(srv.pid);
    for (const s of socks) s.destroy();
    console.log(`server RSS: ${mib(before)} MiB before, ${mib(during)} MiB holding 64 unfinished 1026s`);
    expect(during - before).toBeLessThan(16 * MiB);
    await expectHealthy(() => tcpConn(srv.port), srv.data);
  });

  it('bridge: 16 connections from 127.0.0.1 each send 15 of an unfinished 16 MiB message, twice: closed past the per-address budget; what stays is bounded and does not grow', async () => {
    await sleep(300);
    const before = bridge.rss();
    /** One flood; its RSS while held, how many were closed with 4004, RSS once they left. */
    const flood = async (): Promise<{ during: number; refused: number; after: number; waited: number }> => {
      const length = DEFAULT_MAX_REQUEST_PAYLOAD; // the message: header + payload, within --max-payload
      const logged = bridge.lines.filter((l) => l.event === 'connection').length;
      const conns = await Promise.all(
        Array.from(
          { length: 16 },
          () =>
            new Promise<{ ws: WebSocket; closed: Promise<number> }>((res, rej) => {
              const ws = new WebSocket(bridge.url, { perMessageDeflate: false, origin: ORIGIN });
              const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
              ws.on('error', () => {});
              ws.once('open', () => res({ ws, closed }));
              ws.once('unexpected-response', () => rej(new Error('refused')));
              ws.once('close', () => rej(new Error('closed before it opened')));
            }),
        ),
      );
      // One binary frame, FIN, masked, 64-bit length; then 15 MiB of its payload, never the rest.
      const frameHead = Buffer.alloc(14);
      frameHead[0] = 0x82;
      frameHead[1] = 0x80 | 127;
      frameHead.writeBigUInt64BE(BigInt(length), 2);
      const body = Buffer.alloc(MiB, 0x41);
      body.writeUInt8(PROTOCOL_VERSION, 16); // looks like a request header; the bridge never gets that far
      expect(REQUEST_HEADER_SIZE).toBe(23);
      const sending = conns.map(async ({ ws }) => {
        const sock = (ws as unknown as { _socket: Socket })._socket;
        sock.write(frameHead);
        for (let i = 0; i < 15 && !sock.destroyed; i++) {
          if (!sock.write(body)) await new Promise((r) => sock.once('drain', r).once('close', r));
        }
      });
      await Promise.race([Promise.all(sending), sleep(10_000)]);
      await sleep(500);
      const during = bridge.rss();
      const codes = await Promise.all(conns.map((c) => Promise.race([c.closed, sleep(8_000).then(() => 0)])));
      const refused = codes.filter((c) => c === 4004).length;
      for (const { ws } of conns) ws.terminate();
      await until(
        () => bridge.lines.filter((l) => l.event === 'connection').length >= logged + 16,
        'the bridge to log 16 connections',
        20_000,
      );
      // The bridge collects once it has been quiet for 2 s after letting the buffers go
      // (platform/idle-gc.ts), with two malloc arenas (platform/allocator-env.ts). Measured
      // on 2026-12-03: in about half the runs RSS is back at its baseline within 1.5-2.6 s; in
      // the others glibc's main heap keeps 13-20 MiB of the freed chunks (fragmented, not
      // garbage: a second collection does not return it) for 10-15 s or longer, with or
      // without the collection. So what may stay is bounded by what one address may pin (the
      // 32 MiB budget), and a second flood must not add to it.
      const settled = Date.now();
      await until(() => bridge.rss() <= before + 8 * MiB, 'the bridge RSS to come back', 6_000).catch(
        () => {},
      );
      return { during, refused, after: bridge.rss(), waited: (Date.now() - settled) / 1000 };
    };
    const first = await flood();
    const second = await flood();
    for (const [n, r] of [first, second].entries()) {
      console.log(
        `bridge RSS, flood ${n + 1}: ${mib(before)} MiB before, ${mib(r.during)} MiB during (${r.refused} of 16 closed with 4004), ${mib(r.after)} MiB after ${r.waited.toFixed(1)} s`,
      );
      expect(r.refused).toBeGreaterThanOrEqual(13);
      // 32 MiB per address may be held (two whole messages), plus the chunks in flight.
      expect(r.during - before).toBeLessThan(80 * MiB);
      expect(r.after - before).toBeLessThanOrEqual(32 * MiB);
    }
    // Nothing accumulates: the second flood leaves no more behind than the first did (or the baseline's 20 MiB).
    expect(second.after).toBeLessThanOrEqual(Math.max(first.after, before + 20 * MiB) + 4 * MiB);
    const c = await wsConn(bridge.url);
    c.close();
  }, 120_000);
});
