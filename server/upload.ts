/**
 * One file being received: each packet is decrypted (AES-256-CBC, zero IV) and CRC'd as it
 * arrives and its plaintext appended to a temp file. Memory holds at most one packet plus
 * the write stream's buffer, whatever the file size; the caller pauses its socket while
 * `needsDrain` is true.
 */
import { createDecipheriv, type Decipher } from 'node:crypto';
import { createWriteStream, fdatasync, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Cksum } from '../lib/crypto';
import { ZERO_IV } from '../lib/protocol';
import { ServerError } from './errors';
import { type PacketFields, PacketSequence, type SequenceLimits } from './upload-sequence';

/** Write-stream buffer before the socket is paused: big enough for large writev()s, small enough for 100 uploads at once (4 MiB each was 400 MiB). */
export const UPLOAD_WRITE_BUFFER = 1024 * 1024;
/**
 * Plaintext bytes written between two background fdatasync()s. Without them the kernel
 * keeps a whole file dirty in the page cache and the fsync before 1603 writes all of it
 * at once: for 512 MiB on this project's disk that was 1.3 s of the client waiting after
 * its last byte. Syncing as the file arrives overlaps the disk with the network.
 */
export const UPLOAD_SYNC_INTERVAL = 32 * 1024 * 1024;

export interface UploadResult {
  /** POSIX cksum of the plaintext. */
  cksum: number;
  /** Plaintext bytes written. */
  size: number;
  tmpPath: string;
}

export class Upload {
  readonly sequence: PacketSequence;
  readonly #decipher: Decipher;
  readonly #cksum = new Cksum();
  readonly #stream: WriteStream;
  #size = 0;
  #error: ServerError | null = null;
  #finished = false;
  #inPacket = false;
  /** Content bytes of the current packet still belonging to the file. */
  #packetTake = 0;
  #packetLast = false;
  #aborted = false;
  readonly #closed: Promise<void>;
  /** Bytes handed to the stream but not yet covered by a started fdatasync(). */
  #unsynced = 0;
  /** The background fdatasync() in flight, if any; the fd is closed only after it. */
  #syncing: Promise<void> | null = null;
  readonly #syncInterval: number;
  /** The temp file's descriptor once the stream has opened it. */
  #fd: number | null = null;

