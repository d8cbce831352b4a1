/**
 * The v4 record path of one upload. Each Chunk goes to the record thread (record-thread.ts),
 * which opens it (AES-256-GCM, verified, in order) and hashes it, while the event loop reads
 * the next ones: up to OPENS_IN_FLIGHT records are there at once. The plaintexts come back in
 * order and are written in batches of WRITE_BATCH_RECORDS (one writev) while later records
 * arrive. Batches start at the upload's durable point and are cut at every
 * DURABLE_EVERY_RECORDS, so PartialUpload makes exactly those points durable. A record that
 * does not verify stops the upload there: nothing of it or after it is written. Memory per
 * upload: the records at the thread, the batch being filled and BATCHES_IN_FLIGHT.
 */
import { RECORD_SIZE, TAG_SIZE } from '../../lib/protocol/v4/constants';
import { V4Error } from '../../lib/v4/errors';
import { recordCount, StreamOpener } from '../../lib/v4/stream';
import { BufferPool } from '../../platform/buffer-pool';
import type { PartialUpload } from './partial-uploads';
import { RecordStream, RecordThreadFailure } from './record-thread';

/** Records per writev (1 MiB, v3's write size); must divide DURABLE_EVERY_RECORDS (16). */
export const WRITE_BATCH_RECORDS = 4;
/** Batches handed to the disk and not yet written before push() waits (socket backpressure). */
export const BATCHES_IN_FLIGHT = 2;
/** Records at the record thread before push() waits for the oldest (1 MiB). */
export const OPENS_IN_FLIGHT = 4;

/**
 * The bodies of full-size Chunk frames, for every connection's frame decoder (its `allocate`).
 * A body goes to the record thread and comes back with its plaintext in a buffer of its own;
 * the writer gives the body back here at once (adopt). Free ones kept: 16 (4 MiB); more in
 * use are allocated.
 */
export const recordBodies = new BufferPool(RECORD_SIZE + TAG_SIZE, 16);

/** A write of verified records failed (disk full or failing): the upload cannot go on. */
export class StorageFailure extends Error {}

export interface RecordStreamParams {
  fileKey: Uint8Array;
  binding: Uint8Array;
  uploadId: Uint8Array;
  size: number;
  /** The first record to come (the upload's durable point). */
  start: number;
}

export class RecordWriter {
  readonly #upload: PartialUpload;
  readonly #records: number;
  /** Indexes, lengths, nonces and the last record: lib/v4's STREAM, its cipher on the thread. */
  readonly #opener: StreamOpener;
  /** The record thread's stream, once the opener has derived the key. */
  readonly #stream: Promise<RecordStream>;
  /** Whether the thread hashes this upload (it started at record 0 on this holder). */
  readonly #hashed: boolean;
  /** Records opened and verified (all of them: complete). */
  #opened: number;
  /** Records at the thread, oldest first. */
  readonly #opening: Promise<Uint8Array>[] = [];
  #batch: Uint8Array[] = [];
  #chain: Promise<void> = Promise.resolve();
  readonly #inFlight: Promise<void>[] = [];
  #failure: StorageFailure | null = null;
  #invalid: V4Error | null = null;
  #ended = false;
  /**
   * Told at once, and once, when a record does not verify or a write fails: push() and
   * drain() find out only when called, and a client may send nothing more for a while.
   */
  onFailure: ((e: StorageFailure | V4Error) => void) | null = null;
  #told = false;

