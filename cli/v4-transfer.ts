/**
 * The CLI's protocol v4 transfer: handshake with the pinned server key (known_servers), then
 * each file as a resumable upload. A cut connection is resumed within the run (a few tries
 * with backoff) and on a later run (v4-uploads.json); the server's SHA-256 is compared with
 * ours and printed. CLIENT_ERR_NOT_V4 from the first connection lets `--protocol auto` fall
 * back to version 3 on a new connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ClientError } from '../lib/client';
import { type Sha256, V4ClientSession, type V4Source } from '../lib/client/v4-session';
import { bytesToHex } from '../lib/crypto';
import { isFatalCode, RECORD_SIZE, V4ErrorCode } from '../lib/protocol/v4/constants';
import { fingerprint, type KeyPairWithRaw } from '../lib/v4/keys';
import { nodeRecordAead } from '../platform/node-gcm';
import type { AnswerDeadline } from './answer-deadline';
import type { ServerAddress } from './args';
import { describeAddress, openTransport, orTimeout } from './connect';
import { CliError, Interrupted } from './errors';
import { type LocalFile, readReusing } from './file-source';
import { formatTiming, jsonSeconds, type ProgressOutput, ProgressReporter } from './progress';
import { KeptUploads, KnownServers, keepV4Name, loadOrCreateV4Key, V4_NAME_FILE } from './v4-store';

/** Connection attempts per file after a cut (the first included). */
export const V4_TRIES = 4;
const BACKOFF_MS = [0, 500, 1500, 4000];
/** How long a failed handshake waits for the bridge's close code. */
const CLOSE_WAIT_MS = 2_000;
/** Errors after which the server still holds the upload: reconnect and resume. */
const RETRYABLE = new Set([
  'CLIENT_ERR_CONNECTION_CLOSED',
  'CLIENT_ERR_UNREACHABLE',
  'CLIENT_ERR_PROTOCOL',
  'CLIENT_ERR_TIMEOUT',
]);
/**
 * Refusals that pass by themselves: the server busy (at its connection cap) or the connection
 * too slow for it. Waited out like a cut: reconnect and resume (a minute's rate limit is not:
 * the backoff is seconds).
 */
const PASSING = new Set<number>([V4ErrorCode.Busy, V4ErrorCode.Timeout]);
const isPassing = (e: unknown): boolean =>
  e instanceof ClientError && e.code === 'CLIENT_ERR_V4_REFUSED' && PASSING.has(e.details.wireCode ?? 0);
/** The server no longer has (or never had) this upload: start it anew. */
const START_AGAIN = new Set<number>([
  V4ErrorCode.UploadExpired,
  V4ErrorCode.UnknownUpload,
  V4ErrorCode.UploadMismatch,
]);

export interface V4Plan {
  dir: string;
  server: ServerAddress;
  name: string;
  files: LocalFile[];
  json: boolean;
  /**
   * The invite: to a bridge in the WebSocket handshake (the bridge passes it on as TLV 0xE0),
   * over direct TCP in ClientAuth. `source` names where it came from, for messages.
   */
  invite?: { token: string; fingerprint?: string; source: string } | null;
  /** Called once the first connection is welcomed (the invite was taken: keep it). */
  onWelcomed?(): Promise<void>;
  /** The sentence for a close the bridge gave the handshake for its invite (4010-4013), or null. */
  bridgeRefusal?(closeCode: number | null): string | null;
  /** What to do after a file's refusal `e` (" Ask the owner for a new link..."), or "". */
  nextStep?(e: ClientError): string;
  /** --timeout: how long a server may keep us waiting (cli/answer-deadline.ts); default 120 s. */
  timeoutMs?: number;
}

export interface V4Io {
  stdout: { write(text: string): unknown };
  stderr: ProgressOutput;
  signal?: AbortSignal;
}

export function nodeSha256(): Sha256 {
  const h = createHash('sha256');
  return { update: (b) => h.update(b), digest: () => new Uint8Array(h.digest()) };
}

