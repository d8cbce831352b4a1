/**
 * Rules the page applies around the upload queue, kept apart from the model so each is
 * unit-tested on its own: which failures are retried by themselves, whose history is shown,
 * which new file replaces one sent before, and the sentences a sender reads for a failure.
 */

import { BrowserError } from '@/browser/errors';
import type { UploadRecord } from '@/browser/history-store';
import type { StoredIdentity } from '@/browser/identity-store';
import type { FromWorker } from '@/browser/upload-protocol';
import { applyDone, newItems, requeue, tooLarge, type UploadItem } from '@/browser/upload-queue';
import { clientIdToHex, MAX_FILE_SIZE } from '@/lib/protocol';
import { V4_ERROR_SENTENCES, type V4ErrorCode } from '@/lib/protocol/v4/constants';
import { formatBytes } from './format';
import type { Conn } from './transfer-types';

/** The limit as a person reads it (MAX_FILE_SIZE is 4 GiB less 17 bytes). */
export const FILE_LIMIT_TEXT = 'under 4 GiB';

/**
 * What the drop zone says while files cannot go yet. After the changed-key warning the
 * connection will not become ready by itself: it says what the person has to do.
 */
export function waitingHint(conn: Conn): string {
  if (conn.kind === 'problem' && conn.problem === 'server-key-changed')
    return 'Files wait here, and nothing is sent until the warning above is settled: ask whoever runs the server which key it has now, and forget the old key only if they confirm the new one.';
  return 'Files wait here until the connection is ready.';
}

/** Failures that mean "the connection went away", not "the server refused the file". */
const INTERRUPTED = new Set([
  'CLIENT_ERR_CONNECTION_CLOSED',
  'CLIENT_ERR_SESSION_CLOSED',
  'CLIENT_ERR_UNREACHABLE',
  // The server kept the page waiting past its deadline, so the page closed the connection.
  'CLIENT_ERR_TIMEOUT',
]);
/** A file interrupted this many times in a row waits for "Send again" (the link may be failing it). */
export const MAX_AUTO_RESENDS = 3;

export function isInterrupted(code: string | undefined): boolean {
  return code !== undefined && INTERRUPTED.has(code);
}

/** The records sent as `identity` (by client ID; older records without one, by name). */
export function historyOf(
  records: UploadRecord[],
  identity: StoredIdentity | null | undefined,
): UploadRecord[] {
  if (!identity) return [];
  const hex = clientIdToHex(identity.clientId);
  return records.filter((r) => (r.clientIdHex ? r.clientIdHex === hex : r.clientName === identity.name));
}

/**
 * Marks each added item that will replace a file of the same stored name: one this identity
 * sent and the server verified, or one earlier in the queue (the server keeps one file per
 * client and name, the last one sent).
 */
/** Chosen files queued, except those too large for protocol v3 (unless `v4`), which are listed instead. */
export function addChosen(
  all: File[],
  items: UploadItem[],
  history: UploadRecord[],
  v4: boolean,
): { items: UploadItem[]; refused: { name: string; size: number }[] } {
  const refuse = (f: File) => !v4 && tooLarge(f);
  const refused = all.filter(refuse).map((f) => ({ name: f.name, size: f.size }));
  return {
    items: [...items, ...markReplacing(newItems(all.filter((f) => !refuse(f))), items, history)],
    refused,
  };
}

/** The connection is back: files it interrupted go again by themselves (v3 from the start, v4 resumed), counted in `resends`. */
export function requeueInterrupted(items: UploadItem[], resends: Map<string, number>): UploadItem[] {
  let out = items;
  for (const it of items) {
    if (it.phase !== 'failed' || !it.interrupted) continue;
    resends.set(it.id, (resends.get(it.id) ?? 0) + 1);
    out = requeue(out, it.id);
  }
  return out;
}

/** Said when IndexedDB does not answer at start. */
export const STORAGE_SILENT =
  'This browser’s storage (IndexedDB) did not answer. Another tab of this page may be blocking it: close it, then reload.';

export function explainStorage(e: unknown): string {
  return e instanceof BrowserError
    ? e.message
    : 'This browser would not let the page use its storage (IndexedDB).';
}

export function markReplacing(added: UploadItem[], queue: UploadItem[], sent: UploadRecord[]): UploadItem[] {
  const taken = new Set<string>();
  for (const r of sent) if (r.outcome === 'verified') taken.add(r.wireName ?? r.fileName);
  for (const it of queue) if (it.phase !== 'cancelled' && it.phase !== 'failed') taken.add(it.wireName);
  return added.map((it) => {
    const replaces = taken.has(it.wireName);
    taken.add(it.wireName);
    return replaces ? { ...it, replaces: true } : it;
  });
}

/**
 * The queue once the worker says `done`: `interrupted` when the connection went away (sent
 * again by itself, up to MAX_AUTO_RESENDS times in a row), `overInvite` when the refusal is
 * most likely the invite's limit.
 */
