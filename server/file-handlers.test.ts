import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientIdToHex } from '../lib/protocol';
import { ServerDatabase } from './db';
import { discardFile, storeUpload, verifyFile } from './file-handlers';
import { Storage } from './storage';

let dir: string;
let db: ServerDatabase;
let storage: Storage;
const id = new Uint8Array(16).fill(7);
const hex = clientIdToHex(id);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-store-'));
  db = new ServerDatabase(join(dir, 'defensive.db'));
  storage = new Storage(dir);
  storage.init();
  db.insertClient(id, 'alice', new Date().toISOString());
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function temp(text: string) {
  const tmpPath = storage.newTempPath();
  writeFileSync(tmpPath, text);
  return { tmpPath, size: text.length, cksum: 0 };
}

describe('storeUpload (async rename)', () => {
  it('two uploads of one name stored at once: one after the other, one file, the row describes it', async () => {
    const now = new Date().toISOString();
    const [a, b] = await Promise.all([
      storeUpload(db, storage, id, 'x.txt', temp('first'), now),
      storeUpload(db, storage, id, 'x.txt', temp('second'), now),
    ]);
    expect(b.pathName).toBe(a.pathName);
    expect(readdirSync(join(dir, 'files', hex))).toEqual(['x.txt']);
    expect(readFileSync(join(dir, 'files', b.pathName), 'utf8')).toBe('second');
    const row = db.fileByName(id, 'x.txt')!;
    expect(row.Token).toBe(b.token);
    expect(row.Size).toBe('second'.length);
    // The replaced upload's token no longer acts on the file.
    expect(() => verifyFile(db, id, 'x.txt', a.token)).toThrow();
    expect(discardFile(db, storage, id, 'x.txt', a.token)).toBe(false);
    expect(readdirSync(join(dir, 'files', hex))).toEqual(['x.txt']);
    expect(readdirSync(storage.tmpDir)).toEqual([]);
  });

  it('names that sanitise alike, stored at once, get distinct files', async () => {
    const now = new Date().toISOString();
    const [a, b] = await Promise.all([
      storeUpload(db, storage, id, 'a/b.txt', temp('one'), now),
      storeUpload(db, storage, id, 'c/b.txt', temp('two'), now),
    ]);
    expect(a.pathName).not.toBe(b.pathName);
    expect(readFileSync(join(dir, 'files', a.pathName), 'utf8')).toBe('one');
    expect(readFileSync(join(dir, 'files', b.pathName), 'utf8')).toBe('two');
  });
});
