import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from './db';
import { FileStore } from './file-store';
import { LocalFileStorage } from './local-storage';
import type { UploadResult } from './upload';

let dir: string;
let db: SqliteDatabase;
let storage: LocalFileStorage;
let store: FileStore;
const id = new Uint8Array(16).fill(7);
/** The client's folder, once it has stored a file. */
const folderOf = async () => (await db.clientById(id))!.Folder!;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sft-store-'));
  db = new SqliteDatabase(join(dir, 'defensive.db'), { checkpointIntervalMs: 0 });
  storage = new LocalFileStorage(dir);
  await storage.init();
  store = new FileStore(db, storage);
  await db.insertClient(id, 'alice', new Date().toISOString());
});
afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function temp(text: string): Promise<UploadResult> {
  const t = store.createTemp();
  t.write(Buffer.from(text));
  await t.finish();
  return { temp: t, size: text.length, cksum: 0 };
}

describe('FileStore.store (async rename)', () => {
  it('two uploads of one name stored at once: one after the other, one file, the row describes it', async () => {
    const now = new Date().toISOString();
    const [a, b] = await Promise.all([
      store.store(id, 'x.txt', await temp('first'), now),
      store.store(id, 'x.txt', await temp('second'), now),
    ]);
    expect(b.pathName).toBe(a.pathName);
    const hex = await folderOf();
    expect(readdirSync(join(dir, 'files', hex))).toEqual(['x.txt']);
    expect(readFileSync(join(dir, 'files', b.pathName), 'utf8')).toBe('second');
    const row = (await db.fileByName(id, 'x.txt'))!;
    expect(row.Token).toBe(b.token);
    expect(row.Size).toBe('second'.length);
    // The replaced upload's token no longer acts on the file.
    expect(await store.verify(id, 'x.txt', a.token)).toBe(false);
    expect(await store.discard(id, 'x.txt', a.token)).toBe(false);
    expect(readdirSync(join(dir, 'files', hex))).toEqual(['x.txt']);
    expect(readdirSync(storage.tmpDir)).toEqual([]);
  });

  it('a replacement moved into place after `clients remove --files` (another process) took the client: no file stays behind', async () => {
    const now = new Date().toISOString();
    await store.store(id, 'x.txt', await temp('old'), now);
    const hex = await folderOf();
    const next = await temp('new');
    // The move waits until the admin's removal is through (its rows gone, its files deleted).
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    let entered!: () => void;
    const moving = new Promise<void>((r) => {
      entered = r;
    });
    const commit = storage.commit.bind(storage);
    storage.commit = async (t, p) => {
      entered();
      await gate;
      return commit(t, p);
    };
    const replacing = store.store(id, 'x.txt', next, now);
    await moving;
    // Another process: its own FileStore over the same database and folder.
    expect(await new FileStore(db, storage).removeClient(id, true)).toHaveLength(1);
    open();
    await expect(replacing).rejects.toThrow();
    // Was: the new bytes stayed in the removed client's folder, with no row (`clients remove
    // --files` had said they were gone, and nothing would ever remove them).
    const folder = join(dir, 'files', hex);
    expect(existsSync(folder) ? readdirSync(folder) : []).toEqual([]);
    expect(existsSync(folder)).toBe(false);
    expect(await db.pending()).toEqual([]);
    expect(readdirSync(storage.tmpDir)).toEqual([]);
  });

  it("a 1031 (discard) of one connection's upload while another connection stores the same name: the row always has its file", async () => {
    const now = new Date().toISOString();
    const first = await store.store(id, 'x.txt', await temp('first'), now);
    const next = await temp('second');
    /** Resolves once `fire` is called, or after a while (a step the fixed code never reaches first). */
    const signal = () => {
      let fire!: () => void;
      const fired = new Promise<void>((r) => {
        fire = r;
      });
      return { fire, wait: () => Promise.race([fired, new Promise<void>((r) => setTimeout(r, 200))]) };
    };
    const readPrevious = signal();
    const rowDeleted = signal();
    const recorded = signal();
    // The interleaving two connections can meet: the store reads the old row, the discard
    // deletes it, the store moves its file onto the same path, the discard removes the path.
    let reads = 0;
    const fileByName = db.fileByName.bind(db);
    db.fileByName = async (...a) => {
      const row = await fileByName(...a);
      if (++reads === 2) readPrevious.fire();
      return row;
    };
    const deleteFile = db.deleteFile.bind(db);
    db.deleteFile = async (...a) => {
      await readPrevious.wait();
      const row = await deleteFile(...a);
      rowDeleted.fire();
      return row;
    };
    const claimFile = db.claimFile.bind(db);
    db.claimFile = async (...a) => {
      await rowDeleted.wait();
      return claimFile(...a);
    };
    const completeStore = db.completeStore.bind(db);
    db.completeStore = async (...a) => {
      await completeStore(...a);
      recorded.fire();
    };
    const remove = storage.remove.bind(storage);
    storage.remove = async (p) => {
      await recorded.wait();
      return remove(p);
    };
    const [, second] = await Promise.all([
      store.discard(id, 'x.txt', first.token),
      store.store(id, 'x.txt', next, now),
    ]);
    // Was: the row of the second upload named a file the discard had just removed.
    const row = (await db.fileByName(id, 'x.txt'))!;
    expect(row.Token).toBe(second.token);
    expect(readFileSync(join(dir, 'files', row.PathName), 'utf8')).toBe('second');
    expect(await db.pending()).toEqual([]);
  });

  it('names that sanitise alike, stored at once, get distinct files', async () => {
    const now = new Date().toISOString();
    const [a, b] = await Promise.all([
      store.store(id, 'a/b.txt', await temp('one'), now),
      store.store(id, 'c/b.txt', await temp('two'), now),
    ]);
    expect(a.pathName).not.toBe(b.pathName);
    const hex = await folderOf();
    expect([a.pathName, b.pathName].sort()).toEqual([`${hex}/b (2).txt`, `${hex}/b.txt`]);
    expect(readFileSync(join(dir, 'files', a.pathName), 'utf8')).toBe('one');
    expect(readFileSync(join(dir, 'files', b.pathName), 'utf8')).toBe('two');
  });

  it('verify and discard act on the own upload: row and file', async () => {
    const s = await store.store(id, '../x.txt', await temp('data'), new Date().toISOString());
    const hex = await folderOf();
    expect(s.pathName).toBe(`${hex}/x.txt`);
    expect(await store.verify(id, '../x.txt', s.token)).toBe(true);
    expect((await db.fileByName(id, '../x.txt'))?.Verified).toBe(1);
    expect(await store.discard(id, '../x.txt', s.token)).toBe(true);
    expect(await db.fileByName(id, '../x.txt')).toBeUndefined();
    expect(readdirSync(join(dir, 'files', hex))).toEqual([]);
  });

  it('an unknown client stores nothing', async () => {
    await expect(
      store.store(new Uint8Array(16).fill(9), 'x', await temp('x'), new Date().toISOString()),
    ).rejects.toMatchObject({ code: 'SERVER_ERR_UNKNOWN_CLIENT' });
  });
});
