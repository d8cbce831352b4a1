/**
 * Received files: the bytes in a FileStorage, the rows in the Database. Owns the two rules
 * that span both: uploads of the same client and name are stored one after another (a
 * replacement waits for the one before), and concurrent uploads never pick the same stored
 * name (a candidate is reserved before anything is awaited).
 */
import { randomBytes } from 'node:crypto';
import { clientIdToHex } from '../lib/protocol';
import { KeyedSerial } from '../platform/keyed-serial';
import type { Database, FileRow } from './database';
import { ServerError } from './errors';
import type { FileStorage, TempFile } from './file-storage';
import { inClientFolder, newFolderName, sanitizeFileName, uniqueName } from './stored-names';
import type { UploadResult } from './upload';

export interface StoredFile {
  pathName: string;
  /** Identifies this upload in the files row; 1029/1030/1031 on this connection act on it only. */
  token: string;
}

export class FileStore {
  readonly #db: Database;
  readonly #storage: FileStorage;
  /** store() calls per client and original name, in order. */
  readonly #storing = new KeyedSerial();
  /** Stored paths (lower case) chosen by stores still in flight. */
  readonly #reserved = new Set<string>();

  constructor(db: Database, storage: FileStorage) {
    this.#db = db;
    this.#storage = storage;
  }

  /** A temp file for an upload in progress. */
  createTemp(): TempFile {
    return this.#storage.createTemp();
  }

  /** A finished file written outside the temp folder (a resumable v4 upload), for store(). */
  adopt(path: string): TempFile {
    return this.#storage.adopt(path);
  }

  /**
   * Moves a finished upload into the client's folder (replacing an earlier upload of the
   * same name atomically) and records it unverified.
   */
  store(clientId: Uint8Array, fileName: string, result: UploadResult, now: string): Promise<StoredFile> {
    const key = `${clientIdToHex(clientId)}/${fileName}`;
    return this.#storing.run(key, () => this.#store(clientId, fileName, result, now));
  }

  async #store(
    clientId: Uint8Array,
    fileName: string,
    result: UploadResult,
    now: string,
  ): Promise<StoredFile> {
    const db = this.#db;
    const folder = await db.clientFolder(clientId, newFolderName());
    if (folder === undefined) {
      throw new ServerError('SERVER_ERR_UNKNOWN_CLIENT', 'The client is no longer registered.');
    }
    const previous = await db.fileByName(clientId, fileName);
    const token = randomBytes(8).toString('hex');
    // Committed on its own first: if the process dies between the rename and the row update,
    // the old row must not vouch for the new bytes; and from now on the replaced upload's
    // connection can no longer verify or remove the file (its token is gone).
    if (previous) await db.claimFile(clientId, fileName, token);
    const replacing = previous !== undefined && this.#ownPath(previous.PathName, clientId, folder);
    const pathName = replacing ? previous.PathName : await this.#choosePath(folder, fileName);
    if (replacing) this.#reserved.add(pathName.toLowerCase());
    try {
      await this.#storage.commit(result.temp, pathName);
      try {
        await db.upsertFile({
          id: clientId,
          fileName,
          pathName,
          size: result.size,
          cksum: result.sha256 === undefined ? result.cksum : null,
          receivedAt: now,
          token,
          ...(result.sha256 === undefined ? {} : { sha256: result.sha256 }),
        });
      } catch (e) {
        // A file under a new name must not stay behind unrecorded. (A replaced one is gone
        // either way; its row, already unverified, now describes the new bytes.)
        if (!replacing) await this.#storage.remove(pathName).catch(() => {});
        throw e;
      }
    } finally {
      this.#reserved.delete(pathName.toLowerCase());
    }
    return { pathName, token };
  }

  /** In the client's folder, or in the folder named by its ID that files stored before Folder existed use. */
  #ownPath(pathName: string, clientId: Uint8Array, folder: string | null | undefined): boolean {
    return (
      (folder != null && inClientFolder(pathName, folder)) ||
      inClientFolder(pathName, clientIdToHex(clientId))
    );
  }

  /** A free stored path for `fileName`, reserved (the caller releases it). */
  #choosePath(folder: string, fileName: string): Promise<string> {
    return uniqueName(sanitizeFileName(fileName), async (name) => {
      const candidate = `${folder}/${name}`;
      const key = candidate.toLowerCase();
      if (this.#reserved.has(key)) return true;
      this.#reserved.add(key);
      const taken = (await this.#db.pathTaken(candidate)) || (await this.#storage.exists(candidate));
      if (taken) this.#reserved.delete(key);
      return taken;
    }).then((name) => `${folder}/${name}`);
  }

  /** The stored file of upload `token` of the name, verified, with its SHA-256; null when replaced, removed or not v4. */
  async storedUpload(
    clientId: Uint8Array,
    fileName: string,
    token: string,
  ): Promise<{ pathName: string; size: number; sha256: string } | null> {
    const row = await this.#db.fileByName(clientId, fileName);
    if (!row || row.Token !== token || row.Verified !== 1 || row.Sha256 === null || row.Size === null)
      return null;
    return { pathName: row.PathName, size: row.Size, sha256: row.Sha256 };
  }

  /** Marks upload `token` of the name verified; false when another upload replaced it. */
  async verify(clientId: Uint8Array, fileName: string, token: string): Promise<boolean> {
    return (await this.#db.markVerified(clientId, fileName, token)) > 0;
  }

  /**
   * Removes a client (`clients remove`): it can no longer reconnect. With `withFiles` its rows
   * go and the stored files in its own folders are deleted; without, both stay. Returns the
   * client's files (undefined for an unknown client).
   */
  async removeClient(clientId: Uint8Array, withFiles: boolean): Promise<FileRow[] | undefined> {
    const client = await this.#db.clientById(clientId);
    const rows = client && (await this.#db.removeClient(clientId, withFiles));
    if (!rows || !withFiles) return rows;
    const folders = new Set<string>();
    for (const row of rows) {
      if (!this.#ownPath(row.PathName, clientId, client.Folder)) continue;
      await this.#storage.remove(row.PathName);
      folders.add(row.PathName.split('/')[0]!);
    }
    // The client is gone: so is its folder, once empty (it held only these files).
    for (const f of folders) await this.#storage.removeEmptyFolder(f);
    return rows;
  }

  /**
   * Removes upload `token` of the name (row and file); false when another upload replaced
   * it meanwhile (that one stays).
   */
  async discard(clientId: Uint8Array, fileName: string, token: string): Promise<boolean> {
    const row = await this.#db.deleteFile(clientId, fileName, token);
    if (!row) return false;
    const client = await this.#db.clientById(clientId);
    if (this.#ownPath(row.PathName, clientId, client?.Folder)) await this.#storage.remove(row.PathName);
    return true;
  }
}
