/**
 * The upload worker's protocol v4 half: the handshake through the bridge with this browser's
 * v4 key and the pinned server key (v4-store.ts), and each file as a resumable STREAM upload
 * (lib/client/v4-session.ts, shared with the CLI). The upload's ID and file key are kept in
 * IndexedDB from the server's UploadReady on, so a cut connection or a reload resumes from
 * the server's next record. No SHA-256 here: WebCrypto has no incremental one, and the AEAD
 * records already prove every byte; the server's SHA-256 is shown as it reports it.
 */
import { ClientError } from '../lib/client/errors';
import { V4ClientSession, type V4Source } from '../lib/client/v4-session';
import { bytesToHex } from '../lib/crypto';
import { isFatalCode, RECORD_SIZE, V4_ERROR_SENTENCES, V4ErrorCode } from '../lib/protocol/v4/constants';
import { V4Error } from '../lib/v4/errors';
import { fingerprint } from '../lib/v4/keys';
import { readPieces } from './file-source';
import { transportFailure, type WorkerTransport } from './page-transport';
import type { FromWorker, ServerKeyChange } from './upload-protocol';
import { checkPin, linkPinDecision, pinAddress, v4FileName } from './v4-rules';
import {
  findKeptUpload,
  forgetKeptUpload,
  keepUpload,
  loadOrCreateV4Key,
  loadPins,
  savePins,
} from './v4-store';

/** The server has no (usable) partial upload under the kept ID: start the file anew. */
const START_AGAIN: ReadonlySet<number> = new Set([
  V4ErrorCode.UploadExpired,
  V4ErrorCode.UnknownUpload,
  V4ErrorCode.UploadMismatch,
]);
/** Progress messages at most this often. */
const PROGRESS_INTERVAL_MS = 100;

/** Why the two fingerprints of a ServerKeyChange disagree, in a sentence that ends "Nothing was sent." */
function keyChangeSentence(c: ServerKeyChange): string {
  if (c.kind === 'pin-link')
    return `The invite link says the server at ${c.address} has the key ${c.offered}, but this browser pinned ${c.pinned} for it. Nothing was sent.`;
  if (c.kind === 'link-server')
    return `The server at ${c.address} offered the key ${c.offered}, but the invite link says its key is ${c.pinned}. Nothing was sent.`;
  return `The server at ${c.address} offered the key ${c.offered}, but this browser pinned ${c.pinned} for it. Nothing was sent.`;
}

/** Two fingerprints of the server disagree (pin, invite link, the server's key): nothing was sent. */
export class ServerKeyChanged extends Error {
  constructor(readonly change: ServerKeyChange) {
    super(keyChangeSentence(change));
  }
}

/**
 * Before connecting: an invite link's `server=` fingerprint becomes the bridge's pin when it
 * has none; another pin already there is refused (ServerKeyChanged, kind pin-link).
 */
export async function applyLinkFingerprint(url: string, link: string | undefined): Promise<void> {
  if (link === undefined) return;
  const address = pinAddress(url);
  const d = linkPinDecision(await loadPins(), address, link);
  if (d.kind === 'different')
    throw new ServerKeyChanged({ address, pinned: d.pinned, offered: link, kind: 'pin-link' });
  if (d.kind === 'pin') await savePins(d.pins);
}

/**
 * Handshake on an open transport; ServerKeyChanged when the pin refuses the key (`link`: the
 * invite link's fingerprint, named in the warning when it is what was pinned),
 * CLIENT_ERR_NOT_V4 for a v3 server.
 */
export async function openV4(
  transport: WorkerTransport,
  url: string,
  name: string,
  link?: string,
): Promise<V4ClientSession> {
  const key = await loadOrCreateV4Key();
  const address = pinAddress(url);
  let change: ServerKeyChange | undefined;
  try {
    return await V4ClientSession.open(transport, {
      key,
      name,
      checkServerKey: async (serverKey) => {
        const offered = await fingerprint(serverKey);
        const c = checkPin(await loadPins(), address, offered);
        if (c.kind === 'changed') {
          const kind = c.pinned === link ? 'link-server' : 'pin-server';
          change = { address, pinned: c.pinned, offered, kind };
          throw new V4Error('V4_ERR_PINNED_KEY_CHANGED', new ServerKeyChanged(change).message);
        }
        if (c.kind === 'pinned') await savePins(c.pins);
      },
    });
  } catch (e) {
    if (change) throw new ServerKeyChanged(change);
    throw e;
  }
}

function sourceOf(file: File): V4Source {
  return {
    name: v4FileName(file.name),
    size: file.size,
    // One record per BYOB read into one reused buffer (the sealer takes each record at once).
    openAt: (offset) =>
      readPieces(
        (offset === 0 ? file : file.slice(offset)).stream() as ReadableStream<Uint8Array>,
        RECORD_SIZE,
      ),
  };
}

type Done = Extract<FromWorker, { type: 'done' }>;

/** The code of an upload cut with the connection: the page's own cuts say why it cut. */
function cutCode(t: WorkerTransport): string {
  if (t.protocolError !== undefined) return 'CLIENT_ERR_PROTOCOL';
  return t.timedOut ? 'CLIENT_ERR_TIMEOUT' : 'CLIENT_ERR_CONNECTION_CLOSED';
}

/**
 * Sends `file` on `session`, resuming a kept upload of the same file (name, size,
 * lastModified) through the same bridge. Resolves the `done` message; `usable` says whether
 * the connection can carry the next file (false after a cut, a cancel or a fatal error).
 */
