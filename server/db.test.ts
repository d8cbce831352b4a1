import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, SqliteDatabase } from './db';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-db-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const id = (n: number) => new Uint8Array(16).fill(n);

/**
 * A reference server's database (the spec's tables, user_version 0) in `dir`: client `old`
 * (id 1) and its file rows (file name, path name, verified). Returns its path.
 */
function referenceDatabase(files: readonly (readonly [string, string, number])[]): string {
  const path = join(dir, 'defensive.db');
  const raw = new Database(path);
  raw.exec(`
    CREATE TABLE clients (ID BLOB PRIMARY KEY, Name TEXT, PublicKey BLOB, LastSeen TEXT, AESKey BLOB);
    CREATE TABLE files (ID BLOB, FileName TEXT, PathName TEXT, Verified INTEGER);
  `);
  raw.prepare('INSERT INTO clients (ID, Name) VALUES (?, ?)').run(id(1), 'old');
  const add = raw.prepare('INSERT INTO files VALUES (?, ?, ?, ?)');
  for (const [name, pathName, verified] of files) add.run(id(1), name, pathName, verified);
  raw.close();
  return path;
}

/** SQLite only: schema and migrations. What every Database does: test/contracts/database.contract.ts. */
describe('SqliteDatabase', () => {
  it('creates the schema at the latest version, WAL and foreign keys on', () => {
    const path = join(dir, 'defensive.db');
    const db = new SqliteDatabase(path);
    db.close();
    const raw = new Database(path);
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    const cols = (raw.pragma('table_info(files)') as { name: string }[]).map((c) => c.name);
    expect(cols).toEqual(
      expect.arrayContaining(['ID', 'FileName', 'PathName', 'Verified', 'Size', 'Cksum', 'ReceivedAt']),
    );
    expect((raw.pragma('table_info(clients)') as { name: string }[]).map((c) => c.name)).toContain('Folder');
    raw.close();
  });

  it("migrates a reference server's database (spec tables, user_version 0) and keeps its rows", async () => {
    const path = referenceDatabase([
      ['a.txt', 'x/a.txt', 1],
      ['a.txt', 'x/a2.txt', 0],
    ]);
    const db = new SqliteDatabase(path);
    expect((await db.clientByName('old'))?.ID).toEqual(Buffer.from(id(1)));
    const files = db.listFiles();
    // Duplicates collapse to the newest row so (ID, FileName) can be unique.
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ FileName: 'a.txt', PathName: 'x/a2.txt', ClientName: 'old' });
    expect(db.integrityCheck()).toBe('ok');
    // Old rows keep their PathName (files/x/...); the client gets a Folder for new files only.
    expect((await db.clientByName('old'))?.Folder).toBeNull();
    await db.close();
    // Opening again is a no-op.
    await new SqliteDatabase(path).close();
  });

  it('counts the files an older database already holds when it migrates', async () => {
    const path = referenceDatabase([
      ['a.txt', 'x/a.txt', 1],
      ['b.txt', 'x/b.txt', 1],
    ]);
    const db = new SqliteDatabase(path);
    // Rows of before the Size column count as 0 bytes, as the sum counted them.
    expect(await db.totalUsage()).toEqual({ files: 2, bytes: 0 });
    await db.close();
  });

  it('keeps the total of all files in one row through every write, from any connection; reading it scans nothing', async () => {
    const path = join(dir, 'defensive.db');
    const db = new SqliteDatabase(path);
    const raw = new Database(path);
    raw.pragma('foreign_keys = ON');
    const summed = () =>
      raw.prepare('SELECT count(*) AS files, coalesce(sum(Size), 0) AS bytes FROM files').get();
    expect(await db.totalUsage()).toEqual({ files: 0, bytes: 0 });
    // Another connection writes (a second process, `clients remove`, another program): inserts,
    // an upsert that replaces a file with another size, a size set on a row, a delete, and a
    // client's removal that takes its files with it (ON DELETE CASCADE).
    const client = raw.prepare('INSERT INTO clients (ID, Name) VALUES (?, ?)');
    client.run(id(1), 'alice');
    client.run(id(2), 'bob');
    const upsert = raw.prepare(`
      INSERT INTO files (ID, FileName, PathName, Verified, Size) VALUES (?, ?, ?, 0, ?)
      ON CONFLICT (ID, FileName) DO UPDATE SET Size = excluded.Size`);
    upsert.run(id(1), 'a.txt', 'x/a.txt', null);
    upsert.run(id(2), 'b.bin', 'y/b.bin', 1000);
    upsert.run(id(2), 'c.bin', 'y/c.bin', 250);
    upsert.run(id(1), 'd.bin', 'x/d.bin', 7);
    expect(await db.totalUsage()).toEqual(summed());
    upsert.run(id(2), 'b.bin', 'y/b.bin', 40);
    raw.prepare("UPDATE files SET Size = 5 WHERE FileName = 'a.txt'").run();
    expect(await db.totalUsage()).toEqual({ files: 4, bytes: 40 + 250 + 7 + 5 });
    raw.prepare("DELETE FROM files WHERE FileName = 'd.bin'").run();
    expect(await db.totalUsage()).toEqual(summed());
    raw.prepare('DELETE FROM clients WHERE ID = ?').run(id(2));
    expect(await db.totalUsage()).toEqual({ files: 1, bytes: 5 });
    expect(await db.totalUsage()).toEqual(summed());
    // One row read, not a scan of files (the sum it replaced read every row).
    const plan = (
      raw.prepare('EXPLAIN QUERY PLAN SELECT Files, Bytes FROM files_total').all() as { detail: string }[]
    )
      .map((r) => r.detail)
      .join('; ');
    expect(plan).not.toMatch(/\bfiles\b(?!_total)/);
    // A write that fires no trigger (another program's INSERT OR REPLACE deletes without
    // one): the count drifts until the next open, which sums the table once.
    raw
      .prepare(
        "INSERT OR REPLACE INTO files (ID, FileName, PathName, Verified, Size) VALUES (?, 'a.txt', 'x/a.txt', 0, 9)",
      )
      .run(id(1));
    expect(await db.totalUsage()).toEqual({ files: 2, bytes: 14 });
    raw.close();
    await db.close();
    const reopened = new SqliteDatabase(path);
    expect(await reopened.totalUsage()).toEqual({ files: 1, bytes: 9 });
    await reopened.close();
  });

  it('refuses a database from a newer server', () => {
    const path = join(dir, 'defensive.db');
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => new SqliteDatabase(path)).toThrow(expect.objectContaining({ code: 'SERVER_ERR_STORAGE' }));
  });
});
