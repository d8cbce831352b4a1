/**
 * The page's upload queue as pure functions over an immutable list: adding files, applying
 * the worker's progress and results, cancelling, re-queueing. The React hook only stores
 * the list; everything that decides what an item shows lives here (and is unit-tested).
 */
import type { SendPhase } from '../lib/client/types';
import { MAX_FILE_SIZE, sanitizeFileName } from '../lib/protocol';
import { RECORD_SIZE } from '../lib/protocol/v4/constants';
import { wireFileName } from './file-source';
import type { FromWorker } from './upload-protocol';

export type ItemPhase = 'queued' | SendPhase;

export interface UploadItem {
  id: string;
  file: File;
  /** The name the file travels under (printable ASCII: protocol v3's name field). */
  wireName: string;
  /** The name the server stores it under (before any " (n)" it adds when the name is taken). */
  storedName: string;
  size: number;
  phase: ItemPhase;
  attempt: number;
  /** Plaintext bytes that have left this browser in the current attempt. */
  bytesRead: number;
  /** performance.now() when the current attempt started. */
  attemptStartedAt?: number;
  /** Bytes per second, smoothed (undefined until it means something). */
  speed?: number;
  /** performance.now() of the progress message the speed was last updated from. */
  speedAt?: number;
  /** bytesRead at speedAt. */
  speedBytes?: number;
  cksum?: number;
  /** For failures: the error's text and code (shown to the server's owner under details). */
  message?: string;
  code?: string;
  /** Failed because the connection went away: sent again by itself once it is back. */
  interrupted?: boolean;
  /** Refused at its start (1607) while an invite is in use: most likely over its limits. */
  overInvite?: boolean;
  /** A file of the same stored name was sent before (or is ahead in the queue): this one replaces it. */
  replaces?: boolean;
  /** The protocol the last attempt went by (3 when absent). */
  protocol?: 3 | 4;
  /** Protocol v4: the server's error code, when it refused the file. */
  v4Code?: number;
  /** Protocol v4: the server's words with that code (which limit the file is over). */
  serverReason?: string;
  /** Protocol v4, verified: the server's SHA-256 of what it stored (hex). */
  sha256?: string;
  /** Protocol v4: the record the last attempt started at (above 0: resumed). */
  resumedFrom?: number;
  /** A sentence about this file from the worker (e.g. a resume refused, so it started again). */
  note?: string;
}

type Progress = Extract<FromWorker, { type: 'progress' }>;
type Done = Extract<FromWorker, { type: 'done' }>;

/** Seconds of an attempt before a speed is shown (earlier figures jump around). */
const MIN_SPEED_WINDOW_S = 0.5;
/** Seconds of an attempt before a time left is shown: a short upload has none worth reading. */
export const MIN_ETA_WINDOW_S = 2;
/** Time constant of the speed's exponential smoothing, in seconds. */
const SPEED_SMOOTHING_S = 2;

const FINISHED: ReadonlySet<ItemPhase> = new Set(['verified', 'failed', 'cancelled']);
export const isFinished = (p: ItemPhase): boolean => FINISHED.has(p);
/**
 * Done with for good: verified, cancelled, or failed and not waiting to go again by itself
 * (an interrupted file is sent again once the connection is back: it is still to go).
 */
export const isSettled = (it: UploadItem): boolean => isFinished(it.phase) && !it.interrupted;

let nextItem = 0;

