/**
 * The free-disk reserve (issue 15) on a 64 MiB tmpfs: the default (the larger of 2 GiB and 5%)
 * refuses every upload there; with --disk-reserve 32M, of two 20 MiB uploads started together
 * only one fits (the first one's bytes are reserved before either is written), and a refusal
 * leaves nothing on the disk. Without permission to mount, the same runs on the real file
 * system with a reserve derived from its free space.
 */

import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResponseCode } from '../../lib/protocol';
import {
  fileFrames,
  MiB,
  randomName,
  register,
  serverLog,
  sleep,
  startServerProcess,
  tcpConn,
  until,
  upload,
} from '../support/hostile';
import { smallDataDisk } from '../support/small-disk';

const { data, mounted, free } = smallDataDisk('sft-reserve-', '64m', 'disk-reserve.test.ts');

describe('--disk-reserve', () => {
  it('the default reserve refuses an upload on a small file system', async () => {
    if (!mounted) return; // the default is about the file system's size: only a small one shows it
    const srv = await startServerProcess([], data);
    try {
      const c = await tcpConn(srv.port);
      const me = await register(c, randomName('small'));
      expect((await upload(c, me, 'tiny', randomBytes(1024)))?.code).toBe(ResponseCode.ServerError);
      await until(() => serverLog(srv).some((l) => l.reason === 'disk-reserve'), 'a disk-reserve line');
      c.close();
    } finally {
      await srv.stop('SIGKILL');
    }
  }, 30_000);

  it('two uploads racing for the space above the reserve: one stored, one refused before a byte is written', async () => {
    const size = 20 * MiB;
    // On the tmpfs: 64 MiB, a 32 MiB reserve leaves room for one 20 MiB file, not two.
    const reserve = mounted ? 32 * MiB : free() - size - size / 2;
    const srv = await startServerProcess(['--disk-reserve', String(reserve)], data);
    try {
      const conns = await Promise.all([0, 1].map(() => tcpConn(srv.port)));
      const clients = await Promise.all(conns.map((c) => register(c, randomName('racer'))));
      const frames = clients.map((me) => fileFrames(me, 'big.bin', randomBytes(size), 1 * MiB));
      await Promise.all(conns.map((c, i) => c.sendFrame(frames[i]![0]!)));
      await sleep(300);
      await Promise.all(
        conns.map(async (c, i) => {
          for (const f of frames[i]!.slice(1)) await c.sendFrame(f);
        }),
      );
      const codes = (await Promise.all(conns.map((c) => c.next(60_000)))).map((r) => r?.code).sort();
      expect(codes).toEqual([ResponseCode.FileReceived, ResponseCode.ServerError]);
      const line = serverLog(srv).find((l) => l.reason === 'disk-reserve');
      expect(line).toMatchObject({ error: 'SERVER_ERR_REFUSED' });
      await until(() => readdirSync(join(data, 'tmp')).length === 0, 'no temp file');
      console.log(
        `reserve ${reserve} bytes: one 20 MiB file stored, one refused; ${free()} bytes free after`,
      );
      for (const c of conns) c.close();
    } finally {
      await srv.stop('SIGKILL');
    }
  }, 60_000);
});