export function finishItem(
  items: UploadItem[],
  done: Extract<FromWorker, { type: 'done' }>,
  opts: { resends: number; overInvite: boolean },
): { items: UploadItem[]; interrupted: boolean } {
  const interrupted =
    done.outcome === 'failed' && isInterrupted(done.code) && opts.resends < MAX_AUTO_RESENDS;
  const flags = { ...(interrupted ? { interrupted } : {}), ...(opts.overInvite ? { overInvite: true } : {}) };
  const next = applyDone(items, done);
  if (!interrupted && !opts.overInvite) return { items: next, interrupted };
  return { items: next.map((it) => (it.id === done.id ? { ...it, ...flags } : it)), interrupted };
}

/** The history record of a finished upload (`now`: wall-clock ms; `inviteId`: the invite it was sent under). */
export function uploadRecord(
  done: Extract<FromWorker, { type: 'done' }>,
  item: UploadItem | undefined,
  identity: StoredIdentity | null | undefined,
  now: number,
  inviteId: string | undefined,
): UploadRecord {
  return {
    id: `${now.toString(36)}-${done.id}`,
    fileName: item?.file.name ?? done.id,
    wireName: item?.wireName,
    size: item?.size ?? 0,
    cksum: done.cksum,
    finishedAt: now,
    outcome: done.outcome,
    clientName: identity?.name ?? '',
    clientIdHex: identity ? clientIdToHex(identity.clientId) : undefined,
    attempts: done.attempts,
    inviteId,
    ...(done.sha256 ? { sha256: done.sha256 } : {}),
  };
}

/** The sentence shown when a file is refused for its size. */
export function tooLargeSentence(name: string, size: number): string {
  return `“${name}” is ${formatBytes(size)}; this server takes files ${FILE_LIMIT_TEXT} (at most ${MAX_FILE_SIZE.toLocaleString('en-US')} bytes), a limit of protocol v3.`;
}

/**
 * Protocol v4 refusals of one file, with the next step; `reason` is the server's own sentence
 * (which limit, for 6 and 7), `owner` who can change it.
 */
const V4_FILE_SENTENCES: Partial<Record<V4ErrorCode, (reason: string, owner: string) => string>> = {
  6: (reason, owner) =>
    `The server has no room for this file: it is over the space or number of files you may store.${reason} Ask ${owner} for more room, or send less.`,
  7: (reason, owner) =>
    `This file is larger than the server accepts.${reason} Send a smaller file, or ask ${owner} to raise the limit.`,
  13: () =>
    'A piece of the file was damaged or out of order on the way, so the server dropped it. Send it again; if it keeps failing, the connection is damaging data.',
  14: (_, owner) =>
    `The server could not store the file (its disk is full or failing). Try again later, or tell ${owner}.`,
  15: () => 'The server cannot store a file under this name. Rename the file, then send it again.',
  16: (_, owner) => `The server failed. Try again later; if it keeps failing, tell ${owner}.`,
};

/** What a failed file's row says to the person who sent it; the raw error goes under details. */
export function failureSentence(
  code: string | undefined,
  interrupted: boolean,
  overInvite = false,
  v4?: { protocol?: 3 | 4; v4Code?: number; serverReason?: string },
): string {
  if (interrupted) {
    const what =
      code === 'CLIENT_ERR_TIMEOUT'
        ? 'The server stopped answering while this file was being sent, so the page closed the connection.'
        : 'The connection dropped while sending.';
    return v4?.protocol === 4
      ? `${what} It carries on from where it stopped once the connection is back.`
      : `${what} It is sent again from the start once the connection is back.`;
  }
  const v4Code = v4?.v4Code as V4ErrorCode | undefined;
  const page = v4Code !== undefined ? V4_FILE_SENTENCES[v4Code] : undefined;
  if (page) {
    const reason = v4?.serverReason?.trim();
    const said = reason ? ` ${/[.!?]$/.test(reason) ? reason : `${reason}.`}` : '';
    return page(said, overInvite ? 'whoever invited you' : 'whoever runs the server');
  }
  const sentence = v4Code !== undefined ? V4_ERROR_SENTENCES[v4Code] : undefined;
  if (sentence) return sentence;
  if (overInvite)
    return 'The server refused this file at its start: it is most likely over the space this invite allows (its size or file count), or the invite was revoked. Ask whoever invited you for more room, or send less.';
  switch (code) {
    case 'CLIENT_ERR_CRC_MISMATCH':
      return 'The server received the file differently from how it left this browser, four times. Send it again; if it keeps failing, the connection is damaging data.';
    case 'CLIENT_ERR_SERVER_ERROR':
      return 'The server could not store this file. Try again later, or ask whoever runs the server.';
    case 'CLIENT_ERR_SOURCE':
      return 'This browser could not read the file (was it moved, changed or deleted?). Choose it again.';
    case 'CLIENT_ERR_FILE_TOO_LARGE':
      return 'The file is larger than this server accepts.';
    case 'CLIENT_ERR_TIMEOUT':
      return 'The server stopped answering while this file was being sent, so the page closed the connection. Send it again later; if it keeps happening, tell whoever runs the server.';
    case 'CLIENT_ERR_PROTOCOL':
      return 'The page closed the connection: what came back was not what a working server sends. Send it again; if it keeps failing, tell whoever runs the server.';
    default:
      return 'The file was not sent. Send it again; if it keeps failing, ask whoever runs the server.';
  }
}
