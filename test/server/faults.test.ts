/**
 * Faults (issue 7): the disk filling up while a file is received. The server runs as its
 * own process with a data folder on a 6 MiB tmpfs (when this machine lets us mount one)
 * or under a 4 MiB file size limit (ulimit -f): either way a write fails mid-file.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  RawClient,
  registerAndExchange,
  sendFile,
  spawnServer,
  tempDir,
  tryMountTmpfs,
  waitFor,
} from '../support/server-helpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function snapshot(data: string) {
  const db = new Database(join(data, 'defensive.db'), { readonly: true });
  try {
    return {
      integrity: db.pragma('integrity_check', { simple: true }),
      files: db
        .prepare('SELECT FileName, PathName, Verified, Size, Cksum FROM files ORDER BY FileName')
        .all(),
    };
  } finally {
    db.close();
  }
}

describe('disk full while receiving', () => {
  it.each(['tmpfs', 'file size limit'] as const)(
    '%s: 1607, no partial file, database unchanged, the server carries on',
    async (kind) => {
      const work = tempDir('sft-fault-');
      cleanups.push(() => work.remove());
      const data = join(work.path, 'data');
      mkdirSync(data);
      const mounted = kind === 'tmpfs' && tryMountTmpfs(data, '6m');
      if (mounted) cleanups.push(() => execFileSync('umount', ['-l', data]));
      // Without permission to mount, the tmpfs case falls back to the file size limit.
      // No free-space reserve: the point is a disk that fills up while a file is written.
      const srv = await spawnServer(
        ['--port', '0', '--data', data, '--disk-reserve', '0'],
        work.path,
        mounted ? {} : { fileSizeLimitKiB: 4096 },
      );
      cleanups.push(() => srv.stop('SIGKILL'));

      const c = await RawClient.connect(srv.port);
      cleanups.push(() => c.close());
      const id = await registerAndExchange(c, 'filler');
      const small = randomBytes(2000);
      await sendFile(c, id, { fileName: 'small.bin', data: small });
      expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
      expect(
        (
          await c.request(
            encodeRequest({ code: RequestCode.CrcOk, clientId: id.clientId, fileName: 'small.bin' }),
          )
        )?.code,
      ).toBe(ResponseCode.Thanks);
      const before = snapshot(data);

      await sendFile(c, id, { fileName: 'huge.bin', data: randomBytes(12 * 1024 * 1024) });
      expect((await c.next(60_000))?.code).toBe(ResponseCode.ServerError);
      await waitFor(() => readdirSync(join(data, 'tmp')).length === 0, 'the temp file to be removed');
      expect(snapshot(data)).toEqual(before);
      expect(before.integrity).toBe('ok');

      // Same connection, after the failure: a small file still goes through.
      const again = randomBytes(3000);
      await sendFile(c, id, { fileName: 'after.bin', data: again });
      expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
      // The client's opaque folder (not its ID): where its files are stored.
      const hex = (
        new Database(join(data, 'defensive.db'), { readonly: true })
          .prepare('SELECT Folder FROM clients WHERE ID = ?')
          .get(Buffer.from(id.clientId)) as { Folder: string }
      ).Folder;
      expect(readFileSync(join(data, 'files', hex, 'small.bin')).equals(small)).toBe(true);
      expect(readFileSync(join(data, 'files', hex, 'after.bin')).equals(again)).toBe(true);
      expect(readdirSync(join(data, 'files', hex)).sort()).toEqual(['after.bin', 'small.bin']);
    },
  );
});
