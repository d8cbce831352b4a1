/**
 * The upload worker's protocol v3 file send: lib/client's sendFile (AES-256-CBC, cksum, CRC
 * retries) with progress messages, including while the browser drains what it accepted.
 */
import { ClientError } from '../lib/client/errors';
import type { ClientSession } from '../lib/client/session';
import type { SendProgress } from '../lib/client/types';
import { fileSource } from './file-source';
import { transportFailure, type WorkerTransport } from './page-transport';
import type { FromWorker } from './upload-protocol';

/** Progress messages at most this often (plus every phase change). */
const PROGRESS_INTERVAL_MS = 100;

type Done = Extract<FromWorker, { type: 'done' }>;

/** Sends `file` on a v3 session; resolves the `done` message (never rejects). */
export async function uploadV3(
  session: ClientSession,
  transport: WorkerTransport,
  aesKey: Uint8Array,
  id: string,
  file: File,
  signal: AbortSignal,
  post: (msg: FromWorker) => void,
): Promise<Done> {
  let lastPost = 0;
  let latest: SendProgress | undefined;
  const send = (p: SendProgress) => {
    lastPost = performance.now();
    post({ type: 'progress', id, ...p, inFlight: transport.bufferedAmount });
  };
  // The browser may still hold bytes it accepted (up to the high-water mark); keep reporting
  // while they drain, so the bar shows what really left, also while the server is verifying.
  const drain = setInterval(() => {
    if (latest && performance.now() - lastPost >= PROGRESS_INTERVAL_MS) send(latest);
  }, PROGRESS_INTERVAL_MS);
  try {
    const result = await session.sendFile(fileSource(file), aesKey, {
      signal,
      onProgress: (p) => {
        const phaseChanged = p.phase !== latest?.phase;
        latest = p;
        if (phaseChanged || performance.now() - lastPost >= PROGRESS_INTERVAL_MS) send(p);
      },
    });
    return {
      type: 'done',
      id,
      outcome: 'verified',
      attempts: result.attempts,
      cksum: result.cksum,
      serverCksum: result.serverCksum,
    };
  } catch (thrown) {
    // The page closed the connection itself: the server stopped answering, or the bridge broke the protocol.
    const e = transportFailure(thrown, transport);
    const err = e instanceof ClientError ? e : undefined;
    if (err?.code === 'CLIENT_ERR_CANCELLED' || signal.aborted)
      return { type: 'done', id, outcome: 'cancelled', attempts: 0 };
    return {
      type: 'done',
      id,
      outcome: 'failed',
      attempts: err?.details.attempts ?? 0,
      cksum: err?.details.cksum,
      serverCksum: err?.details.serverCksum,
      message: e instanceof Error ? e.message : String(e),
      code: err?.code,
    };
  } finally {
    clearInterval(drain);
  }
}
