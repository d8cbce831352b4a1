/**
 * The protocol v4 client session over a Transport: the handshake (lib/v4), then uploads as
 * STREAMs of records with resume (docs/PROTOCOL.md, "Protocol version 4"). Runtime-neutral;
 * SHA-256 of the plaintext comes from an optional injected incremental hasher (WebCrypto has
 * none): without one the server's SHA-256 is reported as it is (the AEAD records already
 * prove every byte) and a resumed upload reads its file only from the server's next record.
 *
 *   open(): preamble + ClientHello -> ServerHello, ServerAuth (pin checked) -> ClientAuth -> Welcome
 *   upload(): UploadStart -> UploadReady(next) -> records next.. last -> UploadDone (SHA-256 compared)
 */

import { bytesEqual } from '../crypto/encoding';
import { escapeUnsafe } from '../protocol/name-chars';
import {
  FrameType,
  MessageType,
  PREAMBLE_SIZE,
  RECORD_SIZE,
  SERVER_TO_CLIENT_FRAMES,
  V4_ERROR_SENTENCES,
  V4ErrorCode,
} from '../protocol/v4/constants';
import { V4ProtocolError } from '../protocol/v4/errors';
import { FrameDecoder } from '../protocol/v4/frame-decoder';
import { encodeFrameHeader, type Frame } from '../protocol/v4/frames';
import { decodeAlert, type Message, type UploadDone } from '../protocol/v4/messages';
import { V4Error } from '../v4/errors';
import { ClientHandshake } from '../v4/handshake';
import type { KeyPairWithRaw } from '../v4/keys';
import type { Session } from '../v4/session';
import { type RecordAeadFactory, recordCount, StreamSealer } from '../v4/stream';
import { ClientError } from './errors';
import type { Transport } from './transport';
import { records } from './v4-records';

export interface V4Identity {
  key: KeyPairWithRaw;
  name: string;
}

export interface V4ConnectOptions extends V4Identity {
  invite?: string;
  /** The pin: throw V4Error V4_ERR_PINNED_KEY_CHANGED to refuse this server key. */
  checkServerKey(serverKey: Uint8Array): Promise<void> | void;
}

export interface V4Source {
  name: string;
  size: number;
  /**
   * The file's bytes from `offset` to its end, in chunks of any size. A chunk is valid until
   * the next is asked for (the source may read the next into the same buffer): upload()
   * hashes and seals each record, or copies it, before asking for more.
   */
  openAt(offset: number): AsyncIterable<Uint8Array>;
}

export interface Sha256 {
  update(bytes: Uint8Array): void;
  digest(): Uint8Array | Promise<Uint8Array>;
}

export interface V4UploadOptions {
  /** Hashes the whole file to compare with the server's SHA-256 (a resume reads it from 0 then). */
  hash?: () => Sha256;
  /** The record cipher (default WebCrypto; the CLI gives node:crypto's, cheaper per record). */
  aead?: RecordAeadFactory;
  /** The upload's ID and key: fresh for a new upload, the kept ones to resume. */
  uploadId?: Uint8Array;
  fileKey?: Uint8Array;
  resume?: boolean;
  /** Called once the server has accepted the upload, with what a later resume needs. */
  onStarted?(upload: { uploadId: Uint8Array; fileKey: Uint8Array; next: number }): void | Promise<void>;
  onProgress?(sent: number, total: number): void;
  signal?: AbortSignal;
}

export interface V4UploadResult {
  uploadId: Uint8Array;
  size: number;
  sha256: Uint8Array;
  storedName: string;
  /** The record the server wanted first (0 unless resumed). */
  resumedFrom: number;
  /** Whether our own SHA-256 was compared with the server's (a hasher was given). */
  hashChecked: boolean;
}

/** Seals in flight at once, so AES runs while the previous records are being sent. */
const SEALS_IN_FLIGHT = 8;
/**
 * Chunk frames per send(): through a bridge, one WebSocket message of about 1 MiB (as v3's
 * packets) instead of four of 256 KiB, a quarter of the messages Chromium, the bridge and
 * the server handle (the bridge takes up to 16 whole frames per message).
 */
export const CHUNKS_PER_SEND = 4;

/**
 * The server's refusal as a sentence. Its reason is the server's text (and an Alert's is in
 * the clear: anyone on the path can write one), so the characters lib/protocol/name-chars.ts
 * calls unsafe are escaped: an ESC, a C1 control or a bidi override in it reaches no terminal.
 */
