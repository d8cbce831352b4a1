/**
 * The local-folder FileStorage: data/files/<pathName>, written first to data/tmp/ and renamed
 * into place only once complete. A temp file is written in batches of its write buffer
 * (direct where the file system allows: platform/direct-writes.ts) with background
 * fdatasync()s, so the fsync before 1603 only has the tail of the file left.
 */
import { randomBytes } from 'node:crypto';
import { fdatasync } from 'node:fs';
import { type FileHandle, link, mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { syncFolder } from '../platform/atomic-file';
import { FileAppender } from '../platform/direct-writes';
import { FILE_MODE, FOLDER_MODE } from './data-folder';
import { ServerError } from './errors';
import type { FileStorage, TempFile } from './file-storage';

/**
 * Bytes of one write, and the bytes held before the socket is paused: big enough for large
 * writes, small enough for 100 uploads at once (4 MiB each was 400 MiB). A multiple of the
 * direct writes' alignment (4 KiB) and at most their staging buffer (1 MiB), so that every
 * write but a file's last goes direct.
 */
export const UPLOAD_WRITE_BUFFER = 1024 * 1024;
/**
 * Bytes written between two background fdatasync()s. Without them the kernel keeps a whole
 * file dirty in the page cache and the fsync before 1603 writes all of it at once: for
 * 512 MiB on this project's disk that was 1.3 s of the client waiting after its last byte.
 * Syncing as the file arrives overlaps the disk with the network.
 */
export const UPLOAD_SYNC_INTERVAL = 32 * 1024 * 1024;
export const TEMP_SUFFIX = '.part';
/** A replaced file kept by keep() until its replacement's row is written (in tmp/, swept at start). */
export const KEPT_SUFFIX = '.kept';
/** What link(2) answers where the file system has no hard links. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'EXDEV', 'ENOSYS']);

const writeError = (e: Error) =>
  new ServerError('SERVER_ERR_UPLOAD_WRITE', `Cannot write the received file: ${e.message}`, { cause: e });

export interface TempFileOptions {
  writeBuffer?: number;
  syncInterval?: number;
  /** false: ordinary (page-cache) writes only. */
  direct?: boolean;
}

interface Opened {
  fh: FileHandle;
  out: FileAppender;
}

export class LocalTempFile implements TempFile {
  readonly path: string;
  readonly #opened: Promise<Opened | null>;
  readonly #syncInterval: number;
  readonly #writeBuffer: number;
  #error: ServerError | null = null;
  #aborted = false;
  #ended = false;
  /** Bytes given to write() and not yet cut into a batch (the caller no longer touches them). */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Bytes of batches cut and not yet written. */
  #writingBytes = 0;
  /** File offset of the next batch cut. */
  #position = 0;
  /** The batches' writes, one after another (never rejects). */
  #writes: Promise<void> = Promise.resolve();
  #drainWaiters: (() => void)[] = [];
  /** Bytes written but not yet covered by a started fdatasync(). */
  #unsynced = 0;
  /** The background fdatasync() in flight, if any; the fd is closed only after it. */
  #syncing: Promise<void> | null = null;
  #fd: number | null = null;

