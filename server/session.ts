/**
 * One TCP connection: bytes -> frame decoder -> one handler per request code, strictly one
 * request after another. The socket is paused while a handler is busy (storing a file) or
 * while the upload's write buffer is full, so memory stays bounded by one frame plus that
 * buffer.
 *
 * Errors: a framing error (bad version or code, declared payload over the limit) gets 1607
 * and the connection is closed, since the byte stream can no longer be trusted. An error
 * inside a well-formed request gets 1607 (1601 for 1025, nothing for 1030) and the
 * connection stays usable.
 *
 * A failed 1028 file gets one 1607; its remaining packets (same file name) are then dropped
 * silently, so a client that only reads after its last packet sees exactly one answer. Any
 * other request, a packet of another file, or one that restarts the numbering (0 or 1, not
 * above the highest number dropped) ends that.
 */
import type { Socket } from 'node:net';
import {
  clientIdEquals,
  clientIdToHex,
  decodeRequest,
  encodeResponse,
  ProtocolError,
  REQUEST_HEADER_SIZE,
  RequestCode,
  type RequestHeader,
  type Response,
  ResponseCode,
  SEND_FILE_FIXED_SIZE,
  type SendFileRequest,
} from '../lib/protocol';
import { type KeyGrant, reconnect, register, sendPublicKey } from './client-handlers';
import type { ServerConfig } from './config';
import type { ServerDatabase } from './db';
import { ServerError } from './errors';
import { discardFile, storeUpload, verifyFile } from './file-handlers';
import { type FrameEvent, FrameReader, FrameReaderError } from './frame-reader';
import type { Logger, RequestLogEntry } from './log';
import type { Storage } from './storage';
import { Upload } from './upload';
import type { SequenceLimits } from './upload-sequence';

export interface SessionContext {
  db: ServerDatabase;
  storage: Storage;
  config: ServerConfig;
  log: Logger;
}

/** Unsent response bytes above which reading pauses until the peer reads. */
const RESPONSE_BUFFER_LIMIT = 64 * 1024;
/** LastSeen is written at most this often during a file's packets (every other request writes it). */
const LAST_SEEN_INTERVAL_MS = 1000;
/** Slowest delivery (bytes/s) of a request's payload allowed on top of the idle timeout. */
const MIN_REQUEST_RATE = 64 * 1024;
/** After a framing error, how long the peer gets to read our 1607 before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

interface UploadState {
  upload: Upload;
  clientId: Uint8Array;
  startedAt: number;
  bytes: number;
  packets: number;
}

function errorCode(e: unknown): string {
  if (e instanceof ServerError || e instanceof ProtocolError) return e.code;
  return 'SERVER_ERR_INTERNAL';
}

const iso = () => new Date().toISOString();

/** A request is complete: the events after it belong to the next one. */
const isRequestEnd = (e: FrameEvent) => e.type === 'frame' || e.type === 'file-end';

/** Key of the #tokens map: which upload of a name this connection stored. */
const tokenKey = (clientId: Uint8Array, fileName: string) => `${clientIdToHex(clientId)}/${fileName}`;

export class Session {
  readonly #socket: Socket;
  readonly #ctx: SessionContext;
  readonly #reader: FrameReader;
  readonly #limits: SequenceLimits;
  readonly #queue: FrameEvent[] = [];
  /** Work the socket waits for; timeouts do not apply while `#serverBusy`. */
  #busy: Promise<void> | null = null;
  #serverBusy = false;
  #closed = false;
  readonly #cleanups: Promise<void>[] = [];
  /** The AES key this connection received (1602/1605) and the client it was issued to. */
  #key: { aesKey: Buffer; clientId: Uint8Array } | null = null;
  #name: string | undefined;
  #upload: UploadState | null = null;
  /** The 1028 packet whose content is arriving: used for the file, or skipped after an error. */
  #packet: { use: false } | { use: true; header: RequestHeader; req: SendFileRequest } | null = null;
  #discard: { fileName: string; lastNumber: number } | null = null;
  /** `${clientHex}/${fileName}` -> token of the upload this connection stored under that name. */
  readonly #tokens = new Map<string, string>();
  #lastTouch = 0;
  #lastActivity = Date.now();
  /** When the frame now being received started (or the previous one completed). */
  #frameSince: number | null = null;
  readonly peer: string;