function refused(code: number, serverReason: string, inTheClear = false): ClientError {
  const sentence = V4_ERROR_SENTENCES[code as V4ErrorCode] ?? `Error ${code}.`;
  const reason = escapeUnsafe(serverReason);
  return new ClientError(
    'CLIENT_ERR_V4_REFUSED',
    reason && reason !== sentence ? `${sentence} (${reason})` : sentence,
    {
      wireCode: code,
      ...(reason && reason !== sentence ? { serverReason: reason } : {}),
      ...(inTheClear ? { inTheClear } : {}),
    },
  );
}

const HTTP = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** A handshake answer that is not protocol 4 at all (an HTTP server, another service). */
function notV4Answer(e: V4ProtocolError, first: Uint8Array | null): ClientError {
  const http = first !== null && HTTP.every((b, i) => first[i] === b);
  const message = http
    ? 'The server answered in HTTP, not protocol 4: a web server or the bridge listens on that port, not the file server.'
    : `The server's answer is not protocol 4 (${e.message}) Is this the right server and port?`;
  return new ClientError('CLIENT_ERR_PROTOCOL', message, http ? { answeredHttp: true } : {}, { cause: e });
}

function fromV4(e: unknown): unknown {
  if (!(e instanceof V4Error)) return e;
  if (e.code === 'V4_ERR_PEER') return refused(e.wireCode, e.message, e.inTheClear);
  if (e.code === 'V4_ERR_PINNED_KEY_CHANGED')
    return new ClientError('CLIENT_ERR_SERVER_KEY_CHANGED', e.message, {}, { cause: e });
  return new ClientError('CLIENT_ERR_V4_HANDSHAKE', e.message, { wireCode: e.wireCode }, { cause: e });
}

/** The server's Error 11: it holds no upload under the ID (an abort of one already gone). */
const isUnknownUpload = (e: unknown) =>
  e instanceof ClientError &&
  e.code === 'CLIENT_ERR_V4_REFUSED' &&
  e.details.wireCode === V4ErrorCode.UnknownUpload;

export class V4ClientSession {
  readonly #transport: Transport;
  readonly #decoder: FrameDecoder;
  readonly #frames: Frame[];
  readonly #session: Session;
  readonly clientId: Uint8Array;
  readonly registered: boolean;
  readonly maxFileSize: number;
  readonly serverKey: Uint8Array;
  #closed = false;

  private constructor(
    t: Transport,
    decoder: FrameDecoder,
    frames: Frame[],
    est: {
      session: Session;
      welcome: { clientId: Uint8Array; registered: boolean; maxFileSize: number };
      serverKey: Uint8Array;
    },
  ) {
    this.#transport = t;
    this.#decoder = decoder;
    this.#frames = frames;
    this.#session = est.session;
    this.clientId = est.welcome.clientId;
    this.registered = est.welcome.registered;
    this.maxFileSize = est.welcome.maxFileSize;
    this.serverKey = est.serverKey;
  }

  /** Runs the handshake on a fresh connection. CLIENT_ERR_NOT_V4 when the server speaks only v3. */
  static async open(transport: Transport, opts: V4ConnectOptions): Promise<V4ClientSession> {
    const decoder = new FrameDecoder({ allowed: SERVER_TO_CLIENT_FRAMES });
    const frames: Frame[] = [];
    const hs = new ClientHandshake({
      identity: opts.key,
      name: opts.name,
      invite: opts.invite,
      checkServerKey: opts.checkServerKey,
    });
    let first = true;
    let firstChunk: Uint8Array | null = null;
    try {
      // Two sends: over a WebSocket each is one message, and the bridge wants the preamble alone.
      const first23 = await hs.start();
      await transport.send([first23.subarray(0, PREAMBLE_SIZE)]);
      await transport.send([first23.subarray(PREAMBLE_SIZE)]);
      for (;;) {
        while (frames.length === 0) {
          const chunk = await transport.receive();
          if (chunk === null) {
            throw first
              ? new ClientError(
                  'CLIENT_ERR_NOT_V4',
                  'The server closed the connection without answering version 4.',
                )
              : new ClientError(
                  'CLIENT_ERR_CONNECTION_CLOSED',
                  'The server closed the connection during the handshake.',
                );
          }
          if (first && chunk.length > 0) {
            first = false;
            firstChunk = chunk;
            // A version 3 server's answer (1607): its code says so (a close before any byte has none).
            if (chunk[0] === 3)
              throw new ClientError('CLIENT_ERR_NOT_V4', 'The server speaks protocol version 3 only.', {
                ...(chunk.length >= 3 ? { responseCode: chunk[1]! | (chunk[2]! << 8) } : {}),
              });
          }
          frames.push(...decoder.push(chunk));
        }
        const step = await hs.onFrame(frames.shift()!);
        if (step.send) await transport.send([step.send]);
        if (step.done) return new V4ClientSession(transport, decoder, frames, step.done);
      }
    } catch (e) {
      transport.close();
      if (e instanceof V4ProtocolError) throw notV4Answer(e, firstChunk);
      throw e instanceof ClientError ? e : fromV4(e);
    }
  }

