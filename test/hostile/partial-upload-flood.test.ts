/**
 * Kept partial uploads must be bounded per client. Quotas count a kept upload's durable
 * bytes, and an upload dropped before its first durable point keeps none, so a client could
 * start upload after upload (new IDs, any declared size), drop each connection, and leave a
 * state file (written with fsync, plus a folder sync) and a data file behind every time:
 * inodes and fsyncs without end, every one read again at the next start (the index rebuild)
 * and by every sweep, for the 24 h TTL. Here one client does that over many connections;
 * with `--max-partial-uploads` the server keeps that many and refuses the rest with Error 6
 * (not fatal), a resume of a kept one still works, and another client is unaffected.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { V4Source } from '../../lib/client/v4-session';
import { V4ErrorCode } from '../../lib/protocol/v4/constants';
import { PARTIAL_FOLDER } from '../../server/v4/partial-uploads';
import { cpuSeconds, MiB, type ServerProcess, startServerProcess } from '../support/hostile';
import { connectV4, newIdentity, refusedCode } from '../support/v4-client';

const CAP = 8;
const STARTS = 200;

/** A declared file never read: each upload is dropped once the server accepted it. */
const never: V4Source = {
  name: 'never.bin',
  size: 64 * MiB,
  openAt: () => {
    throw new Error('not read');
  },
};

const drop = new Error('dropped after UploadReady');

let srv: ServerProcess;

beforeAll(async () => {
  // Reconnects and handshakes are rate-limited per source (30 and 120 a minute): the attack
  // here is what each connection let in leaves behind, so those limits are raised.
  srv = await startServerProcess([
    ...['--reconnect-per-minute', '100000', '--handshakes-per-minute', '100000'],
    ...['--max-partial-uploads', String(CAP)],
  ]);
});

afterAll(async () => {
  await srv?.dispose();
});

const stateFiles = () => readdirSync(join(srv.data, PARTIAL_FOLDER)).filter((n) => n.endsWith('.json'));

it(`${STARTS} uploads started and dropped by one client leave at most --max-partial-uploads (${CAP}) kept`, async () => {
  const me = await newIdentity();
  const codes = new Map<string, number>();
  const kept: Uint8Array[] = [];
  const before = cpuSeconds(srv.pid);
  const t0 = performance.now();
  for (let i = 0; i < STARTS; i++) {
    const s = await connectV4(srv.port, me);
    const uploadId = new Uint8Array(randomBytes(16));
    const tried = s.upload(never, {
      uploadId,
      fileKey: new Uint8Array(randomBytes(32)),
      onStarted: () => {
        kept.push(uploadId);
        throw drop;
      },
    });
    const code = await refusedCode(tried);
    const key = code === undefined ? 'kept' : String(code);
    codes.set(key, (codes.get(key) ?? 0) + 1);
    await s.close().catch(() => {});
  }
  const ms = performance.now() - t0;
  const spent = cpuSeconds(srv.pid) - before;
  // The last Bye's detach may still be running: give it a moment.
  await new Promise((r) => setTimeout(r, 200));
  const files = stateFiles().length;
  console.log(
    `${STARTS} dropped starts by one client: ${files} kept state files, answers ${JSON.stringify(Object.fromEntries(codes))}, ` +
      `server CPU ${spent.toFixed(2)} s, ${Math.round(ms)} ms`,
  );
  expect(files).toBe(CAP);
  expect(codes.get('kept')).toBe(CAP);
  expect(codes.get(String(V4ErrorCode.OverQuota))).toBe(STARTS - CAP);

  // The refusal is not fatal, and the client's own way out works: abort one kept upload,
  // and a new one is accepted on the same connection.
  const s = await connectV4(srv.port, me);
  const again = () =>
    s.upload(never, {
      uploadId: new Uint8Array(randomBytes(16)),
      fileKey: new Uint8Array(randomBytes(32)),
      onStarted: () => {
        throw drop;
      },
    });
  expect(await refusedCode(again())).toBe(V4ErrorCode.OverQuota);
  await s.abandon(kept[0]!);
  await expect(again()).rejects.toBe(drop);
  await s.close().catch(() => {});

  // Another client is not held back by this one's cap.
  const other = await connectV4(srv.port, await newIdentity());
  await expect(
    other.upload(never, {
      uploadId: new Uint8Array(randomBytes(16)),
      fileKey: new Uint8Array(randomBytes(32)),
      onStarted: () => {
        throw drop;
      },
    }),
  ).rejects.toBe(drop);
  await other.close().catch(() => {});
}, 60_000);
