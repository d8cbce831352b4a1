import { describe, expect, it } from 'vitest';
import {
  applyDone,
  applyProgress,
  cancelQueued,
  cancelUnfinished,
  clearFinished,
  markStarted,
  newItems,
  nextQueued,
  requeue,
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
    // Speed over the attempt: 1000 bytes in 3 s.
    expect(list[0]!.speed).toBeCloseTo(1000 / 3, 5);
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
    expect(totals(list).files).toBe(2); // cancelled files do not count
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
});