  async #nextFrame(): Promise<Frame> {
    while (this.#frames.length === 0) {
      const chunk = await this.#transport.receive();
      if (chunk === null) {
        this.#closed = true;
        throw new ClientError('CLIENT_ERR_CONNECTION_CLOSED', 'The server closed the connection.');
      }
      try {
        this.#frames.push(...this.#decoder.push(chunk));
      } catch (e) {
        throw new ClientError('CLIENT_ERR_PROTOCOL', (e as Error).message, {}, { cause: e });
      }
    }
    return this.#frames.shift()!;
  }

  /** The next message; a fatal Error or an Alert throws CLIENT_ERR_V4_REFUSED, a non-fatal Error too. */
  async #nextMessage(): Promise<Message> {
    const frame = await this.#nextFrame();
    let m: Message;
    try {
      if (frame.type === FrameType.Alert) {
        // After the handshake the server seals its errors; an Alert in the clear carries no
        // key, so anyone on the path (the bridge included) can write one. Its code decides
        // nothing (an "upload expired" would make us forget a resume and leave the server's
        // part orphaned): the connection is taken as lost, to be reconnected and resumed.
        const a = decodeAlert(frame.body);
        this.#closed = true;
        const said = escapeUnsafe(a.reason);
        throw new ClientError(
          'CLIENT_ERR_CONNECTION_CLOSED',
          `The connection was closed by an unauthenticated Alert ${a.code}${said ? ` (${said})` : ''}.`,
          { lostBecause: `an unauthenticated Alert ${a.code}` },
        );
      }
      m = await this.#session.open(frame.body);
    } catch (e) {
      throw e instanceof ClientError ? e : fromV4(e);
    }
    if (m.type === MessageType.Error) throw refused(m.code, m.reason);
    return m;
  }

  async #send(m: Message): Promise<void> {
    await this.#transport.send([await this.#session.seal(m)]);
  }

  /**
   * Gives up an unfinished upload the server keeps (UploadAbort): it removes what it holds of
   * it. False when it held nothing under this ID (Error 11: stored, removed or expired already).
   */
  async abandon(uploadId: Uint8Array): Promise<boolean> {
    if (this.#closed) throw new ClientError('CLIENT_ERR_SESSION_CLOSED', 'The connection is closed.');
    await this.#send({ type: MessageType.UploadAbort, uploadId });
    const m = await this.#nextMessage().catch((e: unknown) => {
      if (isUnknownUpload(e)) return null;
      throw e;
    });
    if (m === null) return false;
    if (m.type !== MessageType.UploadAborted || !bytesEqual(m.uploadId, uploadId))
      throw new ClientError('CLIENT_ERR_UNEXPECTED_RESPONSE', 'The server did not answer the abort.');
    return true;
  }

  /** Sends one file (or resumes it); resolves once the server stored it and the SHA-256s agree. */
  async upload(source: V4Source, opts: V4UploadOptions): Promise<V4UploadResult> {
    if (this.#closed) throw new ClientError('CLIENT_ERR_SESSION_CLOSED', 'The connection is closed.');
    const uploadId = opts.uploadId ?? globalThis.crypto.getRandomValues(new Uint8Array(16));
    const fileKey = opts.fileKey ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
    await this.#send({
      type: MessageType.UploadStart,
      uploadId,
      resume: opts.resume ?? false,
      fileKey,
      size: source.size,
      recordSize: RECORD_SIZE,
      name: source.name,
    });
    const ready = await this.#nextMessage();
    // A resume of a file the server stored already (the connection broke before its
    // UploadDone was read): nothing to send; the hash is checked as after a whole upload.
    if (ready.type === MessageType.UploadDone && opts.resume && bytesEqual(ready.uploadId, uploadId))
      return this.#storedAlready(source, ready, uploadId, opts);
    if (ready.type !== MessageType.UploadReady || !bytesEqual(ready.uploadId, uploadId))
      throw new ClientError('CLIENT_ERR_UNEXPECTED_RESPONSE', 'The server did not answer the upload.');
    const next = ready.nextRecord;
    await opts.onStarted?.({ uploadId, fileKey, next });

    // The answer may come early (a refused record, a full disk): stop sending then.
    let answered = false;
    const answer = this.#nextMessage().finally(() => {
      answered = true;
    });
    answer.catch(() => {});
    const hash = opts.hash?.();
    const sealer = new StreamSealer({
      fileKey,
      binding: this.#session.binding,
      uploadId,
      size: source.size,
      aead: opts.aead,
    });
    // Keys first: then each seal takes its record at once and the source may reuse its buffer.
    await sealer.ready();
    const pending: Promise<readonly Uint8Array[]>[] = [];
    // The oldest sealed records, up to CHUNKS_PER_SEND of them, in one send().
    const flush = async () => {
      const parts: Uint8Array[] = [];
      for (let n = 0; n < CHUNKS_PER_SEND && pending.length > 0; n++) {
        const body = await pending.shift()!;
        let length = 0;
        for (const part of body) length += part.length;
        parts.push(encodeFrameHeader(FrameType.Chunk, length), ...body);
      }
      await this.#transport.send(parts);
    };
    // Without a hasher nothing before `next` is needed: read from there.
    let index = hash ? 0 : next;
    let sent = next * RECORD_SIZE;
    try {
      for await (const record of records(
        source.openAt(index * RECORD_SIZE),
        source.size - index * RECORD_SIZE,
      )) {
        hash?.update(record);
        if (index >= next) {
          if (answered) break;
          if (opts.signal?.aborted) throw new ClientError('CLIENT_ERR_CANCELLED', 'Cancelled.');
          pending.push(sealer.sealParts(index, record));
          if (pending.length >= SEALS_IN_FLIGHT) await flush();
          sent += record.length;
          opts.onProgress?.(Math.min(sent, source.size), source.size);
        }
        index++;
      }
      while (pending.length > 0 && !answered) await flush();
    } catch (e) {
      if (e instanceof RangeError)
        throw new ClientError('CLIENT_ERR_SOURCE', `"${source.name}" changed while being sent: ${e.message}`);
      if (e instanceof ClientError && e.code === 'CLIENT_ERR_CANCELLED' && !answered)
        await this.#abort(uploadId, answer);
      throw e;
    }
    const done = (await answer) as UploadDone;
    if (done.type !== MessageType.UploadDone)
      throw new ClientError('CLIENT_ERR_UNEXPECTED_RESPONSE', 'The server did not confirm the upload.');
    const ours = hash ? await hash.digest() : done.sha256;
    if (!bytesEqual(ours, done.sha256) || done.size !== source.size)
      throw new ClientError(
        'CLIENT_ERR_HASH_MISMATCH',
        'The SHA-256 the server reports differs from the file sent.',
      );
    return {
      uploadId,
      size: done.size,
      sha256: done.sha256,
      storedName: done.storedName,
      resumedFrom: next,
      hashChecked: hash !== undefined,
    };
  }

  async #storedAlready(
    source: V4Source,
    done: UploadDone,
    uploadId: Uint8Array,
    opts: V4UploadOptions,
  ): Promise<V4UploadResult> {
    const hash = opts.hash?.();
    if (hash) for await (const record of records(source.openAt(0), source.size)) hash.update(record);
    const ours = hash ? await hash.digest() : done.sha256;
    if (!bytesEqual(ours, done.sha256) || done.size !== source.size)
      throw new ClientError(
        'CLIENT_ERR_HASH_MISMATCH',
        'The SHA-256 the server reports differs from the file sent.',
      );
    opts.onProgress?.(source.size, source.size);
    return {
      uploadId,
      size: done.size,
      sha256: done.sha256,
      storedName: done.storedName,
      resumedFrom: recordCount(source.size),
      hashChecked: hash !== undefined,
    };
  }

  /** False once the connection is closed or its state is unknown (then open a new one). */
  get usable(): boolean {
    return !this.#closed;
  }

  /**
   * UploadAbort after a cancel: the server removes the partial upload and answers
   * UploadAborted (records still in flight are dropped), so the connection stays usable.
   * Any other outcome leaves it closed. A session closed before (close()) sends no abort.
   */
  async #abort(uploadId: Uint8Array, answer: Promise<Message>): Promise<void> {
    // Closed already (the CLI's Ctrl-C closes first): nothing more is sent, and the server
    // keeps the upload for a resume.
    if (this.#closed) return;
    try {
      await this.#send({ type: MessageType.UploadAbort, uploadId });
      const m = await answer;
      if (m.type === MessageType.UploadAborted) return;
      if (m.type === MessageType.UploadDone) {
        // Stored before the abort arrived: the abort's own answer follows (Error 11 now,
        // UploadAborted from a server before it), and must not be read as the next upload's.
        const after = await this.#nextMessage().catch((e: unknown) => (isUnknownUpload(e) ? null : e));
        if (after === null || (after as Message).type === MessageType.UploadAborted) return;
      }
    } catch {
      // fall through: the connection's state is unknown
    }
    await this.close();
  }

  /** Says Bye and closes. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#send({ type: MessageType.Bye }).catch(() => {});
    }
    this.#transport.close();
  }
}
