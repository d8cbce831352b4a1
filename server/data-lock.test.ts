/**
 * One serving process per data folder (data-lock.ts): a second server on a folder in use is
 * refused before it clears anything, a file left by a process that is gone is taken over,
 * and the lock goes with a clean stop. The process test is the reported case: a second
 * server on the same folder used to delete the first one's temp file mid-upload.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startPart } from '../test/support/processes';
import { spawnServer, tempDir } from '../test/support/server-helpers';
import { LOCK_FILE, lockDataFolder } from './data-lock';

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function folder(): string {
  const d = tempDir('sft-lock-');
  dirs.push(d);
  return d.path;
}

/** The PID of a process that has exited and been reaped. */
function goneProcessPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

describe('data folder lock', () => {
  it('holds the folder with its PID, refuses a second holder in the process, and goes on release', async () => {
    const dir = folder();
    const lock = await lockDataFolder(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    expect(lock.tookOverFrom).toBeNull();
    await expect(lockDataFolder(dir)).rejects.toMatchObject({ code: 'SERVER_ERR_DATA_IN_USE' });
    await lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const again = await lockDataFolder(dir);
    await again.release();
  });

  it('takes over a file left by a process that is gone, or one that holds no PID', async () => {
    const dir = folder();
    const pid = goneProcessPid();
    writeFileSync(join(dir, LOCK_FILE), `${pid}\n`);
    const lock = await lockDataFolder(dir);
    expect(lock.tookOverFrom).toBe(pid);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
    writeFileSync(join(dir, LOCK_FILE), 'not a pid');
    const other = await lockDataFolder(dir);
    expect(other.tookOverFrom).toBeNull();
    await other.release();
  });

  it('refuses while another live process holds it, naming its PID', async () => {
    const dir = folder();
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      writeFileSync(join(dir, LOCK_FILE), `${holder.pid}\n`);
      await expect(lockDataFolder(dir)).rejects.toThrow(
        new RegExp(`another server \\(PID ${holder.pid}\\) is using the data folder`),
      );
      // Refused: the holder's file is left as it was.
      expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${holder.pid}\n`);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('a second server on the same folder exits at once and leaves the first and its temp files alone', async () => {
    const dir = folder();
    const data = join(dir, 'data');
    const first = await spawnServer(['--port', '0', '--data', data], dir);
    try {
      expect(readFileSync(join(data, LOCK_FILE), 'utf8')).toBe(`${first.pid}\n`);
      // What a v3 upload in progress keeps in tmp/ (a starting server clears the folder).
      mkdirSync(join(data, 'tmp'), { recursive: true });
      writeFileSync(join(data, 'tmp', 'upload-in-progress'), 'x');
      const second = startPart('server', ['--port', '0', '--data', data], { cwd: dir });
      expect(await second.exited).toBe(1);
      expect(second.output()).toContain(`another server (PID ${first.pid}) is using the data folder ${data}`);
      expect(existsSync(join(data, 'tmp', 'upload-in-progress'))).toBe(true);
      // The first still serves.
      await new Promise<void>((resolve, reject) => {
        const s = connect(first.port, '127.0.0.1', () => {
          s.destroy();
          resolve();
        });
        s.on('error', reject);
      });
    } finally {
      await first.stop('SIGTERM');
    }
    // A clean stop takes the lock away; after a kill -9 the next server takes it over.
    expect(existsSync(join(data, LOCK_FILE))).toBe(false);
    const killed = await spawnServer(['--port', '0', '--data', data], dir);
    await killed.stop('SIGKILL');
    expect(readFileSync(join(data, LOCK_FILE), 'utf8')).toBe(`${killed.pid}\n`);
    const next = await spawnServer(['--port', '0', '--data', data], dir);
    try {
      expect(next.lines.some((l) => l.event === 'data-lock-taken-over' && l.pid === killed.pid)).toBe(true);
    } finally {
      await next.stop('SIGTERM');
    }
  }, 60_000);
});
