/**
 * `check`: every stored file read and compared with its row. Each kind of damage is made by
 * hand on files stored through FileStore (a byte flipped, a file cut short, one deleted, one
 * copied in, a change a crash cut) and must be reported, with exit status 1; an intact
 * folder passes with 0. Then the real command line, for the exit status.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cksum } from '../lib/crypto';
import { ROOT, TSX_LOADER } from '../test/support/processes';
import { runAdmin } from './admin-command';
import { checkStoredFiles, PENDING_GRACE_MS } from './check-command';
import { SqliteDatabase } from './db';
import { FileStore } from './file-store';
import { LocalFileStorage } from './local-storage';
import { DATABASE_FILE } from './server';

let dir: string;
let db: SqliteDatabase;
let store: FileStore;
const alice = new Uint8Array(16).fill(3);
const now = '2026-12-04T00:00:00.000Z';

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sft-check-'));
  db = new SqliteDatabase(join(dir, DATABASE_FILE), { checkpointIntervalMs: 0 });
  const storage = new LocalFileStorage(dir);
  await storage.init();
  store = new FileStore(db, storage);
  await db.insertClient(alice, 'alice', now);
});
afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function put(name: string, bytes: Buffer, v4: boolean): Promise<string> {
  const t = store.createTemp();
  t.write(bytes);
  await t.finish();
  const sha256 = v4 ? createHash('sha256').update(bytes).digest('hex') : undefined;
  const s = await store.store(
    alice,
    name,
    { temp: t, size: bytes.length, cksum: cksum(bytes), ...(sha256 ? { sha256 } : {}) },
    now,
  );
  return join(dir, 'files', s.pathName);
}

const check = async (tty = false, ...more: string[]) =>
  runAdmin(['check', '--data', dir, ...(tty ? [] : ['--json']), ...more], { tty });
/** Dates every pending note `ms` earlier, as if it had been left that long ago. */
function ageNotes(ms: number): void {
  const raw = new Database(join(dir, DATABASE_FILE));
  raw.prepare('UPDATE pending_changes SET NotedAt = NotedAt - ?').run(ms);
  raw.close();
}
const lines = (out: string) =>
  out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('check', () => {
  it('an intact folder: every file read, nothing reported, exit status 0', async () => {
    await put('a.bin', Buffer.alloc(300_000, 1), true);
    await put('b.txt', Buffer.from('v3 bytes'), false);
    const r = await check();
    expect(r.exitCode).toBe(0);
    expect(lines(r.output)).toEqual([
      { summary: true, files: 2, bytes: 300_008, quick: false, inProgress: 0, problems: 0 },
    ]);
    expect((await check(true)).output).toMatch(
      /^2 stored files checked \(292.9 KiB read\): every one is there/,
    );
  });

  it('reports a flipped byte (SHA-256, CRC), a cut file, a missing one, an unrecorded one and a pending change', async () => {
    const v4 = await put('v4.bin', Buffer.alloc(100_000, 7), true);
    const v3 = await put('v3.txt', Buffer.from('hello v3'), false);
    const cut = await put('cut.bin', Buffer.alloc(5000, 2), true);
    const gone = await put('gone.bin', Buffer.alloc(10, 2), false);
    const flip = (p: string) => {
      const b = readFileSync(p);
      b[b.length >> 1]! ^= 0x01;
      writeFileSync(p, b);
    };
    flip(v4);
    flip(v3);
    truncateSync(cut, 4000);
    unlinkSync(gone);
    appendFileSync(join(dir, 'files', 'stray.bin'), 'copied in by hand');
    await db.notePending([{ kind: 'remove', pathName: 'x/old.bin' }]);
    ageNotes(2 * PENDING_GRACE_MS);
    const r = await check();
    expect(r.exitCode).toBe(1);
    const found = lines(r.output);
    expect(found.map((f) => [f.problem, f.path, f.fileName ?? null])).toEqual([
      ['sha256', expect.stringMatching(/^files\/.+\/v4\.bin$/), 'v4.bin'],
      ['crc', expect.stringMatching(/^files\/.+\/v3\.txt$/), 'v3.txt'],
      ['size', expect.stringMatching(/cut\.bin$/), 'cut.bin'],
      ['missing', expect.stringMatching(/gone\.bin$/), 'gone.bin'],
      ['unrecorded', 'files/stray.bin', null],
      ['pending', 'files/x/old.bin', null],
      [undefined, undefined, null],
    ]);
    expect(found.at(-1)).toEqual({
      summary: true,
      files: 4,
      bytes: 100_008,
      quick: false,
      inProgress: 0,
      problems: 6,
    });
    expect(found[2]!.detail).toBe('It holds 4000 bytes; its row says 5000.');
    const table = (await check(true)).output;
    expect(table).toMatch(/PROBLEM +PATH/);
    expect(table).toMatch(/4 stored files checked .*; 6 problems above\.\n$/);
  });

  it('--quick: presence and sizes judged, nothing read (a flipped byte passes)', async () => {
    const flipped = await put('flip.bin', Buffer.alloc(4096, 7), true);
    const cut = await put('cut.bin', Buffer.alloc(5000, 2), true);
    const b = readFileSync(flipped);
    b[10]! ^= 0x01;
    writeFileSync(flipped, b);
    truncateSync(cut, 10);
    const r = await check(false, '--quick');
    expect(r.exitCode).toBe(1);
    const found = lines(r.output);
    expect(found.map((f) => f.problem)).toEqual(['size', undefined]);
    expect(found.at(-1)).toMatchObject({ files: 2, bytes: 0, quick: true, problems: 1 });
    truncateSync(cut, 0);
    appendFileSync(cut, Buffer.alloc(5000, 2));
    const ok = await check(true, '--quick');
    expect(ok.exitCode).toBe(0);
    expect(ok.output).toBe(
      '2 stored files checked (sizes only, nothing read): every one is there, of its recorded size.\n',
    );
    // The full check still finds the flipped byte.
    expect((await check()).exitCode).toBe(1);
  });

  it('beside a running server: what changes while it reads is not reported', async () => {
    const a = Buffer.alloc(2000, 1);
    await put('replaced.bin', a, true);
    await put('removed.bin', Buffer.alloc(3000, 2), false);
    const removedToken = db.listFiles().find((f) => f.FileName === 'removed.bin')!.Token!;
    const r = await checkStoredFiles(dir, {
      meanwhile: async () => {
        // After the rows were read: one file replaced (another size), one removed, one
        // stored anew, and a removal noted that the server is about to make.
        await put('replaced.bin', Buffer.alloc(2500, 3), true);
        expect(await store.discard(alice, 'removed.bin', removedToken)).toBe(true);
        await put('new.bin', Buffer.alloc(100, 4), true);
        await db.notePending([{ kind: 'remove', pathName: 'x/in-flight.bin' }]);
      },
    });
    expect(r.findings).toEqual([]);
    expect(r.inProgress).toBe(1);
    // The same changes judged without the second look would have been three findings; and
    // a note past the grace is a crash's.
    const later = await checkStoredFiles(dir, { now: () => Date.now() + 2 * PENDING_GRACE_MS });
    expect(later.findings.map((f) => [f.problem, f.path])).toEqual([['pending', 'files/x/in-flight.bin']]);
    expect((await check(true)).output).toMatch(/1 change under a minute old is taken as in progress\.\n$/);
  });

  it('shows its progress on a terminal, and clears the line before the report', async () => {
    await put('big.bin', Buffer.alloc(3 * 1024 * 1024, 5), true);
    const shown: string[] = [];
    const r = await runAdmin(['check', '--data', dir], { tty: true, progress: (t) => shown.push(t) });
    expect(r.exitCode).toBe(0);
    expect(shown[0]).toMatch(/^\r\x1b\[2Kchecking: file [01] of 1, /);
    expect(shown.at(-1)).toBe('\r\x1b[2K');
  });

  it('the command line exits 1 on a problem, 0 when intact', async () => {
    const p = await put('a.bin', Buffer.alloc(1000, 1), true);
    const run = () =>
      execFileSync(
        process.execPath,
        ['--import', TSX_LOADER, join(ROOT, 'server/main.ts'), 'check', '--data', dir],
        {
          encoding: 'utf8',
          env: { ...process.env, NODE_OPTIONS: '' },
        },
      );
    expect(run()).toMatch(/"problems":0/);
    appendFileSync(p, 'x');
    expect(run).toThrow(
      expect.objectContaining({ status: 1, stdout: expect.stringMatching(/"problem":"size"/) }),
    );
  });
});
