/**
 * The SQLite implementation of Database (database.ts): defensive.db through synchronous
 * better-sqlite3 with prepared statements, WAL, foreign keys on; the async methods resolve at
 * once. Schema and migrations in db-schema.ts; WAL checkpoints run on their own thread
 * (db-checkpoint.ts).
 */
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import Sqlite from 'better-sqlite3';
import { FILE_MODE } from './data-folder';
import type {
  ClientListing,
  ClientRow,
  Database,
  FileRow,
  InviteListing,
  InviteRow,
  InviteSlot,
  InviteUsage,
  ListedFile,
  NewFile,
  PendingChange,
  PendingEntry,
  Usage,
} from './database';
import {
  CHECKPOINT_INTERVAL_MS,
  CheckpointThread,
  noCheckpointThread,
  WAL_CHECKPOINT_BYTES,
  WAL_LIMIT_BYTES,
} from './db-checkpoint';
import { migrate } from './db-schema';
import { ServerError } from './errors';

export type { ClientRow, FileRow, ListedFile } from './database';
export { SCHEMA_VERSION } from './db-schema';

/**
 * The database file exists 0600 before SQLite opens it, whatever the umask; SQLite creates
 * the -wal and -shm files with the database file's mode. Startup only, so synchronous.
 */
function createPrivateFile(path: string): void {
  closeSync(openSync(path, 'a', FILE_MODE));
  if ((statSync(path).mode & 0o777) !== FILE_MODE) chmodSync(path, FILE_MODE);
}

