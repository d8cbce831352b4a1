/**
 * Where the bytes of received files live, behind one async interface: the local folder
 * (local-storage.ts) is the first implementation, an S3-compatible object store the next.
 * Any implementation must pass test/contracts/file-storage.contract.ts.
 *
 * An upload streams into a temp file (write() is synchronous: nothing is awaited per chunk
 * on the hot path), is made durable by finish(), then moved into place by commit(). Stored
 * files are named by a '/'-separated path chosen by the file store ("<client folder>/<name>").
 */
import type { ServerError } from './errors';

export interface TempFile {
  /** Where it is on its storage: written down before commit() (database.ts PendingChange). */
  readonly path: string;
  /** Appends bytes the caller no longer touches. Synchronous; a failure shows in `error`. */
  write(bytes: Uint8Array): void;
  /** The write buffer is full: stop reading until drained() resolves. */
  readonly needsDrain: boolean;
  /** Resolves once the write buffer has room again (or the temp file failed). */
  drained(): Promise<void>;
  /** The first write failure (disk full ...), or null. */
  readonly error: ServerError | null;
  /** Flushes and makes every written byte durable; throws the write failure (SERVER_ERR_UPLOAD_WRITE). */
  finish(): Promise<void>;
  /** Drops the temp file (closed first, then removed); never throws. */
  abort(): Promise<void>;
}

export interface FileStorage {
  /** Prepares the storage and removes temp files a crash left behind; returns how many. */
  init(): Promise<number>;
  /** A new temp file for an upload in progress. */
  createTemp(): TempFile;
  /**
   * A finished file written elsewhere on this storage (a resumable v4 upload, which outlives
   * restarts and so cannot live among the temp files), as a TempFile that commit() accepts.
   */
  adopt(path: string): TempFile;
  /** True while a temp file (its `path`, or a path keep() gave) is still where it was written, not yet committed. */
  hasTemp(path: string): Promise<boolean>;
  /** True when a stored file exists at `pathName`. */
  exists(pathName: string): Promise<boolean>;
  /**
   * Moves a finished temp file (from this storage's createTemp()) to `pathName`, replacing
   * what is there atomically; durable when it resolves.
   */
  commit(temp: TempFile, pathName: string): Promise<void>;
  /**
   * Before a same-name replacement's commit(): keeps the file stored at `pathName` under a
   * second name among the temp files (the same bytes, not a copy; init() sweeps it), durable
   * when it resolves, so that restore() can put it back if the new file's row cannot be
   * written. Returns that path; null when nothing is stored there or this storage cannot
   * keep a second name (the replacement then goes on without).
   */
  keep(pathName: string): Promise<string | null>;
  /** Moves a file keep() kept back to `pathName`, replacing what is there atomically; durable when it resolves. */
  restore(kept: string, pathName: string): Promise<void>;
  /** Drops a file keep() kept (the replacement was recorded, or never happened); missing is fine. */
  dropKept(kept: string): Promise<void>;
  /** Removes a stored file; missing is fine. */
  remove(pathName: string): Promise<void>;
  /** Removes a client's folder (the first part of its files' paths) if it holds nothing; else leaves it. */
  removeEmptyFolder(folder: string): Promise<void>;
}
