/**
 * A replacement counts its growth over the stored file (upload-quota.ts). The credit was the
 * stored file's size when the replacement started: a second connection storing a 1-byte file
 * of the name meanwhile freed that room for a new name, and the credited replacement still
 * landed in full. With --client-max-bytes 64K a sender stored 128 KiB - 1, and could go on round
 * after round. Now the credit is the stored file as it is at each later check.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ResponseCode } from '../../lib/protocol';
import {
  fileFrames,
  fileRows,
  hex,
  KiB,
  NO_PEER_LIMITS,
  randomName,
  reconnect,
  register,
  type ServerProcess,
  sleep,
  startServerProcess,
  tcpConn,
  upload,
} from '../support/hostile';

const QUOTA = 64 * KiB;
let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess([...NO_PEER_LIMITS, '--client-max-bytes', String(QUOTA)]);
});
afterAll(async () => {
  await srv?.dispose();
});

it('an empty-ish replacement stored beside a credited one frees no room for a new name: the sender stays within --client-max-bytes', async () => {
  const a = await tcpConn(srv.port);
  const me = await register(a, randomName('credit'));
  // One byte short of the quota: room for the 1-byte upload below, which counts whole.
  expect((await upload(a, me, 'x.bin', randomBytes(QUOTA - 1)))?.code).toBe(ResponseCode.FileReceived);
  // A full-size replacement of x.bin, its last packet held back: it counts nothing (credit).
  const held = fileFrames(me, 'x.bin', randomBytes(QUOTA - 1));
  for (const f of held.slice(0, -1)) await a.sendFrame(f);
  await sleep(300); // its first packet reserved (no answer comes before the last)
  // Another connection of the sender stores a 1-byte x.bin: the row now holds 1 byte.
  const b = await tcpConn(srv.port);
  const meB = await reconnect(b, me);
  expect((await upload(b, meB, 'x.bin', randomBytes(1)))?.code).toBe(ResponseCode.FileReceived);
  // A new name of the rest of the quota. Was: 1603 (1 byte used, nothing held), and the sender
  // stored 2 x 64 KiB - 1 once the held replacement landed.
  const c = await tcpConn(srv.port);
  const meC = await reconnect(c, me);
  expect((await upload(c, meC, 'y.bin', randomBytes(QUOTA - 1)))?.code).toBe(ResponseCode.ServerError);
  await a.sendFrame(held.at(-1)!);
  expect((await a.next())?.code).toBe(ResponseCode.FileReceived);
  const mine = fileRows(srv.data).filter((r) => hex(r.ID) === hex(me.clientId));
  expect(mine.reduce((n, r) => n + (r.Size ?? 0), 0)).toBeLessThanOrEqual(QUOTA);
  // Nothing stays held: a replacement within the quota is stored.
  expect((await upload(c, meC, 'x.bin', randomBytes(QUOTA - 1)))?.code).toBe(ResponseCode.FileReceived);
  for (const conn of [a, b, c]) conn.close();
});
