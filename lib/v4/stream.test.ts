/**
 * The STREAM of file records: round trips at the record boundaries, and every kind of
 * tampering the spec names (reordered, dropped, duplicated, truncated, foreign file,
 * foreign session, bit flips, wrong length) is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RECORD_SIZE } from '../protocol/v4/constants';
import { recordCount, recordLength, StreamOpener, type StreamParams, StreamSealer } from './stream';

const R = RECORD_SIZE;
/** Byte equality without vitest's element-by-element diff (slow for 256 KiB). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const rand = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));
const fileOf = (n: number) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + 3) & 0xff;
  return out;
};

function params(size: number, over: Partial<StreamParams> = {}): StreamParams {
  return { fileKey: KEY, binding: BINDING, uploadId: ID, size, ...over };
}
const KEY = rand(32);
const BINDING = rand(32);
const ID = rand(16);

async function sealAll(p: StreamParams, file: Uint8Array): Promise<Uint8Array[]> {
  const s = new StreamSealer(p);
  const out: Uint8Array[] = [];
  for (let i = 0; i < s.recordTotal; i++)
    out.push(await s.seal(i, file.subarray(i * R, i * R + recordLength(p.size, i))));
  return out;
}

async function openAll(
  p: StreamParams,
  records: Uint8Array[],
  start = 0,
): Promise<{ plain: Uint8Array; complete: boolean }> {
  const o = new StreamOpener({ ...p, start });
  const parts: Uint8Array[] = [];
  for (const r of records) parts.push(await o.open(r));
  const plain = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of parts) {
    plain.set(x, at);
    at += x.length;
  }
  return { plain, complete: o.complete };
}

describe('STREAM records', () => {
  it.each([0, 1, R - 1, R, R + 1, 3 * R])('round-trips a file of %i bytes', async (size) => {
    const file = fileOf(size);
    const recs = await sealAll(params(size), file);
    expect(recs.length).toBe(recordCount(size));
    const { plain, complete } = await openAll(params(size), recs);
    expect(complete).toBe(true);
    expect(same(plain, file)).toBe(true);
  });

  it('resumes from a record index with a new session binding', async () => {
    const size = 3 * R + 5;
    const file = fileOf(size);
    const first = await sealAll(params(size), file);
    const { plain: head } = await openAll(params(size), first.slice(0, 2));
    const other = params(size, { binding: rand(32) });
    const again = await sealAll(other, file);
    const { plain: tail, complete } = await openAll(other, again.slice(2), 2);
    expect(complete).toBe(true);
    expect(same(head, file.subarray(0, 2 * R))).toBe(true);
    expect(same(tail, file.subarray(2 * R))).toBe(true);
    // The old session's records do not open in the new one.
    await expect(openAll(other, first.slice(2), 2)).rejects.toMatchObject({ code: 'V4_ERR_STREAM' });
  });

  describe('refuses', () => {
    const size = 4 * R + 10;
    const file = fileOf(size);
    const recsP = sealAll(params(size), file);
    const refused = async (records: Uint8Array[], p = params(size)) => {
      await expect(openAll(p, records)).rejects.toMatchObject({ code: 'V4_ERR_STREAM' });
    };

    it('reordered records', async () => {
      const r = await recsP;
      await refused([r[0]!, r[2]!, r[1]!, r[3]!, r[4]!]);
    });
    it('a dropped record', async () => {
      const r = await recsP;
      await refused([r[0]!, r[2]!, r[3]!, r[4]!]);
    });
    it('a duplicated record', async () => {
      const r = await recsP;
      await refused([r[0]!, r[0]!, r[1]!, r[2]!, r[3]!, r[4]!]);
    });
    it('a record after the last', async () => {
      const r = await recsP;
      await refused([...r, r[4]!]);
    });
    it('a truncated stream is never complete', async () => {
      const r = await recsP;
      const { complete } = await openAll(params(size), r.slice(0, 4));
      expect(complete).toBe(false);
    });
    it('a stream cut to a full record passed off as the last (size lowered)', async () => {
      const r = await recsP;
      await refused(r.slice(0, 4), params(4 * R));
    });
    it('records of another upload ID, file key or session', async () => {
      const r = await recsP;
      await refused(r, params(size, { uploadId: rand(16) }));
      await refused(r, params(size, { fileKey: rand(32) }));
      await refused(r, params(size, { binding: rand(32) }));
    });
    it('a record from another file of the same upload ID and key (another session)', async () => {
      const other = await sealAll(params(size, { binding: rand(32) }), fileOf(size).reverse());
      const r = await recsP;
      await refused([r[0]!, other[1]!, r[2]!, r[3]!, r[4]!]);
    });
    it('a record of the wrong length, and nothing after it', async () => {
      const r = await recsP;
      const o = new StreamOpener({ ...params(size), start: 0 });
      await expect(o.open(r[0]!.subarray(1))).rejects.toMatchObject({ code: 'V4_ERR_STREAM' });
      await expect(o.open(r[0]!)).rejects.toMatchObject({ code: 'V4_ERR_STREAM' });
    });
  });

  it('any flipped bit in any record is refused (property)', async () => {
    const size = 2 * R + 33;
    const recs = await sealAll(params(size), fileOf(size));
    await fc.assert(
      fc.asyncProperty(fc.nat(recs.length - 1), fc.nat(), fc.nat(7), async (which, pos, bit) => {
        const copy = recs.map((r) => r.slice());
        const rec = copy[which]!;
        rec[pos % rec.length]! ^= 1 << bit;
        await expect(openAll(params(size), copy)).rejects.toMatchObject({ code: 'V4_ERR_STREAM' });
      }),
      { numRuns: 40 },
    );
  });
});
