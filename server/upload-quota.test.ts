/**
 * UploadQuota's hold on the shared room (free-disk reserve, --max-total-bytes): a start is
 * checked with its whole declared size, but holds at most SHARED_WINDOW_BYTES ahead of what
 * it has received, so a large declared upload trickled slowly cannot keep others out.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from './db';
import type { InviteGate } from './invite-gate';
import { RefusedError } from './invite-gate';
import { type QuotaLimits, SHARED_WINDOW_BYTES, UploadQuota } from './upload-quota';

const MiB = 1024 * 1024;
const W = SHARED_WINDOW_BYTES;

let dir = '';
let db: SqliteDatabase;
/** The disk's free bytes as statfs would say: tests move it as "writes" land. */
let free = 0;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-quota-'));
  db = new SqliteDatabase(join(dir, 'defensive.db'), { checkpointIntervalMs: 0 });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function quota(limits: Partial<QuotaLimits>, kept = 0): UploadQuota {
  return new UploadQuota(db, {} as InviteGate, {
    dataDir: dir,
    limits: { maxTotalBytes: null, diskReserve: 0, clientMaxBytes: null, clientMaxFiles: null, ...limits },
    defaultReserve: { bytes: 0, fraction: 0 },
    disk: async () => ({ free, size: 100 * 1024 * MiB }),
    kept: { keptBytes: () => kept, keptNamed: () => 0 },
  });
}

async function client(): Promise<Uint8Array> {
  const id = new Uint8Array(randomBytes(16));
  expect(await db.insertClient(id, `c-${Math.random()}`, new Date().toISOString())).toBe(true);
  return id;
}

async function refusal(p: Promise<unknown> | undefined): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (e instanceof RefusedError) return e.reason;
    throw e;
  }
}

describe('the shared room is held as the bytes arrive', () => {
  it('a 250 MiB start holds one window of the disk, so a 100 MiB one fits beside it in 300 MiB', async () => {
    free = 300 * MiB;
    const q = quota({});
    const holder = await q.reserve(await client(), 'hold.bin', 250 * MiB);
    expect(q.held('disk').bytes).toBe(W);
    const innocent = await q.reserve(await client(), 'innocent.bin', 100 * MiB);
    expect(q.held('disk').bytes).toBe(2 * W);
    innocent.release();
    holder.release();
    expect(q.held('disk')).toEqual({ bytes: 0, files: 0 });
  });

  it('the whole declared size is still checked at the start', async () => {
    free = 300 * MiB;
    const q = quota({ maxTotalBytes: 200 * MiB });
    expect(await refusal(q.reserve(await client(), 'big.bin', 301 * MiB))).toBe('over-total-bytes');
    const q2 = quota({});
    expect(await refusal(q2.reserve(await client(), 'big.bin', 301 * MiB))).toBe('disk-reserve');
    expect(q.held('disk').bytes + q2.held('disk').bytes + q.held('total').bytes).toBe(0);
  });

  it('cover() awaits nothing inside the window and extends it past its middle', async () => {
    free = 300 * MiB;
    const q = quota({ maxTotalBytes: 300 * MiB });
    const r = await q.reserve(await client(), 'f.bin', 100 * MiB);
    expect(q.held('total').bytes).toBe(W);
    expect(r.cover(W / 2)).toBeUndefined();
    // Received bytes count as written on the next call: the disk holds only what is ahead.
    free -= W / 2;
    const extending = r.cover(W / 2 + 1);
    expect(extending).toBeInstanceOf(Promise);
    await extending;
    expect(q.held('disk').bytes).toBe(W + 1);
    expect(q.held('total').bytes).toBe(W / 2 + 1 + W);
    // The window never goes past the file.
    for (let at = W; at <= 100 * MiB; at += MiB) await r.cover(at);
    expect(q.held('total').bytes).toBe(100 * MiB);
    r.release();
    expect(q.held('total')).toEqual({ bytes: 0, files: 0 });
    expect(q.held('disk')).toEqual({ bytes: 0, files: 0 });
  });

  it('two uploads that together overcommit: the one that cannot extend its window is refused mid-file', async () => {
    // 50 MiB: b's start fits beside a's window (50 - 16 - 30 >= 0), the two files do not.
    free = 50 * MiB;
    const q = quota({});
    const a = await q.reserve(await client(), 'a.bin', 30 * MiB);
    const b = await q.reserve(await client(), 'b.bin', 30 * MiB);
    // a takes the disk's room first: 30 MiB written.
    for (let at = MiB; at <= 30 * MiB; at += MiB) {
      await a.cover(at);
      free -= MiB;
    }
    // b gives way: released, and its giveWay (removing what it wrote) runs before the next check.
    const order: string[] = [];
    const refused = refusal(
      b.cover(W / 2 + MiB, async () => {
        await new Promise((r) => setTimeout(r, 20));
        order.push('b gave way');
      }),
    );
    const next = q.reserve(await client(), 'c.bin', MiB).then((r) => {
      order.push('c checked');
      return r;
    });
    expect(await refused).toBe('disk-reserve');
    (await next).release();
    expect(order).toEqual(['b gave way', 'c checked']);
    b.release();
    a.release();
    expect(q.held('disk')).toEqual({ bytes: 0, files: 0 });
  });

  it('the total: a window extension past --max-total-bytes is refused (kept bytes and holds count)', async () => {
    free = 10 * 1024 * MiB;
    // b's start fits beside a's window (16 + 4 kept + 30 <= 56), the two files do not.
    const q = quota({ maxTotalBytes: 56 * MiB }, 4 * MiB);
    const a = await q.reserve(await client(), 'a.bin', 30 * MiB);
    const b = await q.reserve(await client(), 'b.bin', 30 * MiB);
    for (let at = MiB; at <= 30 * MiB; at += MiB) await a.cover(at);
    // 30 (a) + 16 (b's window) + 4 kept + 9 more for b's next window > 56.
    expect(await refusal(b.cover(W / 2 + MiB))).toBe('over-total-bytes');
    a.release();
    b.release();
  });

  it("the client's own limit stays held in full: a sender keeps only itself out", async () => {
    free = 10 * 1024 * MiB;
    const q = quota({ clientMaxBytes: 100 * MiB });
    const me = await client();
    const r = await q.reserve(me, 'a.bin', 90 * MiB);
    expect(await refusal(q.reserve(me, 'b.bin', 20 * MiB))).toBe('over-client-bytes');
    expect(await refusal(q.reserve(await client(), 'b.bin', 20 * MiB))).toBeUndefined();
    r.release();
  });
});

