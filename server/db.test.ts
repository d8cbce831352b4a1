import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, ServerDatabase } from './db';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-db-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const id = (n: number) => new Uint8Array(16).fill(n);

describe('ServerDatabase', () => {
  it('creates the schema at the latest version, WAL and foreign keys on', () => {
    const path = join(dir, 'defensive.db');
    const db = new ServerDatabase(path);
    db.close();
    const raw = new Database(path);
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    const cols = (raw.pragma('table_info(files)') as { name: string }[]).map((c) => c.name);
    expect(cols).toEqual(
      expect.arrayContaining(['ID', 'FileName', 'PathName', 'Verified', 'Size', 'Cksum', 'ReceivedAt']),
    );
    raw.close();
  });

  it("migrates a reference server's database (spec tables, user_version 0) and keeps its rows", () => {
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
    const db = new ServerDatabase(path);
    expect(db.clientByName('old')?.ID).toEqual(Buffer.from(id(1)));
    const files = db.listFiles();
    // Duplicates collapse to the newest row so (ID, FileName) can be unique.
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ FileName: 'a.txt', PathName: 'x/a2.txt', ClientName: 'old' });
    db.close();
    // Opening again is a no-op.
    new ServerDatabase(path).close();
  });

  it('refuses a database from a newer server', () => {
    const path = join(dir, 'defensive.db');
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => new ServerDatabase(path)).toThrow(expect.objectContaining({ code: 'SERVER_ERR_STORAGE' }));
  });

  it('clients: unique names, keys, LastSeen; files: upsert, verify by token, delete', () => {
    const db = new ServerDatabase(join(dir, 'defensive.db'));
    expect(db.insertClient(id(1), 'a', 't0')).toBe(true);
    expect(db.insertClient(id(2), 'a', 't0')).toBe(false);
    db.setKeys(id(1), new Uint8Array(160).fill(5), new Uint8Array(32).fill(6), 't1');
    db.setKeys(id(1), null, new Uint8Array(32).fill(7), 't2');
    const c = db.clientById(id(1))!;
    expect(c.PublicKey).toEqual(Buffer.alloc(160, 5));
    expect(c.AESKey).toEqual(Buffer.alloc(32, 7));
    expect(c.LastSeen).toBe('t2');
    db.touch(id(1), 't3');
    expect(db.clientById(id(1))!.LastSeen).toBe('t3');

    const f = { id: id(1), fileName: 'f', pathName: 'p/f', size: 3, cksum: 9, receivedAt: 't', token: 'k1' };
    db.upsertFile(f);
    expect(db.markVerified(id(1), 'f', 'other')).toBe(0);
    expect(db.markVerified(id(1), 'f', 'k1')).toBe(1);
    db.upsertFile({ ...f, token: 'k2', size: 4 });
    const row = db.fileByName(id(1), 'f')!;
    expect(row).toMatchObject({ Verified: 0, Size: 4, Token: 'k2' });
    expect(db.pathTaken('P/F')).toBe(true);
    expect(db.deleteFile(id(1), 'f', 'k1')).toBeUndefined();
    expect(db.deleteFile(id(1), 'f', 'k2')?.PathName).toBe('p/f');
    expect(db.fileByName(id(1), 'f')).toBeUndefined();
    expect(db.integrityCheck()).toBe('ok');
    db.close();
  });

  it('foreign keys: a file needs a registered client', () => {
    const db = new ServerDatabase(join(dir, 'defensive.db'));
    expect(() =>
      db.upsertFile({
        id: id(9),
        fileName: 'f',
        pathName: 'p',
        size: 1,
        cksum: 1,
        receivedAt: 't',
        token: 'k',
      }),
    ).toThrow();
    db.close();
  });
});
