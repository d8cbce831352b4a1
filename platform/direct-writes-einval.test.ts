/**
 * A system whose O_DIRECT wants another alignment than the staging buffers have: the first
 * direct write fails with EINVAL. The bytes must still all land (through the ordinary
 * descriptor), and no later file tries direct writes again. The O_DIRECT descriptor is faked
 * (its write rejects as such a kernel would); everything else is the real file system.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';

const seen = vi.hoisted(() => ({ directOpens: 0, directWrites: 0, closed: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (path: string, flags: number | string, mode?: number) => {
    const direct = (constants as { O_DIRECT?: number }).O_DIRECT ?? 0;
    if (typeof flags === 'number' && direct !== 0 && (flags & direct) !== 0) {
      seen.directOpens++;
      const fh = await real.open(path, flags & ~direct, mode);
      return {
        fd: fh.fd,
        write: async () => {
          seen.directWrites++;
          throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
        },
        close: async () => {
          seen.closed++;
          await fh.close();
        },
      };
    }
    return real.open(path, flags, mode);
  };
  return { ...real, default: { ...real, open }, open };
});

const { FileAppender } = await import('./direct-writes');
const { open } = await import('node:fs/promises');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-einval-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

it('falls back to ordinary writes after EINVAL, keeps every byte, and stops trying direct writes', async (ctx) => {
  if ((constants as { O_DIRECT?: number }).O_DIRECT === undefined) ctx.skip();
  const path = join(dir, 'f');
  const fh = await open(path, 'a+');
  const out = await FileAppender.open(path, fh);
  expect(out.direct).toBe(true);
  const parts = [randomBytes(512 * 1024), randomBytes(512 * 1024), randomBytes(1000)];
  await out.write(parts.slice(0, 2), 0);
  expect(seen.directWrites).toBe(1);
  expect(out.direct).toBe(false);
  expect(seen.closed).toBe(1); // the direct descriptor is closed at once
  await out.write(parts.slice(2), 1024 * 1024);
  expect(seen.directWrites).toBe(1);
  await out.close();
  await fh.close();
  expect(sha(readFileSync(path))).toBe(sha(Buffer.concat(parts)));

  // The next file does not open O_DIRECT at all.
  const path2 = join(dir, 'g');
  const fh2 = await open(path2, 'a+');
  const out2 = await FileAppender.open(path2, fh2);
  expect(out2.direct).toBe(false);
  expect(seen.directOpens).toBe(1);
  const more = randomBytes(1024 * 1024);
  await out2.write([more], 0);
  await out2.close();
  await fh2.close();
  expect(sha(readFileSync(path2))).toBe(sha(more));
});
