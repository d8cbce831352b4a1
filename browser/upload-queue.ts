/**
 * The page's upload queue as pure functions over an immutable list: adding files, applying
 * the worker's progress and results, cancelling, re-queueing. The React hook only stores
 * the list; everything that decides what an item shows lives here (and is unit-tested).
 */
import type { SendPhase } from '../lib/client/types';
import { wireFileName } from './file-source';
import type { FromWorker } from './upload-protocol';

export type ItemPhase = 'queued' | SendPhase;

export interface UploadItem {
  id: string;
  file: File;
  /** The name the server stores (printable ASCII). */
  wireName: string;
  size: number;
  phase: ItemPhase;
  attempt: number;
  /** Plaintext bytes that have left this browser in the current attempt. */
  bytesRead: number;
  /** performance.now() when the current attempt started. */
  attemptStartedAt?: number;
  /** Bytes per second over the current attempt. */
  speed?: number;
  cksum?: number;
  message?: string;
}

type Progress = Extract<FromWorker, { type: 'progress' }>;
type Done = Extract<FromWorker, { type: 'done' }>;

/** Seconds of an attempt before a speed is shown (earlier figures jump around). */
const MIN_SPEED_WINDOW_S = 0.25;

const FINISHED: ReadonlySet<ItemPhase> = new Set(['verified', 'failed', 'cancelled']);
export const isFinished = (p: ItemPhase): boolean => FINISHED.has(p);

let nextItem = 0;

export function newItems(files: Iterable<File>): UploadItem[] {
  const out: UploadItem[] = [];
  for (const file of files) {
    out.push({
      id: `${Date.now().toString(36)}-${(nextItem++).toString(36)}`,
      file,
      wireName: wireFileName(file.name),
      size: file.size,
      phase: 'queued',
      attempt: 1,
      bytesRead: 0,
    });
  }
  return out;
}

function update(list: UploadItem[], id: string, f: (it: UploadItem) => UploadItem): UploadItem[] {
  return list.map((it) => (it.id === id ? f(it) : it));
}

/** The first queued item, which is sent next. */
export function nextQueued(list: UploadItem[]): UploadItem | undefined {
  return list.find((it) => it.phase === 'queued');
}

export function markStarted(list: UploadItem[], id: string, now: number): UploadItem[] {
  return update(list, id, (it) => ({ ...it, phase: 'sending', attemptStartedAt: now }));
}

export function applyProgress(list: UploadItem[], msg: Progress, now: number): UploadItem[] {
  return update(list, msg.id, (it) => {
    const newAttempt = msg.attempt !== it.attempt || it.attemptStartedAt === undefined;
    const started = newAttempt ? now : it.attemptStartedAt!;
    const elapsed = (now - started) / 1000;
    // What really left this browser: read and encrypted, minus what still waits in its buffer.
    const sent = Math.max(0, Math.min(msg.size, msg.bytesRead - msg.inFlight));
    return {
      ...it,
      // "Verifying" only once the last bytes are out of this browser.
      phase: msg.phase === 'verifying' && msg.inFlight > 0 ? 'sending' : msg.phase,
      attempt: msg.attempt,
      bytesRead: sent,
      attemptStartedAt: started,
      speed: elapsed > MIN_SPEED_WINDOW_S ? sent / elapsed : newAttempt ? undefined : it.speed,
    };
  });
}

export function applyDone(list: UploadItem[], msg: Done): UploadItem[] {
  return update(list, msg.id, (it) => ({
    ...it,
    phase: msg.outcome,
    attempt: msg.attempts || it.attempt,
    bytesRead: msg.outcome === 'verified' ? it.size : it.bytesRead,
    cksum: msg.cksum,
    message: msg.message,
  }));
}

/** Cancels a file that is still waiting (the one being sent is cancelled by the worker). */
export function cancelQueued(list: UploadItem[], id: string): UploadItem[] {
  return update(list, id, (it) => (it.phase === 'queued' ? { ...it, phase: 'cancelled' } : it));
}

/** Everything not finished becomes cancelled (the identity was forgotten). */
export function cancelUnfinished(list: UploadItem[]): UploadItem[] {
  return list.map((it) => (isFinished(it.phase) ? it : { ...it, phase: 'cancelled' }));
}

/** Puts a failed or cancelled file back in the queue, from the start. */
export function requeue(list: UploadItem[], id: string): UploadItem[] {
  return update(list, id, (it) =>
    isFinished(it.phase) && it.phase !== 'verified'
      ? {
          ...it,
          phase: 'queued',
          attempt: 1,
          bytesRead: 0,
          speed: undefined,
          attemptStartedAt: undefined,
          message: undefined,
        }
      : it,
  );
}

export function clearFinished(list: UploadItem[]): UploadItem[] {
  return list.filter((it) => !isFinished(it.phase));
}

/** Totals for the overall bar: cancelled files do not count. */
export function totals(list: UploadItem[]) {
  const counted = list.filter((it) => it.phase !== 'cancelled');
  return {
    files: counted.length,
    bytes: counted.reduce((s, it) => s + it.size, 0),
    sent: counted.reduce((s, it) => s + (it.phase === 'verified' ? it.size : it.bytesRead), 0),
    finished: counted.filter((it) => isFinished(it.phase)).length,
    verified: counted.filter((it) => it.phase === 'verified').length,
    failed: counted.filter((it) => it.phase === 'failed').length,
    busy: list.some((it) => !isFinished(it.phase)),
  };
}
