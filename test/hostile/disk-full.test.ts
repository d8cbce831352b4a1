/**
 * The data folder completely full (issue 7; test/server/faults.test.ts covers a file that
 * outgrows the free space). Here a ballast file takes every free byte of an 8 MiB tmpfs, so
 * even the database cannot grow: registering, key exchange, uploads and confirmations fail
 * with an answer (no crash, no hang), nothing partial is left, the database stays sound and
 * the baseline intact; once the ballast is removed the server serves normally again without
 * a restart. Needs root and permission to mount tmpfs; skipped with a message otherwise.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  alive,
  type Baseline,
  expectConfined,
  expectHealthy,
  expectIntact,
  KiB,
  openDb,
  randomName,
  reconnect,
  type ServerProcess,
  seedBaseline,
  startServerProcess,
  tcpConn,
  tempDir,
  upload,
} from '../support/hostile';
import { tryMountTmpfs } from '../support/server-helpers';

const work = tempDir('sft-diskfull-');
const data = join(work.path, 'data');
mkdirSync(data);
const mounted = tryMountTmpfs(data, '8m');
if (!mounted)
  console.warn('disk-full.test.ts skipped: cannot mount a tmpfs here (needs root and mount permission).');

let srv: ServerProcess;
let base: Baseline;
const ballast = join(data, 'ballast');

beforeAll(async () => {
  if (!mounted) return;
  // No free-space reserve (issue 15): this test fills the disk itself.
  srv = await startServerProcess(['--disk-reserve', '0'], data);
  const c = await tcpConn(srv.port);
  base = await seedBaseline(c, data);
  c.close();
});

afterAll(async () => {
  await srv?.dispose();
  if (mounted) execFileSync('umount', ['-l', data]);
  work.remove();
});

/** Writes zeros until the file system refuses (ENOSPC). */
function fillDisk(): void {
  const fd = openSync(ballast, 'w');
  const chunk = Buffer.alloc(64 * KiB);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  // The last partial block too.
  try {
    for (;;) writeSync(fd, chunk, 0, 512);
  } catch {
    // full
  }
  closeSync(fd);
}

describe.runIf(mounted)('the data folder completely full', () => {
  it('every request is answered, nothing partial is left, the database stays sound; freeing space restores service without a restart', async () => {
    fillDisk();
    const c = await tcpConn(srv.port);
    // Whatever the database can still do in its existing pages: each request gets an answer.
    await c.sendFrame(
      encodeRequest({ code: RequestCode.Register, clientId: new Uint8Array(16), name: randomName('late') }),
    );
    expect([ResponseCode.Registered, ResponseCode.RegisterFailed]).toContain((await c.next())?.code);
    await c.sendFrame(
      encodeRequest({ code: RequestCode.Reconnect, clientId: base.alice.clientId, name: base.alice.name }),
    );
    const r = await c.next();
    expect([ResponseCode.Reconnected, ResponseCode.ServerError]).toContain(r?.code);
    if (r?.code === ResponseCode.Reconnected) {
      const alice = await reconnect(c, base.alice);
      const answer = await upload(c, alice, 'big-when-full.bin', randomBytes(512 * KiB), 64 * KiB);
      expect(answer?.code).toBe(ResponseCode.ServerError);
    }
    expect(alive(srv.pid)).toBe(true);
    expect(readdirSync(join(data, 'tmp'))).toEqual([]);
    const db = openDb(data);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    expectIntact(data, base.state);
    c.close();

    rmSync(ballast);
    expectConfined(data);
    await expectHealthy(() => tcpConn(srv.port), data);
    // A full disk is a storage condition, not a bug of ours.
    expect(srv.output()).not.toMatch(/"event":"internal-error"|"error":"SERVER_ERR_INTERNAL"/);
    expect(srv.output()).toMatch(/"error":"SERVER_ERR_STORAGE"|"error":"SERVER_ERR_UPLOAD_WRITE"/);
  });
});
