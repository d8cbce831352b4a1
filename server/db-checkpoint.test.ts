/**
 * WAL checkpoints run on the checkpoint thread, so the event loop never waits for their
 * fsyncs: the main connection's automatic checkpoints are off, and the database file only
 * takes the WAL's pages when the thread checkpoints.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteDatabase } from './db';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-db-ckpt-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const id = (n: number) => {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};

/** Enough committed rows to fill a few hundred WAL pages. */
async function writeRows(db: SqliteDatabase, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await db.insertClient(id(i), `client-${i}-${'x'.repeat(200)}`, new Date().toISOString());
    await db.setKeys(
      id(i),
      new Uint8Array(160).fill(i & 0xff),
      new Uint8Array(32).fill(1),
      new Date().toISOString(),
    );
  }
}

describe('WAL checkpoints on the checkpoint thread', () => {
  const LIMIT = 4 * 1024 * 1024;

  /** 12,000 commits in batches of 200 on a fresh database; the WAL's largest size seen. */
  async function walPeakUnderWrites(file: string, opts: { intervalMs: number; minBytes: number }) {
    const path = join(dir, file);
    const db = new SqliteDatabase(path, {
      checkpointIntervalMs: opts.intervalMs,
      checkpointMinBytes: opts.minBytes,
      walLimitBytes: LIMIT,
    });
    try {
      let peak = 0;
      for (let from = 1; from < 6000; from += 200) {
        await writeRows(db, from, 200);
        peak = Math.max(peak, statSync(`${path}-wal`).size);
      }
      return peak;
    } finally {
      await db.close();
    }
  }

  it('continuous writes keep the WAL under its hard bound even when the periodic checkpoint never runs', async () => {
    const peak = await walPeakUnderWrites('defensive.db', { intervalMs: 3_600_000, minBytes: 1024 * 1024 });
    console.log(
      `WAL peak ${(peak / 1024 / 1024).toFixed(1)} MiB under a ${LIMIT / 1024 / 1024} MiB bound (12,000 commits)`,
    );
    // The bound plus what is written between two looks at the WAL's size.
    // Measured 4.2-6.5 MiB on a quiet machine and 8.2 MiB once in CI beside the 4 GiB test (the
    // bound is looked at every 10 ms, so a slow machine writes more in between); before the fix
    // it grew to 21-86 MiB, so 3x still tells bounded from unbounded.
    expect(peak).toBeLessThan(3 * LIMIT);
  });

  it('the thread checkpointing all the time does not stop the main connection from keeping the bound', async () => {
    // The thread's checkpoints are PASSIVE: they never hold the checkpoint lock while waiting
    // for the writer, which once made the main connection's own checkpoints fail as busy.
    const peak = await walPeakUnderWrites('contended.db', { intervalMs: 5, minBytes: 4096 });
    console.log(`WAL peak ${(peak / 1024 / 1024).toFixed(1)} MiB with the thread checkpointing every 5 ms`);
    // As above: the bound plus what is written between two looks. 8.1 MiB was seen once in a
    // fresh-clone CI with two test files at a time on two cores; the failure this guards
    // against (checkpoints failing as busy) let it grow without bound, so 3x still tells.
    expect(peak).toBeLessThan(3 * LIMIT);
  });

  it('the main connection never checkpoints; the thread copies the WAL into the database file', async () => {
    const path = join(dir, 'defensive.db');
    // A long interval: only checkpointNow() checkpoints during the test. (Below the WAL's
    // hard bound, that is: this writes about 70 MiB of WAL, so the bound is raised here.)
    const db = new SqliteDatabase(path, { checkpointIntervalMs: 3_600_000, walLimitBytes: 1024 ** 3 });
    try {
      expect(db.checkpointsInBackground).toBe(true);
      const before = statSync(path).size;
      await writeRows(db, 1, 3000); // well past SQLite's 1000-page automatic checkpoint
      // Nothing reached the database file: the main connection did not checkpoint.
      expect(statSync(path).size).toBe(before);
      expect(statSync(`${path}-wal`).size).toBeGreaterThan(1000 * 4096);
      const pages = await db.checkpointNow();
      expect(pages).toBeGreaterThan(1000);
      expect(statSync(path).size).toBeGreaterThan(before + 500 * 1024);
      expect(await db.clientByName(`client-2999-${'x'.repeat(200)}`)).toBeDefined();
    } finally {
      await db.close();
    }
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT count(*) AS n FROM clients').get()).toEqual({ n: 3000 });
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
  });

  it('checkpoints on its own every interval once the WAL is big enough, not before', async () => {
    const small = join(dir, 'small.db');
    const idle = new SqliteDatabase(small, { checkpointIntervalMs: 20, checkpointMinBytes: 1 << 30 });
    const big = join(dir, 'big.db');
    const busy = new SqliteDatabase(big, { checkpointIntervalMs: 20, checkpointMinBytes: 64 * 1024 });
    try {
      const smallBefore = statSync(small).size;
      const bigBefore = statSync(big).size;
      await writeRows(idle, 1, 500);
      await writeRows(busy, 1, 500);
      await expect.poll(() => statSync(big).size, { timeout: 10_000 }).toBeGreaterThan(bigBefore);
      // Ticks went by for both; the WAL under its threshold was left alone.
      await new Promise((r) => setTimeout(r, 200));
      expect(statSync(small).size).toBe(smallBefore);
    } finally {
      await idle.close();
      await busy.close();
    }
  });

  it('if the thread stops, the main connection checkpoints on commit again', async () => {
    const path = join(dir, 'defensive.db');
    const db = new SqliteDatabase(path, { checkpointIntervalMs: 3_600_000 });
    try {
      await db.stopCheckpointThread();
      expect(db.checkpointsInBackground).toBe(false);
      const before = statSync(path).size;
      await writeRows(db, 1, 3000);
      expect(statSync(path).size).toBeGreaterThan(before);
      await expect(db.checkpointNow()).rejects.toThrow(/No checkpoint thread/);
    } finally {
      await db.close();
    }
  });

  it('with the thread off (interval 0), SQLite checkpoints on commit as usual', async () => {
    const path = join(dir, 'defensive.db');
    const db = new SqliteDatabase(path, { checkpointIntervalMs: 0 });
    try {
      expect(db.checkpointsInBackground).toBe(false);
      const before = statSync(path).size;
      await writeRows(db, 1, 3000);
      expect(statSync(path).size).toBeGreaterThan(before);
    } finally {
      await db.close();
    }
  });
});