  /**
   * Starts a file from its first packet's fields (checked here) and opens the temp file.
   * Does not consume the first packet: call write() with it.
   */
  constructor(
    first: PacketFields,
    key: Uint8Array,
    readonly tmpPath: string,
    limits: SequenceLimits,
    writeBuffer = UPLOAD_WRITE_BUFFER,
    syncInterval = UPLOAD_SYNC_INTERVAL,
  ) {
    this.#syncInterval = syncInterval;
    this.sequence = PacketSequence.start(first, limits);
    this.#decipher = createDecipheriv('aes-256-cbc', key, ZERO_IV);
    // flush: fsync before close, so a file answered with 1603 is on disk.
    this.#stream = createWriteStream(tmpPath, { flags: 'wx', highWaterMark: writeBuffer, flush: true });
    this.#closed = new Promise((resolve) => this.#stream.once('close', resolve));
    this.#stream.once('open', (fd: number) => {
      this.#fd = fd;
    });
    this.#stream.on('error', (e) => {
      this.#error ??= new ServerError(
        'SERVER_ERR_UPLOAD_WRITE',
        `Cannot write the received file: ${e.message}`,
        {
          cause: e,
        },
      );
    });
  }

  get fileName(): string {
    return this.sequence.first.fileName;
  }

  /** A write failure seen so far (disk full ...), or null. */
  get error(): ServerError | null {
    return this.#error;
  }

  /** The write buffer is full: stop reading until drained() resolves. */
  get needsDrain(): boolean {
    return this.#stream.writableNeedDrain;
  }

  /** Resolves once the write buffer has room again (or the stream failed). */
  drained(): Promise<void> {
    if (!this.needsDrain || this.#error) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#stream.off('drain', done);
        this.#stream.off('close', done);
        resolve();
      };
      this.#stream.on('drain', done);
      this.#stream.on('close', done);
    });
  }

  /**
   * Feeds one whole packet (beginPacket + addContent + endPacket). Returns true when it was
   * the last one; then call finish(). Throws ServerError on a sequence or size problem, or a
   * write failure seen earlier.
   */
  write(p: PacketFields, content: Uint8Array): boolean {
    const take = this.beginPacket(p, content.length);
    this.addContent(take === content.length ? content : content.subarray(0, take));
    return this.endPacket();
  }

  /**
   * Starts a packet whose content is `contentLength` bytes: checks it against the sequence
   * and returns how many leading content bytes belong to the file (the rest is padding
   * to be ignored). Throws ServerError.
   */
  beginPacket(p: PacketFields, contentLength: number): number {
    if (this.#error) throw this.#error;
    if (this.#finished || this.#aborted || this.#inPacket) {
      throw new ServerError('SERVER_ERR_UPLOAD_SEQUENCE', 'This file is already complete.');
    }
    const { take, last } = this.sequence.accept(p, contentLength);
    this.#inPacket = true;
    this.#packetTake = take;
    this.#packetLast = last;
    return take;
  }

  /** Content of the current packet, in order; bytes beyond its share of the file are dropped. */
  addContent(slice: Uint8Array): void {
    if (!this.#inPacket) throw new ServerError('SERVER_ERR_INTERNAL', 'Content outside a packet.');
    const use = Math.min(slice.length, this.#packetTake);
    if (use === 0) return;
    this.#packetTake -= use;
    this.#push(this.#decipher.update(use === slice.length ? slice : slice.subarray(0, use)));
  }

  /** Ends the current packet; returns true when it was the file's last (then call finish()). */
  endPacket(): boolean {
    if (this.#error) throw this.#error;
    this.#inPacket = false;
    if (this.#packetTake !== 0)
      throw new ServerError('SERVER_ERR_INTERNAL', 'A packet ended before its content.');
    if (!this.#packetLast) return false;
    this.#finished = true;
    let tail: Buffer;
    try {
      tail = this.#decipher.final();
    } catch (e) {
      throw new ServerError(
        'SERVER_ERR_UPLOAD_PADDING',
        'The decrypted file does not end in valid padding; it was encrypted with another key or damaged.',
        { cause: e },
      );
    }
    this.#push(tail);
    const orig = this.sequence.first.origSize;
    if (this.#size !== orig) {
      throw new ServerError(
        'SERVER_ERR_UPLOAD_PADDING',
        `The decrypted file is ${this.#size} bytes but ${orig} were announced; its padding is wrong.`,
      );
    }
    return true;
  }

  #push(plain: Buffer): void {
    if (plain.length === 0) return;
    this.#cksum.update(plain);
    this.#size += plain.length;
    this.#stream.write(plain);
    this.#unsynced += plain.length;
    if (this.#unsynced >= this.#syncInterval && !this.#syncing) this.#startSync();
  }

  /**
   * Asks the kernel to write what the stream has written so far (on libuv's thread pool; the
   * event loop goes on). Bytes still in the stream's buffer are covered by the next sync.
   * A failure is kept as the upload's error: a disk that cannot sync cannot keep the file.
   */
  #startSync(): void {
    const fd = this.#fd;
    if (fd === null || this.#stream.destroyed || this.#stream.writableEnded) return;
    this.#unsynced = this.#stream.writableLength;
    this.#syncing = new Promise<void>((resolve) => {
      fdatasync(fd, (e) => {
        this.#syncing = null;
        if (e && !this.#aborted) {
          this.#error ??= new ServerError(
            'SERVER_ERR_UPLOAD_WRITE',
            `Cannot write the received file: ${e.message}`,
            {
              cause: e,
            },
          );
        }
        resolve();
      });
    });
  }

  /** True while a background fdatasync() runs (for tests). */
  get syncing(): boolean {
    return this.#syncing !== null;
  }

  /** After the last packet: flushes, fsyncs and closes the temp file. */
  async finish(): Promise<UploadResult> {
    if (!this.#finished) throw new ServerError('SERVER_ERR_UPLOAD_SEQUENCE', 'The file is not complete yet.');
    // The stream closes its fd once ended: no sync may still be using it then.
    await this.#syncing;
    if (!this.#error) this.#stream.end();
    await this.#closed;
    if (this.#error) throw this.#error;
    if (this.#aborted) throw new ServerError('SERVER_ERR_UPLOAD_ABORTED', 'The upload was abandoned.');
    return { cksum: this.#cksum.digest(), size: this.#size, tmpPath: this.tmpPath };
  }

  /** Abandons the file: closes the stream, then removes the temp file (once closed, so no open races it). */
  async abort(): Promise<void> {
    this.#aborted = true;
    await this.#syncing;
    if (!this.#stream.destroyed) this.#stream.destroy();
    await this.#closed;
    await rm(this.tmpPath, { force: true }).catch(() => {});
  }
}
