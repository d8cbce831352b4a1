/**
 * Slow, idle and flooding peers against the real server process, run with a 1-second idle
 * timeout and a cap of 12 connections so the test is quick (issue 7). Slow peers are timed
 * out; a flood over the cap is refused while a client in the middle of an upload carries on;
 * slots taken by idle peers come back. After each: a new client registers and uploads, and
 * the files stored before are intact.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cksum } from '../../lib/crypto';
import { encodeRequest, encodeSendFilePrefix, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  type Baseline,
  expectConfined,
  expectHealthy,
  expectIntact,
  KiB,
  MiB,
  randomName,
  register,
  type ServerProcess,
  seedBaseline,
  sleep,
  startServerProcess,
  tcpConn,
  until,
  upload,
} from '../support/hostile';

const CAP = 12;
/** Short, but not so short that a loaded machine's scheduling stalls trip it for healthy clients. */
const IDLE_S = 2;
let srv: ServerProcess;
let base: Baseline;
const sockets: Socket[] = [];

type RawSocket = Socket & { closedAt?: number; received: Buffer[] };

/** A plain socket that records what it receives and when it closed. */
function raw(): Promise<RawSocket> {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port: srv.port }) as RawSocket;
    s.received = [];
    s.setNoDelay(true);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => s.received.push(d));
    s.once('close', () => {
      s.closedAt = Date.now();
    });
    s.once('connect', () => res(s));
    s.once('error', rej);
    sockets.push(s);
  });
}

beforeAll(async () => {
  srv = await startServerProcess(['--idle-timeout', String(IDLE_S), '--max-connections', String(CAP)]);
  const c = await tcpConn(srv.port);
  base = await seedBaseline(c, srv.data);
  c.close();
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  // Let the server notice the closed sockets before the next test counts slots.
  await sleep(200);
  await expectHealthy(() => tcpConn(srv.port), srv.data);
  expectIntact(srv.data, base.state);
  expectConfined(srv.data);
});

afterAll(async () => {
  await srv?.dispose();
});

/** Writes `bytes` one at a time every `everyMs` until done or closed; resolves with bytes written. */
async function trickle(
  s: Socket & { closedAt?: number },
  bytes: Uint8Array,
  everyMs: number,
  deadlineMs: number,
) {
  const t0 = Date.now();
  let i = 0;
  while (i < bytes.length && s.closedAt === undefined && Date.now() - t0 < deadlineMs) {
    s.write(bytes.subarray(i, i + 1));
    i++;
    await sleep(everyMs);
  }
  return i;
}

describe('slow and idle peers (idle timeout 2 s)', () => {
  it('a connection that never sends anything is closed', async () => {
    const s = await raw();
    await until(() => s.closedAt !== undefined, 'the server to close the idle connection', 10_000);
  });

  it('a header never finished (10 of 23 bytes, then silence) is closed', async () => {
    const s = await raw();
    const frame = encodeRequest({ code: RequestCode.Register, clientId: new Uint8Array(16), name: 'half' });
    s.write(frame.subarray(0, 10));
    await until(() => s.closedAt !== undefined, 'the server to close the connection', 10_000);
  });

  it('a request trickled one byte every 500 ms (never silent for the timeout) is closed long before it completes', async () => {
    const s = await raw();
    const frame = encodeRequest({
      code: RequestCode.Register,
      clientId: new Uint8Array(16),
      name: 'trickle',
    });
    const written = await trickle(s, frame, 500, 20_000);
    expect(s.closedAt, 'closed by the server').toBeDefined();
    expect(written).toBeLessThan(frame.length);
  });
});

describe('floods (cap of 12 connections)', () => {
  it('300 connections at once while a client is mid-upload: over the cap refused with 1607, the upload completes intact', async () => {
    const c = await tcpConn(srv.port);
    const me = await register(c, randomName('steady'));
    const data = randomBytes(12 * MiB);
    const uploading = upload(c, me, 'steady.bin', data, 64 * KiB);
    await sleep(50);
    const flood = await Promise.allSettled(Array.from({ length: 300 }, () => raw()));
    const opened = flood.flatMap((f) => (f.status === 'fulfilled' ? [f.value] : []));
    // A refused connection reads one 1607 (version 3, code 0x0647 little-endian), then the close.
    await until(
      () => opened.every((s) => s.closedAt !== undefined),
      'every flood connection to close',
      20_000,
    );
    const refusals = opened.filter((s) => Buffer.concat(s.received).toString('hex') === '03470600000000');
    // All but a few (slots freed by the test's own earlier connections) are refused at once,
    // and every flood connection is gone within the idle timeout.
    expect(refusals.length).toBeGreaterThan(300 - CAP - 2);
    expect(await uploading).toMatchObject({ code: ResponseCode.FileReceived, cksum: cksum(data) });
    c.close();
  });

  it('every slot taken by idle peers: a newcomer is refused, then served once the idle timeout frees the slots', async () => {
    const idle = await Promise.all(Array.from({ length: CAP }, () => raw()));
    await sleep(100);
    const newcomer = await tcpConn(srv.port);
    expect((await newcomer.next())?.code).toBe(ResponseCode.ServerError);
    await until(() => idle.every((s) => s.closedAt !== undefined), 'the idle peers to be closed', 10_000);
    const later = await tcpConn(srv.port);
    await register(later, randomName('later'));
    later.close();
  });
});

describe('slow 1028 content', () => {
  it('a packet whose content trickles one byte every 500 ms is timed out, and its temp file removed', async () => {
    // Content slices are no progress of the request: otherwise 2 bytes/s would hold a slot
    // (and a temp file) forever, and 64 such peers would fill the default connection cap.
    const conn = await tcpConn(srv.port);
    const me = await register(conn, randomName('slowloris'));
    const prefix = encodeSendFilePrefix(
      {
        clientId: me.clientId,
        contentSize: 64 * KiB,
        origSize: 64 * KiB - 1,
        packetNumber: 1,
        totalPackets: 1,
        fileName: 'slow.bin',
      },
      64 * KiB,
    );
    await conn.sendFrame(prefix);
    const content = randomBytes(64 * KiB);
    const t0 = Date.now();
    let i = 0;
    while (!conn.raw.closed && Date.now() - t0 < 15_000) {
      await conn.sendFrame(content.subarray(i, i + 1));
      i++;
      await sleep(500);
    }
    expect(conn.raw.closed, `closed by the server within 15 s (sent ${i} content bytes)`).toBe(true);
    await until(() => readdirSync(join(srv.data, 'tmp')).length === 0, 'the temp file to go', 5_000);
  });
});
