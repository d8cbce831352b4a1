/**
 * defensive.db's schema: the reference programs' tables (clients, files) plus our extra
 * columns, as migrations numbered by PRAGMA user_version, so a reference server's database
 * (tables present, user_version 0) is upgraded in place.
 */
import type Sqlite from 'better-sqlite3';
import { ServerError } from './errors';

/** Each entry moves the schema from version i to i+1. Never edit one that has shipped. */
const MIGRATIONS: ReadonlyArray<(db: Sqlite.Database) => void> = [
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
  // 2 -> 3: an opaque folder per client for new files (existing rows keep their PathName).
  (db) => {
    const have = new Set((db.pragma('table_info(clients)') as { name: string }[]).map((c) => c.name));
    if (!have.has('Folder')) db.exec('ALTER TABLE clients ADD COLUMN Folder TEXT');
    db.exec('CREATE UNIQUE INDEX IF NOT EXISTS clients_folder ON clients(Folder COLLATE NOCASE)');
  },
  // 3 -> 4: invites (issue 15) and the invite each client registered with (NULL: none, as
  // every client before). Usage is summed from files, never kept twice. Times are ISO 8601.
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS invites (
        ID         TEXT PRIMARY KEY CHECK (length(ID) = 16),
        Label      TEXT NOT NULL DEFAULT '',
        CreatedAt  TEXT NOT NULL,
        ExpiresAt  TEXT NOT NULL,
        MaxBytes   INTEGER CHECK (MaxBytes IS NULL OR MaxBytes >= 0),
        MaxFiles   INTEGER CHECK (MaxFiles IS NULL OR MaxFiles >= 0),
        MaxClients INTEGER NOT NULL CHECK (MaxClients >= 1),
        RevokedAt  TEXT
      );
    `);
    const have = new Set((db.pragma('table_info(clients)') as { name: string }[]).map((c) => c.name));
    if (!have.has('InviteID')) db.exec('ALTER TABLE clients ADD COLUMN InviteID TEXT REFERENCES invites(ID)');
    db.exec('CREATE INDEX IF NOT EXISTS clients_invite ON clients(InviteID)');
  },
  // 4 -> 5: protocol v4 identities: a client's Ed25519 public key names its clients row.
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS v4_keys (
        Key BLOB PRIMARY KEY CHECK (length(Key) = 32),
        ID  BLOB NOT NULL UNIQUE REFERENCES clients(ID) ON DELETE CASCADE
      );
    `);
  },
  // 5 -> 6: the SHA-256 (hex) of a file stored through protocol v4 (NULL for v3's, which
  // carry a CRC only).
  (db) => {
    const have = new Set((db.pragma('table_info(files)') as { name: string }[]).map((c) => c.name));
    if (!have.has('Sha256')) db.exec('ALTER TABLE files ADD COLUMN Sha256 TEXT');
  },
  // 6 -> 7: changes of the stored files written down before they start (database.ts
  // PendingChange), as JSON, and when (ms since the epoch); finished or undone at the next
  // start, removals also by a running server once old (FileStore.finishRemovals).
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS pending_changes (
        Seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        NotedAt INTEGER NOT NULL,
        Change  TEXT NOT NULL
      );
    `);
  },
  // 7 -> 8: the count and bytes of all stored files in one row, kept by triggers on files in
  // the statement that changes them (so also for `clients remove` in another process, or
  // another program writing the table). The server asks for them at every upload start and
  // extension when --max-total-bytes is set, and summing the table each time scanned every
  // row: about 38 ms a start at a million files, on the event loop, for any client with a key.
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS files_total (
        One   INTEGER PRIMARY KEY CHECK (One = 1),
        Files INTEGER NOT NULL,
        Bytes INTEGER NOT NULL
      );
      INSERT OR REPLACE INTO files_total (One, Files, Bytes)
        SELECT 1, count(*), coalesce(sum(Size), 0) FROM files;
      CREATE TRIGGER IF NOT EXISTS files_total_insert AFTER INSERT ON files BEGIN
        UPDATE files_total SET Files = Files + 1, Bytes = Bytes + coalesce(NEW.Size, 0);
      END;
      CREATE TRIGGER IF NOT EXISTS files_total_delete AFTER DELETE ON files BEGIN
        UPDATE files_total SET Files = Files - 1, Bytes = Bytes - coalesce(OLD.Size, 0);
      END;
      CREATE TRIGGER IF NOT EXISTS files_total_size AFTER UPDATE OF Size ON files BEGIN
        UPDATE files_total SET Bytes = Bytes - coalesce(OLD.Size, 0) + coalesce(NEW.Size, 0);
      END;
    `);
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Applies pending migrations, each in its own transaction. Refuses a newer schema. */
export function migrate(db: Sqlite.Database): void {
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