  constructor(upload: PartialUpload, p: RecordStreamParams) {
    this.#upload = upload;
    this.#records = recordCount(p.size);
    this.#opened = p.start;
    let made!: (s: RecordStream) => void;
    this.#stream = new Promise((resolve) => {
      made = resolve;
    });
    const hashed = p.start === 0 && upload.handOverHash();
    this.#hashed = hashed;
    this.#opener = new StreamOpener({
      ...p,
      aead: (key) => {
        const stream = new RecordStream(key, hashed);
        made(stream);
        return {
          seal: () => Promise.reject(new Error('The server only opens records.')),
          open: async (nonce, sealed) => {
            const opened = await stream.open(nonce, sealed);
            // The body may carry the next record at once: the plaintext has its own buffer.
            recordBodies.adopt(opened.sealed);
            return opened.plain;
          },
        };
      },
    });
  }

  /** True once the last record verified (its write may still be in flight: drain()). */
  get complete(): boolean {
    return this.#opened === this.#records;
  }

  /**
   * Sends the next record to be opened (V4Error V4_ERR_STREAM if it, or one before it, does
   * not verify) and queues its plaintext. Resolves once another may come; StorageFailure once
   * an earlier write failed. The body belongs to the writer from now on: the caller must not
   * read it after. After the last record, resolves once every record verified.
   */
  async push(body: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#invalid) throw this.#invalid;
    // The opener checks the index and length at once and rejects when the record does not verify.
    const plain = this.#opener.open(body);
    plain.catch((e: unknown) => this.#tell(this.#classify(e)));
    this.#opening.push(plain);
    const last = this.#opener.complete;
    while (this.#opening.length >= (last ? 1 : OPENS_IN_FLIGHT)) await this.#takeOpened();
    while (this.#inFlight.length >= BATCHES_IN_FLIGHT) await this.#inFlight[0];
    if (this.#failure) throw this.#failure;
  }

  /** Writes everything verified so far; StorageFailure if any write failed, V4Error if a record did not verify. */
  async drain(): Promise<void> {
    try {
      while (this.#opening.length > 0) await this.#takeOpened();
    } finally {
      // What verified before a record that did not is written too (kept for a resume).
      this.#flush();
      await this.#chain;
    }
    if (this.#failure) throw this.#failure;
  }

  /** The SHA-256 of the whole file when this writer saw it all from record 0, else null; the stream ends. */
  async digest(): Promise<Uint8Array | null> {
    this.#ended = true;
    const stream = await this.#stream;
    if (this.#hashed) return stream.digest();
    stream.end();
    return null;
  }

  /** Drops what is not written yet, waits for the writes in progress, and ends the stream (before a removal, or after a drain). */
  async discard(): Promise<void> {
    const opening = this.#opening.splice(0);
    this.#batch = [];
    await Promise.allSettled(opening);
    await this.#chain;
    if (this.#ended) return;
    this.#ended = true;
    (await this.#stream).end();
  }

  /** A record's open failed: the thread stopped (StorageFailure), or it did not verify (V4Error). */
  #classify(e: unknown): StorageFailure | V4Error {
    const cause = (e as Error).cause;
    if (cause instanceof RecordThreadFailure) {
      this.#failure ??= new StorageFailure(cause.message, { cause });
      return this.#failure;
    }
    this.#invalid ??= e instanceof V4Error ? e : new V4Error('V4_ERR_STREAM', String(e));
    return this.#invalid;
  }

  #tell(e: StorageFailure | V4Error): void {
    if (this.#told || this.#ended) return;
    this.#told = true;
    this.onFailure?.(e);
  }

  /** The oldest record at the thread, opened, into the batch (flushed when full or last). */
  async #takeOpened(): Promise<void> {
    let plain: Uint8Array;
    try {
      plain = await this.#opening.shift()!;
    } catch (e) {
      // Nothing later is written: the records after this one are dropped with it.
      this.#opening.length = 0;
      throw this.#classify(e);
    }
    this.#opened++;
    this.#batch.push(plain);
    if (this.#batch.length >= WRITE_BATCH_RECORDS || this.complete) this.#flush();
  }

  #flush(): void {
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    const done = this.#chain.then(async () => {
      if (this.#failure) return;
      try {
        await this.#upload.appendRecords(batch);
      } catch (e) {
        this.#failure = new StorageFailure((e as Error).message, { cause: e });
        this.#tell(this.#failure);
      }
    });
    this.#chain = done;
    this.#inFlight.push(done);
    // Batches finish in order: the oldest leaves first.
    void done.then(() => this.#inFlight.shift());
  }
}