export function newItems(files: Iterable<File>): UploadItem[] {
  const out: UploadItem[] = [];
  for (const file of files) {
    out.push({
      id: `${Date.now().toString(36)}-${(nextItem++).toString(36)}`,
      file,
      wireName: wireFileName(file.name),
      storedName: sanitizeFileName(wireFileName(file.name)),
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
    // A resumed attempt starts with the bytes an earlier one sent: they count as done, not as speed.
    const before = Math.min(msg.size, (msg.resumedFrom ?? 0) * RECORD_SIZE);
    return {
      ...it,
      ...(msg.resumedFrom ? { resumedFrom: msg.resumedFrom } : {}),
      // "Verifying" only once the last bytes are out of this browser.
      phase: msg.phase === 'verifying' && msg.inFlight > 0 ? 'sending' : msg.phase,
      attempt: msg.attempt,
      bytesRead: sent,
      attemptStartedAt: started,
      ...smoothedSpeed(newAttempt ? undefined : it, sent, now, elapsed, before),
    };
  });
}

/**
 * The speed after a progress message: nothing for the first half second, then the
 * attempt's average, then an exponential moving average of each interval's rate (time
 * constant SPEED_SMOOTHING_S), so one slow or fast packet does not swing the figure.
 */
function smoothedSpeed(
  prev: UploadItem | undefined,
  sent: number,
  now: number,
  elapsed: number,
  /** Bytes sent before this attempt (a resume): not part of its speed. */
  before = 0,
): Pick<UploadItem, 'speed' | 'speedAt' | 'speedBytes'> {
  if (elapsed <= MIN_SPEED_WINDOW_S) return { speed: undefined, speedAt: undefined, speedBytes: undefined };
  if (prev?.speed === undefined || prev.speedAt === undefined || prev.speedBytes === undefined) {
    return { speed: Math.max(0, sent - before) / elapsed, speedAt: now, speedBytes: sent };
  }
  const dt = (now - prev.speedAt) / 1000;
  if (dt <= 0) return { speed: prev.speed, speedAt: prev.speedAt, speedBytes: prev.speedBytes };
  const rate = Math.max(0, sent - prev.speedBytes) / dt;
  const weight = 1 - Math.exp(-dt / SPEED_SMOOTHING_S);
  return { speed: prev.speed + weight * (rate - prev.speed), speedAt: now, speedBytes: sent };
}

/**
 * Seconds left for an item being sent, or undefined while no estimate means anything:
 * before MIN_ETA_WINDOW_S of the attempt, without a speed, or once verifying.
 */
export function timeLeft(it: UploadItem, now: number): number | undefined {
  if (it.phase !== 'sending' || !it.speed || it.attemptStartedAt === undefined) return undefined;
  if ((now - it.attemptStartedAt) / 1000 < MIN_ETA_WINDOW_S) return undefined;
  return Math.max(0, it.size - it.bytesRead) / it.speed;
}

export function applyDone(list: UploadItem[], msg: Done): UploadItem[] {
  return update(list, msg.id, (it) => ({
    ...it,
    phase: msg.outcome,
    attempt: msg.attempts || it.attempt,
    bytesRead: msg.outcome === 'verified' ? it.size : it.bytesRead,
    cksum: msg.cksum,
    message: msg.message,
    code: msg.code,
    protocol: msg.protocol,
    v4Code: msg.v4Code,
    serverReason: msg.serverReason,
    sha256: msg.sha256,
    resumedFrom: msg.resumedFrom,
    storedName: msg.storedName ?? it.storedName,
  }));
}

/** Attaches a sentence from the worker to item `id`. */
export function withNote(list: UploadItem[], id: string, note: string): UploadItem[] {
  return update(list, id, (it) => ({ ...it, note }));
}

/**
 * Cancels a file that is still waiting: queued, or waiting to resend after an interruption
 * (the one being sent is cancelled by the worker).
 */
export function cancelQueued(list: UploadItem[], id: string): UploadItem[] {
  return update(list, id, (it) =>
    it.phase === 'queued' || (it.phase === 'failed' && it.interrupted)
      ? { ...it, phase: 'cancelled', interrupted: undefined }
      : it,
  );
}

/** Everything not settled becomes cancelled (the identity was forgotten). */
export function cancelUnfinished(list: UploadItem[]): UploadItem[] {
  return list.map((it) => (isSettled(it) ? it : { ...it, phase: 'cancelled', interrupted: undefined }));
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
          speedAt: undefined,
          speedBytes: undefined,
          attemptStartedAt: undefined,
          message: undefined,
          code: undefined,
          interrupted: undefined,
          overInvite: undefined,
          v4Code: undefined,
          serverReason: undefined,
          resumedFrom: undefined,
          note: undefined,
        }
      : it,
  );
}

/** The queue without its settled rows (a file waiting to resend stays). */
export function clearFinished(list: UploadItem[]): UploadItem[] {
  return list.filter((it) => !isSettled(it));
}

/**
 * Totals for the overall bar. `files` counts every row shown; bytes leave cancelled files
 * out (they will not be sent). `finished` is verified + failed + cancelled, `remaining` what
 * is still to go; a file waiting to resend after an interruption is still to go, not failed.
 */
export function totals(list: UploadItem[]) {
  const counted = list.filter((it) => it.phase !== 'cancelled');
  const count = (phase: ItemPhase) => list.filter((it) => it.phase === phase && isSettled(it)).length;
  return {
    files: list.length,
    bytes: counted.reduce((s, it) => s + it.size, 0),
    sent: counted.reduce((s, it) => s + (it.phase === 'verified' ? it.size : it.bytesRead), 0),
    finished: list.filter(isSettled).length,
    verified: count('verified'),
    failed: count('failed'),
    cancelled: count('cancelled'),
    remaining: list.filter((it) => !isSettled(it)).length,
    busy: list.some((it) => !isSettled(it)),
  };
}

/** Files protocol v3 cannot carry (its size fields are 32-bit): refused when added. */
export function tooLarge(file: { size: number }): boolean {
  return file.size > MAX_FILE_SIZE;
}
