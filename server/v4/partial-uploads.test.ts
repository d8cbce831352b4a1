import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statfsSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bytesToHex } from '../../lib/crypto/encoding';
import {
  DURABLE_EVERY_RECORDS,
  RECORD_SIZE,
  V4_ERROR_SENTENCES,
  V4ErrorCode,
} from '../../lib/protocol/v4/constants';
import { fileKeyCheck } from '../../lib/v4/key-schedule';
import { tempDir } from '../../test/support/server-helpers';
import {
  DEFAULT_MAX_PARTIAL_UPLOADS,
  doneFileName,
  type OpenRequest,
  type PartialUpload,
  PartialUploads,
  TAKE_OVER_WAIT_MS,
} from './partial-uploads';

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

const bytes = (n: number) => new Uint8Array(randomBytes(n));
/** statfs(2)'s f_type of ext2/3/4. */
const EXT4_MAGIC = 0xef53;

async function opened(p: PartialUploads, who: { key: Uint8Array; id: Uint8Array }, inviteId: string | null) {
  const up = await p.open({
    clientKey: who.key,
    clientId: who.id,
    uploadId: bytes(16),
    fileKey: bytes(32),
    size: 20 * RECORD_SIZE,
    name: 'f.bin',
    resume: false,
    inviteId,
  });
  if ('code' in up) throw new Error(up.reason);
  return up as PartialUpload;
}

describe('PartialUploads: --direct-writes', () => {
  it('records go past the page cache by default (on ext4) and through it with direct: false; the bytes are the same', async () => {
    const who = { key: bytes(32), id: bytes(16) };
    const written: string[] = [];
    for (const direct of [true, false]) {
      const d = tempDir('sft-partials-direct-');
      dirs.push(d);
      const p = new PartialUploads(d.path, 3_600_000, 32, { direct });
      await p.init();
      const up = await opened(p, who, null);
      // tmpfs has no O_DIRECT: direct writes are asserted where the folder is on ext4.
      if (!direct) expect(up.direct).toBe(false);
      else if (statfsSync(d.path).type === EXT4_MAGIC) expect(up.direct).toBe(true);
      const records = Array.from({ length: 4 }, (_, i) => new Uint8Array(RECORD_SIZE).fill(i + 1));
      await up.appendRecords(records);
      await up.detach();
      const file = readdirSync(p.dir).find((n) => n.endsWith('.data'))!;
      written.push(sha(readFileSync(join(p.dir, file))));
    }
    expect(written[0]).toBe(written[1]);
  });
});

describe('PartialUploads: bytes kept, for quotas', () => {
  it('counts what a kept upload holds per client, per invite and in all, across a restart; discard and finish drop it', async () => {
    const d = tempDir('sft-partials-');
    dirs.push(d);
    const p = new PartialUploads(d.path, 3_600_000);
    await p.init();
    const alice = { key: bytes(32), id: bytes(16) };
    const bob = { key: bytes(32), id: bytes(16) };
    const a = await opened(p, alice, 'aaaaaaaaaaaaaaaa');
    for (let i = 0; i < 3; i++) await a.appendRecords([bytes(RECORD_SIZE)]);
    // While open it counts what it held when opened (its reservation covers the rest).
    expect(p.keptBytes({ clientId: bytesToHex(alice.id) })).toBe(0);
    await a.detach();
    expect(p.keptBytes({ clientId: bytesToHex(alice.id) })).toBe(3 * RECORD_SIZE);
    const b = await opened(p, bob, null);
    await b.appendRecords([bytes(RECORD_SIZE)]);
    await b.detach();
    expect(p.keptBytes({ inviteId: 'aaaaaaaaaaaaaaaa' })).toBe(3 * RECORD_SIZE);
    expect(p.keptBytes()).toBe(4 * RECORD_SIZE);

    const again = new PartialUploads(d.path, 3_600_000);
    await again.init();
    expect(again.keptBytes()).toBe(4 * RECORD_SIZE);
    expect(again.keptBytes({ inviteId: 'aaaaaaaaaaaaaaaa' })).toBe(3 * RECORD_SIZE);
    const [bobsUpload] = (await import('node:fs'))
      .readdirSync(again.dir)
      .filter((n) => n.startsWith(bytesToHex(bob.key).slice(0, 32)) && n.endsWith('.json'));
    const uploadId = Uint8Array.from(Buffer.from(bobsUpload!.slice(33, 65), 'hex'));
    expect(await again.discard(bob.key, uploadId)).toBe(true);
    expect(again.keptBytes()).toBe(3 * RECORD_SIZE);
    // Gone: a second discard finds nothing.
    expect(await again.discard(bob.key, uploadId)).toBe(false);
  });
});

