/**
 * Received files: the bytes in a FileStorage, the rows in the Database. Owns the two rules
 * that span both: uploads of the same client and name are stored (and discarded, 1031) one
 * after another (a replacement waits for the one before), and concurrent uploads never pick the same stored
 * name (a candidate is reserved before anything is awaited).
 */
import { randomBytes } from 'node:crypto';
import { clientIdToHex } from '../lib/protocol';
import { KeyedSerial } from '../platform/keyed-serial';
import type { Database, FileRow, NewFile } from './database';
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
  /** store() and discard() calls per client and original name, in order. */
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
    const replacing = previous !== undefined && this.#ownPath(previous.PathName, clientId, folder);
    const pathName = replacing ? previous.PathName : await this.#choosePath(folder, fileName);
    if (replacing) this.#reserved.add(pathName.toLowerCase());
    const file: NewFile = {
      id: clientId,
      fileName,
      pathName,
      size: result.size,
      cksum: result.sha256 === undefined ? result.cksum : null,
      receivedAt: now,
      token,
      ...(result.sha256 === undefined ? {} : { sha256: result.sha256 }),
    };
    // What the claim below takes from the replaced row, given back if the replacement fails.
    const replaced = previous && { token: previous.Token, verified: previous.Verified === 1 };
    let kept: string | null = null;
    try {
      // The replaced bytes, kept aside (a second name, no copy) until the new row is written:
      // the rename below destroys them, and a row write that fails then would leave the row
      // with their size and hash over the new bytes. Before the note, which names it.
      if (replacing) kept = await this.#storage.keep(pathName);
      // Written down first: a crash between the move and the row is finished at the next
      // start (recover()), so no file is left in place without its row.
      const [seq] = await db
        .notePending([
          {
            kind: 'store',
            pathName,
            source: result.temp.path,
            file,
            ...(replaced ? { replaced: { ...replaced, ...(kept ? { kept } : {}) } } : {}),
          },
        ])
        .catch(async (e) => {
          if (kept) await this.#storage.dropKept(kept).catch(() => {});
          throw e;
        });
      // Committed on its own before the move: if the process dies between the rename and the
      // row update, the old row must not vouch for the new bytes; and from now on the
      // replaced upload's connection can no longer verify or remove the file (its token is
      // gone). Undone when the move does not happen (here, or by recover()): the replaced
      // file is still there, as it was (it stayed unverified, and a late resume of its v4
      // upload got Error 11 instead of UploadDone).
      if (previous) await db.claimFile(clientId, fileName, token);
      try {
        await this.#storage.commit(result.temp, pathName);
      } catch (e) {
        if (replaced) await db.unclaimFile(clientId, fileName, token, replaced).catch(() => {});
        if (kept) await this.#storage.dropKept(kept).catch(() => {});
        await db.dropPending([seq!]).catch(() => {});
        throw e;
      }
      const settle = result.settle;
      try {
        await db.completeStore(seq!, file, isAuthenticated(file), settle !== undefined);
      } catch (e) {
        await this.#rowFailed(seq!, clientId, fileName, token, pathName, replacing, replaced, kept);
        throw e;
      }
      if (settle) {
        // The file is stored either way: the note goes even if settling failed (kept, a later
        // start would record this upload again over a replacement stored meanwhile).
        await settle(token).catch(() => {});
        await db.dropPending([seq!]).catch(() => {});
      }
      // Only once the note is gone: recover() reads a note whose kept file is missing as a
      // replacement put back.
      if (kept) await this.#storage.dropKept(kept).catch(() => {});
    } finally {
      this.#reserved.delete(pathName.toLowerCase());
    }
    return { pathName, token };
  }

  /**
   * The row of a file moved into place could not be written (a database error): the client
   * is told the store failed, so nothing of it may stay as if stored.
   */
  async #rowFailed(
    seq: number,
    clientId: Uint8Array,
    fileName: string,
    token: string,
    pathName: string,
    replacing: boolean,
    replaced: { token: string | null; verified: boolean } | undefined,
    kept: string | null,
  ): Promise<void> {
    const db = this.#db;
    const rowThere = replacing && (await db.pathTaken(pathName).catch(() => true));
    if (rowThere && replaced && kept) {
      // A same-name replacement whose row is still there: the replaced bytes go back over
      // the new ones and the row gets its token and Verified back (its size and hash never
      // changed), so the replacement failed as a whole and `check` finds the old file as
      // its row says. It used to keep the new bytes under the old row's size and SHA-256.
      // The note goes only after both; cut before, recover() finishes it (the kept file is
      // used up by the put-back: not there means put back).
      try {
        await this.#storage.restore(kept, pathName);
      } catch {
        // Not put back: the note stays, and the next start records the new bytes (their
        // row is what the note holds), as for a crash after the move.
        return;
      }
      try {
        await db.unclaimFile(clientId, fileName, token, replaced);
        await db.dropPending([seq]);
      } catch {
        // The database still fails: the note stays and the next start gives the token back.
      }
      return;
    }
    if (rowThere) {
      // A replacement on a storage that could not keep the replaced bytes: the new ones are
      // in place and the row still has the replaced file's size and hash. The note stays,
      // so the next start records the new bytes, and `check` reports the change as pending
      // until then instead of finding nothing.
      return;
    }
    // A file no row describes must not stay behind: one under a new name, or a replacement
    // whose sender `clients remove --files` (another process) removed with its rows meanwhile
    // (the row is gone: the file stayed in files/ for ever).
    await this.#storage.remove(pathName).catch(() => {});
    // Its sender gone: so is the folder the move made again (once empty).
    if (!(await db.clientById(clientId).catch(() => true)))
      await this.#storage.removeEmptyFolder(pathName.split('/')[0]!).catch(() => {});
    // A row claimed at another path (a file stored before Folder existed) gets its token back.
    if (replaced) await db.unclaimFile(clientId, fileName, token, replaced).catch(() => {});
    if (kept) await this.#storage.dropKept(kept).catch(() => {});
    await db.dropPending([seq]).catch(() => {});
  }

  /**
   * Finishes or undoes what a crash cut between the storage and the rows (database.ts
   * PendingChange). Run at start, before anything else touches the storage (the server holds
   * the data folder's lock): a store whose file was moved into place gets its row (verified
   * for a v4 upload, as store() does) and `stored` is told of it; one whose file was not
   * moved is dropped (its temp file is swept as usual; a v4 upload's part stays resumable);
   * a file whose row was deleted is removed, unless a row uses its path again.
   */
  async recover(stored?: (source: string, token: string) => Promise<void>): Promise<Recovered[]> {
    const db = this.#db;
    const done: Recovered[] = [];
    const entries = await db.pending();
    // Stores first: a path a finished store records is no longer free to remove.
    for (const { seq, change: c } of entries) {
      if (c.kind !== 'store') continue;
      const kept = c.replaced?.kept;
      if (await this.#storage.hasTemp(c.source)) {
        // A replacement that never happened: the replaced row is as it was.
        if (c.replaced) await db.unclaimFile(c.file.id, c.file.fileName, c.file.token, c.replaced);
        await db.dropPending([seq]);
        done.push({ outcome: 'not-moved', pathName: c.pathName });
      } else if (c.replaced && kept !== undefined && !(await this.#storage.hasTemp(kept))) {
        // Moved, its row not written, and the replaced bytes put back (which used up the
        // kept file; it is made durable before the move, and dropped only after the note):
        // as a replacement that never happened.
        await db.unclaimFile(c.file.id, c.file.fileName, c.file.token, c.replaced);
        await db.dropPending([seq]);
        done.push({ outcome: 'put-back', pathName: c.pathName });
      } else if (c.replaced && (await this.#claimedByAnother(c.file))) {
        // A note a failed row write left (store() keeps it when it cannot put the replaced
        // bytes back), after which a later upload of the name replaced the file and claimed
        // its row: the file is that upload's, and recording this one would describe it wrongly.
        await db.dropPending([seq]);
        done.push({ outcome: 'superseded', pathName: c.pathName });
      } else if (await this.#storage.exists(c.pathName)) {
        if (await db.clientById(c.file.id)) {
          // The note goes last, as in store(): killed again in between, the next start
          // records it again and `stored` runs then (it used to be skipped for good).
          await db.completeStore(seq, c.file, isAuthenticated(c.file), true);
          await stored?.(c.source, c.file.token);
          await db.dropPending([seq]);
          done.push({ outcome: 'recorded', pathName: c.pathName });
        } else {
          // Its sender was removed (`clients remove`) while the server was down.
          if (!(await db.pathTaken(c.pathName))) await this.#storage.remove(c.pathName);
          await db.dropPending([seq]);
          done.push({ outcome: 'sender-removed', pathName: c.pathName });
        }
      } else {
        await db.dropPending([seq]);
        done.push({ outcome: 'lost', pathName: c.pathName });
      }
      // The replaced bytes are no longer needed, whichever way it went (after the note).
      if (kept !== undefined) await this.#storage.dropKept(kept);
    }
    for (const e of entries)
      if (e.change.kind === 'remove') done.push(await this.#finishRemoval(e.seq, e.change));
    return done;
  }

  /** The row of the file's name is there and carries another upload's token. */
  async #claimedByAnother(f: NewFile): Promise<boolean> {
    const row = await this.#db.fileByName(f.id, f.fileName);
    return row !== undefined && row.Token !== f.token;
  }

  /**
   * While the server runs: finishes removals written down more than `minAgeMs` ago and not
   * finished, which another process left (`clients remove --files` stopped part-way; this
   * server's own take milliseconds). Never a path a store in flight has chosen.
   */
  async finishRemovals(minAgeMs = STALE_REMOVAL_MS, now = Date.now()): Promise<Recovered[]> {
    const done: Recovered[] = [];
    for (const { seq, notedAt, change: c } of await this.#db.pending()) {
      if (c.kind !== 'remove' || now - notedAt < minAgeMs || this.#reserved.has(c.pathName.toLowerCase()))
        continue;
      done.push(await this.#finishRemoval(seq, c));
    }
    return done;
  }

  /** The file goes, unless a row uses its path again (its removal never happened, or a new file has it). */
  async #finishRemoval(seq: number, c: { pathName: string }): Promise<Recovered> {
    let outcome: Recovered['outcome'] = 'kept';
    if (!(await this.#db.pathTaken(c.pathName))) {
      await this.#storage.remove(c.pathName);
      await this.#storage.removeEmptyFolder(c.pathName.split('/')[0]!);
      outcome = 'removed';
    }
    await this.#db.dropPending([seq]);
    return { outcome, pathName: c.pathName };
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
    const db = this.#db;
    const client = await db.clientById(clientId);
    if (!client || !withFiles) return client && db.removeClient(clientId, false);
    const own = (r: FileRow) => this.#ownPath(r.PathName, clientId, client.Folder);
    // Written down before the rows go: cut part-way, the next start removes the rest.
    const noted = (await db.clientFiles(clientId)).filter(own).map((r) => r.PathName);
    const seqs = await db.notePending(noted.map((pathName) => ({ kind: 'remove', pathName })));
    const rows = await db.removeClient(clientId, true);
    if (!rows) {
      await db.dropPending(seqs);
      return undefined;
    }
    const mine = rows.filter(own).map((r) => r.PathName);
    // Stored between the two reads: written down too.
    const late = mine.filter((p) => !noted.includes(p));
    seqs.push(...(await db.notePending(late.map((pathName) => ({ kind: 'remove', pathName })))));
    for (const p of mine) await this.#storage.remove(p);
    // The client is gone: so is its folder, once empty (it held only these files).
    for (const f of new Set(mine.map((p) => p.split('/')[0]!))) await this.#storage.removeEmptyFolder(f);
    await db.dropPending(seqs);
    return rows;
  }

  /**
   * Removes upload `token` of the name (row and file); false when another upload replaced
   * it meanwhile (that one stays).
   */
  discard(clientId: Uint8Array, fileName: string, token: string): Promise<boolean> {
    // In turn with the stores of the name: one that read the row before it went and moved
    // its file onto the same path had it removed under its new row (a row without a file).
    const key = `${clientIdToHex(clientId)}/${fileName}`;
    return this.#storing.run(key, () => this.#discard(clientId, fileName, token));
  }

  async #discard(clientId: Uint8Array, fileName: string, token: string): Promise<boolean> {
    const db = this.#db;
    const row = await db.fileByName(clientId, fileName);
    if (!row || row.Token !== token) return false;
    const client = await db.clientById(clientId);
    const own = this.#ownPath(row.PathName, clientId, client?.Folder);
    // Written down before the row goes: a crash between the two leaves no file without a row.
    const seqs = own ? await db.notePending([{ kind: 'remove', pathName: row.PathName }]) : [];
    const deleted = await db.deleteFile(clientId, fileName, token);
    if (deleted && own) await this.#storage.remove(deleted.PathName);
    await db.dropPending(seqs);
    return deleted !== undefined;
  }
}

/** What recover() found of one change a crash cut. */
export interface Recovered {
  outcome:
    | 'recorded'
    | 'not-moved'
    | 'put-back'
    | 'superseded'
    | 'lost'
    | 'sender-removed'
    | 'removed'
    | 'kept';
  pathName: string;
}

/**
 * A removal written down this long ago and not finished was left by a process that stopped
 * (the one that wrote it finishes within milliseconds of writing it, or of deleting its rows).
 */
export const STALE_REMOVAL_MS = 60_000;

/** A v4 file: every byte was authenticated on arrival, so it is verified as it is stored. */
const isAuthenticated = (f: NewFile) => f.sha256 !== undefined;
