import { describe, expect, it } from 'vitest';
import { RECORD_SIZE } from '../protocol/v4/constants';
import { StreamOpener, StreamSealer } from '../v4/stream';
import { records } from './v4-records';

async function* chunksOf(...sizes: number[]): AsyncGenerator<Uint8Array> {
  let v = 0;
  for (const n of sizes) yield Uint8Array.from({ length: n }, () => v++ & 0xff);
}

async function all(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const r of it) out.push(r.slice());
  return out;
}

describe('records', () => {
  it('a whole record inside one chunk is a view of it (no copy); records spanning chunks are joined', async () => {
    const chunk = new Uint8Array(2 * RECORD_SIZE + 10);
    const seen: Uint8Array[] = [];
    for await (const r of records(
      (async function* () {
        yield chunk;
      })(),
      chunk.length,
    ))
      seen.push(r);
    expect(seen.map((r) => r.length)).toEqual([RECORD_SIZE, RECORD_SIZE, 10]);
    expect(seen[0]!.buffer).toBe(chunk.buffer);
    expect(seen[1]!.buffer).toBe(chunk.buffer);
    const joined = await all(records(chunksOf(100, RECORD_SIZE, RECORD_SIZE - 100 + 5), 2 * RECORD_SIZE + 5));
    expect(joined.map((r) => r.length)).toEqual([RECORD_SIZE, RECORD_SIZE, 5]);
    expect(joined[1]![0]).toBe(RECORD_SIZE & 0xff);
  });

  it('more or fewer bytes than the size is a RangeError', async () => {
    await expect(all(records(chunksOf(10), 9))).rejects.toThrow(RangeError);
    await expect(all(records(chunksOf(10), 11))).rejects.toThrow(RangeError);
  });
});

describe('StreamSealer.seal', () => {
  it('takes its record when called: refilling the buffer at once does not change what was sealed', async () => {
    const p = {
      fileKey: new Uint8Array(32).fill(1),
      binding: new Uint8Array(32).fill(2),
      uploadId: new Uint8Array(16).fill(3),
      size: 2 * RECORD_SIZE,
    };
    for (const ready of [false, true]) {
      const sealer = new StreamSealer(p);
      if (ready) await sealer.ready();
      const buf = new Uint8Array(RECORD_SIZE).fill(7);
      const first = sealer.seal(0, buf);
      buf.fill(9); // the BYOB reader reuses the buffer for the next record at once
      const second = sealer.seal(1, buf);
      const opener = new StreamOpener({ ...p, start: 0 });
      expect((await opener.open(await first))[0]).toBe(7);
      expect((await opener.open(await second))[0]).toBe(9);
    }
  });
});