/** A fresh PartialUploads folder (`opts` as its constructor's) and the request of one upload of `records` full records. */
async function oneUpload(records: number, opts: { storeWaitMs?: number } = {}) {
  const d = tempDir('sft-partials-');
  dirs.push(d);
  const p = new PartialUploads(d.path, 3_600_000, DEFAULT_MAX_PARTIAL_UPLOADS, opts);
  await p.init();
  const req = {
    clientKey: bytes(32),
    clientId: bytes(16),
    uploadId: bytes(16),
    fileKey: bytes(32),
    size: records * RECORD_SIZE,
    name: 'f.bin',
  };
  return { p, req, dataDir: d.path };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('PartialUploads: a resume taking an upload over', () => {
  it('the old connection failing afterwards does not remove the files the resume reopened', async () => {
    const { p, req } = await oneUpload(3);
    const old = (await p.open({ ...req, resume: false })) as PartialUpload;
    const data = [bytes(RECORD_SIZE), bytes(RECORD_SIZE), bytes(RECORD_SIZE)];
    await old.appendRecords([data[0]!]);
    // The resume arrives while the old connection still holds it: it is detached, then reopened.
    const taken = (await p.open({ ...req, resume: true })) as PartialUpload;
    expect(taken.next).toBe(1);
    await expect(old.appendRecords([data[1]!])).rejects.toThrow(/detached/);
    await old.remove(); // what the old connection does on a failed write
    await taken.appendRecords([data[1]!]);
    await taken.appendRecords([data[2]!]);
    const done = await taken.finish();
    const want = sha(Buffer.concat(data));
    expect(bytesToHex(done.sha256)).toBe(want);
    expect(sha(readFileSync(done.path))).toBe(want);
  });

  it('taken over with every record in, before its store began: its finish() is refused and its forget() leaves the files to the resume', async () => {
    const { p, req } = await oneUpload(3);
    const old = (await p.open({ ...req, resume: false })) as PartialUpload;
    const data = [bytes(RECORD_SIZE), bytes(RECORD_SIZE), bytes(RECORD_SIZE)];
    await old.appendRecords(data);
    // The resume's wait for the holder ran out before the holder's store began.
    const taken = (await p.open({ ...req, resume: true })) as PartialUpload;
    expect(taken.next).toBe(2); // every record durable: the last one comes again
    await expect(old.finish()).rejects.toThrow(/detached/);
    await old.forget(); // what the old connection does when its store fails
    await taken.appendRecords([data[2]!]);
    const done = await taken.finish();
    const want = sha(Buffer.concat(data));
    expect(bytesToHex(done.sha256)).toBe(want);
    expect(sha(readFileSync(done.path))).toBe(want);
  });

  it('a durable point still syncing when the resume takes over is not lost: the resume starts after it', async () => {
    const { p, req } = await oneUpload(DURABLE_EVERY_RECORDS + 1);
    const old = (await p.open({ ...req, resume: false })) as PartialUpload;
    const data = Array.from({ length: DURABLE_EVERY_RECORDS + 1 }, () => bytes(RECORD_SIZE));
    // The 16th record starts a durable point in the background; the resume comes before it
    // ends (it yields to the detach, which must then write the count itself). Was: next 0.
    await old.appendRecords(data.slice(0, DURABLE_EVERY_RECORDS));
    const taken = (await p.open({ ...req, resume: true })) as PartialUpload;
    expect(taken.next).toBe(DURABLE_EVERY_RECORDS);
    await taken.appendRecords(data.slice(DURABLE_EVERY_RECORDS));
    const done = await taken.finish();
    const want = sha(Buffer.concat(data));
    expect(bytesToHex(done.sha256)).toBe(want);
  });

  it("a resume arriving while the connection's own detach is under way waits for it: the file is not cut back too far", async () => {
    const { p, req } = await oneUpload(6);
    const data = Array.from({ length: 6 }, () => bytes(RECORD_SIZE));
    const old = (await p.open({ ...req, resume: false })) as PartialUpload;
    await old.appendRecords(data.slice(0, 4));
    // The cut connection starts its own detach (syncing, writing the state) and the resume
    // comes in meanwhile. Was: the resume's detach returned at once, it read durable 0 and
    // cut the file to nothing, then the old detach wrote 4 over it.
    const closing = old.detach();
    const taken = (await p.open({ ...req, resume: true })) as PartialUpload;
    await closing;
    expect(taken.next).toBe(4);
    await taken.appendRecords(data.slice(4));
    const done = await taken.finish();
    const want = sha(Buffer.concat(data));
    expect(sha(readFileSync(done.path))).toBe(want);
    expect(bytesToHex(done.sha256)).toBe(want);
  });

  it('concurrent resumes of one upload are served one after the other: one holder at a time, the last one wins', async () => {
    const { p, req } = await oneUpload(4);
    const data = Array.from({ length: 4 }, () => bytes(RECORD_SIZE));
    const first = (await p.open({ ...req, resume: false })) as PartialUpload;
    await first.appendRecords(data.slice(0, 2));
    const [a, b] = (await Promise.all([
      p.open({ ...req, resume: true }),
      p.open({ ...req, resume: true }),
    ])) as PartialUpload[];
    expect([a!.next, b!.next]).toEqual([2, 2]);
    // The earlier of the two was taken over by the later: only the later may write.
    await expect(a!.appendRecords(data.slice(2))).rejects.toThrow(/detached/);
    await b!.appendRecords(data.slice(2));
    const done = await b!.finish();
    expect(sha(readFileSync(done.path))).toBe(sha(Buffer.concat(data)));
  });

  it('the holder is told and awaited before a resume or a cancel takes the upload over; a mismatched resume touches nothing', async () => {
    const { p, req } = await oneUpload(4);
    const data = Array.from({ length: 4 }, () => bytes(RECORD_SIZE));
    const old = (await p.open({ ...req, resume: false })) as PartialUpload;
    await old.appendRecords(data.slice(0, 1));
    const told: string[] = [];
    // The holder writes what it still had (a batch waiting for more records) when told.
    old.onTakenOver = async (how) => {
      told.push(how);
      await old.appendRecords(data.slice(1, 2));
    };
    // Another size, name or file key: refused (12) without the holder knowing.
    expect(await p.open({ ...req, size: req.size + 1, resume: true })).toMatchObject({ code: 12 });
    expect(await p.open({ ...req, fileKey: bytes(32), resume: true })).toMatchObject({ code: 12 });
    expect(await p.open({ ...req, resume: false })).toMatchObject({ code: 12 });
    expect(told).toEqual([]);
    const taken = (await p.open({ ...req, resume: true })) as PartialUpload;
    expect(told).toEqual(['resumed']);
    expect(old.takenOver).toBe('resumed');
    // Resumed from what the holder wrote when told, not from before it.
    expect(taken.next).toBe(2);
    const told2: string[] = [];
    taken.onTakenOver = async (how) => {
      told2.push(how);
    };
    expect(await p.discard(req.clientKey, req.uploadId)).toBe(true);
    expect(told2).toEqual(['cancelled']);
    expect(await p.discard(req.clientKey, req.uploadId)).toBe(false);
  });

  it('a holder that never answers holds a take-over up for TAKE_OVER_WAIT_MS only (two connections cancelling each other)', async () => {
    const { p, req } = await oneUpload(2);
    const old = (await p.open({ ...req, resume: false })) as PartialUpload;
    await old.appendRecords([bytes(RECORD_SIZE)]);
    old.onTakenOver = () => new Promise<void>(() => {});
    const t0 = performance.now();
    const taken = (await p.open({ ...req, resume: true })) as PartialUpload;
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(TAKE_OVER_WAIT_MS - 50);
    expect(taken.next).toBe(1);
    await taken.detach();
  }, 20_000);

  it('a resume of an upload stored already names its stored token (until the TTL); another size or key is 12', async () => {
    const { p, req } = await oneUpload(1);
    const up = (await p.open({ ...req, resume: false })) as PartialUpload;
    await up.appendRecords([bytes(RECORD_SIZE)]);
    await up.finish();
    await up.stored('tok-1');
    expect(readdirSync(p.dir).filter((n) => !n.endsWith('.done'))).toEqual([]);
    expect(await p.open({ ...req, resume: true })).toEqual({ storedToken: 'tok-1' });
    expect(await p.open({ ...req, fileKey: bytes(32), resume: true })).toMatchObject({ code: 12 });
    expect(await p.open({ ...req, size: req.size - 1, resume: true })).toMatchObject({ code: 12 });
    // Past the TTL the sweep forgets it: then the resume is of an unknown upload.
    await p.sweep(Date.now() + 3_600_001);
    expect(readdirSync(p.dir)).toEqual([]);
    expect(await p.open({ ...req, resume: true })).toMatchObject({ code: 11 });
  });

  it('a resume arriving between finish() and stored() (the file being moved into files/) waits for the store: never reopens, cuts or writes into it', async () => {
    const { p, req } = await oneUpload(3);
    const data = Array.from({ length: 3 }, () => bytes(RECORD_SIZE));
    const up = (await p.open({ ...req, resume: false })) as PartialUpload;
    await up.appendRecords(data);
    const done = await up.finish();
    // A resume on another connection (the client gave up on this one) while the server
    // stores the file. Was: no holder any more, the state file still there (durable 0): it
    // reopened the data file, cut it back to 0 and took records into it, on its way into files/.
    const resumed = p.open({ ...req, resume: true });
    const early = await Promise.race([resumed, new Promise((r) => setTimeout(() => r('waiting'), 300))]);
    expect(early).toBe('waiting');
    const stored = join(p.dir, '..', 'stored.bin');
    renameSync(done.path, stored);
    await up.stored('tok-1');
    expect(await resumed).toEqual({ storedToken: 'tok-1' });
    expect(sha(readFileSync(stored))).toBe(sha(Buffer.concat(data)));
    // An UploadAbort from another connection meanwhile waits too (was: it removed the data
    // file on its way into files/, and the store failed), then finds nothing to cancel.
    const id2 = bytes(16);
    const again = (await p.open({ ...req, uploadId: id2, resume: false })) as PartialUpload;
    await again.appendRecords(data);
    const moving = await again.finish();
    const cancel = p.discard(req.clientKey, id2);
    const early2 = await Promise.race([cancel, new Promise((r) => setTimeout(() => r('waiting'), 300))]);
    expect(early2).toBe('waiting');
    expect(statSync(moving.path).size).toBe(3 * RECORD_SIZE);
    renameSync(moving.path, stored);
    await again.stored('tok-2');
    expect(await cancel).toBe(false);
    expect(await p.open({ ...req, uploadId: id2, resume: true })).toEqual({ storedToken: 'tok-2' });
  });

  it('the wait for a store in flight is bounded (storeWaitMs): the resume and the cancel get Busy, the store and the upload are untouched', async () => {
    const { p, req, dataDir } = await oneUpload(3, { storeWaitMs: 300 });
    const data = Array.from({ length: 3 }, () => bytes(RECORD_SIZE));
    const up = (await p.open({ ...req, resume: false })) as PartialUpload;
    await up.appendRecords(data);
    const done = await up.finish();
    // The store never ends by itself here (a stuck disk or database): each wait ends at 300 ms.
    // Was: both waited for stored() or forget(), for ever.
    const busy = {
      code: V4ErrorCode.Busy,
      reason: V4_ERROR_SENTENCES[V4ErrorCode.Busy],
      why: 'still-storing',
    };
    for (const attempt of [
      () => p.open({ ...req, resume: true }),
      () => p.discard(req.clientKey, req.uploadId),
    ]) {
      const t0 = performance.now();
      expect(await attempt()).toEqual(busy);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
    // Nothing of the upload was touched: the file being moved is whole, and once the store
    // ends a resume is told it is stored.
    expect(sha(readFileSync(done.path))).toBe(sha(Buffer.concat(data)));
    renameSync(done.path, join(dataDir, 'stored.bin'));
    await up.stored('tok-1');
    expect(await p.open({ ...req, resume: true })).toEqual({ storedToken: 'tok-1' });
    expect(await p.discard(req.clientKey, req.uploadId)).toBe(false);
  });

  it('a sweep that finds an upload expired while a resume of it (a moment earlier, still within the TTL) is opening it leaves it to the resume', async () => {
    const ttl = 3_600_000;
    for (let i = 0; i < 40; i++) {
      const { p, req } = await oneUpload(2);
      const data = [bytes(RECORD_SIZE), bytes(RECORD_SIZE)];
      const first = (await p.open({ ...req, resume: false })) as PartialUpload;
      await first.appendRecords([data[0]!]);
      await first.detach();
      const at = Date.now();
      // The resume is at the TTL's last moment, the sweep just past it; they meet at offsets
      // of 0 to 39 event-loop turns.
      const resumed = p.open({ ...req, resume: true }, at);
      for (let t = 0; t < i; t++) await new Promise((r) => setImmediate(r));
      await p.sweep(at + ttl + 1);
      const up = await resumed;
      if ('code' in up) {
        expect(up.code).toBe(10);
        continue;
      }
      // Was: the sweep removed the files the resume had just opened: its records went into
      // an unlinked file and finish() failed (or the store found no file to move).
      const taken = up as PartialUpload;
      await taken.appendRecords([data[1]!]);
      const done = await taken.finish();
      expect(sha(readFileSync(done.path))).toBe(sha(Buffer.concat(data)));
      await taken.forget();
    }
  });

  /** Opens, fills and stores upload `req` (one record), leaving its `.done`. */
  async function storeOne(p: PartialUploads, req: Omit<OpenRequest, 'resume'>, token: string) {
    const up = (await p.open({ ...req, resume: false })) as PartialUpload;
    await up.appendRecords([bytes(RECORD_SIZE)]);
    await up.finish();
    await up.stored(token);
  }

  it("one .done per owner and name: a later stored upload of the name replaces the earlier one's (whose resume is then 11)", async () => {
    const { p, req } = await oneUpload(1);
    await storeOne(p, req, 'tok-1');
    const second = { ...req, uploadId: bytes(16), fileKey: bytes(32) };
    await storeOne(p, second, 'tok-2');
    expect(readdirSync(p.dir)).toEqual([doneFileName(bytesToHex(req.clientKey), req.name)]);
    expect(await p.open({ ...second, resume: true })).toEqual({ storedToken: 'tok-2' });
    // Its file was replaced by the second one: unknown now, as FileStore's token check would say.
    expect(await p.open({ ...req, resume: true })).toMatchObject({ code: 11 });
    for (let i = 0; i < 20; i++)
      await storeOne(p, { ...req, uploadId: bytes(16), fileKey: bytes(32) }, `t${i}`);
    expect(readdirSync(p.dir)).toHaveLength(1);
    // Another name of the owner, and the same name of another owner: a file each.
    await storeOne(p, { ...req, uploadId: bytes(16), name: 'g.bin' }, 'tok-g');
    const other = { ...req, clientKey: bytes(32), clientId: bytes(16) };
    await storeOne(p, other, 'tok-o');
    expect(readdirSync(p.dir)).toHaveLength(3);
    expect(await p.open({ ...other, resume: true })).toEqual({ storedToken: 'tok-o' });
    // Same ID, another name: that name's .done is not this upload's.
    expect(await p.open({ ...other, name: 'g.bin', resume: true })).toMatchObject({ code: 11 });
  });

  it('an old-format .done (<owner>-<upload ID>.done, before one per name) is not read, and is swept after the TTL', async () => {
    const { p, req } = await oneUpload(1);
    const old = `${bytesToHex(req.clientKey).slice(0, 32)}-${bytesToHex(req.uploadId)}.done`;
    const check = bytesToHex(await fileKeyCheck(req.fileKey));
    const meta = {
      v: 1,
      clientKey: bytesToHex(req.clientKey),
      size: req.size,
      name: req.name,
      keyCheck: check,
      token: 't',
    };
    writeFileSync(join(p.dir, old), JSON.stringify(meta));
    expect(await p.open({ ...req, resume: true })).toMatchObject({ code: 11 });
    await p.sweep();
    expect(readdirSync(p.dir)).toEqual([old]);
    await p.sweep(Date.now() + 3_600_001);
    expect(readdirSync(p.dir)).toEqual([]);
  });

  it('a resume reads none of the kept bytes when it opens: the whole file is hashed once, when it completes', async () => {
    const { p, req } = await oneUpload(3);
    const data = Array.from({ length: 3 }, () => bytes(RECORD_SIZE));
    const first = (await p.open({ ...req, resume: false })) as PartialUpload;
    await first.appendRecords(data.slice(0, 2));
    await first.detach();
    const taken = (await p.open({ ...req, resume: true })) as PartialUpload;
    expect(taken.next).toBe(2);
    // Changed on disk after the resume opened: had the open read them (as it once did, a
    // pass over every kept byte per resume), the SHA-256 would still be of the old bytes.
    const dataFile = join(p.dir, readdirSync(p.dir).find((n) => n.endsWith('.data'))!);
    const changed = bytes(RECORD_SIZE);
    const fd = openSync(dataFile, 'r+');
    writeSync(fd, changed, 0, changed.length, 0);
    closeSync(fd);
    await taken.appendRecords(data.slice(2));
    const done = await taken.finish();
    const onDisk = sha(readFileSync(done.path));
    expect(bytesToHex(done.sha256)).toBe(onDisk);
    expect(onDisk).toBe(
      createHash('sha256')
        .update(Buffer.concat([changed, data[1]!, data[2]!]))
        .digest('hex'),
    );
  });
});

describe('PartialUploads: what the disk lost', () => {
  it('a data file shorter than the durable count (lost in a crash) lowers the count: never padded with zeros', async () => {
    const { p, req } = await oneUpload(40);
    const up = (await p.open({ ...req, resume: false })) as PartialUpload;
    for (let i = 0; i < DURABLE_EVERY_RECORDS + 2; i++) await up.appendRecords([bytes(RECORD_SIZE)]);
    await up.detach();
    const data = readdirSync(p.dir).find((n) => n.endsWith('.data'))!;
    // The disk kept 3.5 records of the 18 the state file vouches for.
    const fd = openSync(join(p.dir, data), 'r+');
    ftruncateSync(fd, 3.5 * RECORD_SIZE);
    closeSync(fd);
    const again = (await p.open({ ...req, resume: true })) as PartialUpload;
    expect(again.next).toBe(3);
    expect(statSync(join(p.dir, data)).size).toBe(3 * RECORD_SIZE);
    await again.detach();
  });
});

describe('PartialUploads: kept uploads per client', () => {
  it('past the cap a new upload is refused with Error 6, also when the starts come at once; resumes and other clients are not', async () => {
    const d = tempDir('sft-partials-');
    dirs.push(d);
    const p = new PartialUploads(d.path, 3_600_000, 3);
    await p.init();
    const alice = { key: bytes(32), id: bytes(16) };
    const tries = await Promise.all(
      Array.from({ length: 10 }, () =>
        p.open({
          clientKey: alice.key,
          clientId: alice.id,
          uploadId: bytes(16),
          fileKey: bytes(32),
          size: RECORD_SIZE,
          name: 'f.bin',
          resume: false,
        }),
      ),
    );
    const ok = tries.filter((t): t is PartialUpload => !('code' in t));
    expect(ok).toHaveLength(3);
    expect(tries.filter((t) => 'code' in t && t.code === 6)).toHaveLength(7);
    for (const u of ok) await u.detach();
    expect(p.keptCount(bytesToHex(alice.id))).toBe(3);
    await expect(opened(p, { key: bytes(32), id: bytes(16) }, null)).resolves.toBeDefined();
  });
});

describe('PartialUploads: a resumed upload is hashed while the rest arrives', () => {
  it('reads the kept part back at once, keeps that progress for the next connection, and finishes with the whole SHA-256', async () => {
    const d = tempDir('sft-partials-hash-');
    dirs.push(d);
    const p = new PartialUploads(d.path, 3_600_000);
    await p.init();
    const records = Array.from({ length: 40 }, (_, i) => new Uint8Array(RECORD_SIZE).fill(i + 1));
    const req: OpenRequest = {
      clientKey: bytes(32),
      clientId: bytes(16),
      uploadId: bytes(16),
      fileKey: bytes(32),
      size: records.length * RECORD_SIZE,
      name: 'f.bin',
      resume: false,
      inviteId: null,
    };
    const append = async (up: PartialUpload, from: number, to: number) => {
      for (let i = from; i < to; i += 4) await up.appendRecords(records.slice(i, Math.min(to, i + 4)));
    };
    const first = (await p.open(req)) as PartialUpload;
    expect(first.hashedBytes).toBeNull(); // a fresh upload is hashed as its records come
    await append(first, 0, 32);
    await first.detach();

    const second = (await p.open({ ...req, resume: true })) as PartialUpload;
    expect(second.next).toBe(32);
    // Before any record of this connection, the kept part is read back and hashed: it used
    // to be read only after the last record (a resumed 2 GiB upload waited 8-12 s).
    for (let i = 0; i < 200 && second.hashedBytes !== 32 * RECORD_SIZE; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(second.hashedBytes).toBe(32 * RECORD_SIZE);
    await second.detach();

    // The next connection starts from that progress: resuming and dropping again and again
    // costs one pass over the file in all, not one per resume.
    const third = (await p.open({ ...req, resume: true })) as PartialUpload;
    expect(third.hashedBytes).toBe(32 * RECORD_SIZE);
    await append(third, 32, 40);
    const done = await third.finish();
    const whole = createHash('sha256');
    for (const r of records) whole.update(r);
    expect(bytesToHex(done.sha256)).toBe(whole.digest('hex'));
  });
});
