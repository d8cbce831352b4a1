import { describe, expect, it } from 'vitest';
import { MAX_FILE_SIZE } from '../lib/protocol';
import { RECORD_SIZE } from '../lib/protocol/v4/constants';
import {
  applyDone,
  applyProgress,
  cancelQueued,
  cancelUnfinished,
  clearFinished,
  isSettled,
  markStarted,
  newItems,
  nextQueued,
  requeue,
  timeLeft,
  tooLarge,
  totals,
  type UploadItem,
} from './upload-queue';

const file = (name: string, size: number) => new File([new Uint8Array(size)], name);
const progress = (
  id: string,
  p: Partial<{
    phase: 'sending' | 'verifying' | 'retrying';
    attempt: number;
    bytesRead: number;
    inFlight: number;
    size: number;
    resumedFrom: number;
  }>,
) => ({
  type: 'progress' as const,
  id,
  phase: p.phase ?? 'sending',
  attempt: p.attempt ?? 1,
  bytesRead: p.bytesRead ?? 0,
  bytesSent: 0,
  size: p.size ?? 1000,
  inFlight: p.inFlight ?? 0,
  ...(p.resumedFrom !== undefined ? { resumedFrom: p.resumedFrom } : {}),
});

function queue(): UploadItem[] {
  return newItems([file('a.bin', 1000), file('b ü.bin', 10), file('c.bin', 0)]);
}

