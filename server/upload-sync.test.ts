/**
 * The temp file's background fdatasync() under an Upload: the disk is asked to write a file as it arrives, so the
 * fsync before 1603 only has the tail left. fs.fdatasync is wrapped to watch (and to fail
 * or slow down) the calls; everything else is the real file system.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cksum } from '../lib/crypto';
import { ciphertextSize, ZERO_IV } from '../lib/protocol';
import type { ServerError } from './errors';
import { LocalTempFile } from './local-storage';
import { Upload } from './upload';

type SyncCallback = (e: NodeJS.ErrnoException | null) => void;
const sync = vi.hoisted(() => ({
  calls: [] as { fd: number; sizeOnDisk: number }[],
  /** Replaces the real call when set (to fail or delay it). */
  override: null as null | ((fd: number, cb: SyncCallback) => void),
}));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const fdatasync = (fd: number, cb: SyncCallback) => {
    sync.calls.push({ fd, sizeOnDisk: real.fstatSync(fd).size });
    if (sync.override) sync.override(fd, cb);
    else real.fdatasync(fd, cb);
  };
  return { ...real, default: { ...real, fdatasync }, fdatasync };
});

const limits = { maxFileSize: 1 << 30, maxContentPerPacket: 1 << 20 };
const KiB = 1024;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-upload-sync-'));
  sync.calls.length = 0;
  sync.override = null;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function encrypt(key: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv('aes-256-cbc', key, ZERO_IV);
  return Buffer.concat([c.update(plain), c.final()]);
}

/** Feeds `plain` in 16 KiB packets, waiting for the disk like the session does. */
async function feed(u: Upload, key: Buffer, plain: Buffer, stopAfter = Number.POSITIVE_INFINITY) {
  const ct = encrypt(key, plain);
  const size = 16 * KiB;
  const total = Math.ceil(ct.length / size);
  const f = {
    contentSize: ciphertextSize(plain.length),
    origSize: plain.length,
    totalPackets: total,
    fileName: 'f',
  };
  for (let i = 0; i < total && i < stopAfter; i++) {
    u.write({ ...f, packetNumber: i + 1 }, ct.subarray(i * size, (i + 1) * size));
    if (u.needsDrain) await u.drained();
    // Let the write stream and the thread pool make progress, as network reads would.
    await new Promise((r) => setImmediate(r));
  }
  return f;
}

function newUpload(key: Buffer, plainSize: number, tmp: string, syncInterval: number): Upload {
  const first = {
    contentSize: ciphertextSize(plainSize),
    origSize: plainSize,
    totalPackets: Math.ceil(ciphertextSize(plainSize) / (16 * KiB)),
    fileName: 'f',
    packetNumber: 1,
  };
  return new Upload(
    first,
    key,
    () => new LocalTempFile(tmp, { writeBuffer: 64 * KiB, syncInterval }),
    limits,
  );
}

describe('Upload background sync', () => {
  it('syncs the temp file every interval while it arrives, not only at the end', async () => {
    const key = randomBytes(32);
    const plain = randomBytes(1024 * KiB + 5);
    const tmp = join(dir, 't.part');
    // A disk that syncs at once: how long a real sync takes depends on the machine, and the
    // next sync only starts once the previous one is done.
    sync.override = (_fd, cb) => setImmediate(() => cb(null));
    const u = newUpload(key, plain.length, tmp, 128 * KiB);
    await feed(u, key, plain);
    const sizes = sync.calls.map((c) => c.sizeOnDisk);
    const r = await u.finish();
    // 1 MiB at one sync per 128 KiB: several syncs while the file was still arriving, each
    // over at least as much of the file as the one before (the 64 KiB write buffer drains).
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    expect(sizes.at(-1)).toBeGreaterThan(0);
    expect(sizes.at(-1)).toBeLessThan(plain.length);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeGreaterThanOrEqual(sizes[i - 1]!);
    expect(r.size).toBe(plain.length);
    expect(r.cksum).toBe(cksum(plain));
    expect(readFileSync(tmp).equals(plain)).toBe(true);
  });

  it('runs one sync at a time', async () => {
    const key = randomBytes(32);
    const plain = randomBytes(512 * KiB);
    const pending: SyncCallback[] = [];
    sync.override = (_fd, cb) => pending.push(cb); // never completes until released
    const u = newUpload(key, plain.length, join(dir, 't.part'), 16 * KiB);
    await feed(u, key, plain);
    expect(sync.calls.length).toBe(1);
    expect((u.temp as LocalTempFile).syncing).toBe(true);
    for (const cb of pending.splice(0)) cb(null);
    await u.finish();
  });

  it('a failed sync fails the upload: the file is not answered as stored', async () => {
    const key = randomBytes(32);
    const plain = randomBytes(256 * KiB);
    sync.override = (_fd, cb) =>
      setImmediate(() => cb(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })));
    const u = newUpload(key, plain.length, join(dir, 't.part'), 32 * KiB);
    let thrown: unknown;
    try {
      await feed(u, key, plain);
      await u.finish();
    } catch (e) {
      thrown = e;
    }
    expect((thrown as ServerError).code).toBe('SERVER_ERR_UPLOAD_WRITE');
    expect((thrown as Error).message).toMatch(/EIO/);
    await u.abort();
  });

  it('abort() waits for a sync in flight before closing the file, then removes it', async () => {
    const key = randomBytes(32);
    const plain = randomBytes(512 * KiB);
    let release!: () => void;
    let started = false;
    sync.override = (_fd, cb) => {
      started = true;
      release = () => cb(null);
    };
    const tmp = join(dir, 't.part');
    const u = newUpload(key, plain.length, tmp, 32 * KiB);
    await feed(u, key, plain, 8);
    expect(started).toBe(true);
    let aborted = false;
    const done = u.abort().then(() => {
      aborted = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    // Still waiting: closing the fd now could let fdatasync() hit a reused descriptor.
    expect(aborted).toBe(false);
    release();
    await done;
    expect(existsSync(tmp)).toBe(false);
  });
});
