/**
 * PageAlignedPool (platform/page-aligned.ts): its buffers are page-aligned, which O_DIRECT
 * proves (a read with O_DIRECT into a buffer that is not aligned fails with EINVAL), each is
 * lent to one holder at a time, and only its own come back.
 */
import { randomBytes } from 'node:crypto';
import { constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_SIZE, PageAlignedPool } from './page-aligned';

let dir: string;
let file: string;
const bytes = randomBytes(4 * PAGE_SIZE);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-aligned-'));
  file = join(dir, 'f.bin');
  writeFileSync(file, bytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Reads the file's first `length` bytes with O_DIRECT into `into`; null where the file system has no O_DIRECT. */
async function directRead(into: Buffer, length: number): Promise<number | null> {
  const flag = (constants as { O_DIRECT?: number }).O_DIRECT;
  if (flag === undefined) return null;
  const fh = await open(file, constants.O_RDONLY | flag).catch(() => null);
  if (!fh) return null;
  try {
    return (await fh.read(into, 0, length, 0)).bytesRead;
  } finally {
    await fh.close();
  }
}

describe('PageAlignedPool', () => {
  it('hands out page-aligned buffers, also of a size that is not a multiple of the page', async (ctx) => {
    // The control first: a buffer 16 bytes into a page (where malloc's large blocks start),
    // which O_DIRECT refuses. Made from an aligned one: a malloc'ed buffer of its own lands
    // wherever the heap has room, now and then on a 512-byte boundary, which O_DIRECT takes
    // (the control failed so once in a fresh-clone CI).
    const control = new PageAlignedPool(PAGE_SIZE * 3, { perMemory: 1 }).take()!.subarray(16);
    const probe = await directRead(control, PAGE_SIZE).catch((e: NodeJS.ErrnoException) => e.code);
    if (probe === null) ctx.skip();
    expect(probe).toBe('EINVAL');
    for (const size of [PAGE_SIZE * 2, 3 * PAGE_SIZE + 1000]) {
      const pool = new PageAlignedPool(size, { perMemory: 3 });
      const taken = [pool.take()!, pool.take()!, pool.take()!, pool.take()!]; // two Memories
      for (const b of taken) {
        expect(b.length).toBe(size);
        expect(await directRead(b, 2 * PAGE_SIZE)).toBe(2 * PAGE_SIZE);
        expect(b.subarray(0, 2 * PAGE_SIZE).equals(bytes.subarray(0, 2 * PAGE_SIZE))).toBe(true);
      }
    }
  });

  it('lends each buffer to one holder at a time, reuses what comes back, and takes back only its own', () => {
    const pool = new PageAlignedPool(1000, { perMemory: 2, max: 3 });
    const a = pool.take()!;
    const b = pool.take()!;
    const c = pool.take()!;
    expect(new Set([a, b, c]).size).toBe(3);
    a.fill(1);
    b.fill(2);
    c.fill(3);
    expect([a[999], b[999], c[0]]).toEqual([1, 2, 3]); // no two overlap
    expect(pool.take()).toBeNull(); // max reached
    pool.give(Buffer.alloc(1000)); // not the pool's: ignored
    pool.give(b);
    pool.give(b); // twice: once only
    expect(pool.stats).toEqual({ made: 3, free: 1 });
    expect(pool.take()).toBe(b);
    expect(pool.take()).toBeNull();
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new PageAlignedPool(0, { perMemory: 1 })).toThrow(RangeError);
    expect(() => new PageAlignedPool(1.5, { perMemory: 1 })).toThrow(RangeError);
  });
});
