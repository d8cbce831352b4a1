/**
 * A server.lock that is not a lock database (garbage, a foreign file, a torn one): it kept
 * every server off the folder for good ("could not lock ...: file is not a database").
 * Now it is emptied in place and taken, said at start, and the lock still excludes: a
 * second server beside is refused as before. The server's own start says so in a sentence.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnServer, tempDir } from '../test/support/server-helpers';
import { LOCK_FILE, lockDataFolder } from './data-lock';

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});
function folder(): string {
  const d = tempDir('sft-lock-damaged-');
  dirs.push(d);
  return d.path;
}

describe('a damaged server.lock', () => {
  for (const [what, bytes] of [
    ['random bytes', () => randomBytes(5000)],
    [
      'an SQLite header over garbage',
      () => Buffer.concat([Buffer.from('SQLite format 3\0'), randomBytes(200)]),
    ],
  ] as const) {
    it(`(${what}) is emptied and taken; a second holder is still refused`, async () => {
      const dir = folder();
      writeFileSync(join(dir, LOCK_FILE), bytes());
      const lock = await lockDataFolder(dir);
      try {
        expect(lock.repaired).toBe(true);
        await expect(lockDataFolder(dir)).rejects.toMatchObject({ code: 'SERVER_ERR_DATA_IN_USE' });
      } finally {
        await lock.release();
      }
      const again = await lockDataFolder(dir);
      expect(again.repaired).toBe(false);
      await again.release();
    });
  }

  it('the server starts on it and says so', async () => {
    const dir = folder();
    const data = join(dir, 'data');
    mkdirSync(data);
    writeFileSync(join(data, LOCK_FILE), randomBytes(5000));
    const srv = await spawnServer(['--port', '0', '--data', data], dir);
    try {
      expect(srv.output()).toMatch(
        /"event":"data-lock-repaired".*server\.lock in the data folder was damaged/,
      );
    } finally {
      await srv.stop('SIGKILL');
    }
  }, 30_000);
});
