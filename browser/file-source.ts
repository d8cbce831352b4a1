/**
 * A browser File as a lib/client FileSource: read as a stream (File.stream()), never whole,
 * re-readable from the start for each attempt, in CHUNK_SIZE pieces.
 *
 * Measured in Chromium's upload worker (CPU seconds per GiB, 256 MiB runs):
 * - WebCrypto AES-CBC runs on the calling thread and costs 2.2 at 512 KiB per call, 2.4 at
 *   128 KiB, 3.0 at 64 KiB, but 3.8-4.8 at 1 MiB (allocations past a size threshold): so
 *   512 KiB pieces.
 * - File.stream()'s default reader hands out chunks of any multiple of 64 KiB up to 1.7 MiB;
 *   regrouping them copied every byte into a fresh buffer (0.7). A BYOB reader fills the
 *   same buffer again and again instead (0.6 for the read, no copy).
 */
import type { FileSource } from '../lib/client/types';
import { MAX_FILE_NAME_LENGTH } from '../lib/protocol';

/** Plaintext bytes handed to the session per step (one WebCrypto call each). */
export const CHUNK_SIZE = 512 * 1024;

/**
 * Reads `stream` in pieces of exactly `size` bytes (the last may be shorter) through a BYOB
 * reader, into one buffer reused for every piece: a piece is valid until the next is asked
 * for (the FileSource contract). Streams without BYOB support go through rechunk().
 */
export async function* readPieces(
  stream: ReadableStream<Uint8Array>,
  size: number,
): AsyncGenerator<Uint8Array> {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: 'byob' });
  } catch {
    yield* rechunk(stream, size);
    return;
  }
  let buffer = new ArrayBuffer(size);
  let ended = false;
  try {
    while (!ended) {
      // A consumer that took the last piece's buffer (transferred it) leaves it detached.
      if (buffer.byteLength !== size) buffer = new ArrayBuffer(size);
      let fill = 0;
      while (fill < size) {
        const { done, value } = await reader.read(new Uint8Array(buffer, fill, size - fill));
        // Each read transfers the buffer: carry on with the one the result lives in.
        if (value) buffer = value.buffer as ArrayBuffer;
        if (done) {
          ended = true;
          break;
        }
        fill += value.length;
      }
      if (fill > 0) yield new Uint8Array(buffer, 0, fill);
    }
  } finally {
    // Stopped early (cancel, failed attempt): stop reading the file too.
    if (!ended) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** Regroups a byte stream into pieces of exactly `size` bytes (the last may be shorter). */
export async function* rechunk(stream: ReadableStream<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let buf = new Uint8Array(size);
  let fill = 0;
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      let off = 0;
      while (off < value.length) {
        if (fill === 0 && value.length - off >= size) {
          // A whole piece straight from the source, no copy.
          yield value.subarray(off, off + size);
          off += size;
          continue;
        }
        const take = Math.min(size - fill, value.length - off);
        buf.set(value.subarray(off, off + take), fill);
        fill += take;
        off += take;
        if (fill === size) {
          yield buf;
          buf = new Uint8Array(size); // the consumer may still hold the previous piece
          fill = 0;
        }
      }
    }
    if (fill > 0) yield buf.subarray(0, fill);
  } finally {
    // Stopped early (cancel, failed attempt): stop reading the file too.
    if (!ended) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * The name a file travels under: the protocol's name field holds printable ASCII only
 * (at most 254 characters), so other characters become '_' and long names are shortened
 * keeping the extension.
 */
export function wireFileName(name: string): string {
  let ascii = '';
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    ascii += c >= 0x20 && c <= 0x7e && ch !== '/' && ch !== '\\' ? ch : '_';
  }
  if (ascii.trim() === '' || ascii === '.' || ascii === '..') ascii = 'file';
  if (ascii.length <= MAX_FILE_NAME_LENGTH) return ascii;
  const dot = ascii.lastIndexOf('.');
  const ext = dot > 0 && ascii.length - dot <= 16 ? ascii.slice(dot) : '';
  return ascii.slice(0, MAX_FILE_NAME_LENGTH - ext.length) + ext;
}

export function fileSource(file: File): FileSource {
  return {
    name: wireFileName(file.name),
    size: file.size,
    open: () => readPieces(file.stream() as ReadableStream<Uint8Array>, CHUNK_SIZE),
  };
}
