/**
 * What any Database (server/database.ts) must do: run this suite with a factory for each
 * implementation (SQLite now, PostgreSQL later). `open()` gives a fresh, empty database.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database, InviteRow } from '../../server/database';

export interface DatabaseFactory {
  open(): Promise<Database>;
  /** Removes what open() made (called after close()). */
  cleanup?(): Promise<void> | void;
}

const id = (n: number) => new Uint8Array(16).fill(n);
const bytes = (a: Uint8Array | null | undefined) => (a ? Array.from(a) : a);
const file = { id: id(1), fileName: 'f', pathName: 'p/f', size: 3, cksum: 9, receivedAt: 't', token: 'k1' };
const invite = (n: number, over: Partial<InviteRow> = {}): InviteRow => ({
  ID: String(n).padStart(16, '0'),
  Label: `from ${n}`,
  CreatedAt: `2026-01-0${n}T00:00:00.000Z`,
  ExpiresAt: '2026-02-01T00:00:00.000Z',
  MaxBytes: null,
  MaxFiles: null,
  MaxClients: 1,
  RevokedAt: null,
  ...over,
});

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
      // The listing says which rows are v4 identities (clients list's KEY column).
      await db.insertClient(id(8), 'bob', 't0');
      expect((await db.clients()).map((c) => [c.Name, c.HasKey, c.HasV4Key])).toEqual([
        ['alice [v4 ab]', false, true],
        ['bob', false, false],
      ]);
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

    it('files: upsert, verify by token, claim and unclaim, delete by token', async () => {
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
      // Given back only by the claim that took it.
      await db.unclaimFile(id(1), 'f', 'k4', { token: 'k2', verified: true });
      expect(await db.fileByName(id(1), 'f')).toMatchObject({ Verified: 0, Token: 'k3' });
      await db.unclaimFile(id(1), 'f', 'k3', { token: 'k2', verified: true });
      expect(await db.fileByName(id(1), 'f')).toMatchObject({ Verified: 1, Token: 'k2' });
      await db.claimFile(id(1), 'f', 'k3');
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

    it('invites: insert, read, duplicate IDs refused, revoke once (the first time stays)', async () => {
      await db.insertInvite(invite(1, { MaxBytes: 10, MaxFiles: 2, MaxClients: 3 }));
      await expect(db.insertInvite(invite(1))).rejects.toThrow();
      expect(await db.inviteById(invite(1).ID)).toEqual(
        invite(1, { MaxBytes: 10, MaxFiles: 2, MaxClients: 3 }),
      );
      expect(await db.inviteById(invite(2).ID)).toBeUndefined();
      expect((await db.revokeInvite(invite(1).ID, 'r1'))?.RevokedAt).toBe('r1');
      expect((await db.revokeInvite(invite(1).ID, 'r2'))?.RevokedAt).toBe('r1');
      expect(await db.revokeInvite(invite(2).ID, 'r1')).toBeUndefined();
    });

    it('insertClient with an invite: bound, and only while the invite has a free slot', async () => {
      await db.insertInvite(invite(1, { MaxClients: 2 }));
      const slot = { id: invite(1).ID, maxClients: 2 };
      const got = await Promise.all([1, 2, 3].map((n) => db.insertClient(id(n), `c${n}`, 't0', slot)));
      expect(got.filter(Boolean)).toHaveLength(2);
      expect(await db.insertClient(id(4), 'free', 't0')).toBe(true);
      expect((await db.clientByName('free'))?.InviteID).toBeNull();
      expect((await db.clientByName('c1'))?.InviteID).toBe(invite(1).ID);
      expect((await db.inviteUsage(invite(1).ID)).clients).toBe(2);
      // An invite that does not exist cannot be bound to.
      await expect(
        db.insertClient(id(5), 'ghost', 't0', { id: invite(9).ID, maxClients: 5 }),
      ).rejects.toThrow();
    });

    it('reclaimKeylessName with a full invite: false, and the old row stays', async () => {
      await db.insertInvite(invite(1, { MaxClients: 1 }));
      const slot = { id: invite(1).ID, maxClients: 1 };
      await db.insertClient(id(1), 'keyless', 't0', slot);
      await db.insertClient(id(2), 'other', 't0');
      // Moving a name to the same invite frees its own slot first.
      expect(await db.reclaimKeylessName(id(1), id(3), 'keyless', 't1', slot)).toBe(true);
      await db.insertClient(id(4), 'keyless2', 't0');
      expect(await db.reclaimKeylessName(id(4), id(5), 'keyless2', 't1', slot)).toBe(false);
      expect(bytes((await db.clientByName('keyless2'))?.ID)).toEqual(bytes(id(4)));
    });

    it('usage per client, per invite and in total, from the stored sizes (a replaced file counts once)', async () => {
      await db.insertInvite(invite(1, { MaxClients: 5 }));
      const slot = { id: invite(1).ID, maxClients: 5 };
      await db.insertClient(id(1), 'a', 't0', slot);
      await db.insertClient(id(2), 'b', 't0', slot);
      await db.insertClient(id(3), 'c', 't0');
      expect(await db.inviteUsage(invite(1).ID)).toEqual({ clients: 2, files: 0, bytes: 0 });
      expect(await db.clientUsage(id(1))).toEqual({ files: 0, bytes: 0 });
      expect(await db.totalUsage()).toEqual({ files: 0, bytes: 0 });
      await db.upsertFile({ ...file, id: id(1), size: 100 });
      await db.upsertFile({ ...file, id: id(1), size: 70 });
      await db.upsertFile({ ...file, id: id(1), fileName: 'g', pathName: 'p/g', size: 5 });
      await db.upsertFile({ ...file, id: id(2), pathName: 'q/f', size: 1000 });
      await db.upsertFile({ ...file, id: id(3), pathName: 'r/f', size: 1 });
      expect(await db.clientUsage(id(1))).toEqual({ files: 2, bytes: 75 });
      expect(await db.inviteUsage(invite(1).ID)).toEqual({ clients: 2, files: 3, bytes: 1075 });
      expect(await db.totalUsage()).toEqual({ files: 4, bytes: 1076 });
      const [listed] = await db.invites();
      expect(listed).toMatchObject({ ...invite(1, { MaxClients: 5 }), clients: 2, files: 3, bytes: 1075 });
      const clients = await db.clients();
      expect(clients.map((c) => [c.Name, c.InviteID, c.files, c.bytes, c.HasKey])).toEqual([
        ['a', invite(1).ID, 2, 75, false],
        ['b', invite(1).ID, 1, 1000, false],
        ['c', null, 1, 1, false],
      ]);
    });

    it('invites(): oldest first, with zero usage when unused', async () => {
      await db.insertInvite(invite(2));
      await db.insertInvite(invite(1));
      expect((await db.invites()).map((i) => [i.ID, i.clients, i.files, i.bytes])).toEqual([
        [invite(1).ID, 0, 0, 0],
        [invite(2).ID, 0, 0, 0],
      ]);
    });

    it('removeClient: with files the rows go; without, they stay unowned and still count in total', async () => {
      await db.insertInvite(invite(1, { MaxClients: 1 }));
      const slot = { id: invite(1).ID, maxClients: 1 };
      await db.insertClient(id(1), 'a', 't0', slot);
      await db.insertClient(id(2), 'b', 't0');
      await db.upsertFile({ ...file, id: id(1), size: 10 });
      await db.upsertFile({ ...file, id: id(2), pathName: 'q/f', size: 20 });
      expect(await db.removeClient(id(9), true)).toBeUndefined();
      const kept = await db.removeClient(id(1), false);
      expect(kept?.map((r) => r.PathName)).toEqual(['p/f']);
      expect(await db.clientById(id(1))).toBeUndefined();
      expect(await db.totalUsage()).toEqual({ files: 2, bytes: 30 });
      expect((await db.files()).map((f) => [f.PathName, f.ClientName])).toEqual([
        ['p/f', null],
        ['q/f', 'b'],
      ]);
      // The slot is free again; the unowned file no longer counts against the invite.
      expect(await db.inviteUsage(invite(1).ID)).toEqual({ clients: 0, files: 0, bytes: 0 });
      expect(await db.insertClient(id(3), 'a', 't1', slot)).toBe(true);
      const gone = await db.removeClient(id(2), true);
      expect(gone?.map((r) => r.PathName)).toEqual(['q/f']);
      expect(await db.totalUsage()).toEqual({ files: 1, bytes: 10 });
      expect(await db.pathTaken('p/f')).toBe(true);
    });

    it('removeClient of a v4 client, with or without its files: its key goes too, so it can register again', async () => {
      for (const [n, withFiles] of [
        [1, false],
        [2, true],
      ] as const) {
        const key = new Uint8Array(32).fill(n);
        expect(await db.insertV4Client(id(n), `k${n} [v4 ab]`, key, 't0')).toBe(true);
        await db.upsertFile({ ...file, id: id(n), pathName: `k${n}/f`, size: 5 });
        expect(await db.removeClient(id(n), withFiles)).toHaveLength(1);
        expect(await db.clientByV4Key(key)).toBeUndefined();
        expect(await db.insertV4Client(id(n + 10), `k${n} [v4 ab]`, key, 't1')).toBe(true);
        expect(bytes((await db.clientByV4Key(key))?.ID)).toEqual(bytes(id(n + 10)));
      }
    });

    it('pending changes: noted in order, read back whole, a store completed with its row, dropped', async () => {
      await db.insertClient(id(1), 'a', 't0');
      const v4 = { ...file, cksum: null, sha256: 'cd'.repeat(32) };
      expect(await db.pending()).toEqual([]);
      const seqs = await db.notePending([
        { kind: 'store', pathName: 'p/f', source: '/data/tmp/x.part', file: v4 },
        { kind: 'remove', pathName: 'p/old' },
      ]);
      expect(seqs).toHaveLength(2);
      expect(seqs[1]!).toBeGreaterThan(seqs[0]!);
      const [store, remove] = await db.pending();
      expect(store!.seq).toBe(seqs[0]);
      expect(store!.change).toMatchObject({ kind: 'store', pathName: 'p/f', source: '/data/tmp/x.part' });
      const back = store!.change.kind === 'store' ? store!.change.file : null;
      expect({ ...back, id: bytes(back?.id) }).toEqual({ ...v4, id: bytes(id(1)) });
      expect(remove).toEqual({
        seq: seqs[1],
        notedAt: store!.notedAt,
        change: { kind: 'remove', pathName: 'p/old' },
      });
      expect(Math.abs(store!.notedAt - Date.now())).toBeLessThan(60_000);
      await db.completeStore(seqs[0]!, v4, true);
      expect(await db.fileByName(id(1), 'f')).toMatchObject({ Verified: 1, Sha256: v4.sha256, Token: 'k1' });
      expect((await db.pending()).map((e) => e.seq)).toEqual([seqs[1]]);
      expect((await db.clientFiles(id(1))).map((r) => r.PathName)).toEqual(['p/f']);
      await db.dropPending([seqs[1]!, 12345]);
      expect(await db.pending()).toEqual([]);
      // A completion that cannot record its row (no such client) keeps its note.
      const [orphan] = await db.notePending([
        { kind: 'store', pathName: 'q/f', source: 's', file: { ...file, id: id(9) } },
      ]);
      await expect(db.completeStore(orphan!, { ...file, id: id(9) })).rejects.toThrow();
      expect((await db.pending()).map((e) => e.seq)).toEqual([orphan]);
      await db.dropPending([orphan!]);
      // A replacement's note carries the replaced row's token and Verified, and where the
      // replaced bytes are kept (FileStorage.keep); keepNote keeps it.
      const replaced = { token: null, verified: true, kept: 'tmp/k.kept' };
      const [again] = await db.notePending([
        { kind: 'store', pathName: 'p/f', source: 's', file: v4, replaced },
      ]);
      expect((await db.pending())[0]!.change).toMatchObject({ kind: 'store', replaced });
      await db.completeStore(again!, v4, true, true);
      expect((await db.pending()).map((e) => e.seq)).toEqual([again]);
    });

    it('a file needs a registered client', async () => {
      await expect(db.upsertFile({ ...file, id: id(9) })).rejects.toThrow();
    });
  });
}
