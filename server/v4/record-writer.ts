/**
 * The v4 record path of one upload: each Chunk is opened (verified, in order) as it comes,
 * and the plaintexts are written in batches of WRITE_BATCH_RECORDS (one writev) while later
 * records arrive, instead of one awaited write per record. Batches start at the upload's
 * durable point and are cut at every DURABLE_EVERY_RECORDS, so PartialUpload makes exactly
 * those points durable. Memory per upload: the batch being filled plus BATCHES_IN_FLIGHT.
 */
import { RECORD_SIZE, TAG_SIZE } from '../../lib/protocol/v4/constants';
import { StreamOpener, type StreamParams } from '../../lib/v4/stream';
import { BufferPool } from '../../platform/buffer-pool';
import { nodeRecordAead } from '../../platform/node-gcm';
import type { PartialUpload } from './partial-uploads';

/** Records per writev (1 MiB, v3's write size); must divide DURABLE_EVERY_RECORDS (16). */
export const WRITE_BATCH_RECORDS = 4;
/** Batches handed to the disk and not yet written before push() waits (socket backpressure). */
export const BATCHES_IN_FLIGHT = 2;

/**
 * The bodies of full-size Chunk frames, for every connection's frame decoder (its `allocate`):
 * push() gives each back once the record is opened (the decipher has read it and made the
 * plaintext, a buffer of its own). Free ones kept: 16 (4 MiB); more in use are allocated.
 */
export const recordBodies = new BufferPool(RECORD_SIZE + TAG_SIZE, 16);

/** A write of verified records failed (disk full or failing): the upload cannot go on. */
export class StorageFailure extends Error {}

export class RecordWriter {
  readonly #upload: PartialUpload;
  readonly #opener: StreamOpener;
  #batch: Uint8Array[] = [];
  #chain: Promise<void> = Promise.resolve();
  readonly #inFlight: Promise<void>[] = [];
  #failure: StorageFailure | null = null;

  /** `stream`: the upload's STREAM from record `start` (node:crypto records). */
  constructor(upload: PartialUpload, stream: StreamParams & { start: number }) {
    this.#upload = upload;
    this.#opener = new StreamOpener({ ...stream, aead: nodeRecordAead });
  }

  /** True once the last record verified (its write may still be in flight: drain()). */
  get complete(): boolean {
    return this.#opener.complete;
  }

  /**
   * Opens the next record (V4Error V4_ERR_STREAM if it does not verify) and queues its
   * plaintext. Resolves once another may come; StorageFailure once an earlier write failed.
   * A body from recordBodies goes back to it once opened: the caller must not read it after.
   */
  async push(body: Uint8Array): Promise<void> {
    if (this.#failure) {
      recordBodies.release(body);
      throw this.#failure;
    }
    let plain: Uint8Array;
    try {
      plain = await this.#opener.open(body);
    } finally {
      // Read by now (the cipher's output is a buffer of its own): the next frame may take it.
      recordBodies.release(body);
    }
    this.#batch.push(plain);
    if (this.#batch.length >= WRITE_BATCH_RECORDS || this.#opener.complete) this.#flush();
    while (this.#inFlight.length >= BATCHES_IN_FLIGHT) await this.#inFlight[0];
    if (this.#failure) throw this.#failure;
  }

  /** Writes everything verified so far; StorageFailure if any write failed. */
  async drain(): Promise<void> {
    this.#flush();
    await this.#chain;
    if (this.#failure) throw this.#failure;
  }

  /** Drops what is not written yet and waits for the writes in progress (before a removal). */
  async discard(): Promise<void> {
    this.#batch = [];
    await this.#chain;
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
      }
    });
    this.#chain = done;
    this.#inFlight.push(done);
    // Batches finish in order: the oldest leaves first.
    void done.then(() => this.#inFlight.shift());
  }
}
