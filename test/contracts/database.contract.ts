/**
 * What any Database (server/database.ts) must do: run this suite with a factory for each
 * implementation (SQLite now, PostgreSQL later). `open()` gives a fresh, empty database.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../server/database';

export interface DatabaseFactory {
  open(): Promise<Database>;
  /** Removes what open() made (called after close()). */
  cleanup?(): Promise<void> | void;
}

const id = (n: number) => new Uint8Array(16).fill(n);
const bytes = (a: Uint8Array | null | undefined) => (a ? Array.from(a) : a);
const file = { id: id(1), fileName: 'f', pathName: 'p/f', size: 3, cksum: 9, receivedAt: 't', token: 'k1' };

export function databaseContract(name: string, factory: DatabaseFactory): void {
  describe(`Database contract: ${name}`, () => {
    let db: Database;
    beforeEach(async () => {
      db = await factory.open();
    });
    afterEach(async () => {
      await db.close();
      await factory.cleanup?.();
    });

    it('clients: unique names, keys, LastSeen', async () => {
      expect(await db.insertClient(id(1), 'a', 't0')).toBe(true);
      expect(await db.insertClient(id(2), 'a', 't0')).toBe(false);
      expect(await db.insertClient(id(1), 'b', 't0')).toBe(false);
      expect(await db.clientById(id(2))).toBeUndefined();
      await db.setKeys(id(1), new Uint8Array(160).fill(5), new Uint8Array(32).fill(6), 't1');
      await db.setKeys(id(1), null, new Uint8Array(32).fill(7), 't2');
      const c = (await db.clientById(id(1)))!;
      expect(c.Name).toBe('a');
      expect(bytes(c.ID)).toEqual(bytes(id(1)));
      expect(bytes(c.PublicKey)).toEqual(bytes(new Uint8Array(160).fill(5)));
      expect(bytes(c.AESKey)).toEqual(bytes(new Uint8Array(32).fill(7)));
      expect(c.LastSeen).toBe('t2');
      await db.touch(id(1), 't3');
      expect((await db.clientByName('a'))?.LastSeen).toBe('t3');
      expect(await db.clientByName('nobody')).toBeUndefined();
    });

    it('v4 clients: bound to one key; the key names the row; a v4 row is never reclaimed as keyless', async () => {
      const key = new Uint8Array(32).fill(4);
      expect(await db.insertV4Client(id(1), 'alice [v4 ab]', key, 't0')).toBe(true);
      expect(bytes((await db.clientByV4Key(key))?.ID)).toEqual(bytes(id(1)));
      expect(await db.clientByV4Key(new Uint8Array(32).fill(5))).toBeUndefined();
      expect(await db.insertV4Client(id(2), 'other', key, 't0')).toBe(false);
      expect(await db.clientById(id(2))).toBeUndefined();
      expect(await db.insertV4Client(id(3), 'alice [v4 ab]', new Uint8Array(32).fill(6), 't0')).toBe(false);
      expect(await db.reclaimKeylessName(id(1), id(7), 'alice [v4 ab]', 't1')).toBe(false);
      expect(bytes((await db.clientByV4Key(key))?.ID)).toEqual(bytes(id(1)));
    });

    it('clientCount; clientFolder: set once (the first proposal wins), undefined for an unknown client', async () => {
      expect(await db.clientCount()).toBe(0);
      await db.insertClient(id(1), 'a', 't0');
      await db.insertClient(id(2), 'b', 't0');
      expect(await db.clientCount()).toBe(2);
      expect((await db.clientById(id(1)))?.Folder ?? null).toBeNull();
      const [x, y] = await Promise.all([db.clientFolder(id(1), 'c-one'), db.clientFolder(id(1), 'c-two')]);
      expect([x, y]).toEqual(['c-one', 'c-one']);
      expect((await db.clientById(id(1)))?.Folder).toBe('c-one');
      expect(await db.clientFolder(id(2), 'c-three')).toBe('c-three');
      expect(await db.clientFolder(id(9), 'c-four')).toBeUndefined();
    });

    it('a keyless name can be reclaimed by a new ID; a name with a key or files cannot', async () => {
      await db.insertClient(id(1), 'keyless', 't0');
      expect(await db.reclaimKeylessName(id(1), id(2), 'keyless', 't1')).toBe(true);
      expect(await db.clientById(id(1))).toBeUndefined();
      expect(bytes((await db.clientByName('keyless'))?.ID)).toEqual(bytes(id(2)));

      await db.insertClient(id(3), 'keyed', 't0');
      await db.setKeys(id(3), new Uint8Array(160).fill(1), new Uint8Array(32), 't0');
      expect(await db.reclaimKeylessName(id(3), id(4), 'keyed', 't1')).toBe(false);

      await db.insertClient(id(5), 'has-files', 't0');
      await db.upsertFile({ ...file, id: id(5) });
      expect(await db.reclaimKeylessName(id(5), id(6), 'has-files', 't1')).toBe(false);
      expect(bytes((await db.clientByName('has-files'))?.ID)).toEqual(bytes(id(5)));
    });

    it('files: upsert, verify by token, claim, delete by token', async () => {
      await db.insertClient(id(1), 'a', 't0');
      await db.upsertFile(file);
      expect(await db.markVerified(id(1), 'f', 'other')).toBe(0);
      expect(await db.markVerified(id(1), 'f', 'k1')).toBe(1);
      expect((await db.fileByName(id(1), 'f'))?.Verified).toBe(1);
      await db.upsertFile({ ...file, token: 'k2', size: 4 });
      expect(await db.fileByName(id(1), 'f')).toMatchObject({ Verified: 0, Size: 4, Cksum: 9, Token: 'k2' });
      await db.markVerified(id(1), 'f', null);
      await db.claimFile(id(1), 'f', 'k3');
      expect(await db.fileByName(id(1), 'f')).toMatchObject({ Verified: 0, Token: 'k3', PathName: 'p/f' });
      expect(await db.pathTaken('P/F')).toBe(true);
      expect(await db.pathTaken('p/g')).toBe(false);
      expect(await db.deleteFile(id(1), 'f', 'k1')).toBeUndefined();
      expect((await db.deleteFile(id(1), 'f', 'k3'))?.PathName).toBe('p/f');
      expect(await db.fileByName(id(1), 'f')).toBeUndefined();
      expect(await db.pathTaken('p/f')).toBe(false);
    });

    it('files(): every file with its client name, oldest first', async () => {
      await db.insertClient(id(1), 'a', 't0');
      await db.insertClient(id(2), 'b', 't0');
      await db.upsertFile({ ...file, id: id(2), fileName: 'later', pathName: 'b/later', receivedAt: 't2' });
      await db.upsertFile({ ...file, receivedAt: 't1' });
      const listed = await db.files();
      expect(listed.map((f) => [f.ClientName, f.FileName, f.PathName, f.Verified])).toEqual([
        ['a', 'f', 'p/f', 0],
        ['b', 'later', 'b/later', 0],
      ]);
    });

    it('a file needs a registered client', async () => {
      await expect(db.upsertFile({ ...file, id: id(9) })).rejects.toThrow();
    });
  });
}
