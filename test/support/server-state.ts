/**
 * What the file server stored: rows of defensive.db and the bytes under data/files, read
 * directly (better-sqlite3, read-only), so tests check the server and not only the client.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface ClientRow {
  ID: Buffer;
  Name: string;
  PublicKey: Buffer | null;
  LastSeen: string | null;
}

export interface FileRow {
  ID: Buffer;
  FileName: string;
  PathName: string;
  Verified: number;
}

/** The data folder's database, read-only; the caller closes it. */
export function openDb(dataDir: string): Database.Database {
  return new Database(join(dataDir, 'defensive.db'), { readonly: true, fileMustExist: true });
}

/** One read-only query against the data folder's database. */
export function queryDb<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const db = openDb(dataDir);
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export class ServerState {
  constructor(readonly dataDir: string) {}

  #query<T>(sql: string, ...params: unknown[]): T[] {
    return queryDb<T>(this.dataDir, sql, ...params);
  }

  clientsNamed(name: string): ClientRow[] {
    return this.#query<ClientRow>('SELECT ID, Name, PublicKey, LastSeen FROM clients WHERE Name = ?', name);
  }

  filesOf(clientId: Buffer): FileRow[] {
    return this.#query<FileRow>('SELECT ID, FileName, PathName, Verified FROM files WHERE ID = ?', clientId);
  }

  file(clientId: Buffer, fileName: string): FileRow | undefined {
    return this.filesOf(clientId).find((f) => f.FileName === fileName);
  }

  storedPath(row: FileRow): string {
    return join(this.dataDir, 'files', row.PathName);
  }

  /** Names of files stored on disk for a client (its folder under data/files: `clients.Folder`, or its ID for files stored before that column). */
  filesOnDisk(clientIdHex: string): string[] {
    const [row] = this.#query<{ Folder: string | null }>(
      'SELECT Folder FROM clients WHERE ID = ?',
      Buffer.from(clientIdHex, 'hex'),
    );
    const dir = join(this.dataDir, 'files', row?.Folder ?? clientIdHex);
    return existsSync(dir) ? readdirSync(dir) : [];
  }
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}
