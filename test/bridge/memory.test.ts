/**
 * Backpressure, measured on a spawned bridge process: a reader that stops reading on either
 * side must not make the bridge buffer what the other side pushes. Assertions are about
 * memory and bytes (behaviour), never about speed.
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import {
  CloseCode,
  DEFAULT_PACKET_SIZE,
  MAX_RESPONSE_PAYLOAD,
  RESPONSE_HEADER_SIZE,
  RequestCode,
} from '../../lib/protocol';
import { rawClient, requestFrame, type SpawnedBridge, spawnBridge, stalled, startTarget } from './helpers';

const MiB = 1024 * 1024;
const PUSHED = 512 * MiB;
const MAX_GROWTH = 64 * MiB;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function bridgeFor(targetPort: number): Promise<SpawnedBridge> {
  const b = await spawnBridge(['--target', `127.0.0.1:${targetPort}`]);
  cleanups.push(() => b.stop());
  return b;
}

/** Writes `total` bytes of `frame` repeated, honouring the socket's own backpressure. */
async function flood(s: Socket, frame: Buffer, total: number, progress: { bytes: number }): Promise<void> {
  const batch = Buffer.concat(new Array(64).fill(frame));
  while (progress.bytes < total && !s.destroyed) {
    const ok = s.write(batch);
    progress.bytes += batch.length;
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = () => {
          s.off('drain', done).off('close', done);
          resolve();
        };
        s.on('drain', done).on('close', done);
      });
    }
  }
}

describe('bridge memory under a slow reader (spawned process)', () => {
  test('server -> browser: the browser stops reading while the server floods responses', async () => {
    const frame = Buffer.alloc(RESPONSE_HEADER_SIZE + MAX_RESPONSE_PAYLOAD, 0x33);
    frame.writeUInt8(3, 0);
    // 1607 (like 1601) may carry any payload up to the limit: the largest valid response frame.
    frame.writeUInt16LE(1607, 1);
    frame.writeUInt32LE(MAX_RESPONSE_PAYLOAD, 3);
    const offered = { bytes: 0 };
    let flooding: Promise<void> = Promise.resolve();
    const target = await startTarget((s) => {
      s.once('data', () => {
        flooding = flood(s, frame, PUSHED, offered);
      });
    });
    cleanups.push(() => target.close());
    const b = await bridgeFor(target.port);
    const baseline = b.rss();

    const c = await rawClient(b.url, { record: false });
    let received = 0;
    c.ws.on('message', (m: Buffer) => {
      received += m.length;
    });
    c.ws.send(requestFrame());
    await new Promise((r) => setTimeout(r, 100));
    c.ws.pause(); // the slow reader: stops reading its socket
    await stalled(() => offered.bytes);
    const whilePaused = b.rss() - baseline;
    expect(offered.bytes).toBeLessThan(PUSHED); // the flood was held back, not buffered
    expect(whilePaused).toBeLessThan(MAX_GROWTH);

    // Reading again: everything arrives, whole frames, and memory stays bounded throughout.
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, b.rss() - baseline);
    }, 50);
    c.ws.resume();
    await flooding;
    while (received < offered.bytes) await new Promise((r) => setTimeout(r, 50));
    clearInterval(sampler);
    expect(received).toBe(offered.bytes);
    expect(offered.bytes).toBeGreaterThanOrEqual(PUSHED);
    expect(peak).toBeLessThan(MAX_GROWTH);
  }, 120_000);

  test('browser -> server: the server never reads while the browser pushes 512 MiB', async () => {
    let readFrom: Socket | null = null;
    let serverGot = 0;
    const target = await startTarget((s) => {
      s.pause(); // the slow reader: never reads until told
      readFrom = s;
      s.on('data', (d) => {
        serverGot += d.length;
      });
    });
    cleanups.push(() => target.close());
    const b = await bridgeFor(target.port);
    const baseline = b.rss();

    const c = await rawClient(b.url);
    const packet = requestFrame(RequestCode.SendFile, DEFAULT_PACKET_SIZE, 0x44);
    let flushed = 0;
    const sending = (async () => {
      // The sender honours its own backpressure (like the browser's bufferedAmount check).
      for (let sent = 0; sent < PUSHED; sent += packet.length) {
        await new Promise<void>((resolve, reject) =>
          c.ws.send(packet, (err) => {
            if (err) reject(err);
            else {
              flushed += packet.length;
              resolve();
            }
          }),
        );
      }
    })();
    await stalled(() => flushed);
    const whileStuck = b.rss() - baseline;
    expect(flushed).toBeLessThan(PUSHED);
    expect(whileStuck).toBeLessThan(MAX_GROWTH);

    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, b.rss() - baseline);
    }, 50);
    (readFrom as Socket | null)?.resume();
    await sending;
    const total = Math.ceil(PUSHED / packet.length) * packet.length;
    while (serverGot < total) await new Promise((r) => setTimeout(r, 50));
    clearInterval(sampler);
    expect(serverGot).toBe(total);
    expect(peak).toBeLessThan(MAX_GROWTH);
  }, 120_000);

  test('SIGTERM: open WebSockets get 1001, the process exits 0', async () => {
    const target = await startTarget(() => {});
    cleanups.push(() => target.close());
    const b = await spawnBridge(['--target', `127.0.0.1:${target.port}`]);
    const c = await rawClient(b.url);
    await new Promise((r) => setTimeout(r, 100));
    const code = b.stop();
    expect((await c.closed).code).toBe(CloseCode.GoingAway);
    expect(await code).toBe(0);
    expect(b.lines.some((l) => l.event === 'connection' && l.closeCode === CloseCode.GoingAway)).toBe(true);
    expect(b.lines.find((l) => l.event === 'listening')).toMatchObject({ bufferutil: 'native' });
  });
});