describe('upload queue', () => {
  it('adds files as queued items with unique ids and protocol-safe names, sent in order', () => {
    const list = queue();
    expect(list.map((it) => [it.phase, it.size, it.wireName])).toEqual([
      ['queued', 1000, 'a.bin'],
      ['queued', 10, 'b _.bin'],
      ['queued', 0, 'c.bin'],
    ]);
    expect(new Set(list.map((it) => it.id)).size).toBe(3);
    expect(nextQueued(list)?.file.name).toBe('a.bin');
    expect(nextQueued(markStarted(list, list[0]!.id, 0))?.file.name).toBe('b ü.bin');
  });

  it('progress counts only bytes that left the browser and stays "sending" until the buffer drained', () => {
    const fresh = queue();
    const id = fresh[0]!.id;
    let list = markStarted(fresh, id, 0);
    list = applyProgress(list, progress(id, { bytesRead: 800, inFlight: 300 }), 1000);
    expect(list[0]).toMatchObject({ phase: 'sending', bytesRead: 500 });
    list = applyProgress(list, progress(id, { phase: 'verifying', bytesRead: 1000, inFlight: 200 }), 2000);
    expect(list[0]).toMatchObject({ phase: 'sending', bytesRead: 800 });
    list = applyProgress(list, progress(id, { phase: 'verifying', bytesRead: 1000, inFlight: 0 }), 3000);
    expect(list[0]).toMatchObject({ phase: 'verifying', bytesRead: 1000 });
    // The first figure is the attempt's average (500 B in 1 s), then smoothed towards the rates since.
    expect(list[0]!.speed).toBeGreaterThan(250);
    expect(list[0]!.speed).toBeLessThan(500);
  });

  it('a new attempt restarts the speed measurement', () => {
    let list = queue();
    const id = list[0]!.id;
    list = applyProgress(markStarted(list, id, 0), progress(id, { bytesRead: 1000 }), 1000);
    list = applyProgress(list, progress(id, { attempt: 2, bytesRead: 100 }), 5000);
    expect(list[0]).toMatchObject({ attempt: 2, bytesRead: 100, attemptStartedAt: 5000 });
    expect(list[0]!.speed).toBeUndefined();
  });

  it('results: verified fills the bar and keeps the CRC; failed keeps the message and attempts', () => {
    let list = queue();
    const [a, b] = list;
    list = applyDone(list, { type: 'done', id: a!.id, outcome: 'verified', attempts: 1, cksum: 42 });
    list = applyDone(list, {
      type: 'done',
      id: b!.id,
      outcome: 'failed',
      attempts: 4,
      message: 'CRC differed',
    });
    expect(list[0]).toMatchObject({ phase: 'verified', bytesRead: 1000, cksum: 42 });
    expect(list[1]).toMatchObject({ phase: 'failed', attempt: 4, message: 'CRC differed' });
    expect(totals(list)).toMatchObject({
      files: 3,
      finished: 2,
      verified: 1,
      failed: 1,
      busy: true,
      sent: 1000,
    });
  });

  it('cancel affects only waiting files; requeue restarts failed or cancelled ones, never verified ones', () => {
    let list = queue();
    const [a, b, c] = list;
    list = markStarted(list, a!.id, 0);
    list = cancelQueued(list, a!.id); // being sent: the worker cancels it, not the list
    list = cancelQueued(list, b!.id);
    expect(list.map((it) => it.phase)).toEqual(['sending', 'cancelled', 'queued']);
    // Every row counts as a file; a cancelled one is counted as cancelled, its bytes left out.
    expect(totals(list)).toMatchObject({ files: 3, cancelled: 1, remaining: 2, bytes: 1000 });
    list = requeue(list, b!.id);
    expect(list[1]).toMatchObject({ phase: 'queued', attempt: 1, bytesRead: 0 });
    list = applyDone(list, { type: 'done', id: c!.id, outcome: 'verified', attempts: 1 });
    expect(requeue(list, c!.id)[2]!.phase).toBe('verified');
  });

  it('forgetting the identity cancels everything unfinished; clearing drops finished items', () => {
    let list = queue();
    list = applyDone(list, { type: 'done', id: list[0]!.id, outcome: 'verified', attempts: 1 });
    list = cancelUnfinished(list);
    expect(list.map((it) => it.phase)).toEqual(['verified', 'cancelled', 'cancelled']);
    expect(clearFinished(list)).toEqual([]);
  });

  it('counts: one of three cancelled reads as 3 files, a failed one is not "done"', () => {
    let list = queue();
    const [a, b, c] = list;
    list = cancelQueued(list, b!.id);
    list = applyDone(list, { type: 'done', id: a!.id, outcome: 'failed', attempts: 1, message: 'x' });
    expect(totals(list)).toMatchObject({ files: 3, verified: 0, failed: 1, cancelled: 1, remaining: 1 });
    list = applyDone(list, { type: 'done', id: c!.id, outcome: 'verified', attempts: 1 });
    expect(totals(list)).toMatchObject({ files: 3, verified: 1, remaining: 0, busy: false });
  });

  it('speed is smoothed: one slow interval moves it only part of the way, and no speed in the first half second', () => {
    let list = queue();
    const id = list[0]!.id;
    const size = 100_000_000;
    list = markStarted(list, id, 0);
    list = applyProgress(list, progress(id, { bytesRead: 1_000_000, size }), 400);
    expect(list[0]!.speed).toBeUndefined();
    // 10 MB/s for 2 s.
    for (let t = 1000; t <= 2000; t += 200) {
      list = applyProgress(list, progress(id, { bytesRead: t * 10_000, size }), t);
    }
    expect(list[0]!.speed).toBeCloseTo(10_000_000, -5);
    // A stall of 200 ms: the figure dips by about a tenth, not to zero.
    list = applyProgress(list, progress(id, { bytesRead: 20_000_000, size }), 2200);
    expect(list[0]!.speed).toBeGreaterThan(8_000_000);
  });

  it('time left: none for the first 2 s of an attempt (a short file shows no wild estimate), then remaining / speed', () => {
    const size = 100_000_000;
    let list = queue().map((it) => ({ ...it, size }));
    const id = list[0]!.id;
    list = markStarted(list, id, 0);
    list = applyProgress(list, progress(id, { bytesRead: 100_000, size }), 1000);
    expect(list[0]!.speed).toBeDefined();
    expect(timeLeft(list[0]!, 1000)).toBeUndefined();
    for (let t = 1200; t <= 3000; t += 200) {
      list = applyProgress(list, progress(id, { bytesRead: t * 10_000, size }), t);
    }
    const left = timeLeft(list[0]!, 3000)!;
    expect(left).toBeGreaterThan(5);
    expect(left).toBeLessThan(9);
    list = applyProgress(list, progress(id, { phase: 'verifying', bytesRead: size, size }), 3200);
    expect(timeLeft(list[0]!, 3200)).toBeUndefined();
  });

  it('a resumed upload: the bytes sent before count as done, not as speed, so time left is honest', () => {
    const size = 400 * RECORD_SIZE; // 100 MiB
    const resumedFrom = 200; // 50 MiB were at the server already
    let list = newItems([file('big.bin', 0)]).map((it) => ({ ...it, size }));
    const id = list[0]!.id;
    list = markStarted(list, id, 0);
    // 10 MiB/s from the resume point on, for 3 s.
    for (let t = 200; t <= 3000; t += 200) {
      const bytesRead = resumedFrom * RECORD_SIZE + (t / 1000) * 10 * 1024 * 1024;
      list = applyProgress(list, progress(id, { bytesRead, size, resumedFrom }), t);
    }
    const it = list[0]!;
    expect(it.resumedFrom).toBe(resumedFrom);
    expect(it.speed! / (1024 * 1024)).toBeCloseTo(10, 0);
    // 20 MiB left at 10 MiB/s (counted with the resumed 50 MiB as speed it said under a second).
    expect(timeLeft(it, 3000)).toBeCloseTo(2, 0);
    // Sent again from the start (a retry), the row no longer says it was resumed.
    expect(
      requeue(applyDone(list, { type: 'done', id, outcome: 'failed', attempts: 1 }), id)[0]!.resumedFrom,
    ).toBe(undefined);
  });

  it('a file waiting to resend after an interruption is still to go: not failed, not cleared, and it can be cancelled', () => {
    let list = queue();
    const [a, b] = list;
    list = applyDone(list, { type: 'done', id: b!.id, outcome: 'verified', attempts: 1 });
    list = applyDone(list, { type: 'done', id: a!.id, outcome: 'failed', attempts: 1 });
    list = list.map((it) => (it.id === a!.id ? { ...it, interrupted: true } : it));
    expect(isSettled(list[0]!)).toBe(false);
    expect(totals(list)).toMatchObject({ failed: 0, verified: 1, finished: 1, remaining: 2, busy: true });
    expect(clearFinished(list).map((it) => it.id)).toEqual([a!.id, list[2]!.id]);
    const cancelled = cancelQueued(list, a!.id);
    expect(cancelled[0]).toMatchObject({ phase: 'cancelled', interrupted: undefined });
    expect(totals(cancelled)).toMatchObject({ failed: 0, cancelled: 1 });
    // Without `interrupted` a failure is a failure.
    const own = queue();
    expect(
      totals(applyDone(own, { type: 'done', id: own[0]!.id, outcome: 'failed', attempts: 1 })).failed,
    ).toBe(1);
  });

  it('the stored name: what the server will store (non-ASCII became _, then unsafe characters _)', () => {
    const [it] = newItems([file('h\u00e9llo w\u00f6rld \u2603 <img src=x>.txt', 1)]);
    expect(it!.wireName).toBe('h_llo w_rld _ <img src=x>.txt');
    expect(it!.storedName).toBe('h_llo w_rld _ _img src=x_.txt');
  });

  it("files over protocol v3's 4 GiB limit are too large", () => {
    expect(tooLarge({ size: MAX_FILE_SIZE })).toBe(false);
    expect(tooLarge({ size: MAX_FILE_SIZE + 1 })).toBe(true);
  });
});