  constructor(path: string, opts: TempFileOptions = {}) {
    this.path = path;
    this.#syncInterval = opts.syncInterval ?? UPLOAD_SYNC_INTERVAL;
    this.#writeBuffer = opts.writeBuffer ?? UPLOAD_WRITE_BUFFER;
    this.#opened = (async () => {
      const fh = await open(path, 'wx', FILE_MODE);
      this.#fd = fh.fd;
      return { fh, out: await FileAppender.open(path, fh, { direct: opts.direct }) };
    })().catch((e: Error) => {
      this.#fail(e);
      return null;
    });
  }

  get error(): ServerError | null {
    return this.#error;
  }

  get needsDrain(): boolean {
    return !this.#error && this.#pendingBytes + this.#writingBytes >= this.#writeBuffer;
  }

  drained(): Promise<void> {
    if (!this.needsDrain) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  write(bytes: Uint8Array): void {
    if (this.#error || this.#ended || this.#aborted || bytes.length === 0) return;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    while (this.#pendingBytes >= this.#writeBuffer) this.#cut(this.#writeBuffer);
  }

  /** Hands the first `size` pending bytes (all: size = pendingBytes) to a write of their own. */
  #cut(size: number): void {
    const batch: Uint8Array[] = [];
    let need = size;
    while (need > 0) {
      const head = this.#pending[0]!;
      if (head.length <= need) {
        batch.push(head);
        this.#pending.shift();
        need -= head.length;
      } else {
        batch.push(head.subarray(0, need));
        this.#pending[0] = head.subarray(need);
        need = 0;
      }
    }
    this.#pendingBytes -= size;
    this.#writingBytes += size;
    const position = this.#position;
    this.#position += size;
    this.#writes = this.#writes.then(() => this.#writeBatch(batch, position, size));
  }

  async #writeBatch(batch: Uint8Array[], position: number, size: number): Promise<void> {
    try {
      const opened = await this.#opened;
      if (!opened || this.#error || this.#aborted) return;
      await opened.out.write(batch, position);
      this.#unsynced += size;
      if (this.#unsynced >= this.#syncInterval && !this.#syncing) this.#startSync();
    } catch (e) {
      this.#fail(e as Error);
    } finally {
      this.#writingBytes -= size;
      this.#wakeDrained();
    }
  }

  #fail(e: Error): void {
    this.#error ??= writeError(e);
    this.#wakeDrained();
  }

  #wakeDrained(): void {
    if (this.needsDrain) return;
    for (const w of this.#drainWaiters.splice(0)) w();
  }

  /**
   * Asks the kernel to write what was written so far (on libuv's thread pool; the event loop
   * goes on). A failure is kept as the error: a disk that cannot sync cannot keep the file.
   */
  #startSync(): void {
    const fd = this.#fd;
    if (fd === null || this.#ended || this.#aborted) return;
    this.#unsynced = 0;
    this.#syncing = new Promise<void>((resolve) => {
      fdatasync(fd, (e) => {
        this.#syncing = null;
        if (e && !this.#aborted) this.#fail(e);
        resolve();
      });
    });
  }

  /** True while a background fdatasync() runs (for tests). */
  get syncing(): boolean {
    return this.#syncing !== null;
  }

  async finish(): Promise<void> {
    if (!this.#error && !this.#aborted && this.#pendingBytes > 0) this.#cut(this.#pendingBytes);
    this.#ended = true;
    await this.#writes;
    // The fd is closed below: no sync may still be using it then.
    await this.#syncing;
    const opened = await this.#opened;
    if (opened && !this.#error && !this.#aborted) {
      // Every byte on disk before the file is answered as stored.
      await opened.fh.sync().catch((e: Error) => this.#fail(e));
    }
    await this.#close(opened);
    if (this.#error) throw this.#error;
    if (this.#aborted) throw new ServerError('SERVER_ERR_UPLOAD_ABORTED', 'The upload was abandoned.');
  }

  async #close(opened: Opened | null): Promise<void> {
    if (!opened) return;
    await opened.out.close();
    await opened.fh.close().catch(() => {});
  }

  /** Closes the file (once its writes and sync are done), then removes it (once closed, so no open races it). */
  async abort(): Promise<void> {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#wakeDrained();
    await this.#writes;
    await this.#syncing;
    if (!this.#ended) {
      this.#ended = true;
      await this.#close(await this.#opened);
    }
    await rm(this.path, { force: true }).catch(() => {});
  }
}

/** A complete file made elsewhere (data/partial/), handed to commit() like a finished temp file. */
export class AdoptedFile implements TempFile {
  readonly error = null;
  readonly needsDrain = false;
  constructor(readonly path: string) {}
  write(): void {
    throw new ServerError('SERVER_ERR_INTERNAL', 'An adopted file is complete.');
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  finish(): Promise<void> {
    return Promise.resolve();
  }
  async abort(): Promise<void> {
    await rm(this.path, { force: true }).catch(() => {});
  }
}

export class LocalFileStorage implements FileStorage {
  readonly filesDir: string;
  readonly tmpDir: string;
  readonly #temp: TempFileOptions;

  constructor(
    readonly dataDir: string,
    temp: TempFileOptions = {},
  ) {
    this.filesDir = join(dataDir, 'files');
    this.tmpDir = join(dataDir, 'tmp');
    this.#temp = temp;
  }

  async init(): Promise<number> {
    try {
      await mkdir(this.filesDir, { recursive: true, mode: FOLDER_MODE });
      await mkdir(this.tmpDir, { recursive: true, mode: FOLDER_MODE });
      const names = await readdir(this.tmpDir);
      for (const name of names) await rm(join(this.tmpDir, name), { force: true, recursive: true });
      return names.length;
    } catch (e) {
      throw new ServerError(
        'SERVER_ERR_STORAGE',
        `Cannot prepare the data folder ${this.dataDir}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  createTemp(): LocalTempFile {
    return new LocalTempFile(
      join(this.tmpDir, `${randomBytes(12).toString('hex')}${TEMP_SUFFIX}`),
      this.#temp,
    );
  }

  adopt(path: string): AdoptedFile {
    return new AdoptedFile(path);
  }

  /** Absolute path of a stored file; a path that would leave the files folder is refused. */
  #resolve(pathName: string): string {
    const abs = resolve(this.filesDir, pathName);
    if (!abs.startsWith(this.filesDir + sep)) {
      throw new ServerError('SERVER_ERR_STORAGE', `Refusing a stored path outside ${this.filesDir}.`);
    }
    return abs;
  }

  async hasTemp(path: string): Promise<boolean> {
    return stat(path).then(
      () => true,
      () => false,
    );
  }

  async exists(pathName: string): Promise<boolean> {
    return stat(this.#resolve(pathName)).then(
      () => true,
      () => false,
    );
  }

  async commit(temp: TempFile, pathName: string): Promise<void> {
    if (!(temp instanceof LocalTempFile || temp instanceof AdoptedFile)) {
      throw new ServerError('SERVER_ERR_INTERNAL', 'A temp file from another storage.');
    }
    const target = this.#resolve(pathName);
    const dir = dirname(target);
    await mkdir(dir, { recursive: true, mode: FOLDER_MODE });
    await rename(temp.path, target);
    // Best effort: the rename has happened (a failure here must not read as "not moved").
    await syncFolder(dir).catch(() => {});
  }

  async keep(pathName: string): Promise<string | null> {
    const kept = join(this.tmpDir, `${randomBytes(12).toString('hex')}${KEPT_SUFFIX}`);
    try {
      // A hard link: no bytes copied, and the stored file's name is left as it was.
      await link(this.#resolve(pathName), kept);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENOENT' || NO_HARD_LINKS.has(code)) return null;
      throw e;
    }
    // Durable before the commit that follows: after a power cut a store's note naming it
    // must find it (recover() reads a missing one as "put back already").
    await syncFolder(this.tmpDir);
    return kept;
  }

  async restore(kept: string, pathName: string): Promise<void> {
    const target = this.#resolve(pathName);
    await rename(kept, target);
    await syncFolder(dirname(target));
    await syncFolder(this.tmpDir);
  }

  async dropKept(kept: string): Promise<void> {
    await rm(kept, { force: true });
  }

  async remove(pathName: string): Promise<void> {
    await rm(this.#resolve(pathName), { force: true });
  }

  async removeEmptyFolder(folder: string): Promise<void> {
    // rmdir(2) removes only an empty folder: one that still holds a file stays.
    await rmdir(this.#resolve(folder)).catch(() => {});
  }
}
