/**
 * FileStore.recover against changes cut part-way. A step that never returns stands for the
 * process dying there (nothing after it runs: no catch, no finally); a new FileStore on the
 * same database and folder is the next start. Each case would leave a file without its row
 * (or a row without its file) without the notes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkStoredFiles } from './check-command';
import { SqliteDatabase } from './db';
import type { FileStorage } from './file-storage';
import { FileStore } from './file-store';
import { LocalFileStorage } from './local-storage';
import type { UploadResult } from './upload';

let dir: string;
let db: SqliteDatabase;
let storage: LocalFileStorage;
const alice = new Uint8Array(16).fill(7);
const now = '2026-12-04T00:00:00.000Z';

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sft-recover-'));
  db = new SqliteDatabase(join(dir, 'defensive.db'), { checkpointIntervalMs: 0 });
  storage = new LocalFileStorage(dir);
  await storage.init();
  await db.insertClient(alice, 'alice', now);
});
afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const never = () => new Promise<never>(() => {});

/** `storage` whose `method` never returns from its `nth` call on (1-based): the process died there. */
function dyingStorage(method: 'commit' | 'remove', nth = 1): FileStorage {
  let calls = 0;
  return new Proxy(storage, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== method) return typeof v === 'function' ? v.bind(target) : v;
      return (...args: unknown[]) => (++calls >= nth ? never() : v.apply(target, args));
    },
  });
}

