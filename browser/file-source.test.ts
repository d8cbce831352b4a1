import { describe, expect, it } from 'vitest';
import { CHUNK_SIZE, readPieces, rechunk, wireFileName } from './file-source';

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const x of chunks) c.enqueue(x);
      c.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>, size: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const piece of rechunk(stream, size)) out.push(piece.slice());
  return out;
}

describe('rechunk', () => {
  it('regroups any split into pieces of exactly the size, the last one shorter, bytes unchanged', async () => {
    const data = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
    for (const cut of [1, 7, 64, 300, 999, 1000]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < data.length; i += cut) chunks.push(data.slice(i, i + cut));
      const pieces = await collect(streamOf(chunks), 128);
      expect(pieces.slice(0, -1).every((p) => p.length === 128)).toBe(true);
      expect(pieces.at(-1)!.length).toBe(1000 % 128);
      expect(Uint8Array.from(pieces.flatMap((p) => [...p]))).toEqual(data);
    }
  });

  it('yields nothing for an empty stream, and pieces stay valid after later ones are produced', async () => {
    expect(await collect(streamOf([]), 16)).toEqual([]);
    const pieces: Uint8Array[] = [];
    for await (const p of rechunk(streamOf([new Uint8Array(10).fill(1), new Uint8Array(10).fill(2)]), 8))
      pieces.push(p);
    expect(pieces.map((p) => [...p])).toEqual([
      [1, 1, 1, 1, 1, 1, 1, 1],
      [1, 1, 2, 2, 2, 2, 2, 2],
      [2, 2, 2, 2],
    ]);
  });

  it('uses a multiple of 64 KiB (whole AES blocks per step), below the 1 MiB where WebCrypto slows down', () => {
    expect(CHUNK_SIZE % (64 * 1024)).toBe(0);
    expect(CHUNK_SIZE).toBeLessThan(1024 * 1024);
  });
});

/** A byte stream (as File.stream() is) that enqueues `chunks` as they are. */
function byteStreamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    type: 'bytes',
    pull(c) {
      if (i < chunks.length) c.enqueue(chunks[i++]!.slice());
      else {
        c.close();
        // A pending BYOB read must be answered once the stream is closed.
        c.byobRequest?.respond(0);
      }
    },
  });
}

describe('readPieces', () => {
  const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) % 253);
  const splits = (cut: number) => {
    const out: Uint8Array[] = [];
    for (let i = 0; i < data.length; i += cut) out.push(data.subarray(i, i + cut));
    return out;
  };

  it('fills pieces of exactly the size from a byte stream whatever its chunks, the last shorter', async () => {
    for (const cut of [1, 100, 512, 513, 3000, 5000]) {
      const pieces: Uint8Array[] = [];
      for await (const p of readPieces(byteStreamOf(splits(cut)), 512)) pieces.push(p.slice());
      expect(pieces.slice(0, -1).every((p) => p.length === 512)).toBe(true);
      expect(pieces.at(-1)!.length).toBe(5000 % 512);
      expect(Uint8Array.from(pieces.flatMap((p) => [...p]))).toEqual(data);
    }
  });

  it('reuses one buffer: a piece is only valid until the next is asked for', async () => {
    const seen = new Set<ArrayBufferLike>();
    let count = 0;
    let previous: Uint8Array | null = null;
    for await (const p of readPieces(byteStreamOf(splits(700)), 1024)) {
      // The earlier piece's memory went into this read (BYOB transfers it).
      if (previous) expect(previous.byteLength).toBe(0);
      seen.add(p.buffer);
      previous = p;
      count++;
    }
    expect(count).toBe(5);
    // Every read transfers the buffer to a new ArrayBuffer object, but no piece was allocated:
    // the sizes seen are all the one buffer's.
    expect([...seen].every((b) => b.byteLength === 0 || b.byteLength === 1024)).toBe(true);
  });

  it('copes with a consumer that takes (transfers) a piece', async () => {
    const pieces: Uint8Array[] = [];
    for await (const p of readPieces(byteStreamOf(splits(300)), 1024)) {
      const owned = p.slice();
      structuredClone(p.buffer, { transfer: [p.buffer as ArrayBuffer] }); // detaches it
      pieces.push(owned);
    }
    expect(Uint8Array.from(pieces.flatMap((p) => [...p]))).toEqual(data);
  });

  it('falls back to rechunk for streams without BYOB support', async () => {
    const pieces: Uint8Array[] = [];
    for await (const p of readPieces(streamOf(splits(333)), 1000)) pieces.push(p.slice());
    expect(pieces.map((p) => p.length)).toEqual([1000, 1000, 1000, 1000, 1000]);
    expect(Uint8Array.from(pieces.flatMap((p) => [...p]))).toEqual(data);
  });

  it('yields nothing for an empty file, and cancels the stream when the consumer stops early', async () => {
    const none: Uint8Array[] = [];
    for await (const p of readPieces(byteStreamOf([]), 64)) none.push(p);
    expect(none).toEqual([]);
    let cancelled = false;
    const endless = new ReadableStream({
      type: 'bytes',
      pull(c) {
        c.enqueue(new Uint8Array(100));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const _ of readPieces(endless, 64)) break;
    expect(cancelled).toBe(true);
  });
});

describe('wireFileName', () => {
  it('keeps printable ASCII names', () => {
    expect(wireFileName('report 2024 (final).pdf')).toBe('report 2024 (final).pdf');
  });
  it('replaces non-ASCII, control characters and slashes with _', () => {
    expect(wireFileName('résumé.pdf')).toBe('r_sum_.pdf');
    expect(wireFileName('a/b\\c\u0001.txt')).toBe('a_b_c_.txt');
    expect(wireFileName('日本.txt')).toBe('__.txt');
  });
  it('shortens long names to 254 characters keeping the extension', () => {
    const n = wireFileName(`${'x'.repeat(300)}.tar.gz`);
    expect(n).toHaveLength(254);
    expect(n.endsWith('.gz')).toBe(true);
  });
  it('never yields an empty or dot name', () => {
    expect(wireFileName('')).toBe('file');
    expect(wireFileName('..')).toBe('file');
  });
});
