/**
 * POSIX `cksum` CRC (what `cksum` prints on Linux), see docs/PROTOCOL.md "CRC":
 * CRC-32, polynomial 0x04C11DB7, initial value 0, MSB first (not reflected); after the
 * data the length is fed as bytes, least significant first, only as many as it needs;
 * the result is complemented. Not zlib's crc32.
 *
 * Speed: slicing-by-8 over aligned little-endian 32-bit words. The register is kept
 * byte-swapped ("S" form) so a little-endian word can be XORed into it directly; every
 * table entry is stored byte-swapped to match. On a big-endian host the byte loop is used.
 *
 * Where WebAssembly is available, inputs of WASM_MIN_BYTES or more go through the
 * slicing-by-16 WebAssembly loop instead (cksum-wasm.ts; about 3x the JS speed in Node 20,
 * copy into WASM memory included). If WebAssembly is missing or refuses to compile (a
 * browser CSP without 'wasm-unsafe-eval'), or fails its self-check, the JS loop is used.
 */
import { cksumBackend, loadCksumWasm } from './cksum-wasm';

const POLY = 0x04c11db7;
/** Bytes consumed per step of the fast loop. */
const SLICES = 8;

/** Reverses the byte order of a 32-bit value (result as int32). */
function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** Eight 256-entry tables in one array: table k at offset 256*k, entries byte-swapped. */
function buildTables(): Int32Array {
  const t = new Int32Array(256 * SLICES);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let bit = 0; bit < 8; bit++) c = c & 0x80000000 ? (c << 1) ^ POLY : c << 1;
    t[i] = bswap32(c);
  }
  // Table k: byte i followed by k zero bytes; in S form a shift left by 8 is >>> 8.
  for (let k = 1; k < SLICES; k++) {
    for (let i = 0; i < 256; i++) {
      const prev = t[(k - 1) * 256 + i]!;
      t[k * 256 + i] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
}

const TABLES = buildTables();
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this the call and copy into WASM memory cost more than they save. */
const WASM_MIN_BYTES = 128;

/** Feeds bytes one at a time into an S-form register. */
function updateBytes(crcS: number, bytes: Uint8Array, start: number, end: number): number {
  const t = TABLES;
  let c = crcS;
  for (let i = start; i < end; i++) c = (c >>> 8) ^ t[(c ^ bytes[i]!) & 0xff]!;
  return c;
}

/** Feeds whole 8-byte groups of 32-bit little-endian words (`words[from..to)`, even count). */
function updateWords(crcS: number, words: Uint32Array, from: number, to: number): number {
  const t = TABLES;
  let c = crcS;
  for (let i = from; i < to; i += 2) {
    const x = words[i]! ^ c;
    const y = words[i + 1]!;
    c =
      t[0x700 + (x & 0xff)]! ^
      t[0x600 + ((x >>> 8) & 0xff)]! ^
      t[0x500 + ((x >>> 16) & 0xff)]! ^
      t[0x400 + (x >>> 24)]! ^
      t[0x300 + (y & 0xff)]! ^
      t[0x200 + ((y >>> 8) & 0xff)]! ^
      t[0x100 + ((y >>> 16) & 0xff)]! ^
      t[y >>> 24]!;
  }
  return c;
}

/** Incremental POSIX cksum. digest() does not finalize: it may be called again after more update()s. */
export class Cksum {
  /** Register in S form (byte-swapped); initial value 0. */
  #crcS = 0;
  /** Total bytes fed so far; a Number so files over 4 GiB still count correctly. */
  #length = 0;

  /** Bytes fed so far. */
  get length(): number {
    return this.#length;
  }

  update(chunk: Uint8Array): this {
    const n = chunk.length;
    this.#length += n;
    let c = this.#crcS;
    let i = 0;
    const wasm = n >= WASM_MIN_BYTES && !cksumBackend.forceJs ? loadCksumWasm() : null;
    if (wasm !== null) {
      this.#crcS = wasm(c, chunk, 0, n);
      return this;
    }
    if (LITTLE_ENDIAN && n >= 64) {
      // Bytes up to the first 4-byte boundary, then aligned words, then the tail.
      const head = (4 - (chunk.byteOffset & 3)) & 3;
      c = updateBytes(c, chunk, 0, head);
      const wordCount = ((n - head) >>> 3) << 1;
      const words = new Uint32Array(chunk.buffer, chunk.byteOffset + head, wordCount);
      c = updateWords(c, words, 0, wordCount);
      i = head + wordCount * 4;
    }
    this.#crcS = updateBytes(c, chunk, i, n);
    return this;
  }

  /** The cksum of everything fed so far, as an unsigned 32-bit number. */
  digest(): number {
    const t = TABLES;
    let c = this.#crcS;
    // Length bytes least significant first; division keeps lengths above 2^32 exact.
    for (let len = this.#length; len > 0; len = Math.floor(len / 256)) {
      c = (c >>> 8) ^ t[(c ^ (len % 256)) & 0xff]!;
    }
    return ~bswap32(c) >>> 0;
  }
}

/** One-shot POSIX cksum of `bytes`. */
export function cksum(bytes: Uint8Array): number {
  return new Cksum().update(bytes).digest();
}
