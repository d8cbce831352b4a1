/**
 * Little-endian field writer and reader for v4 messages (u64 as a JS number, at most
 * 2^53 - 1). The reader throws V4ProtocolError on any overrun, so a short message is
 * refused rather than read past.
 */
import { MAX_U64 } from './constants';
import { V4ProtocolError } from './errors';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function encodeUtf8(text: string): Uint8Array {
  return utf8.encode(text);
}

export class ByteWriter {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  u8(v: number): this {
    this.#view.setUint8(this.#at, v);
    this.#at += 1;
    return this;
  }
  u16(v: number): this {
    this.#view.setUint16(this.#at, v, true);
    this.#at += 2;
    return this;
  }
  u32(v: number): this {
    this.#view.setUint32(this.#at, v, true);
    this.#at += 4;
    return this;
  }
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of range: ${v}`);
    this.#view.setUint32(this.#at, v % 2 ** 32, true);
    this.#view.setUint32(this.#at + 4, Math.floor(v / 2 ** 32), true);
    this.#at += 8;
    return this;
  }
  raw(b: Uint8Array): this {
    this.bytes.set(b, this.#at);
    this.#at += b.length;
    return this;
  }
  /** Checks the writer was sized exactly. */
  done(): Uint8Array {
    if (this.#at !== this.bytes.length) throw new RangeError('message size mismatch');
    return this.bytes;
  }
}

export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.#bytes.length - this.#at;
  }

  #need(n: number): void {
    if (this.remaining < n) throw new V4ProtocolError('V4_ERR_TRUNCATED', 'Message too short.');
  }
  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.#at++);
  }
  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#at, true);
    this.#at += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#at, true);
    this.#at += 4;
    return v;
  }
  u64(): number {
    const v = this.u64Size();
    if (v === Number.POSITIVE_INFINITY)
      throw new V4ProtocolError('V4_ERR_BAD_FIELD', 'A 64-bit size is over 2^53 - 1.');
    return v;
  }

  /** A u64 size, Infinity past 2^53 - 1: valid on the wire, past anything a receiver accepts. */
  u64Size(): number {
    this.#need(8);
    const lo = this.#view.getUint32(this.#at, true);
    const hi = this.#view.getUint32(this.#at + 4, true);
    this.#at += 8;
    const v = hi * 2 ** 32 + lo;
    return v > MAX_U64 ? Number.POSITIVE_INFINITY : v;
  }
  /** A copy, so the result outlives the buffer it was read from. */
  raw(n: number): Uint8Array {
    this.#need(n);
    const v = this.#bytes.slice(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }
  utf8(n: number, what: string): string {
    const b = this.raw(n);
    try {
      return utf8Strict.decode(b);
    } catch {
      throw new V4ProtocolError('V4_ERR_BAD_FIELD', `The ${what} is not UTF-8.`);
    }
  }
  /** Refuses trailing bytes: every message has an exact layout. */
  end(): void {
    if (this.remaining !== 0) throw new V4ProtocolError('V4_ERR_BAD_LENGTH', 'Message has trailing bytes.');
  }
}