/** `db` whose completeStore never returns: the file was moved, its row not written. */
function dyingDatabase(): SqliteDatabase {
  return new Proxy(db, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop === 'completeStore') return never;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

async function temp(store: FileStore, text: string, sha256?: string): Promise<UploadResult> {
  const t = store.createTemp();
  t.write(Buffer.from(text));
  await t.finish();
  return { temp: t, size: text.length, cksum: 42, ...(sha256 ? { sha256 } : {}) };
}

/** Starts `work` and gives it time to reach the step that never returns. */
async function cut(work: Promise<unknown>): Promise<void> {
  void work;
  await new Promise((r) => setTimeout(r, 100));
}

const files = (p = '') =>
  readdirSync(join(dir, 'files', p), { recursive: true })
    .map(String)
    .sort();
const restart = () => new FileStore(db, storage);

describe('FileStore.recover', () => {
  it('a file moved into place before its row: recorded at start (a v4 file verified), once', async () => {
    const dying = new FileStore(dyingDatabase(), storage);
    await cut(dying.store(alice, 'a.txt', await temp(dying, 'apple', 'ab'.repeat(32)), now));
    const stored = files().find((p) => p.endsWith('a.txt'));
    expect(await db.fileByName(alice, 'a.txt')).toBeUndefined(); // the file without its row
    const told: string[] = [];
    const done = await restart().recover(async (source, token) => {
      told.push(`${source.startsWith(storage.tmpDir)} ${token.length}`);
    });
    const row = (await db.fileByName(alice, 'a.txt'))!;
    expect(done).toEqual([{ outcome: 'recorded', pathName: row.PathName }]);
    expect(row).toMatchObject({
      Size: 5,
      Cksum: null,
      Sha256: 'ab'.repeat(32),
      Verified: 1,
      ReceivedAt: now,
    });
    expect(row.PathName).toBe(stored);
    expect(told).toEqual(['true 16']);
    expect(await db.pending()).toEqual([]);
    expect(await restart().recover()).toEqual([]);
  });

  it('a replacement moved into place before its row: the row describes the new bytes, unverified (v3)', async () => {
    const store = new FileStore(db, storage);
    const first = await store.store(alice, 'b.txt', await temp(store, 'old'), now);
    await store.verify(alice, 'b.txt', first.token);
    const dying = new FileStore(dyingDatabase(), storage);
    await cut(dying.store(alice, 'b.txt', await temp(dying, 'newer'), now));
    expect(readFileSync(join(dir, 'files', first.pathName), 'utf8')).toBe('newer');
    expect(await restart().recover()).toEqual([{ outcome: 'recorded', pathName: first.pathName }]);
    expect(await db.fileByName(alice, 'b.txt')).toMatchObject({
      PathName: first.pathName,
      Size: 5,
      Cksum: 42,
      Verified: 0,
    });
  });

  it('a store cut before its move: dropped, the row untouched, the temp file swept as usual', async () => {
    const dying = new FileStore(db, dyingStorage('commit'));
    await cut(dying.store(alice, 'c.txt', await temp(dying, 'cherry'), now));
    expect(await db.pending()).toHaveLength(1);
    expect(await restart().recover()).toEqual([
      { outcome: 'not-moved', pathName: expect.stringMatching(/\/c\.txt$/) },
    ]);
    expect(await db.fileByName(alice, 'c.txt')).toBeUndefined();
    expect(await storage.init()).toBe(1);
    expect(files()).toEqual([]);
  });

  it('a file removed (1031) after its row went and before the file: removed at start', async () => {
    const store = new FileStore(db, storage);
    const s = await store.store(alice, 'd.txt', await temp(store, 'date'), now);
    await cut(new FileStore(db, dyingStorage('remove')).discard(alice, 'd.txt', s.token));
    expect(await db.fileByName(alice, 'd.txt')).toBeUndefined();
    expect(existsSync(join(dir, 'files', s.pathName))).toBe(true);
    expect(await restart().recover()).toEqual([{ outcome: 'removed', pathName: s.pathName }]);
    expect(files()).toEqual([]); // the emptied folder too
  });

  it('clients remove --files cut after the first file: the rest are removed at start', async () => {
    const store = new FileStore(db, storage);
    const paths: string[] = [];
    for (const n of ['e1', 'e2', 'e3'])
      paths.push((await store.store(alice, n, await temp(store, n), now)).pathName);
    await cut(new FileStore(db, dyingStorage('remove', 2)).removeClient(alice, true));
    expect(await db.clientById(alice)).toBeUndefined();
    expect(files(paths[0]!.split('/')[0])).toEqual(['e2', 'e3']);
    const done = await restart().recover();
    expect(done.map((d) => d.outcome)).toEqual(['removed', 'removed', 'removed']);
    expect(files()).toEqual([]);
  });

  it('a running server finishes a removal another process left, once it is a minute old, never a path in use', async () => {
    const store = new FileStore(db, storage);
    const paths: string[] = [];
    for (const n of ['r1', 'r2'])
      paths.push((await store.store(alice, n, await temp(store, n), now)).pathName);
    // `clients remove --files` in another process, stopped after its first file.
    await cut(new FileStore(db, dyingStorage('remove', 2)).removeClient(alice, true));
    expect(await store.finishRemovals()).toEqual([]); // too young: that process may still run
    const later = Date.now() + 61_000;
    // A path that a store in flight here has chosen is left alone.
    const bob = new Uint8Array(16).fill(9);
    await db.insertClient(bob, 'bob', now);
    const hung = new FileStore(db, dyingStorage('commit'));
    await cut(hung.store(bob, 'y', await temp(hung, 'y'), now));
    const chosen = (await db.pending()).find(
      (e) => e.change.kind === 'store' && e.change.file.fileName === 'y',
    )!.change.pathName;
    await db.notePending([{ kind: 'remove', pathName: chosen }]);
    expect(await hung.finishRemovals(60_000, later)).toEqual([
      { outcome: 'removed', pathName: paths[0] },
      { outcome: 'removed', pathName: paths[1] },
    ]);
    expect(files().filter((p) => p.startsWith(paths[0]!.split('/')[0]!))).toEqual([]);
    expect(
      (await db.pending()).filter((e) => e.change.kind === 'remove').map((e) => e.change.pathName),
    ).toEqual([chosen]);
  });

  it('a file a row uses again is kept; a store whose sender was removed meanwhile is removed', async () => {
    const store = new FileStore(db, storage);
    const s = await store.store(alice, 'f.txt', await temp(store, 'fig'), now);
    await db.notePending([{ kind: 'remove', pathName: s.pathName }]);
    const bob = new Uint8Array(16).fill(9);
    await db.insertClient(bob, 'bob', now);
    const dying = new FileStore(dyingDatabase(), storage);
    await cut(dying.store(bob, 'g.txt', await temp(dying, 'grape'), now));
    const bobs = files().find((p) => p.endsWith('g.txt'))!;
    await db.removeClient(bob, true);
    const done = await restart().recover();
    expect(done).toEqual([
      { outcome: 'sender-removed', pathName: expect.stringMatching(/\/g\.txt$/) },
      { outcome: 'kept', pathName: s.pathName },
    ]);
    expect(existsSync(join(dir, 'files', bobs))).toBe(false);
    expect(readFileSync(join(dir, 'files', s.pathName), 'utf8')).toBe('fig');
    expect(await db.pending()).toEqual([]);
  });

  it('a store whose file is in neither place: dropped, nothing recorded', async () => {
    const [seq] = await db.notePending([
      {
        kind: 'store',
        pathName: 'nowhere/h.txt',
        source: join(storage.tmpDir, 'gone.part'),
        file: {
          id: alice,
          fileName: 'h.txt',
          pathName: 'nowhere/h.txt',
          size: 1,
          cksum: 1,
          receivedAt: now,
          token: 't',
        },
      },
    ]);
    expect(seq).toBeGreaterThan(0);
    expect(await restart().recover()).toEqual([{ outcome: 'lost', pathName: 'nowhere/h.txt' }]);
    expect(await db.fileByName(alice, 'h.txt')).toBeUndefined();
  });
});

/** `db` whose methods named in `failing` throw, as a database error would (SQLITE_FULL...). */
function failingDatabase(...failing: string[]): SqliteDatabase {
  return new Proxy(db, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (failing.includes(String(prop)))
        return async () => {
          throw new Error(`injected: ${String(prop)} failed`);
        };
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const kept = () => readdirSync(storage.tmpDir).filter((n) => n.endsWith('.kept'));

describe('a same-name replacement whose row cannot be written', () => {
  it('fails as a whole: the replaced file and its row as they were, nothing for `check` to find', async () => {
    const store = new FileStore(db, storage);
    const first = await store.store(alice, 'r.txt', await temp(store, 'old', sha256('old')), now);
    const failing = new FileStore(failingDatabase('completeStore'), storage);
    await expect(
      failing.store(alice, 'r.txt', await temp(failing, 'newer bytes', sha256('newer bytes')), now),
    ).rejects.toThrow('injected');
    // It used to leave the new bytes under the old row's size and SHA-256.
    expect(readFileSync(join(dir, 'files', first.pathName), 'utf8')).toBe('old');
    expect(await db.fileByName(alice, 'r.txt')).toMatchObject({
      Token: first.token,
      Verified: 1,
      Size: 3,
      Sha256: sha256('old'),
    });
    expect(await db.pending()).toEqual([]);
    expect(kept()).toEqual([]);
    const report = await checkStoredFiles(dir, { now: () => Date.now() + 3_600_000 });
    expect(report.findings).toEqual([]);
    expect(await restart().recover()).toEqual([]);
  });

  it('the token not given back either (the database still fails): the next start does it', async () => {
    const store = new FileStore(db, storage);
    const first = await store.store(alice, 's.txt', await temp(store, 'old'), now);
    await store.verify(alice, 's.txt', first.token);
    const failing = new FileStore(failingDatabase('completeStore', 'unclaimFile', 'dropPending'), storage);
    await expect(failing.store(alice, 's.txt', await temp(failing, 'newer'), now)).rejects.toThrow();
    expect(readFileSync(join(dir, 'files', first.pathName), 'utf8')).toBe('old');
    expect(await restart().recover()).toEqual([{ outcome: 'put-back', pathName: first.pathName }]);
    expect(await db.fileByName(alice, 's.txt')).toMatchObject({ Token: first.token, Verified: 1, Size: 3 });
    expect(await db.pending()).toEqual([]);
  });

  it('killed after the move: recorded at start, the kept bytes dropped', async () => {
    const store = new FileStore(db, storage);
    const first = await store.store(alice, 'k.txt', await temp(store, 'old'), now);
    await cut(new FileStore(dyingDatabase(), storage).store(alice, 'k.txt', await temp(store, 'newer'), now));
    expect(kept()).toHaveLength(1);
    expect(await restart().recover()).toEqual([{ outcome: 'recorded', pathName: first.pathName }]);
    expect(readFileSync(join(dir, 'files', first.pathName), 'utf8')).toBe('newer');
    expect(await db.fileByName(alice, 'k.txt')).toMatchObject({ Size: 5 });
    expect(kept()).toEqual([]);
  });

  it('not put back (the storage fails too): the next start records the new bytes, unless a later upload replaced them', async () => {
    const store = new FileStore(db, storage);
    const first = await store.store(alice, 'p.txt', await temp(store, 'old'), now);
    const noRestore = new Proxy(storage, {
      get(target, prop) {
        if (prop === 'restore')
          return async () => {
            throw new Error('injected: restore failed');
          };
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const failing = new FileStore(failingDatabase('completeStore'), noRestore);
    await expect(failing.store(alice, 'p.txt', await temp(failing, 'newer'), now)).rejects.toThrow();
    // Not silent: the change stays pending (`check` reports it) until a start finishes it.
    expect(await db.pending()).toHaveLength(1);
    expect(await restart().recover()).toEqual([{ outcome: 'recorded', pathName: first.pathName }]);
    expect(await db.fileByName(alice, 'p.txt')).toMatchObject({ Size: 5 });
    expect(kept()).toEqual([]);

    await expect(failing.store(alice, 'p.txt', await temp(failing, 'newest!'), now)).rejects.toThrow();
    const later = await store.store(alice, 'p.txt', await temp(store, 'the last one'), now);
    expect(await restart().recover()).toEqual([{ outcome: 'superseded', pathName: first.pathName }]);
    expect(await db.fileByName(alice, 'p.txt')).toMatchObject({ Token: later.token, Size: 12 });
    expect(readFileSync(join(dir, 'files', first.pathName), 'utf8')).toBe('the last one');
  });
});
