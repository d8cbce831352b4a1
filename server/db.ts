/**
 * defensive.db: the reference programs' tables (clients, files) plus our extra columns.
 * Synchronous better-sqlite3 with prepared statements, WAL, foreign keys on. Schema changes
 * are migrations numbered by PRAGMA user_version, so a reference server's database (tables
 * present, user_version 0) is upgraded in place.
 *
 * WAL checkpoints (where SQLite fsyncs with synchronous=NORMAL) run on a worker thread with
 * its own connection, not on the event loop. Under strace, with 100 uploads and the disk
 * busy, the main thread had made 13 fsyncs of up to 100 ms each, stalling every connection
 * (a new client's registration once waited 1.46 s); now it makes one WAL-header sync per
 * 4 MiB of WAL (when a commit reuses the WAL after a checkpoint).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ServerError } from './errors';

/** How often the checkpoint thread copies the WAL into the database file. */
export const CHECKPOINT_INTERVAL_MS = 1000;
/** The checkpoint thread checkpoints once the WAL is this big (SQLite's default: 1000 pages). */
export const WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024;
/** SQLite's own default, restored on the main connection if the checkpoint thread fails. */
const DEFAULT_WAL_AUTOCHECKPOINT = 1000;

// Plain CommonJS so the thread needs no TypeScript loader. PASSIVE: copy what can be copied
// without waiting for (or blocking) the main connection's readers and writers. Only once the
// WAL has grown past WAL_CHECKPOINT_BYTES: after a complete checkpoint the main connection's
// next commit restarts the WAL and syncs its header, the one fsync left on the event loop,
// so that happens about as rarely as SQLite's own 1000-page checkpoints did.
const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const walSize = () => {
  try {
    return statSync(workerData.path + '-wal').size;
  } catch {
    return 0;
  }
};
// Only a checkpoint asked for with 'now' is reported (to checkpointNow()).
const checkpoint = (force) => {
  if (!force && walSize() < workerData.minBytes) return;
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (force) parentPort.postMessage({ checkpointed: r.checkpointed });
  } catch (e) {
    // A failed checkpoint (disk error, lock) is retried on the next tick; the WAL keeps the data.
    if (force) parentPort.postMessage({ checkpointed: -1, error: String((e && e.message) || e) });
  }
};
setInterval(() => checkpoint(false), workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'now') checkpoint(true);
});
`;

export interface ClientRow {
  ID: Buffer;
  Name: string;
  PublicKey: Buffer | null;
  LastSeen: string | null;
  AESKey: Buffer | null;
}

export interface FileRow {
  ID: Buffer;
  FileName: string;
  /** Stored file's path relative to the storage folder (data/files), '/'-separated. */
  PathName: string;
  Verified: number;
  Size: number | null;
  Cksum: number | null;
  ReceivedAt: string | null;
  /** Identifies one completed upload, so 1029/1030/1031 act on the attempt this connection sent. */
  Token: string | null;
}

export interface ListedFile extends FileRow {
  ClientName: string | null;
}

/** Each entry moves the schema from version i to i+1. Never edit one that has shipped. */
const MIGRATIONS: ReadonlyArray<(db: Database.Database) => void> = [
  // 0 -> 1: the spec's tables. IF NOT EXISTS keeps a reference server's existing tables.
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS clients (
        ID        BLOB PRIMARY KEY CHECK (length(ID) = 16),
        Name      TEXT NOT NULL UNIQUE,
        PublicKey BLOB CHECK (PublicKey IS NULL OR length(PublicKey) = 160),
        LastSeen  TEXT,
        AESKey    BLOB CHECK (AESKey IS NULL OR length(AESKey) = 32)
      );
      CREATE TABLE IF NOT EXISTS files (
        ID       BLOB NOT NULL REFERENCES clients(ID) ON DELETE CASCADE,
        FileName TEXT NOT NULL,
        PathName TEXT NOT NULL,
        Verified INTEGER NOT NULL DEFAULT 0
      );
    `);
  },
  // 1 -> 2: size, CRC, time and upload token per file; one row per (client, file name).
  (db) => {
    const have = new Set((db.pragma('table_info(files)') as { name: string }[]).map((c) => c.name));
    for (const [col, type] of [
      ['Size', 'INTEGER'],
      ['Cksum', 'INTEGER'],
      ['ReceivedAt', 'TEXT'],
      ['Token', 'TEXT'],
    ] as const) {
      if (!have.has(col)) db.exec(`ALTER TABLE files ADD COLUMN ${col} ${type}`);
    }
    // Older databases may hold duplicates; keep the newest row of each (client, name).
    db.exec(`
      DELETE FROM files WHERE rowid NOT IN (SELECT max(rowid) FROM files GROUP BY ID, FileName);
      CREATE UNIQUE INDEX IF NOT EXISTS files_client_name ON files(ID, FileName);
      CREATE INDEX IF NOT EXISTS files_path ON files(PathName COLLATE NOCASE);
    `);
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Applies pending migrations, each in its own transaction. Refuses a newer schema. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new ServerError(
      'SERVER_ERR_STORAGE',
      `defensive.db has schema version ${current}, newer than this server knows (${MIGRATIONS.length}). Upgrade the server.`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      MIGRATIONS[v]!(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

function prepareWrites(db: Database.Database) {
  return {
    insertClient: db.prepare<[Uint8Array, string, string]>(
      'INSERT INTO clients (ID, Name, LastSeen) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    deleteKeylessClient: db.prepare<[Uint8Array]>(
      `DELETE FROM clients WHERE ID = ? AND PublicKey IS NULL
         AND NOT EXISTS (SELECT 1 FROM files WHERE files.ID = clients.ID)`,
    ),
    setKeys: db.prepare<[Uint8Array | null, Uint8Array, string, Uint8Array]>(
      'UPDATE clients SET PublicKey = coalesce(?, PublicKey), AESKey = ?, LastSeen = ? WHERE ID = ?',
    ),
    touch: db.prepare<[string, Uint8Array]>('UPDATE clients SET LastSeen = ? WHERE ID = ?'),
    fileByName: db.prepare<[Uint8Array, string], FileRow>(
      'SELECT * FROM files WHERE ID = ? AND FileName = ?',
    ),
    pathTaken: db.prepare<[string], { x: number }>(
      'SELECT 1 AS x FROM files WHERE PathName = ? COLLATE NOCASE LIMIT 1',
    ),
    upsertFile: db.prepare<[Uint8Array, string, string, number, number, string, string]>(
      `INSERT INTO files (ID, FileName, PathName, Verified, Size, Cksum, ReceivedAt, Token)
       VALUES (?, ?, ?, 0, ?, ?, ?, ?)
       ON CONFLICT (ID, FileName) DO UPDATE SET PathName = excluded.PathName, Verified = 0,
         Size = excluded.Size, Cksum = excluded.Cksum, ReceivedAt = excluded.ReceivedAt, Token = excluded.Token`,
    ),
    verify: db.prepare<[Uint8Array, string, string | null, string | null]>(
      'UPDATE files SET Verified = 1 WHERE ID = ? AND FileName = ? AND (? IS NULL OR Token = ?)',
    ),
    unverify: db.prepare<[Uint8Array, string]>('UPDATE files SET Verified = 0 WHERE ID = ? AND FileName = ?'),
    claim: db.prepare<[string, Uint8Array, string]>(
      'UPDATE files SET Verified = 0, Token = ? WHERE ID = ? AND FileName = ?',
    ),
    deleteFile: db.prepare<[Uint8Array, string]>('DELETE FROM files WHERE ID = ? AND FileName = ?'),
  };
}
type WriteStatements = ReturnType<typeof prepareWrites>;

export class ServerDatabase {
  readonly #db: Database.Database;
  readonly #s;
  readonly #writes: WriteStatements | null;

  #checkpointer: Worker | null = null;
  /** Resolvers waiting for the next checkpoint report (tests). */
  #checkpointWaiters: ((pages: number) => void)[] = [];

  constructor(
    path: string,
    opts: {
      readonly?: boolean;
      /** 0 keeps SQLite's automatic checkpoints on the main connection (no thread). */
      checkpointIntervalMs?: number;
      /** WAL size from which the thread checkpoints (default WAL_CHECKPOINT_BYTES). */
      checkpointMinBytes?: number;
    } = {},
  ) {
    try {
      this.#db = new Database(path, {
        readonly: opts.readonly ?? false,
        fileMustExist: opts.readonly ?? false,
      });
      this.#db.pragma('busy_timeout = 5000');
      if (!opts.readonly) {
        this.#db.pragma('journal_mode = WAL');
        // NORMAL in WAL mode: a crash of the process loses nothing committed; power loss may
        // lose the last transactions but never corrupts the database.
        this.#db.pragma('synchronous = NORMAL');
        this.#db.pragma('foreign_keys = ON');
        migrate(this.#db);
        const interval = opts.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
        if (interval > 0)
          this.#startCheckpointer(path, interval, opts.checkpointMinBytes ?? WAL_CHECKPOINT_BYTES);
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
    const ro = opts.readonly ?? false;
    this.#s = {
      clientById: db.prepare<[Uint8Array], ClientRow>('SELECT * FROM clients WHERE ID = ?'),
      clientByName: db.prepare<[string], ClientRow>('SELECT * FROM clients WHERE Name = ?'),
      listFiles: db.prepare<[], ListedFile>(
        `SELECT f.*, c.Name AS ClientName FROM files f LEFT JOIN clients c ON c.ID = f.ID
         ORDER BY f.ReceivedAt, f.rowid`,
      ),
    };
    this.#writes = ro ? null : prepareWrites(db);
  }

  #w(): WriteStatements {
    if (!this.#writes) throw new ServerError('SERVER_ERR_STORAGE', 'The database is open read-only.');
    return this.#writes;
  }

  clientById(id: Uint8Array): ClientRow | undefined {
    return this.#s.clientById.get(id);
  }

  clientByName(name: string): ClientRow | undefined {
    return this.#s.clientByName.get(name);
  }

  /** Inserts a new client; false when the name (or, improbably, the ID) is taken. */
  insertClient(id: Uint8Array, name: string, now: string): boolean {
    return this.#w().insertClient.run(id, name, now).changes === 1;
  }

  /**
   * Gives a name whose registration never got a public key (the client vanished between 1025
   * and 1026) to a new client ID, in one transaction. False if the old row has a key or files.
   */
  reclaimKeylessName(oldId: Uint8Array, newId: Uint8Array, name: string, now: string): boolean {
    const w = this.#w();
    return this.#db.transaction(() => {
      if (w.deleteKeylessClient.run(oldId).changes !== 1) return false;
      return w.insertClient.run(newId, name, now).changes === 1;
    })();
  }

  /** Stores a new AES key (and the public key, when given) and updates LastSeen. */
  setKeys(id: Uint8Array, publicKey: Uint8Array | null, aesKey: Uint8Array, now: string): void {
    this.#w().setKeys.run(publicKey, aesKey, now, id);
  }

  touch(id: Uint8Array, now: string): void {
    this.#w().touch.run(now, id);
  }

  fileByName(id: Uint8Array, fileName: string): FileRow | undefined {
    return this.#w().fileByName.get(id, fileName);
  }

  /** True when any client's row already uses this stored path (compared without case). */
  pathTaken(pathName: string): boolean {
    return this.#w().pathTaken.get(pathName) !== undefined;
  }

  /** Records a completed upload, unverified; replaces the row of an earlier upload of the same name. */
  upsertFile(f: {
    id: Uint8Array;
    fileName: string;
    pathName: string;
    size: number;
    cksum: number;
    receivedAt: string;
    token: string;
  }): void {
    this.#w().upsertFile.run(f.id, f.fileName, f.pathName, f.size, f.cksum, f.receivedAt, f.token);
  }

  /** Marks the file verified (only the upload `token`, when given); returns rows changed. */
  markVerified(id: Uint8Array, fileName: string, token: string | null): number {
    return this.#w().verify.run(id, fileName, token, token).changes;
  }

  /** Clears Verified before the stored file is replaced, so a crash mid-replace never leaves new bytes marked verified. */
  markUnverified(id: Uint8Array, fileName: string): void {
    this.#w().unverify.run(id, fileName);
  }

  /**
   * Before the stored file is replaced: clears Verified (a crash mid-replace never leaves new
   * bytes marked verified) and gives the row the new upload's token, so the connection of
   * the upload being replaced can no longer verify or remove it.
   */
  claimFile(id: Uint8Array, fileName: string, token: string): void {
    this.#w().claim.run(token, id, fileName);
  }

  /**
   * Deletes the file's row when it belongs to upload `token` (any upload when null) and
   * returns it, so the caller can remove the stored file.
   */
  deleteFile(id: Uint8Array, fileName: string, token: string | null): FileRow | undefined {
    return this.#db.transaction(() => {
      const row = this.fileByName(id, fileName);
      if (!row || (token !== null && row.Token !== token)) return undefined;
      this.#w().deleteFile.run(id, fileName);
      return row;
    })();
  }

  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }

  listFiles(): ListedFile[] {
    return this.#s.listFiles.all();
  }

  integrityCheck(): string {
    return this.#db.pragma('integrity_check', { simple: true }) as string;
  }

  /** True while WAL checkpoints run on the checkpoint thread (false after a fallback). */
  get checkpointsInBackground(): boolean {
    return this.#checkpointer !== null;
  }

  /** Asks the checkpoint thread for a checkpoint now; resolves with the pages it copied (tests). */
  checkpointNow(): Promise<number> {
    const w = this.#checkpointer;
    if (!w) return Promise.reject(new Error('No checkpoint thread is running.'));
    return new Promise((resolve) => {
      this.#checkpointWaiters.push(resolve);
      w.postMessage('now');
    });
  }

  /**
   * Stops the checkpoint thread as if it had died: the main connection checkpoints on commit
   * again (SQLite's default). Resolves once the thread has exited.
   */
  async stopCheckpointThread(): Promise<void> {
    const w = this.#checkpointer;
    if (!w) return;
    await w.terminate(); // 'exit' runs the fallback below
  }

  #startCheckpointer(path: string, intervalMs: number, minBytes: number): void {
    const worker = new Worker(CHECKPOINTER_SOURCE, {
      eval: true,
      workerData: {
        path,
        intervalMs,
        minBytes,
        module: createRequire(import.meta.url).resolve('better-sqlite3'),
      },
    });
    worker.unref();
    worker.on('message', (m: { checkpointed: number }) => {
      for (const resolve of this.#checkpointWaiters.splice(0)) resolve(m.checkpointed);
    });
    const fallBack = () => {
      if (this.#checkpointer !== worker) return;
      this.#checkpointer = null;
      // Without the thread the WAL would grow for ever: SQLite checkpoints on commit again.
      if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${DEFAULT_WAL_AUTOCHECKPOINT}`);
    };
    worker.on('error', fallBack);
    worker.on('exit', fallBack);
    this.#checkpointer = worker;
    this.#db.pragma('wal_autocheckpoint = 0');
    // The WAL file shrinks back when it is reused, so its size tells the thread how much
    // waits to be checkpointed (otherwise it keeps its largest size for ever).
    this.#db.pragma('journal_size_limit = 0');
  }

  close(): void {
    const w = this.#checkpointer;
    this.#checkpointer = null;
    // The thread's connection closes with the thread; SQLite keeps the WAL safe meanwhile,
    // and the last connection to close checkpoints what is left.
    if (w) void w.terminate();
    if (this.#db.open) this.#db.close();
  }
}