  constructor(socket: Socket, ctx: SessionContext) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#reader = new FrameReader(ctx.config.maxPayload);
    this.#limits = {
      maxFileSize: ctx.config.maxFileSize,
      maxContentPerPacket: ctx.config.maxPayload - SEND_FILE_FIXED_SIZE,
    };
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {}); // 'close' follows; a reset peer is not our error
    socket.on('close', () => this.close('peer closed'));
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    const now = Date.now();
    this.#lastActivity = now;
    let events: FrameEvent[];
    try {
      events = this.#reader.push(chunk);
    } catch (e) {
      // Requests already complete in this chunk are dropped too: the stream is untrustworthy.
      if (e instanceof FrameReaderError) this.#fatal(e.protocolError, e.header);
      else this.#fatal(e, null);
      return;
    }
    // The clock of a request starts with its first byte and stops when it is complete; a
    // slice of a packet's content is not progress (else 2 bytes/s would hold a slot forever).
    if (this.#reader.idle) this.#frameSince = null;
    else if (this.#frameSince === null || events.some(isRequestEnd)) this.#frameSince = now;
    for (const ev of events) this.#queue.push(ev);
    this.#pump();
  }

  #pump(): void {
    while (this.#busy === null && !this.#closed && this.#queue.length > 0) {
      const event = this.#queue.shift()!;
      let wait = this.#handle(event);
      if (!wait && this.#socket.writableLength > RESPONSE_BUFFER_LIMIT) wait = this.#socketDrained();
      if (wait) this.#waitFor(wait);
    }
  }

  #waitFor(work: Promise<void>): void {
    this.#socket.pause();
    const p = work
      .catch(() => {})
      .finally(() => {
        this.#busy = null;
        this.#serverBusy = false;
        if (this.#closed) return;
        // Time spent waiting for our own disk does not count against the peer's request.
        if (this.#frameSince !== null) this.#frameSince = Date.now();
        this.#socket.resume();
        this.#pump();
      });
    this.#busy = p;
  }

  #socketDrained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
    });
  }

  #send(res: Response): number {
    if (!this.#closed && this.#socket.writable) this.#socket.write(encodeResponse(res));
    return res.code;
  }

  #logRequest(header: RequestHeader | null, entry: Omit<RequestLogEntry, 'client' | 'code' | 'peer'>): void {
    this.#ctx.log.request({
      client: header ? clientIdToHex(header.clientId) : '',
      ...(this.#name !== undefined ? { name: this.#name } : {}),
      code: header ? header.code : 0,
      peer: this.peer,
      ...entry,
    });
  }

  /** Framing error: 1607, then close. */
  #fatal(e: unknown, header: RequestHeader | null, bytes = 0, t0 = performance.now()): void {
    this.#send({ code: ResponseCode.ServerError });
    this.#logRequest(header, {
      result: ResponseCode.ServerError,
      bytes,
      ms: performance.now() - t0,
      error: errorCode(e),
    });
    this.close('framing error');
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Handles one event; returns a promise when the socket must wait for it. Never throws. */
  #handle(ev: FrameEvent): Promise<void> | undefined {
    switch (ev.type) {
      case 'file-start':
        this.#onFileStart(ev.header, ev.fixed, ev.contentLength);
        return;
      case 'file-content':
        return this.#onFileContent(ev.chunk);
      case 'file-end':
        return this.#onFileEnd();
      case 'frame':
        break;
    }
    const { header, payload } = ev;
    const t0 = performance.now();
    const bytes = REQUEST_HEADER_SIZE + payload.length;
    if (header.code === RequestCode.SendFile) {
      // A 1028 too short for its fixed part: decoding fails, the file fails.
      this.#onFileStart(header, payload, 0);
      return this.#onFileEnd();
    }
    this.#discard = null;
    if (this.#upload) {
      this.#abortUpload(
        new ServerError('SERVER_ERR_UPLOAD_SEQUENCE', 'Another request interrupted the file.'),
      );
    }
    this.#onRequest(header, payload, t0, bytes);
    return;
  }

  #grant(g: KeyGrant): void {
    if (g.key) this.#key = g.key;
    if (g.name !== undefined) this.#name = g.name;
  }

  #touch(clientId: Uint8Array): void {
    this.#ctx.db.touch(clientId, iso());
    this.#lastTouch = Date.now();
  }

  /** Every request but 1028. */
  #onRequest(header: RequestHeader, payload: Uint8Array, t0: number, bytes: number): void {
    const { db, storage } = this.#ctx;
    let result: number | null = null;
    let error: string | undefined;
    let file: string | undefined;
    try {
      const req = decodeRequest(header, payload);
      const now = iso();
      switch (req.code) {
        case RequestCode.Register: {
          const g = register(db, req, now);
          result = this.#send(g.response);
          error = g.error;
          break;
        }
        case RequestCode.SendPublicKey: {
          const g = sendPublicKey(db, req, now);
          this.#grant(g);
          result = this.#send(g.response);
          break;
        }
        case RequestCode.Reconnect: {
          const g = reconnect(db, req, now);
          this.#grant(g);
          result = this.#send(g.response);
          error = g.error;
          break;
        }
        case RequestCode.CrcOk:
          file = req.fileName;
          this.#touch(req.clientId);
          result = this.#send(
            verifyFile(
              db,
              req.clientId,
              req.fileName,
              this.#tokens.get(tokenKey(req.clientId, req.fileName)),
            ),
          );
          break;
        case RequestCode.CrcRetry:
        case RequestCode.CrcAbort: {
          file = req.fileName;
          this.#touch(req.clientId);
          const key = tokenKey(req.clientId, req.fileName);
          discardFile(db, storage, req.clientId, req.fileName, this.#tokens.get(key));
          this.#tokens.delete(key);
          if (req.code === RequestCode.CrcAbort)
            result = this.#send({ code: ResponseCode.Thanks, clientId: req.clientId });
          break;
        }
        default:
          throw new ServerError('SERVER_ERR_INTERNAL', `Unhandled request code ${req.code}.`);
      }
    } catch (e) {
      error = errorCode(e);
      if (header.code === RequestCode.Register) result = this.#send({ code: ResponseCode.RegisterFailed });
      else if (header.code !== RequestCode.CrcRetry) result = this.#send({ code: ResponseCode.ServerError });
      if (error === 'SERVER_ERR_INTERNAL')
        this.#ctx.log.event('internal-error', { message: (e as Error).message });
    }
    this.#logRequest(header, {
      result,
      bytes,
      ms: performance.now() - t0,
      ...(error ? { error } : {}),
      ...(file !== undefined ? { file } : {}),
    });
  }

  /**
   * 1028 header and fixed part: checks the packet against the connection's key and the
   * file in progress (the first packet starts it). Its content follows as file-content
   * events; `#packet` says whether to use or skip them.
   */
  #onFileStart(header: RequestHeader, fixed: Uint8Array, contentLength: number): void {
    const t0 = performance.now();
    const bytes = REQUEST_HEADER_SIZE + fixed.length + contentLength;
    this.#packet = { use: false };
    let req: SendFileRequest;
    try {
      req = decodeRequest(header, fixed) as SendFileRequest;
    } catch (e) {
      this.#uploadFailed(header, e, null, bytes, t0);
      return;
    }
    const d = this.#discard;
    if (d) {
      // A packet numbered 0 or 1, not above the highest dropped so far, restarts the file.
      const restart = req.packetNumber <= 1 && req.packetNumber <= d.lastNumber;
      if (req.fileName === d.fileName && !restart) {
        d.lastNumber = Math.max(d.lastNumber, req.packetNumber);
        return;
      }
      this.#discard = null;
    }
    let u = this.#upload;
    try {
      if (!u) {
        if (!this.#key) {
          throw new ServerError(
            'SERVER_ERR_NO_KEY',
            'This connection has no AES key; send the public key (1026) or reconnect (1027) first.',
          );
        }
        if (!clientIdEquals(header.clientId, this.#key.clientId)) {
          throw new ServerError(
            'SERVER_ERR_CLIENT_MISMATCH',
            "The packet's client ID is not the one this connection's key was issued to.",
          );
        }
        const upload = new Upload(req, this.#key.aesKey, this.#ctx.storage.newTempPath(), this.#limits);
        u = this.#upload = { upload, clientId: this.#key.clientId, startedAt: t0, bytes: 0, packets: 0 };
      } else if (!clientIdEquals(header.clientId, u.clientId)) {
        throw new ServerError(
          'SERVER_ERR_CLIENT_MISMATCH',
          "The packet's client ID changed in the middle of a file.",
        );
      }
      u.bytes += bytes;
      u.packets++;
      if (t0 - this.#lastTouch > LAST_SEEN_INTERVAL_MS) this.#touch(u.clientId);
      u.upload.beginPacket(req, contentLength);
      this.#packet = { use: true, header, req };
    } catch (e) {
      this.#uploadFailed(header, e, req, bytes, t0);
    }
  }

  #onFileContent(chunk: Uint8Array): Promise<void> | undefined {
    const p = this.#packet;
    const u = this.#upload;
    if (!p?.use || !u) return;
    try {
      u.upload.addContent(chunk);
    } catch (e) {
      this.#uploadFailed(p.header, e, p.req, 0, performance.now());
      return;
    }
    return this.#writeRoom(u);
  }

  #onFileEnd(): Promise<void> | undefined {
    const p = this.#packet;
    this.#packet = null;
    const u = this.#upload;
    if (!p?.use || !u) return;
    try {
      if (u.upload.endPacket()) {
        this.#serverBusy = true;
        return this.#finishUpload(p.header, u, p.req);
      }
    } catch (e) {
      this.#uploadFailed(p.header, e, p.req, 0, performance.now());
      return;
    }
    return this.#writeRoom(u);
  }

  /** A promise while the upload's write buffer is full (the socket pauses meanwhile). */
  #writeRoom(u: UploadState): Promise<void> | undefined {
    if (!u.upload.needsDrain) return;
    this.#serverBusy = true;
    return u.upload.drained();
  }

  async #finishUpload(header: RequestHeader, u: UploadState, req: SendFileRequest): Promise<void> {
    try {
      const result = await u.upload.finish();
      if (this.#closed)
        throw new ServerError(
          'SERVER_ERR_UPLOAD_ABORTED',
          'The connection closed before the file was stored.',
        );
      const stored = storeUpload(this.#ctx.db, this.#ctx.storage, u.clientId, req.fileName, result, iso());
      this.#upload = null;
      this.#touch(u.clientId);
      this.#tokens.set(tokenKey(u.clientId, req.fileName), stored.token);
      const code = this.#send({
        code: ResponseCode.FileReceived,
        clientId: u.clientId,
        contentSize: req.contentSize,
        fileName: req.fileName,
        cksum: result.cksum,
      });
      this.#logRequest(header, {
        result: code,
        bytes: u.bytes,
        ms: performance.now() - u.startedAt,
        file: req.fileName,
        packets: u.packets,
      });
    } catch (e) {
      // close() has already dropped and logged the upload.
      if (this.#closed) return u.upload.abort();
      // The temp file is removed by abort; the last packet is not followed by more, so no discard.
      this.#upload = u;
      this.#uploadFailed(header, e, null, 0, u.startedAt);
    }
  }

  /** A 1028 failed: drop the file, answer 1607 once, skip the rest of its packets. */
  #uploadFailed(
    header: RequestHeader,
    e: unknown,
    req: SendFileRequest | null,
    bytes: number,
    t0: number,
  ): void {
    const u = this.#upload;
    this.#upload = null;
    if (u) this.#cleanups.push(u.upload.abort());
    if (req) this.#discard = { fileName: req.fileName, lastNumber: req.packetNumber };
    const result = this.#send({ code: ResponseCode.ServerError });
    const file = req?.fileName ?? u?.upload.fileName;
    this.#logRequest(header, {
      result,
      bytes: u ? u.bytes : bytes,
      ms: performance.now() - (u ? u.startedAt : t0),
      error: errorCode(e),
      packets: u ? u.packets : 1,
      ...(file !== undefined ? { file } : {}),
    });
  }

  /** Drops the file in progress without answering (the connection closed or moved on). */
  #abortUpload(reason: ServerError): void {
    const u = this.#upload;
    if (!u) return;
    this.#upload = null;
    this.#cleanups.push(u.upload.abort());
    this.#ctx.log.request({
      client: clientIdToHex(u.clientId),
      ...(this.#name !== undefined ? { name: this.#name } : {}),
      code: RequestCode.SendFile,
      result: null,
      bytes: u.bytes,
      ms: performance.now() - u.startedAt,
      error: reason.code,
      file: u.upload.fileName,
      packets: u.packets,
      peer: this.peer,
    });
  }

  /** Closes the connection if it has been silent, or slow to deliver a request, for too long. */
  checkTimeout(now: number): boolean {
    if (this.#closed || this.#serverBusy) return false;
    const limit = this.#ctx.config.idleTimeoutMs;
    // A request may take the idle timeout plus the time its payload needs at MIN_REQUEST_RATE.
    const allowed = limit + (this.#reader.currentPayloadSize * 1000) / MIN_REQUEST_RATE;
    const stalled = this.#frameSince !== null && now - this.#frameSince > allowed;
    if (now - this.#lastActivity <= limit && !stalled) return false;
    this.#ctx.log.event('timeout', { peer: this.peer, reason: stalled ? 'request too slow' : 'idle' });
    this.close(stalled ? 'request too slow' : 'idle');
    this.#socket.destroy();
    return true;
  }

  /**
   * Stops handling requests and drops a partial upload. Resolves when the work in flight
   * (a file being stored) and temp-file cleanup are done, so the database can be closed.
   */
  close(reason: string): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#queue.length = 0;
      this.#abortUpload(new ServerError('SERVER_ERR_UPLOAD_ABORTED', `Connection ended: ${reason}.`));
    }
    return Promise.all([this.#busy, ...this.#cleanups]).then(() => {});
  }

  /** Ends the connection now (server shutdown). */
  destroy(): Promise<void> {
    const done = this.close('server shutting down');
    this.#socket.destroy();
    return done;
  }
}