function sourceOf(file: LocalFile): V4Source {
  return {
    name: file.name,
    size: file.size,
    openAt: (offset) => readReusing(file.path, offset),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The line for a connection lost mid-upload, in one sentence: what ended it (when known) and
 * what happens next: a resume when the server took the upload, else a new start.
 */
export function lostLine(where: string, e: ClientError, fileName: string, resume: boolean): string {
  const next = resume ? `reconnecting to resume ${fileName}...` : `reconnecting to send ${fileName} again...`;
  if (e.code === 'CLIENT_ERR_CONNECTION_CLOSED') {
    const why = e.details.lostBecause ? ` (${e.details.lostBecause})` : '';
    return `The connection to ${where} was lost${why}; ${next}`;
  }
  // A reconnect that failed, or a broken answer: its own sentence says what happened.
  return `${e.message} ${next[0]!.toUpperCase()}${next.slice(1)}`;
}

/** Runs the transfer; resolves the exit status (0 all stored, 1 a file failed). */
export async function transferV4(plan: V4Plan, io: V4Io): Promise<number> {
  const say = (text: string) => io.stderr.write(`${text}\n`);
  const where = describeAddress(plan.server);
  const known = new KnownServers(plan.dir);
  const kept = new KeptUploads(plan.dir, say);
  const { key, created } = await loadOrCreateV4Key(plan.dir);
  if (created) say(`Made a new protocol v4 identity in ${plan.dir} (v4.key).`);

  let session: V4ClientSession | null = null;
  let first = true;
  const invite = plan.invite ?? null;
  const viaBridge = plan.server.kind === 'ws';
  const expected =
    invite?.fingerprint !== undefined ? { fingerprint: invite.fingerprint, from: invite.source } : undefined;
  const refusedForNow = (e: Error) => `The server at ${where} refused for now (${e.message})`;
  // The connection of `session`: when its deadline closed it, the error says so.
  let transport: AnswerDeadline | null = null;
  const connect = async (): Promise<V4ClientSession> => {
    transport = await openTransport(plan.server, {
      ...(viaBridge ? { invite: invite?.token } : {}),
      ...(plan.timeoutMs !== undefined ? { timeoutMs: plan.timeoutMs } : {}),
    });
    const t = transport;
    let s: V4ClientSession;
    try {
      s = await V4ClientSession.open(transport, {
        key: key as KeyPairWithRaw,
        name: plan.name,
        ...(!viaBridge && invite ? { invite: invite.token } : {}),
        checkServerKey: async (serverKey) => {
          const how = await known.check(where, serverKey, expected);
          const fp = await fingerprint(serverKey);
          if (how === 'pinned') say(`Pinned the key of ${where} on first use: ${fp}.`);
          if (how === 'matched')
            say(`The key of ${where} is the one ${invite?.source} names; pinned it: ${fp}.`);
        },
      });
    } catch (e) {
      // Our deadline closed it: not a server without version 4 (no fallback), a timeout.
      if (t.timedOut) throw orTimeout(e, t);
      // A handshake the bridge refused for its invite opens, then closes with 4010-4013 (a
      // send can fail as the close frame arrives, before the close code is known).
      if (!viaBridge || !plan.bridgeRefusal) throw e;
      await Promise.race([t.whenClosed?.(), sleep(CLOSE_WAIT_MS)]);
      const refused = plan.bridgeRefusal(t.closeCode ?? null);
      if (refused !== null)
        throw new ClientError('CLIENT_ERR_V4_REFUSED', refused, { wireCode: 0 }, { cause: e });
      throw e;
    }
    if (first) {
      say(`Connected to ${where} with protocol 4${s.registered ? ' (registered this key)' : ''}.`);
      if (await keepV4Name(plan.dir, plan.name))
        say(
          `Kept the name "${plan.name}" with this key in ${path.join(plan.dir, V4_NAME_FILE)}: later runs need no --name.`,
        );
      await plan.onWelcomed?.();
    }
    first = false;
    return s;
  };
  const onAbort = () => void session?.close();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  let failed = 0;
  try {
    // The first connection decides the protocol: NOT_V4 propagates for the fallback. A
    // server busy for now is waited out as later connections are (sendOne).
    for (let attempt = 0; ; attempt++) {
      try {
        session = await connect();
        break;
      } catch (e) {
        if (!isPassing(e) || attempt + 1 >= V4_TRIES) throw e;
        say(`${refusedForNow(e as Error)}; trying again...`);
        await sleep(BACKOFF_MS[attempt + 1] ?? 4000);
      }
    }
    for (const [i, file] of plan.files.entries()) {
      const result = await sendOne(file);
      if (result !== 'stored') failed++;
      // The tries of one file went to a server that was cut, silent or busy every time: the
      // next files would get as many each (4 x --timeout a file for a server that went quiet),
      // so they are not sent, as protocol 3 does once its connection is gone.
      if (result === 'gave-up') {
        const rest = plan.files.slice(i + 1);
        if (rest.length > 0)
          say(
            `The server at ${where} could not be used in ${V4_TRIES} tries: not sending the other ${rest.length} file${rest.length === 1 ? '' : 's'}.`,
          );
        for (const other of rest) {
          failed++;
          writeFailed(other, 'not-sent', 'not sent');
        }
        break;
      }
    }
    return failed === 0 ? 0 : 1;
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    await session?.close();
  }

  /** Drops the file's entry; a folder that cannot be written (full) is said, not fatal: the entry only costs a resume that starts again. */
  async function forgetKept(file: LocalFile): Promise<void> {
    await kept.forget(where, file.path).catch((e: unknown) => {
      if (!(e instanceof CliError)) throw e;
      say(`${e.message} Its entry for ${file.name} stays until a later run can remove it.`);
    });
  }

  /** The file's result line (JSON or for people) when it was not stored. */
  function writeFailed(file: LocalFile, status: 'failed' | 'not-sent', reason: string): void {
    if (plan.json)
      io.stdout.write(
        `${JSON.stringify({ name: file.name, path: file.path, size: file.size, status, crc: null, protocol: 4, reason })}\n`,
      );
    else io.stdout.write(`${file.name}  ${file.size} bytes  FAILED (${reason})\n`);
  }

  /** 'gave-up': every try was cut, timed out or refused for now (the server, not the file). */
  async function sendOne(file: LocalFile): Promise<'stored' | 'failed' | 'gave-up'> {
    const { mtimeMs } = await stat(file.path);
    const previous = await kept.find(where, file.path, file.size, mtimeMs);
    let ids = previous ?? {
      uploadId: new Uint8Array(randomBytes(16)),
      fileKey: new Uint8Array(randomBytes(32)),
    };
    let resume = previous !== null;
    if (resume) say(`Resuming the unfinished upload of ${file.name}.`);
    const started = performance.now();
    // Whether the server accepted this upload (then it holds its records: resume it).
    let accepted = false;
    for (let attempt = 0; attempt < V4_TRIES; ) {
      const reporter = new ProgressReporter(io.stderr, {
        retry: resume ? 'resume' : 'again',
        attempts: V4_TRIES,
        waitingFor: 'the server is checking its SHA-256',
      });
      try {
        await sleep(BACKOFF_MS[attempt] ?? 4000);
        session ??= await connect();
        // Ctrl-C during the wait or the connect (no session to close then): nothing more is sent.
        if (io.signal?.aborted) throw new ClientError('CLIENT_ERR_CANCELLED', 'Cancelled.');
        const r = await session.upload(sourceOf(file), {
          hash: nodeSha256,
          aead: nodeRecordAead,
          ...ids,
          resume,
          signal: io.signal,
          onStarted: async (u) => {
            accepted = true;
            // The folder full (or read-only): the file is still sent; only a later run
            // cannot resume it. This ended the run before, with the server holding the
            // upload's part for a day.
            await kept
              .keep({ server: where, path: file.path, size: file.size, mtimeMs, ...u })
              .catch((e: unknown) => {
                if (!(e instanceof CliError)) throw e;
                say(
                  `${e.message} Sending ${file.name} anyway: if this run is cut, a later run sends it from the beginning.`,
                );
              });
          },
          onProgress: (sent, size) =>
            reporter.update({
              fileName: file.name,
              phase: 'sending',
              attempt: attempt + 1,
              bytesRead: sent,
              bytesSent: sent,
              size,
            }),
        });
        reporter.finish();
        await forgetKept(file);
        const seconds = (performance.now() - started) / 1000;
        const sha256 = bytesToHex(r.sha256);
        if (plan.json) {
          io.stdout.write(
            `${JSON.stringify({ name: file.name, path: file.path, size: file.size, status: 'verified', crc: null, sha256, seconds: jsonSeconds(seconds), protocol: 4, resumedFrom: r.resumedFrom, storedAs: r.storedName })}\n`,
          );
        } else {
          // After a resume the speed is of what this run sent, not of the whole file.
          const kept = Math.min(r.resumedFrom * RECORD_SIZE, file.size);
          const from =
            r.resumedFrom > 0 ? `  (resumed at record ${r.resumedFrom}: the server had ${kept} bytes)` : '';
          const storedAs = r.storedName !== file.name ? `  stored as ${r.storedName}` : '';
          io.stdout.write(
            `${file.name}  ${file.size} bytes  SHA-256 ${sha256}  verified${formatTiming(file.size - kept, seconds)}${from}${storedAs}\n`,
          );
        }
        return 'stored';
      } catch (caught) {
        reporter.finish();
        const e = orTimeout(caught, transport);
        if (!(e instanceof ClientError)) throw e;
        if (e.code === 'CLIENT_ERR_CANCELLED' || io.signal?.aborted) {
          // The session was closed, not aborted: the server keeps what it has for a next run.
          const keptNow = (await kept.find(where, file.path, file.size, mtimeMs)) !== null;
          throw new Interrupted(file.name, keptNow, 4, { cause: e });
        }
        if (e.code === 'CLIENT_ERR_V4_REFUSED' && resume && START_AGAIN.has(e.details.wireCode ?? 0)) {
          say(`${e.message} Starting ${file.name} from the beginning.`);
          await forgetKept(file);
          ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
          resume = false;
          accepted = false;
          continue;
        }
        const passing = isPassing(e);
        const lost = RETRYABLE.has(e.code) || passing;
        if (lost && attempt + 1 < V4_TRIES) {
          // Refused or cut before the server took the upload: it holds nothing to resume.
          resume = resume || accepted;
          say(
            passing
              ? `${refusedForNow(e)}; trying again to send ${file.name}...`
              : lostLine(where, e, file.name, resume),
          );
          await session?.close();
          session = null;
          attempt++;
          continue;
        }
        // Only a non-fatal refusal leaves the connection usable for the next file.
        if (e.code !== 'CLIENT_ERR_V4_REFUSED' || isFatalCode(e.details.wireCode ?? 0)) {
          await session?.close();
          session = null;
        }
        say(`Error: ${e.message}${plan.nextStep?.(e) ?? ''}`);
        writeFailed(file, 'failed', e.message);
        return lost ? 'gave-up' : 'failed';
      }
    }
    return 'failed';
  }
}
