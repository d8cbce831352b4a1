/**
 * readReusing (cli/file-source.ts), the CLI's file reader (both protocols): the bytes from an
 * offset to the end, exactly, in two page-aligned buffers taken in turn and reused for the
 * next file; the file handle closes when the reader stops.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../platform/page-aligned';
import { prepareFile, readReusing } from './file-source';

let dir: string;
let file: string;
const bytes = randomBytes(10_000 + 37);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sft-read-'));
  file = path.join(dir, 'f.bin');
  await writeFile(file, bytes);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Descriptors of this process open on the test file (Linux's /proc). */
const openHandles = () =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;

describe('readReusing', () => {
  it('gives the bytes from each offset to the end, in two buffers taken in turn', async () => {
    for (const offset of [0, 1, 999, 1000, 5000, bytes.length - 1, bytes.length]) {
      const copies: Buffer[] = [];
      const memories = new Set<ArrayBufferLike>();
      for await (const chunk of readReusing(file, offset, 1000)) {
        expect(chunk.length).toBeLessThanOrEqual(1000);
        copies.push(Buffer.from(chunk));
        memories.add(chunk.buffer);
      }
      expect(Buffer.concat(copies).equals(bytes.subarray(offset))).toBe(true);
      // Ten reads of a 10 KB file through 2 buffers, not 10 fresh ones.
      expect(memories.size).toBeLessThanOrEqual(2);
    }
  });

  it('closes the file when the reader stops early, after the read ahead', async () => {
    const before = openHandles();
    for await (const chunk of readReusing(file, 0, 1000)) {
      expect(chunk.length).toBe(1000);
      expect(openHandles()).toBe(before + 1);
      break;
    }
    expect(openHandles()).toBe(before);
  });

  it('reads into page-aligned buffers that go back for the next file, however the last reader stopped', async () => {
    const memories = new Set<ArrayBufferLike>();
    const readOnce = async (round: number) => {
      for await (const chunk of readReusing(file, 0, 1000)) {
        memories.add(chunk.buffer);
        // Slices of one WebAssembly.Memory at page multiples (platform/page-aligned.ts).
        expect(chunk.byteOffset % PAGE_SIZE).toBe(0);
        if (round % 3 === 1) break; // stopped early
        if (round % 3 === 2) throw new Error('caller failed'); // stopped by a throw
      }
    };
    for (let round = 0; round < 12; round++) await readOnce(round).catch(() => {});
    // Twelve files, one after another: the same two buffers (one Memory) every time.
    expect(memories.size).toBe(1);
  });

  it('refuses a path that is not there', async () => {
    await expect(readReusing(path.join(dir, 'none'), 0).next()).rejects.toThrow(/ENOENT/);
  });
});

describe('prepareFile messages', () => {
  const message = (p: Promise<unknown>) =>
    p.then(
      () => '',
      (e: Error) => e.message,
    );

  it('show a name with control characters escaped, on one line', async () => {
    const odd = path.join(dir, 'two\nlines\u001b.txt');
    await writeFile(odd, 'x');
    for (const protocol of [3, 4] as const) {
      const text = await message(prepareFile(odd, protocol));
      expect(text).toContain(`${dir}/two\\nlines\\x1b.txt`);
      expect(text).not.toMatch(/[\n\u001b]/);
    }
    const missing = await message(prepareFile(path.join(dir, 'gone\n.txt')));
    expect(missing).toBe(`${dir}/gone\\n.txt does not exist. Check the path.`);
  });
});