export async function uploadV4(
  session: V4ClientSession,
  transport: WorkerTransport,
  url: string,
  id: string,
  file: File,
  signal: AbortSignal,
  post: (msg: FromWorker) => void,
): Promise<{ done: Done; usable: boolean; told: boolean }> {
  // A cancel is said at once; the UploadAbort exchange behind it (the server first reads the
  // records already on their way) may take seconds on a slow link, and the next file waits.
  let told = false;
  const onAbort = () => {
    told = true;
    post({ type: 'done', id, outcome: 'cancelled', attempts: 0, protocol: 4 });
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const end = <T extends { done: Done; usable: boolean }>(r: T) => {
    signal.removeEventListener('abort', onAbort);
    return { ...r, told: told && r.done.outcome === 'cancelled' };
  };
  const server = pinAddress(url);
  const who = { name: file.name, size: file.size, lastModified: file.lastModified };
  const kept = await findKeptUpload(server, who).catch(() => undefined);
  let ids = kept ? { uploadId: kept.uploadId, fileKey: kept.fileKey } : {};
  let resume = kept !== undefined;
  let lastPost = 0;
  let latest: { sent: number; size: number } | undefined;
  // The record the server asked for first: what lies before it was sent by an earlier attempt.
  let resumedFrom = 0;
  const progress = (sent: number, size: number) => {
    if (signal.aborted) return; // said cancelled already
    lastPost = performance.now();
    post({
      type: 'progress',
      id,
      phase: sent >= size ? 'verifying' : 'sending',
      attempt: 1,
      bytesRead: sent,
      bytesSent: sent,
      size,
      inFlight: transport.bufferedAmount,
      ...(resumedFrom > 0 ? { resumedFrom } : {}),
    });
  };
  // Bytes the browser still holds drain after the last record: keep the bar honest meanwhile.
  const drain = setInterval(() => {
    if (latest && performance.now() - lastPost >= PROGRESS_INTERVAL_MS) progress(latest.sent, latest.size);
  }, PROGRESS_INTERVAL_MS);
  try {
    for (;;) {
      try {
        const r = await session.upload(sourceOf(file), {
          ...ids,
          resume,
          signal,
          onStarted: (u) => {
            resumedFrom = u.next;
            return keepUpload({ server, ...who, uploadId: u.uploadId, fileKey: u.fileKey }).catch(() => {});
          },
          onProgress: (sent, size) => {
            const first = latest === undefined;
            latest = { sent, size };
            if (first || sent >= size || performance.now() - lastPost >= PROGRESS_INTERVAL_MS)
              progress(sent, size);
          },
        });
        await forgetKeptUpload(server, who).catch(() => {});
        return end({
          usable: true,
          done: {
            type: 'done',
            id,
            outcome: 'verified',
            attempts: 1,
            protocol: 4,
            sha256: bytesToHex(r.sha256),
            storedName: r.storedName,
            resumedFrom: r.resumedFrom,
          },
        });
      } catch (e) {
        const wire = e instanceof ClientError ? e.details.wireCode : undefined;
        if (
          e instanceof ClientError &&
          e.code === 'CLIENT_ERR_V4_REFUSED' &&
          resume &&
          START_AGAIN.has(wire ?? 0)
        ) {
          await forgetKeptUpload(server, who).catch(() => {});
          post({
            type: 'notice',
            id,
            message: `${V4_ERROR_SENTENCES[wire as 10 | 11 | 12]} Sending it from the beginning.`,
          });
          ids = {};
          resume = false;
          latest = undefined;
          continue;
        }
        throw e;
      }
    }
  } catch (thrown) {
    // The page closed the connection itself: the server stopped answering, or the bridge broke the protocol.
    const e = transportFailure(thrown, transport);
    const err = e instanceof ClientError ? e : undefined;
    const wire = err?.code === 'CLIENT_ERR_V4_REFUSED' ? err.details.wireCode : undefined;
    const cancelled = err?.code === 'CLIENT_ERR_CANCELLED' || signal.aborted;
    // A cut connection keeps the upload for a resume; anything else ends it here. (A bridge
    // that broke the protocol keeps it too: what it sends must not make the page forget a resume.)
    const cut = !cancelled && wire === undefined && !transport.isOpen;
    // Taken over (18): another tab or run goes on with the kept upload; its IDs stay.
    if (!cut && wire !== V4ErrorCode.TakenOver) await forgetKeptUpload(server, who).catch(() => {});
    // The session sent UploadAbort: the server dropped the partial upload, the connection stays.
    if (cancelled)
      return end({
        usable: session.usable,
        done: { type: 'done', id, outcome: 'cancelled', attempts: 0, protocol: 4 } as Done,
      });
    return end({
      usable: wire !== undefined && !isFatalCode(wire),
      done: {
        type: 'done',
        id,
        outcome: 'failed',
        attempts: 1,
        protocol: 4,
        message: e instanceof Error ? e.message : String(e),
        // The page retries interrupted files by itself: a cut is "the connection closed"
        // (or the server stopped answering, our deadline's cut, said as such).
        code: cut ? cutCode(transport) : err?.code,
        v4Code: wire,
        ...(err?.details.serverReason ? { serverReason: err.details.serverReason } : {}),
      },
    });
  } finally {
    clearInterval(drain);
  }
}
