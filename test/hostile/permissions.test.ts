/**
 * Issue 14, item 9: the data folder was 755 and the database (with the last session keys) and
 * the stored files 644 under a usual umask. Now the server creates its folders 0700 and its
 * files 0600 whatever the umask (run here with umask 000), and warns at start when an existing
 * data folder is open to group or others.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ResponseCode } from '../../lib/protocol';
import {
  fileFrames,
  randomName,
  register,
  type ServerProcess,
  startServerProcess,
  tcpConn,
  tempDir,
  until,
  upload,
  walk,
} from '../support/hostile';

const mode = (p: string) => statSync(p).mode & 0o777;
const octal = (m: number) => m.toString(8).padStart(3, '0');

let srv: ServerProcess | undefined;
let dir: ReturnType<typeof tempDir> | undefined;

afterAll(async () => {
  await srv?.dispose();
  dir?.remove();
});

describe('permissions of the data folder', () => {
  it('under umask 000: folders 0700, database, WAL, SHM, stored and temp files 0600', async () => {
    srv = await startServerProcess([], undefined, { umask: '000' });
    const c = await tcpConn(srv.port);
    const me = await register(c, randomName('perm'));
    expect((await upload(c, me, 'secret.txt', Buffer.from('top secret')))?.code).toBe(
      ResponseCode.FileReceived,
    );
    // A temp file in progress: the first packet of a two-packet file.
    const frames = fileFrames(me, 'pending.bin', Buffer.alloc(64 * 1024), 16 * 1024);
    await c.sendFrame(frames[0]!);
    await until(() => walk(join(srv!.data, 'tmp')).length > 0, 'a temp file');
    const modes: Record<string, string> = {};
    modes['.'] = octal(mode(srv.data));
    for (const sub of ['files', 'tmp']) modes[sub] = octal(mode(join(srv.data, sub)));
    for (const p of walk(srv.data)) modes[relative(srv.data, p)] = octal(mode(p));
    for (const p of walk(join(srv.data, 'files')))
      modes[relative(srv.data, join(p, '..'))] = octal(mode(join(p, '..')));
    console.log(`modes under umask 000: ${JSON.stringify(modes)}`);
    for (const [p, m] of Object.entries(modes)) {
      const isDir = statSync(join(srv.data, p)).isDirectory();
      // The invite public key is public (the bridge reads it); its private half is 0600.
      expect(m, p).toBe(isDir ? '700' : p === 'invite.pub' ? '644' : '600');
    }
    // Closed only now: the server removes the temp file when the connection ends.
    c.close();
    expect(Object.keys(modes)).toEqual(
      expect.arrayContaining([
        'defensive.db',
        'defensive.db-wal',
        'defensive.db-shm',
        'invite.key',
        'invite.pub',
        'server.key',
      ]),
    );
    expect(srv.output()).not.toContain('data-folder-permissions');
  });

  it('an existing data folder open to others: a data-folder-permissions warning at start', async () => {
    dir = tempDir('sft-perm-');
    const data = join(dir.path, 'data');
    mkdirSync(data, { mode: 0o755 });
    const s = await startServerProcess([], data, { umask: '022' });
    try {
      await until(() => s.output().includes('data-folder-permissions'), 'the warning');
      const line = s
        .output()
        .split('\n')
        .find((l) => l.includes('data-folder-permissions'))!;
      console.log(line);
      expect(JSON.parse(line)).toMatchObject({
        level: 'warn',
        event: 'data-folder-permissions',
        mode: '0755',
      });
    } finally {
      await s.dispose();
    }
  });
});
