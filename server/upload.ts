/**
 * One file being received: each packet is decrypted (AES-256-CBC, zero IV) and CRC'd as it
 * arrives and its plaintext appended to a temp file (file-storage.ts). Memory holds at most
 * one packet plus the temp file's write buffer, whatever the file size; the caller pauses
 * its socket while `needsDrain` is true.
 */
import { createDecipheriv, type Decipher } from 'node:crypto';
import { Cksum } from '../lib/crypto';
import { ZERO_IV } from '../lib/protocol';
import { ServerError } from './errors';
import type { TempFile } from './file-storage';
import { type PacketFields, PacketSequence, type SequenceLimits } from './upload-sequence';

export interface UploadResult {
  /** POSIX cksum of the plaintext. */
  cksum: number;
  /** Plaintext bytes written. */
  size: number;
  /** The finished temp file, ready to be committed. */
  temp: TempFile;
  /** SHA-256 (hex) of the plaintext, for a v4 upload: recorded instead of the CRC. */
  sha256?: string;
  /**
   * Run once the file is moved and recorded, before its pending change is dropped (a v4
   * upload's state file in partial/ gives way to its `.done`): cut before it ends, the next
   * start records the file again and runs FileStore.recover's `stored` in its place.
   */
  settle?: (token: string) => Promise<void>;
}

export class Upload {
  readonly sequence: PacketSequence;
  readonly temp: TempFile;
  readonly #decipher: Decipher;
  readonly #cksum = new Cksum();
  #size = 0;
  #finished = false;
  #inPacket = false;
  /** Content bytes of the current packet still belonging to the file. */
  #packetTake = 0;
  #packetLast = false;
  #aborted = false;

  /**
   * Starts a file from its first packet's fields (checked here, before `openTemp` is called,
   * so a refused file leaves no temp file). Does not consume the first packet: call write()
   * or beginPacket() with it.
   */
  constructor(first: PacketFields, key: Uint8Array, openTemp: () => TempFile, limits: SequenceLimits) {
    this.sequence = PacketSequence.start(first, limits);
    this.#decipher = createDecipheriv('aes-256-cbc', key, ZERO_IV);
    this.temp = openTemp();
  }

  get fileName(): string {
    return this.sequence.first.fileName;
  }

  /** A write failure seen so far (disk full ...), or null. */
  get error(): ServerError | null {
    return this.temp.error;
  }

  /** The write buffer is full: stop reading until drained() resolves. */
  get needsDrain(): boolean {
    return this.temp.needsDrain;
  }

  /** Resolves once the write buffer has room again (or the temp file failed). */
  drained(): Promise<void> {
    return this.temp.drained();
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
    if (this.temp.error) throw this.temp.error;
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
    if (this.temp.error) throw this.temp.error;
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
    this.temp.write(plain);
  }

  /** After the last packet: flushes the temp file and makes it durable. */
  async finish(): Promise<UploadResult> {
    if (!this.#finished) throw new ServerError('SERVER_ERR_UPLOAD_SEQUENCE', 'The file is not complete yet.');
    await this.temp.finish();
    if (this.#aborted) throw new ServerError('SERVER_ERR_UPLOAD_ABORTED', 'The upload was abandoned.');
    return { cksum: this.#cksum.digest(), size: this.#size, temp: this.temp };
  }

  /** Abandons the file: the temp file is closed and removed. */
  async abort(): Promise<void> {
    this.#aborted = true;
    await this.temp.abort();
  }
}