function prepareWrites(db: Sqlite.Database) {
  return {
    // The invite's slot and the server's cap are counted in the same statement, so two
    // 1025s (or new v4 keys) cannot take one slot.
    insertClient: db.prepare<
      [{ id: Uint8Array; name: string; now: string; invite: string | null; max: number; cap: number | null }]
    >(
      `INSERT INTO clients (ID, Name, LastSeen, InviteID)
       SELECT @id, @name, @now, @invite
       WHERE (@invite IS NULL OR (SELECT count(*) FROM clients WHERE InviteID = @invite) < @max)
         AND (@cap IS NULL OR (SELECT count(*) FROM clients) < @cap)
       ON CONFLICT DO NOTHING`,
    ),
    insertInvite: db.prepare<[InviteRow]>(
      `INSERT INTO invites (ID, Label, CreatedAt, ExpiresAt, MaxBytes, MaxFiles, MaxClients, RevokedAt)
       VALUES (@ID, @Label, @CreatedAt, @ExpiresAt, @MaxBytes, @MaxFiles, @MaxClients, @RevokedAt)`,
    ),
    revokeInvite: db.prepare<[string, string]>(
      'UPDATE invites SET RevokedAt = coalesce(RevokedAt, ?) WHERE ID = ?',
    ),
    deleteClient: db.prepare<[Uint8Array]>('DELETE FROM clients WHERE ID = ?'),
    // Explicitly: with foreign keys off (a client removed without its files) no cascade runs.
    deleteV4Key: db.prepare<[Uint8Array]>('DELETE FROM v4_keys WHERE ID = ?'),
    clientFiles: db.prepare<[Uint8Array], FileRow>('SELECT * FROM files WHERE ID = ? ORDER BY rowid'),
    deleteKeylessClient: db.prepare<[Uint8Array]>(
      `DELETE FROM clients WHERE ID = ? AND PublicKey IS NULL
         AND NOT EXISTS (SELECT 1 FROM files WHERE files.ID = clients.ID)
         AND NOT EXISTS (SELECT 1 FROM v4_keys WHERE v4_keys.ID = clients.ID)`,
    ),
    setKeys: db.prepare<[Uint8Array | null, Uint8Array, string, Uint8Array]>(
      'UPDATE clients SET PublicKey = coalesce(?, PublicKey), AESKey = ?, LastSeen = ? WHERE ID = ?',
    ),
    touch: db.prepare<[string, Uint8Array]>('UPDATE clients SET LastSeen = ? WHERE ID = ?'),
    insertV4Key: db.prepare<[Uint8Array, Uint8Array]>(
      'INSERT INTO v4_keys (Key, ID) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ),
    setFolder: db.prepare<[string, Uint8Array]>(
      'UPDATE clients SET Folder = ? WHERE ID = ? AND Folder IS NULL',
    ),
    fileByName: db.prepare<[Uint8Array, string], FileRow>(
      'SELECT * FROM files WHERE ID = ? AND FileName = ?',
    ),
    pathTaken: db.prepare<[string], { x: number }>(
      'SELECT 1 AS x FROM files WHERE PathName = ? COLLATE NOCASE LIMIT 1',
    ),
    upsertFile: db.prepare<
      [Uint8Array, string, string, number, number | null, string, string, string | null]
    >(
      `INSERT INTO files (ID, FileName, PathName, Verified, Size, Cksum, ReceivedAt, Token, Sha256)
       VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?)
       ON CONFLICT (ID, FileName) DO UPDATE SET PathName = excluded.PathName, Verified = 0,
         Size = excluded.Size, Cksum = excluded.Cksum, ReceivedAt = excluded.ReceivedAt, Token = excluded.Token,
         Sha256 = excluded.Sha256`,
    ),
    verify: db.prepare<[Uint8Array, string, string | null, string | null]>(
      'UPDATE files SET Verified = 1 WHERE ID = ? AND FileName = ? AND (? IS NULL OR Token = ?)',
    ),
    claim: db.prepare<[string, Uint8Array, string]>(
      'UPDATE files SET Verified = 0, Token = ? WHERE ID = ? AND FileName = ?',
    ),
    unclaim: db.prepare<[string | null, number, Uint8Array, string, string]>(
      'UPDATE files SET Token = ?, Verified = ? WHERE ID = ? AND FileName = ? AND Token = ?',
    ),
    deleteFile: db.prepare<[Uint8Array, string]>('DELETE FROM files WHERE ID = ? AND FileName = ?'),
    notePending: db.prepare<[number, string]>('INSERT INTO pending_changes (NotedAt, Change) VALUES (?, ?)'),
    dropPending: db.prepare<[number]>('DELETE FROM pending_changes WHERE Seq = ?'),
  };
}
type WriteStatements = ReturnType<typeof prepareWrites>;

export interface SqliteOptions {
  readonly?: boolean;
  /** 0 keeps SQLite's automatic checkpoints on the main connection (no thread). */
  checkpointIntervalMs?: number;
  /** WAL size from which the thread checkpoints (default WAL_CHECKPOINT_BYTES). */
  checkpointMinBytes?: number;
  /** Hard bound on the WAL (default WAL_LIMIT_BYTES): past it writers wait for a truncating checkpoint. */
  walLimitBytes?: number;
}

/** Statements over the invites table (schema 4), prepared on first use: a read-only open of an older database never needs them. */
function prepareInviteReads(db: Sqlite.Database) {
  return {
    inviteById: db.prepare<[string], InviteRow>('SELECT * FROM invites WHERE ID = ?'),
    listInvites: db.prepare<[], InviteListing>(
      `SELECT i.*,
         (SELECT count(*) FROM clients c WHERE c.InviteID = i.ID) AS clients,
         (SELECT count(*) FROM files f JOIN clients c ON c.ID = f.ID WHERE c.InviteID = i.ID) AS files,
         (SELECT coalesce(sum(f.Size), 0) FROM files f JOIN clients c ON c.ID = f.ID WHERE c.InviteID = i.ID) AS bytes
       FROM invites i ORDER BY i.CreatedAt, i.rowid`,
    ),
    inviteUsage: db.prepare<[string, string], InviteUsage>(
      `SELECT (SELECT count(*) FROM clients WHERE InviteID = ?) AS clients, count(f.ID) AS files,
         coalesce(sum(f.Size), 0) AS bytes
       FROM files f JOIN clients c ON c.ID = f.ID WHERE c.InviteID = ?`,
    ),
    clientUsage: db.prepare<[Uint8Array], Usage>(
      'SELECT count(*) AS files, coalesce(sum(Size), 0) AS bytes FROM files WHERE ID = ?',
    ),
    // Kept by triggers (schema 8): one row, not a scan of every file.
    totalUsage: db.prepare<[], Usage>('SELECT Files AS files, Bytes AS bytes FROM files_total'),
    listClients: db.prepare<
      [],
      Omit<ClientListing, 'HasKey' | 'HasV4Key'> & { HasKey: number; HasV4Key: number }
    >(
      `SELECT c.ID, c.Name, c.LastSeen, c.InviteID, c.PublicKey IS NOT NULL AS HasKey,
         EXISTS (SELECT 1 FROM v4_keys k WHERE k.ID = c.ID) AS HasV4Key,
         count(f.ID) AS files, coalesce(sum(f.Size), 0) AS bytes
       FROM clients c LEFT JOIN files f ON f.ID = c.ID GROUP BY c.ID ORDER BY c.Name`,
    ),
  };
}
type InviteReads = ReturnType<typeof prepareInviteReads>;

/** A PendingChange as stored: JSON, the client ID in hex. */
function encodeChange(c: PendingChange): string {
  if (c.kind === 'remove') return JSON.stringify(c);
  return JSON.stringify({ ...c, file: { ...c.file, id: Buffer.from(c.file.id).toString('hex') } });
}

function decodeChange(seq: number, text: string): PendingChange {
  const damaged = () =>
    new ServerError(
      'SERVER_ERR_STORAGE',
      `The pending change ${seq} in defensive.db is damaged: ${text.slice(0, 200)}`,
    );
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch {
    throw damaged();
  }
  const o = c as { kind?: unknown; pathName?: unknown; source?: unknown; file?: Record<string, unknown> };
  if (typeof o.pathName !== 'string') throw damaged();
  if (o.kind === 'remove') return { kind: 'remove', pathName: o.pathName };
  const f = o.file;
  if (
    o.kind !== 'store' ||
    typeof o.source !== 'string' ||
    !f ||
    typeof f.id !== 'string' ||
    !/^[0-9a-f]{32}$/.test(f.id)
  )
    throw damaged();
  const file = { ...(f as unknown as NewFile), id: new Uint8Array(Buffer.from(f.id, 'hex')) };
  const r = (c as { replaced?: { token?: unknown; verified?: unknown; kept?: unknown } }).replaced;
  const replaced =
    r && (typeof r.token === 'string' || r.token === null) && typeof r.verified === 'boolean'
      ? {
          replaced: {
            token: r.token,
            verified: r.verified,
            ...(typeof r.kept === 'string' ? { kept: r.kept } : {}),
          },
        }
      : {};
  return { kind: 'store', pathName: o.pathName, source: o.source, file, ...replaced };
}

/** Thrown inside a transaction to roll it back. */
const NO_SLOT = Symbol('no invite slot');

export class SqliteDatabase implements Database {
  readonly #db: Sqlite.Database;
  readonly #s;
  readonly #writes: WriteStatements | null;
  #inviteReads: InviteReads | null = null;
  readonly #checkpoints: CheckpointThread | null = null;

  constructor(path: string, opts: SqliteOptions = {}) {
    const ro = opts.readonly ?? false;
    try {
      if (!ro) createPrivateFile(path);
      this.#db = new Sqlite(path, { readonly: ro, fileMustExist: ro });
      this.#db.pragma('busy_timeout = 5000');
      if (!ro) {
        this.#db.pragma('journal_mode = WAL');
        // NORMAL in WAL mode: a crash of the process loses nothing committed; power loss may
        // lose the last transactions but never corrupts the database.
        this.#db.pragma('synchronous = NORMAL');
        this.#db.pragma('foreign_keys = ON');
        migrate(this.#db);
        // The triggers keep files_total exact for every write that fires them; another program
        // writing files with INSERT OR REPLACE fires no delete trigger (SQLite: only with
        // recursive_triggers). One sum per open (about 40 ms at a million rows) sets it right.
        this.#db.exec(
          'UPDATE files_total SET Files = (SELECT count(*) FROM files), Bytes = (SELECT coalesce(sum(Size), 0) FROM files)',
        );
        const intervalMs = opts.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
        if (intervalMs > 0) {
          const minBytes = opts.checkpointMinBytes ?? WAL_CHECKPOINT_BYTES;
          const limitBytes = Math.max(minBytes, opts.walLimitBytes ?? WAL_LIMIT_BYTES);
          this.#checkpoints = new CheckpointThread(this.#db, { path, intervalMs, minBytes, limitBytes });
        }
      }
    } catch (e) {
      if (e instanceof ServerError) throw e;
      throw new ServerError(
        'SERVER_ERR_STORAGE',
        `Cannot open the database ${path}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    const db = this.#db;
    this.#s = {
      clientById: db.prepare<[Uint8Array], ClientRow>('SELECT * FROM clients WHERE ID = ?'),
      clientByName: db.prepare<[string], ClientRow>('SELECT * FROM clients WHERE Name = ?'),
      clientCount: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM clients'),
      clientByV4Key: db.prepare<[Uint8Array], ClientRow>(
        'SELECT c.* FROM clients c JOIN v4_keys k ON k.ID = c.ID WHERE k.Key = ?',
      ),
      listFiles: db.prepare<[], ListedFile>(
        `SELECT f.*, c.Name AS ClientName FROM files f LEFT JOIN clients c ON c.ID = f.ID
         ORDER BY f.ReceivedAt, f.rowid`,
      ),
    };
    this.#writes = ro ? null : prepareWrites(db);
  }

  get #i(): InviteReads {
    this.#inviteReads ??= prepareInviteReads(this.#db);
    return this.#inviteReads;
  }

  #w(): WriteStatements {
    if (!this.#writes) throw new ServerError('SERVER_ERR_STORAGE', 'The database is open read-only.');
    this.#checkpoints?.enforceBound();
    return this.#writes;
  }

  async clientById(id: Uint8Array): Promise<ClientRow | undefined> {
    return this.#s.clientById.get(id);
  }

  async clientByName(name: string): Promise<ClientRow | undefined> {
    return this.#s.clientByName.get(name);
  }

  async clientCount(): Promise<number> {
    return this.#s.clientCount.get()!.n;
  }

  async clientFolder(id: Uint8Array, proposed: string): Promise<string | undefined> {
    const w = this.#w();
    return this.#db.transaction(() => {
      w.setFolder.run(proposed, id);
      return this.#s.clientById.get(id)?.Folder ?? undefined;
    })();
  }

  async clientByV4Key(key: Uint8Array): Promise<ClientRow | undefined> {
    return this.#s.clientByV4Key.get(key);
  }

  async insertV4Client(
    id: Uint8Array,
    name: string,
    key: Uint8Array,
    now: string,
    invite?: InviteSlot,
    maxClients?: number,
  ): Promise<boolean> {
    const w = this.#w();
    return this.#db.transaction(() => {
      if (!this.#insertClient(id, name, now, invite, maxClients)) return false;
      if (w.insertV4Key.run(key, id).changes === 1) return true;
      w.deleteKeylessClient.run(id); // the key was taken: undo the row
      return false;
    })();
  }

  async insertClient(
    id: Uint8Array,
    name: string,
    now: string,
    invite?: InviteSlot,
    maxClients?: number,
  ): Promise<boolean> {
    return this.#insertClient(id, name, now, invite, maxClients);
  }

  #insertClient(
    id: Uint8Array,
    name: string,
    now: string,
    invite: InviteSlot | undefined,
    maxClients?: number,
  ): boolean {
    const slot = { invite: invite?.id ?? null, max: invite?.maxClients ?? 0, cap: maxClients ?? null };
    return this.#w().insertClient.run({ id, name, now, ...slot }).changes === 1;
  }

  async reclaimKeylessName(
    oldId: Uint8Array,
    newId: Uint8Array,
    name: string,
    now: string,
    invite?: InviteSlot,
  ): Promise<boolean> {
    const w = this.#w();
    const reclaim = this.#db.transaction(() => {
      if (w.deleteKeylessClient.run(oldId).changes !== 1) return false;
      // No slot: the transaction is rolled back, so the old row stays.
      if (!this.#insertClient(newId, name, now, invite)) throw NO_SLOT;
      return true;
    });
    try {
      return reclaim();
    } catch (e) {
      if (e === NO_SLOT) return false;
      throw e;
    }
  }

  async setKeys(
    id: Uint8Array,
    publicKey: Uint8Array | null,
    aesKey: Uint8Array,
    now: string,
  ): Promise<void> {
    this.#w().setKeys.run(publicKey, aesKey, now, id);
  }

  async touch(id: Uint8Array, now: string): Promise<void> {
    this.#w().touch.run(now, id);
  }

  async fileByName(id: Uint8Array, fileName: string): Promise<FileRow | undefined> {
    return this.#w().fileByName.get(id, fileName);
  }

  async pathTaken(pathName: string): Promise<boolean> {
    return this.#w().pathTaken.get(pathName) !== undefined;
  }

  async upsertFile(f: NewFile): Promise<void> {
    this.#upsert(f);
  }

  #upsert(f: NewFile): void {
    this.#w().upsertFile.run(
      f.id,
      f.fileName,
      f.pathName,
      f.size,
      f.cksum,
      f.receivedAt,
      f.token,
      f.sha256 ?? null,
    );
  }

  async markVerified(id: Uint8Array, fileName: string, token: string | null): Promise<number> {
    return this.#w().verify.run(id, fileName, token, token).changes;
  }

  async claimFile(id: Uint8Array, fileName: string, token: string): Promise<void> {
    this.#w().claim.run(token, id, fileName);
  }

  async unclaimFile(
    id: Uint8Array,
    fileName: string,
    claimed: string,
    back: { token: string | null; verified: boolean },
  ): Promise<void> {
    this.#w().unclaim.run(back.token, back.verified ? 1 : 0, id, fileName, claimed);
  }

  async deleteFile(id: Uint8Array, fileName: string, token: string | null): Promise<FileRow | undefined> {
    const w = this.#w();
    return this.#db.transaction(() => {
      const row = w.fileByName.get(id, fileName);
      if (!row || (token !== null && row.Token !== token)) return undefined;
      w.deleteFile.run(id, fileName);
      return row;
    })();
  }

  async clientFiles(id: Uint8Array): Promise<FileRow[]> {
    return this.#w().clientFiles.all(id);
  }

  async notePending(changes: readonly PendingChange[]): Promise<number[]> {
    const w = this.#w();
    const at = Date.now();
    const note = this.#db.transaction(() =>
      changes.map((c) => Number(w.notePending.run(at, encodeChange(c)).lastInsertRowid)),
    );
    // Durable before the change starts, power cuts included: the WAL is fsync'd at this
    // commit (NORMAL, the rest's setting, may lose the last commits to a power cut, while
    // the rename it precedes is made durable). A connection setting; synchronous code, so
    // nothing else commits meanwhile.
    this.#db.pragma('synchronous = FULL');
    try {
      return note();
    } finally {
      this.#db.pragma('synchronous = NORMAL');
    }
  }

  async completeStore(seq: number, f: NewFile, verified = false, keepNote = false): Promise<void> {
    const w = this.#w();
    this.#db.transaction(() => {
      this.#upsert(f);
      if (verified) w.verify.run(f.id, f.fileName, f.token, f.token);
      if (!keepNote) w.dropPending.run(seq);
    })();
  }

  async dropPending(seqs: readonly number[]): Promise<void> {
    const w = this.#w();
    this.#db.transaction(() => {
      for (const seq of seqs) w.dropPending.run(seq);
    })();
  }

  async pending(): Promise<PendingEntry[]> {
    // Read-only (`check`), the database may be older than the table: then nothing is pending.
    const table = this.#db
      .prepare("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'pending_changes'")
      .get();
    if (!table) return [];
    return this.#db
      .prepare<[], { Seq: number; NotedAt: number; Change: string }>(
        'SELECT Seq, NotedAt, Change FROM pending_changes ORDER BY Seq',
      )
      .all()
      .map((r) => ({ seq: r.Seq, notedAt: r.NotedAt, change: decodeChange(r.Seq, r.Change) }));
  }

  async files(): Promise<ListedFile[]> {
    return this.listFiles();
  }

  async insertInvite(invite: InviteRow): Promise<void> {
    this.#w().insertInvite.run(invite);
  }

  async inviteById(id: string): Promise<InviteRow | undefined> {
    return this.#i.inviteById.get(id);
  }

  async invites(): Promise<InviteListing[]> {
    return this.#i.listInvites.all();
  }

  async revokeInvite(id: string, now: string): Promise<InviteRow | undefined> {
    this.#w().revokeInvite.run(now, id);
    return this.#i.inviteById.get(id);
  }

  async inviteUsage(id: string): Promise<InviteUsage> {
    return this.#i.inviteUsage.get(id, id)!;
  }

  async clientUsage(id: Uint8Array): Promise<Usage> {
    return this.#i.clientUsage.get(id)!;
  }

  async totalUsage(): Promise<Usage> {
    return this.#i.totalUsage.get()!;
  }

  async clients(): Promise<ClientListing[]> {
    return this.#i.listClients
      .all()
      .map((c) => ({ ...c, HasKey: c.HasKey === 1, HasV4Key: c.HasV4Key === 1 }));
  }

  async removeClient(id: Uint8Array, withFiles: boolean): Promise<FileRow[] | undefined> {
    const w = this.#w();
    if (withFiles) {
      // One write transaction from the read to the delete (BEGIN IMMEDIATE: no other
      // process's write can commit between them). As two statements, a row the server
      // stored in between went with the client (ON DELETE CASCADE) but was not returned, so
      // its file stayed in files/ with no row and no pending removal.
      return this.#db
        .transaction(() => {
          if (!this.#s.clientById.get(id)) return undefined;
          const rows = w.clientFiles.all(id);
          w.deleteClient.run(id);
          return rows;
        })
        .immediate();
    }
    if (!this.#s.clientById.get(id)) return undefined;
    const rows = w.clientFiles.all(id);
    // The files rows stay, without their client: foreign keys off for this one transaction
    // (a connection setting, not allowed inside one; synchronous, so nothing else runs on
    // this connection meanwhile). Its v4 key goes by hand: a key left behind named a client
    // that was gone, and that key was refused at every connection from then on.
    this.#db.pragma('foreign_keys = OFF');
    try {
      this.#db.transaction(() => {
        w.deleteV4Key.run(id);
        w.deleteClient.run(id);
      })();
    } finally {
      this.#db.pragma('foreign_keys = ON');
    }
    return rows;
  }

  /** files(), synchronously: files-command.ts still lists this way. */
  listFiles(): ListedFile[] {
    return this.#s.listFiles.all();
  }

  integrityCheck(): string {
    return this.#db.pragma('integrity_check', { simple: true }) as string;
  }

  /** True while WAL checkpoints run on the checkpoint thread (false after a fallback). */
  get checkpointsInBackground(): boolean {
    return this.#checkpoints?.running ?? false;
  }

  /** Asks the checkpoint thread for a checkpoint now; resolves with the pages it copied (tests). */
  checkpointNow(): Promise<number> {
    return this.#checkpoints?.now() ?? noCheckpointThread();
  }

  /**
   * Stops the checkpoint thread as if it had died: the main connection checkpoints on commit
   * again (SQLite's default). Resolves once the thread has exited.
   */
  async stopCheckpointThread(): Promise<void> {
    await this.#checkpoints?.stop();
  }

  /** Synchronous underneath: the database is closed when this returns (the promise is for the interface). */
  close(): Promise<void> {
    this.#checkpoints?.close();
    if (this.#db.open) this.#db.close();
    return Promise.resolve();
  }
}

/** The name files-command.ts opens the database by (it uses the synchronous listFiles()). */
export { SqliteDatabase as ServerDatabase };
