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
    const path = join(dir, 'defensive.db');
    const raw = new Database(path);
    raw.exec(`
      CREATE TABLE clients (ID BLOB PRIMARY KEY, Name TEXT, PublicKey BLOB, LastSeen TEXT, AESKey BLOB);
      CREATE TABLE files (ID BLOB, FileName TEXT, PathName TEXT, Verified INTEGER);
    `);
    raw.prepare('INSERT INTO clients (ID, Name) VALUES (?, ?)').run(id(1), 'old');
    raw.prepare('INSERT INTO files VALUES (?, ?, ?, 1)').run(id(1), 'a.txt', 'x/a.txt');
    raw.prepare('INSERT INTO files VALUES (?, ?, ?, 0)').run(id(1), 'a.txt', 'x/a2.txt');
    raw.close();
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

  it('refuses a database from a newer server', () => {
    const path = join(dir, 'defensive.db');
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => new SqliteDatabase(path)).toThrow(expect.objectContaining({ code: 'SERVER_ERR_STORAGE' }));
  });
});
