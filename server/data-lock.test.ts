/**
 * One serving process per data folder (data-lock.ts): a second server on a folder in use is
 * refused before it clears anything, servers starting at once get it exactly once, a holder
 * that ends however it ends (kill -9 too) leaves nothing that keeps the next one out, and a
 * clean stop removes server.pid. The process test is the reported case: a second server on
 * the same folder used to delete the first one's temp file mid-upload.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startPart, TSX_LOADER } from '../test/support/processes';
import { spawnServer, tempDir } from '../test/support/server-helpers';
import { LOCK_FILE, lockDataFolder, PID_FILE } from './data-lock';

const dirs: { remove(): void }[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
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

const LOCKER = new URL('./data-lock.ts', import.meta.url).href;

/**
 * Another process that tries to take `dir`: its first line is `held` or the refusal's code;
 * a holder keeps the folder until it is killed (or, with `releaseOnInput`, released on stdin).
 */
function locker(dir: string): { child: ChildProcess; answer: Promise<string> } {
  const script = `import { lockDataFolder } from ${JSON.stringify(LOCKER)};
try {
  const lock = await lockDataFolder(${JSON.stringify(dir)});
  console.log('held');
  process.stdin.on('data', () => lock.release().then(() => console.log('released')));
} catch (e) { console.log(e.code); process.exit(0); }`;
  const child = spawn(process.execPath, ['--import', TSX_LOADER, '--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  const answer = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`locker exited (${code}) before answering: ${out}`)));
  });
  return { child, answer };
}

const exited = (c: ChildProcess) =>
  new Promise((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', r)));

describe('data folder lock', () => {
  it('holds the folder with its PID, refuses a second holder in the process, and goes on release', async () => {
    const dir = folder();
    const lock = await lockDataFolder(dir);
    expect(readFileSync(join(dir, PID_FILE), 'utf8')).toBe(`${process.pid}\n`);
    expect(lock.tookOverFrom).toBeNull();
    await expect(lockDataFolder(dir)).rejects.toMatchObject({ code: 'SERVER_ERR_DATA_IN_USE' });
    await lock.release();
    expect(existsSync(join(dir, PID_FILE))).toBe(false);
    // The lock file stays (removing it could let two holders in); it keeps nobody out.
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    const again = await lockDataFolder(dir);
    await again.release();
  });

  it('a server.pid left behind keeps nobody out: a gone PID, one reused by a live program, or none', async () => {
    const dir = folder();
    const pid = goneProcessPid();
    writeFileSync(join(dir, PID_FILE), `${pid}\n`);
    const lock = await lockDataFolder(dir);
    expect(lock.tookOverFrom).toBe(pid);
    expect(readFileSync(join(dir, PID_FILE), 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
    // After a restart the old PID may belong to another program: the file is only information.
    const unrelated = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    children.push(unrelated);
    writeFileSync(join(dir, PID_FILE), `${unrelated.pid}\n`);
    const reused = await lockDataFolder(dir);
    expect(reused.tookOverFrom).toBe(unrelated.pid);
    await reused.release();
    writeFileSync(join(dir, PID_FILE), 'not a pid');
    const other = await lockDataFolder(dir);
    expect(other.tookOverFrom).toBeNull();
    await other.release();
  });

  it('refuses while another process holds it, naming its PID, and is free the moment that one is killed', async () => {
    const dir = folder();
    const holder = locker(dir);
    expect(await holder.answer).toBe('held');
    await expect(lockDataFolder(dir)).rejects.toThrow(
      new RegExp(`another server \\(PID ${holder.child.pid}\\) is using the data folder`),
    );
    // Refused: the holder's file is left as it was.
    expect(readFileSync(join(dir, PID_FILE), 'utf8')).toBe(`${holder.child.pid}\n`);
    holder.child.kill('SIGKILL');
    await exited(holder.child);
    const next = await lockDataFolder(dir);
    expect(next.tookOverFrom).toBe(holder.child.pid);
    await next.release();
  }, 30_000);

  it('of servers starting at once on a folder with a stale server.pid, exactly one holds it', async () => {
    const dir = folder();
    writeFileSync(join(dir, PID_FILE), `${goneProcessPid()}\n`);
    const racers = Array.from({ length: 4 }, () => locker(dir));
    const answers = await Promise.all(racers.map((r) => r.answer));
    expect(answers.filter((a) => a === 'held')).toHaveLength(1);
    expect(answers.filter((a) => a === 'SERVER_ERR_DATA_IN_USE')).toHaveLength(3);
    const winner = racers[answers.indexOf('held')]!.child;
    expect(readFileSync(join(dir, PID_FILE), 'utf8')).toBe(`${winner.pid}\n`);
    // A clean release, then this process can take it.
    winner.stdin!.write('x');
    await new Promise<void>((r) =>
      winner.stdout!.on('data', (d: Buffer) => d.toString().includes('released') && r()),
    );
    const after = await lockDataFolder(dir);
    expect(after.tookOverFrom).toBeNull();
    await after.release();
  }, 60_000);

  it('a second server on the same folder exits at once and leaves the first and its temp files alone', async () => {
    const dir = folder();
    const data = join(dir, 'data');
    const first = await spawnServer(['--port', '0', '--data', data], dir);
    try {
      expect(readFileSync(join(data, PID_FILE), 'utf8')).toBe(`${first.pid}\n`);
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
    expect(existsSync(join(data, PID_FILE))).toBe(false);
    const killed = await spawnServer(['--port', '0', '--data', data], dir);
    await killed.stop('SIGKILL');
    expect(readFileSync(join(data, PID_FILE), 'utf8')).toBe(`${killed.pid}\n`);
    const next = await spawnServer(['--port', '0', '--data', data], dir);
    try {
      expect(next.lines.some((l) => l.event === 'data-lock-taken-over' && l.pid === killed.pid)).toBe(true);
    } finally {
      await next.stop('SIGTERM');
    }
  }, 60_000);
});
