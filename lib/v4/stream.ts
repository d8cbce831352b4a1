/**
 * File data as a STREAM (docs/PROTOCOL.md, "File data: a STREAM"): records of RECORD_SIZE
 * plaintext bytes (the last 0..RECORD_SIZE), each AES-256-GCM with
 * nonce = prefix(7) || u32 BE index || last flag, under a key derived from the file key,
 * the session binding and the upload ID. The opener counts the records itself and computes
 * `last` from the declared size, so a reordered, dropped, duplicated, truncated or foreign
 * record fails, and nothing after the last is accepted.
 */
import { MAX_RECORDS, RECORD_SIZE, STREAM_PREFIX_SIZE, TAG_SIZE } from '../protocol/v4/constants';
import { V4Error } from './errors';
import { type StreamKeys, streamKeys } from './key-schedule';
import { bs, subtle } from './keys';

/** Records of a file of `size` bytes: an empty file is one empty last record. */
export function recordCount(size: number): number {
  return Math.max(1, Math.ceil(size / RECORD_SIZE));
}

/** Plaintext bytes of record `index` of a file of `size` bytes. */
export function recordLength(size: number, index: number): number {
  return Math.min(RECORD_SIZE, size - index * RECORD_SIZE);
}

export function streamNonce(prefix: Uint8Array, index: number, last: boolean): Uint8Array {
  if (prefix.length !== STREAM_PREFIX_SIZE) throw new V4Error('V4_ERR_BAD_KEY', 'A nonce prefix is 7 bytes.');
  if (!Number.isInteger(index) || index < 0 || index >= MAX_RECORDS)
    throw new V4Error('V4_ERR_STREAM', 'Record index out of range.');
  const nonce = new Uint8Array(12);
  nonce.set(prefix);
  new DataView(nonce.buffer).setUint32(7, index);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/**
 * AES-256-GCM of one record under the stream key (sealed = ciphertext || 16-byte tag); open()
 * throws when the tag does not verify. WebCrypto unless a runtime brings its own: in Node,
 * node:crypto costs about a third of WebCrypto's CPU per 256 KiB record (bench "1 limits").
 */
export interface RecordAead {
  /** Reads `plain` before it returns (a caller may refill its buffer at once). */
  seal(nonce: Uint8Array, plain: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * The same bytes as seal() in pieces to send one after the other (ciphertext, then tag),
   * for a cipher whose output comes in pieces: joining them costs a copy of every record.
   * Optional; reads `plain` before it returns, as seal() does.
   */
  sealParts?(nonce: Uint8Array, plain: Uint8Array): readonly Uint8Array[];
  open(nonce: Uint8Array, sealed: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Resolves once the key is usable (an asynchronous import); absent when it is at once. */
  ready?: Promise<void>;
}
export type RecordAeadFactory = (key: Uint8Array, usage: 'encrypt' | 'decrypt') => RecordAead;

export const webCryptoRecordAead: RecordAeadFactory = (raw, usage) => {
  let key: CryptoKey | undefined;
  const ready = subtle()
    .importKey('raw', bs(raw), 'AES-GCM', false, [usage])
    .then((k) => {
      key = k;
    });
  // WebCrypto copies its input when called; before the key is imported, the input is copied here.
  const run = (op: 'encrypt' | 'decrypt', iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> => {
    const call = (k: CryptoKey, d: Uint8Array) =>
      subtle()
        [op]({ name: 'AES-GCM', iv: bs(iv) }, k, bs(d))
        .then((b) => new Uint8Array(b));
    if (key) return call(key, data);
    const copy = data.slice();
    return ready.then(() => call(key!, copy));
  };
  return {
    seal: (iv, plain) => run('encrypt', iv, plain),
    open: (iv, sealed) => run('decrypt', iv, sealed),
    ready,
  };
};

export interface StreamParams {
  fileKey: Uint8Array;
  binding: Uint8Array;
  uploadId: Uint8Array;
  size: number;
  /** The record cipher (default WebCrypto). */
  aead?: RecordAeadFactory;
}

abstract class StreamBase {
  protected readonly size: number;
  protected readonly records: number;
  protected readonly keys: Promise<StreamKeys>;
  protected readonly aead: Promise<RecordAead>;

  constructor(p: StreamParams, usage: 'encrypt' | 'decrypt') {
    if (p.size / RECORD_SIZE > MAX_RECORDS)
      throw new V4Error('V4_ERR_STREAM', 'File too large for one stream.');
    this.size = p.size;
    this.records = recordCount(p.size);
    this.keys = streamKeys(p.fileKey, p.binding, p.uploadId);
    const aead = p.aead ?? webCryptoRecordAead;
    this.aead = this.keys.then((k) => aead(k.key, usage));
  }

  protected async nonce(index: number): Promise<Uint8Array> {
    return streamNonce((await this.keys).prefix, index, index === this.records - 1);
  }
}

/** Set once the promise resolved, so later calls need not wait a microtask for it. */
function settled<T>(p: Promise<T>, store: (v: T) => void): void {
  p.then(store, () => {});
}

/** Seals the records of one upload on one session, from record `start`. */
export class StreamSealer extends StreamBase {
  #prefix: Uint8Array | undefined;
  #aead: RecordAead | undefined;

  constructor(p: StreamParams) {
    super(p, 'encrypt');
    settled(this.keys, (k) => {
      this.#prefix = k.prefix;
    });
    settled(this.aead, (a) => {
      this.#aead = a;
    });
  }

  get recordTotal(): number {
    return this.records;
  }

  /** Resolves once the keys are derived and imported: from then on seal() takes `plain` at once. */
  async ready(): Promise<void> {
    await this.keys;
    await (await this.aead).ready;
  }

  /**
   * The Chunk body of record `index`; `plain` must be exactly that record's bytes. `plain` is
   * never read after seal() returns (the cipher reads it when called; before the keys are
   * derived it is copied here), so a caller may refill the same buffer at once.
   */
  seal(index: number, plain: Uint8Array): Promise<Uint8Array> {
    return this.#sealWith(index, plain, (aead, iv, p) => aead.seal(iv, p));
  }

  /**
   * seal()'s Chunk body as pieces to send in order (their bytes joined are seal()'s), without
   * the join where the cipher has sealParts (node:crypto); the same rules for `plain`.
   */
  sealParts(index: number, plain: Uint8Array): Promise<readonly Uint8Array[]> {
    return this.#sealWith(index, plain, (aead, iv, p) =>
      aead.sealParts ? aead.sealParts(iv, p) : Promise.resolve(aead.seal(iv, p)).then((body) => [body]),
    );
  }

  /** The checks and the nonce of record `index`, then `run` with the cipher (once it is ready). */
  #sealWith<T>(
    index: number,
    plain: Uint8Array,
    run: (aead: RecordAead, iv: Uint8Array, plain: Uint8Array) => T | Promise<T>,
  ): Promise<T> {
    if (index >= this.records || plain.length !== recordLength(this.size, index))
      return Promise.reject(
        new V4Error('V4_ERR_STATE', `Record ${index} must be ${recordLength(this.size, index)} bytes.`),
      );
    if (this.#prefix && this.#aead) {
      try {
        const iv = streamNonce(this.#prefix, index, index === this.records - 1);
        return Promise.resolve(run(this.#aead, iv, plain));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    const copy = plain.slice();
    return this.ready().then(() => this.#sealWith(index, copy, run));
  }
}

/** Opens the records of one upload on one session in order, from record `start`. */
export class StreamOpener extends StreamBase {
  #next: number;

  constructor(p: StreamParams & { start: number }) {
    super(p, 'decrypt');
    if (!Number.isInteger(p.start) || p.start < 0 || p.start >= this.records)
      throw new V4Error('V4_ERR_STATE', 'Resume point out of range.');
    this.#next = p.start;
  }

  /** Index of the record the next Chunk must be. */
  get next(): number {
    return this.#next;
  }
  /** True once the last record verified. */
  get complete(): boolean {
    return this.#next === this.records;
  }
  /** True when the record just opened (index next - 1) was the last. */
  isLast(index: number): boolean {
    return index === this.records - 1;
  }

  /** The plaintext of the next record; V4_ERR_STREAM if it does not verify or none is due. */
  async open(body: Uint8Array): Promise<Uint8Array> {
    if (this.complete) throw new V4Error('V4_ERR_STREAM', 'A record after the last one.');
    const index = this.#next++;
    const want = recordLength(this.size, index) + TAG_SIZE;
    if (body.length !== want) {
      this.#next = this.records; // dead: nothing more of this stream is accepted
      throw new V4Error('V4_ERR_STREAM', `Record ${index} must be ${want} bytes, not ${body.length}.`);
    }
    try {
      const iv = await this.nonce(index);
      return await (await this.aead).open(iv, body);
    } catch (e) {
      this.#next = this.records;
      throw new V4Error('V4_ERR_STREAM', `Record ${index} did not verify.`, { cause: e });
    }
  }
}