describe('a replacement counts its growth over the stored file, one at a time', () => {
  async function stored(id: Uint8Array, fileName: string, size: number): Promise<void> {
    await db.upsertFile({
      id,
      fileName,
      pathName: `x/${fileName}`,
      size,
      cksum: 0,
      receivedAt: new Date().toISOString(),
      token: 't',
    });
  }

  it('a second replacement of one name in flight counts whole (it was free: any number fit past the quota)', async () => {
    free = 1024 * MiB;
    const q = quota({ clientMaxBytes: 4 * MiB });
    const me = await client();
    await stored(me, 'big.bin', 4 * MiB);
    const first = await q.reserve(me, 'big.bin', 4 * MiB);
    expect(q.held(`c:${Buffer.from(me).toString('hex')}`).bytes).toBe(0);
    expect(await refusal(q.reserve(me, 'big.bin', 4 * MiB))).toBe('over-client-bytes');
    // Once the first is done with (stored or dropped), the next one is a replacement again.
    first.release();
    const next = await q.reserve(me, 'big.bin', 4 * MiB);
    next.release();
  });

  it("a replacement's credit is the stored file as it is now: one shrunk or removed meanwhile (another upload of the name, a 1031) gives no room", async () => {
    free = 1024 * MiB;
    const q = quota({ clientMaxBytes: 4 * MiB });
    const me = await client();
    await stored(me, 'big.bin', 4 * MiB);
    const full = await q.reserve(me, 'big.bin', 4 * MiB); // counts nothing: it replaces 4 MiB
    // An empty replacement on another connection, stored first: the row holds 0 bytes now.
    const empty = await q.reserve(me, 'big.bin', 0);
    await stored(me, 'big.bin', 0);
    empty.release();
    // Was: it fit (0 used, 0 held), and with the first one stored the sender held 8 MiB.
    expect(await refusal(q.reserve(me, 'other.bin', 4 * MiB))).toBe('over-client-bytes');
    // The row goes (1031 on the connection that stored it): no room either.
    await db.deleteFile(me, 'big.bin', null);
    expect(await refusal(q.reserve(me, 'other.bin', 1))).toBe('over-client-bytes');
    full.release();
    (await q.reserve(me, 'other.bin', 4 * MiB)).release();
  });

  it("a replacement's file count: its stored file removed meanwhile, it will be a new file", async () => {
    free = 1024 * MiB;
    const q = quota({ clientMaxFiles: 1 });
    const me = await client();
    await stored(me, 'one.bin', 10);
    const again = await q.reserve(me, 'one.bin', 10);
    await db.deleteFile(me, 'one.bin', null);
    // Was: 0 files stored, 0 held, so a second name fit: 2 files once both were stored.
    expect(await refusal(q.reserve(me, 'two.bin', 10))).toBe('over-client-files');
    again.release();
    (await q.reserve(me, 'two.bin', 10)).release();
  });

  it('an unfinished upload of the name kept for a resume takes the credit: another start counts whole, its own resume not', async () => {
    free = 1024 * MiB;
    let named = 0;
    const q = new UploadQuota(db, {} as InviteGate, {
      dataDir: dir,
      limits: { maxTotalBytes: null, diskReserve: 0, clientMaxBytes: 4 * MiB, clientMaxFiles: null },
      defaultReserve: { bytes: 0, fraction: 0 },
      disk: async () => ({ free, size: 100 * 1024 * MiB }),
      kept: { keptBytes: () => (named > 0 ? 3 * MiB : 0), keptNamed: () => named },
    });
    const me = await client();
    await stored(me, 'big.bin', 4 * MiB);
    named = 1; // one kept upload of big.bin, holding 3 MiB
    // A new v4 upload of the name is listed beside it: two of the name.
    named = 2;
    expect(await refusal(q.reserve(me, 'big.bin', 4 * MiB, { listed: true }))).toBe('over-client-bytes');
    named = 1;
    // The kept one's own resume (it is the one listed): the credit is its.
    const resume = await q.reserve(me, 'big.bin', 4 * MiB, { kept: 3 * MiB, listed: true });
    resume.release();
  });
});
