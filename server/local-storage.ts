/**
 * The local-folder FileStorage: data/files/<pathName>, written first to data/tmp/ and renamed
 * into place only once complete. A temp file is a write stream with background fdatasync()s,
 * so the fsync before 1603 only has the tail of the file left.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, fdatasync, type WriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { FILE_MODE, FOLDER_MODE } from './data-folder';
import { drained } from './drained';
import { ServerError } from './errors';
import type { FileStorage, TempFile } from './file-storage';

/** Write-stream buffer before the socket is paused: big enough for large writev()s, small enough for 100 uploads at once (4 MiB each was 400 MiB). */
export const UPLOAD_WRITE_BUFFER = 1024 * 1024;
/**
 * Bytes written between two background fdatasync()s. Without them the kernel keeps a whole
 * file dirty in the page cache and the fsync before 1603 writes all of it at once: for
 * 512 MiB on this project's disk that was 1.3 s of the client waiting after its last byte.
 * Syncing as the file arrives overlaps the disk with the network.
 */
export const UPLOAD_SYNC_INTERVAL = 32 * 1024 * 1024;
export const TEMP_SUFFIX = '.part';

const writeError = (e: Error) =>
  new ServerError('SERVER_ERR_UPLOAD_WRITE', `Cannot write the received file: ${e.message}`, { cause: e });

export interface TempFileOptions {
  writeBuffer?: number;
  syncInterval?: number;
}

export class LocalTempFile implements TempFile {
  readonly path: string;
  readonly #stream: WriteStream;
  readonly #closed: Promise<void>;
  readonly #syncInterval: number;
  #error: ServerError | null = null;
  #aborted = false;
  /** Bytes handed to the stream but not yet covered by a started fdatasync(). */
  #unsynced = 0;
  /** The background fdatasync() in flight, if any; the fd is closed only after it. */
  #syncing: Promise<void> | null = null;
  /** The file's descriptor once the stream has opened it. */
  #fd: number | null = null;

  constructor(path: string, opts: TempFileOptions = {}) {
    this.path = path;
    this.#syncInterval = opts.syncInterval ?? UPLOAD_SYNC_INTERVAL;
    // flush: fsync before close, so a file answered with 1603 is on disk.
    this.#stream = createWriteStream(path, {
      flags: 'wx',
      mode: FILE_MODE,
      highWaterMark: opts.writeBuffer ?? UPLOAD_WRITE_BUFFER,
      flush: true,
    });
    this.#closed = new Promise((resolve) => this.#stream.once('close', resolve));
    this.#stream.once('open', (fd: number) => {
      this.#fd = fd;
    });
    this.#stream.on('error', (e) => {
      this.#error ??= writeError(e);
    });
  }

  get error(): ServerError | null {
    return this.#error;
  }

  get needsDrain(): boolean {
    return this.#stream.writableNeedDrain;
  }

  drained(): Promise<void> {
    if (!this.needsDrain || this.#error) return Promise.resolve();
    return drained(this.#stream);
  }

  write(bytes: Uint8Array): void {
    this.#stream.write(bytes);
    this.#unsynced += bytes.length;
    if (this.#unsynced >= this.#syncInterval && !this.#syncing) this.#startSync();
  }

  /**
   * Asks the kernel to write what the stream has written so far (on libuv's thread pool; the
   * event loop goes on). Bytes still in the stream's buffer are covered by the next sync.
   * A failure is kept as the error: a disk that cannot sync cannot keep the file.
   */
  #startSync(): void {
    const fd = this.#fd;
    if (fd === null || this.#stream.destroyed || this.#stream.writableEnded) return;
    this.#unsynced = this.#stream.writableLength;
    this.#syncing = new Promise<void>((resolve) => {
      fdatasync(fd, (e) => {
        this.#syncing = null;
        if (e && !this.#aborted) this.#error ??= writeError(e);
        resolve();
      });
    });
  }

  /** True while a background fdatasync() runs (for tests). */
  get syncing(): boolean {
    return this.#syncing !== null;
  }

  async finish(): Promise<void> {
    // The stream closes its fd once ended: no sync may still be using it then.
    await this.#syncing;
    if (!this.#error) this.#stream.end();
    await this.#closed;
    if (this.#error) throw this.#error;
    if (this.#aborted) throw new ServerError('SERVER_ERR_UPLOAD_ABORTED', 'The upload was abandoned.');
  }

  /** Closes the stream, then removes the file (once closed, so no open races it). */
  async abort(): Promise<void> {
    this.#aborted = true;
    await this.#syncing;
    if (!this.#stream.destroyed) this.#stream.destroy();
    await this.#closed;
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
    await syncFolder(dir);
  }

  async remove(pathName: string): Promise<void> {
    await rm(this.#resolve(pathName), { force: true });
  }
}

/** fsyncs a folder so a rename in it survives power loss; best effort. */
async function syncFolder(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems refuse fsync on folders; the rename itself has happened.
  }
}
