/**
 * kill -9 of the server process at a random moment of a busy client's work (uploads,
 * confirmations, retries, aborts, replacements of a name), then a restart on the same data
 * folder, several rounds (issue 7). After each restart:
 * - `PRAGMA integrity_check` is ok;
 * - temp files are gone, including stale ones planted while the server was down;
 * - every row marked verified holds bytes the client confirmed (1029) for that name, with
 *   the row's size and CRC matching the file: nothing unverified appears verified;
 * - every row names a file that exists, inside its client's folder;
 * - the baseline files of two other clients are byte-identical with unchanged rows;
 * - the client reconnects (1027 -> 1605) and uploads again.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cksum } from '../../lib/crypto';
import { encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  type Baseline,
  type Client,
  expectConfined,
  expectHealthy,
  expectIntact,
  type FrameConn,
  fileRows,
  hex,
  KiB,
  MiB,
  openDb,
  reconnect,
  register,
  type ServerProcess,
  seedBaseline,
  sha256,
  sleep,
  startServerProcess,
  tcpConn,
  upload,
  uploadVerified,
} from '../support/hostile';

const ROUNDS = Number(process.env.HOSTILE_CRASH_ROUNDS ?? 3);
const NAMES = ['a.bin', 'b.bin', 'c.bin'];

let srv: ServerProcess;
let base: Baseline;
let crashy: Client;
/** name -> SHA-256 of every content the client sent 1029 for (recorded before sending). */
const confirmed = new Map<string, Set<string>>();

beforeAll(async () => {
  srv = await startServerProcess();
  const c = await tcpConn(srv.port);
  base = await seedBaseline(c, srv.data);
  crashy = await register(c, 'crashy');
  c.close();
});

afterAll(async () => {
  await srv?.dispose();
});

/** Uploads and answers on `conn` until the connection dies; never throws for a closed connection. */
async function busyClient(conn: FrameConn, me: Client, stop: { now: boolean }): Promise<number> {
  let done = 0;
  try {
    while (!stop.now) {
      const name = NAMES[Math.floor(Math.random() * NAMES.length)]!;
      const data = randomBytes(Math.floor(Math.random() * 3 * MiB) + 1);
      const r = await upload(conn, me, name, data, 64 * KiB);
      if (r?.code !== ResponseCode.FileReceived) return done;
      const roll = Math.random();
      if (roll < 0.6) {
        const set = confirmed.get(name) ?? new Set();
        set.add(sha256(data));
        confirmed.set(name, set);
        await conn.sendFrame(
          encodeRequest({ code: RequestCode.CrcOk, clientId: me.clientId, fileName: name }),
        );
        if ((await conn.next())?.code !== ResponseCode.Thanks) return done;
      } else if (roll < 0.8) {
        await conn.sendFrame(
          encodeRequest({ code: RequestCode.CrcRetry, clientId: me.clientId, fileName: name }),
        );
      } else {
        await conn.sendFrame(
          encodeRequest({ code: RequestCode.CrcAbort, clientId: me.clientId, fileName: name }),
        );
        if ((await conn.next())?.code !== ResponseCode.Thanks) return done;
      }
      done++;
    }
  } catch {
    // the server went away under us
  }
  return done;
}

function expectTruthfulRows(): void {
  const db = openDb(srv.data);
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  db.close();
  for (const r of fileRows(srv.data)) {
    if (hex(r.ID) !== hex(crashy.clientId) || r.Verified !== 1) continue;
    const bytes = readFileSync(join(srv.data, 'files', r.PathName));
    expect(
      confirmed.get(r.FileName)?.has(sha256(bytes)),
      `verified ${r.FileName} holds confirmed bytes`,
    ).toBe(true);
    expect(r.Size).toBe(bytes.length);
    expect(r.Cksum).toBe(cksum(bytes));
  }
}

describe('kill -9 at random moments, then restart', () => {
  it(
    `${ROUNDS} rounds: database intact, temp files cleaned, nothing unverified shown verified, client reconnects and uploads`,
    async () => {
      let ops = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const conns = await Promise.all([tcpConn(srv.port), tcpConn(srv.port)]);
        const keyed = await Promise.all(conns.map((c) => reconnect(c, crashy)));
        const stop = { now: false };
        // Two connections of the same client at once, so replacements race too.
        const work = conns.map((c, i) => busyClient(c, keyed[i]!, stop));
        await sleep(300 + Math.random() * 1500);
        await srv.stop('SIGKILL');
        stop.now = true;
        for (const c of conns) c.close();
        ops += (await Promise.all(work)).reduce((a, b) => a + b, 0);

        // Leftovers of the crash plus planted strays: all gone after the start.
        mkdirSync(join(srv.data, 'tmp', 'stray-dir'), { recursive: true });
        writeFileSync(join(srv.data, 'tmp', 'stray.part'), randomBytes(1000));
        writeFileSync(join(srv.data, 'tmp', 'stray-dir', 'x'), 'x');
        await srv.restart({ samePort: false });
        expect(readdirSync(join(srv.data, 'tmp'))).toEqual([]);

        expectTruthfulRows();
        expectIntact(srv.data, base.state);
        expectConfined(srv.data);

        const c = await tcpConn(srv.port);
        const again = await reconnect(c, crashy);
        const bytes = randomBytes(100 * KiB);
        const name = `after-${round}.bin`;
        confirmed.set(name, new Set([sha256(bytes)]));
        await uploadVerified(c, again, name, bytes);
        c.close();
        await expectHealthy(() => tcpConn(srv.port), srv.data);
      }
      console.log(`crash rounds: ${ROUNDS}, client operations completed before the kills: ${ops}`);
    },
    30_000 + ROUNDS * 20_000,
  );
});
