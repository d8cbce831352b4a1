import { describe, expect, it } from 'vitest';
import { CHUNK_SIZE, rechunk, wireFileName } from './file-source';

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

  it('uses a multiple of 64 KiB (whole AES blocks per step)', () => {
    expect(CHUNK_SIZE % (64 * 1024)).toBe(0);
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
