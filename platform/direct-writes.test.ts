import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIRECT_ALIGN, FileAppender, MAX_STAGING_BUFFERS, STAGING_SIZE, stagingStats } from './direct-writes';

const KiB = 1024;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-direct-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function appender(name: string, direct = true) {
  const path = join(dir, name);
  const fh = await open(path, 'a+');
  const out = await FileAppender.open(path, fh, { direct });
  return {
    path,
    out,
    close: async () => {
      await out.close();
      await fh.close();
    },
  };
}

/** Records of 256 KiB with distinct contents, written 4 to a write, then a short tail. */
function records(n: number, tail: number): Buffer[] {
  const r = Array.from({ length: n }, () => randomBytes(256 * KiB));
  if (tail > 0) r.push(randomBytes(tail));
  return r;
}

async function writeAll(a: { out: FileAppender }, recs: Buffer[], per = 4): Promise<void> {
  let at = 0;
  for (let i = 0; i < recs.length; i += per) {
    const batch = recs.slice(i, i + per);
    await a.out.write(batch, at);
    for (const b of batch) at += b.length;
  }
}

describe('FileAppender', () => {
  it('writes aligned batches and an unaligned tail byte for byte, direct and not', async () => {
    for (const direct of [true, false]) {
      const a = await appender(`f-${direct}`, direct);
      if (!direct) expect(a.out.direct).toBe(false);
      const recs = records(13, 12_345);
      await writeAll(a, recs);
      await a.close();
      expect(sha(readFileSync(a.path))).toBe(sha(Buffer.concat(recs)));
    }
  });

  it('goes direct on this file system (skipped where it has no O_DIRECT)', async (ctx) => {
    const a = await appender('probe');
    if (!a.out.direct) {
      await a.close();
      ctx.skip();
    }
    await a.out.write([randomBytes(DIRECT_ALIGN)], 0);
    expect(a.out.direct).toBe(true); // an EINVAL would have turned it off
    await a.close();
  });

  it('never lends a staging buffer to two writes at once: parallel uploads keep their own bytes', async () => {
    // If a buffer went back to the pool before its write finished, the next file's copy into
    // it (synchronous, before the thread pool runs the first write) would land in the first file.
    const files = await Promise.all(Array.from({ length: 6 }, (_, i) => appender(`p${i}`)));
    const contents = files.map(() => records(12, 1000 + 4096));
    await Promise.all(files.map((f, i) => writeAll(f, contents[i]!)));
    for (const f of files) await f.close();
    for (const [i, f] of files.entries())
      expect(sha(readFileSync(f.path))).toBe(sha(Buffer.concat(contents[i]!)));
    const { made, free } = stagingStats();
    expect(free).toBe(made); // every buffer back
    expect(made).toBeLessThanOrEqual(MAX_STAGING_BUFFERS);
  });

  it('writes through the ordinary descriptor at an unaligned offset and when a write is larger than a buffer', async () => {
    const a = await appender('odd');
    const head = randomBytes(100);
    const big = randomBytes(STAGING_SIZE + DIRECT_ALIGN);
    const after = randomBytes(8 * KiB);
    await a.out.write([head], 0);
    await a.out.write([big], 100);
    await a.out.write([after], 100 + big.length);
    await a.close();
    expect(sha(readFileSync(a.path))).toBe(sha(Buffer.concat([head, big, after])));
  });

  it('keeps working once the staging buffers run out (ordinary writes for the rest)', async () => {
    const n = MAX_STAGING_BUFFERS + 4;
    const files = await Promise.all(Array.from({ length: n }, (_, i) => appender(`m${i}`)));
    const contents = files.map(() => [randomBytes(STAGING_SIZE)]);
    await Promise.all(files.map((f, i) => f.out.write(contents[i]!, 0)));
    for (const f of files) await f.close();
    for (const [i, f] of files.entries()) expect(sha(readFileSync(f.path))).toBe(sha(contents[i]![0]!));
    expect(stagingStats().made).toBe(MAX_STAGING_BUFFERS);
  });
});
