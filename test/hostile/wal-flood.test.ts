/**
 * Issue 14, item 2: the disk filled through SQLite's WAL. 200,000 pipelined 1025s grew
 * defensive.db-wal to 3.4 GB, and LastSeen-only writes grew it 227 MB a minute: the checkpoint
 * thread's PASSIVE checkpoints never caught up with the main connection's commits, so the WAL
 * never restarted. Now past --wal-limit the checkpoint thread stops copying and the main
 * connection runs a TRUNCATE checkpoint before its next write (writers wait). Both floods at once, for a
 * bounded time, with the WAL's size sampled every 10 ms.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_CLIENT_ID, encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  MiB,
  NO_PEER_LIMITS,
  randomName,
  register,
  type ServerProcess,
  startServerProcess,
  tcpConn,
  upload,
} from '../support/hostile';

const WAL_LIMIT = 8 * MiB;
const FLOOD_MS = 6000;
const REGISTER_CONNECTIONS = 6;
/** Requests written at once on each connection before reading their answers. */
const PIPELINE = 200;

let srv: ServerProcess;

describe('WAL under continuous writes', () => {
  beforeAll(async () => {
    srv = await startServerProcess(['--wal-limit', String(WAL_LIMIT), ...NO_PEER_LIMITS]);
  });
  afterAll(async () => {
    await srv?.dispose();
  });

  it(`1025s on ${REGISTER_CONNECTIONS} connections and LastSeen-only 1029s for ${FLOOD_MS / 1000} s: the WAL stays under twice --wal-limit`, async () => {
    const wal = join(srv.data, 'defensive.db-wal');
    let peak = 0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, statSync(wal).size);
      } catch {
        // Not there between a truncation and the next commit.
      }
    }, 10);
    // The toucher is set up before the floods start: in CI its registration and upload once
    // waited out the whole flood behind 1,200 pipelined 1025s, and it then sent no 1029 at all.
    const toucher = await tcpConn(srv.port);
    const me = await register(toucher, randomName('toucher'));
    expect((await upload(toucher, me, 'x.bin', Buffer.from('x')))?.code).toBe(ResponseCode.FileReceived);
    const end = Date.now() + FLOOD_MS;
    let registered = 0;
    let touched = 0;

    const registerFlood = async (n: number) => {
      const c = await tcpConn(srv.port);
      const prefix = randomName(`flood${n}`);
      let i = 0;
      while (Date.now() < end) {
        const frames = [];
        for (let k = 0; k < PIPELINE; k++) {
          frames.push(
            encodeRequest({
              code: RequestCode.Register,
              clientId: EMPTY_CLIENT_ID,
              name: `${prefix}-${i++}`,
            }),
          );
        }
        await c.raw.send(Buffer.concat(frames));
        for (let k = 0; k < PIPELINE; k++)
          if ((await c.next())?.code === ResponseCode.Registered) registered++;
      }
      c.close();
    };

    // 1029 on the connection's own upload passes its checks, so each one writes LastSeen.
    // At least one batch is sent even if the floods held the toucher past the end.
    const touchFlood = async () => {
      const frame = encodeRequest({ code: RequestCode.CrcOk, clientId: me.clientId, fileName: 'x.bin' });
      const batch = Buffer.concat(Array.from({ length: PIPELINE }, () => frame));
      do {
        await toucher.raw.send(batch);
        for (let k = 0; k < PIPELINE; k++)
          if ((await toucher.next())?.code === ResponseCode.Thanks) touched++;
      } while (Date.now() < end);
      toucher.close();
    };

    await Promise.all([
      ...Array.from({ length: REGISTER_CONNECTIONS }, (_, n) => registerFlood(n)),
      touchFlood(),
    ]);
    clearInterval(sampler);
    console.log(
      `WAL peak ${(peak / MiB).toFixed(1)} MiB (limit ${WAL_LIMIT / MiB} MiB) after ${registered} registrations and ${touched} LastSeen writes in ${FLOOD_MS / 1000} s`,
    );
    expect(registered).toBeGreaterThan(1000);
    // The 1029s share the server with 8 register floods: on a loaded machine they get few turns.
    expect(touched).toBeGreaterThan(100);
    expect(peak).toBeLessThan(2 * WAL_LIMIT);
  });
});
