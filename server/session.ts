/**
 * One TCP connection: bytes -> frame decoder -> one handler per request code, strictly one
 * request after another. The socket is paused while a handler is busy (storing a file),
 * while the upload's write buffer is full, or while this event-loop turn's 1028 content
 * budget (turn-budget.ts, shared by all connections) is spent, so memory stays bounded by
 * one frame plus that buffer and one connection cannot hold the loop.
 *
 * Errors: a framing error (lib/protocol's header check: bad version or code, a declared
 * payload over the limit or of a size the code does not allow) gets 1607 and the
 * connection is closed, since the byte stream can no longer be trusted. An error
 * inside a well-formed request gets 1607 (1601 for 1025, nothing for 1030) and the
 * connection stays usable. The 1028 path lives in file-receiver.ts.
 */
import type { Socket } from 'node:net';
import {
  clientIdToHex,
  decodeRequest,
  encodeResponse,
  type RequestEvent as FrameEvent,
  ProtocolError,
  REQUEST_HEADER_SIZE,
  RequestCode,
  RequestDecoder,
  type RequestHeader,
  type Response,
  ResponseCode,
  requestHeaderOf,
  SEND_FILE_FIXED_SIZE,
} from '../lib/protocol';
import { type KeyGrant, reconnect, register, sendPublicKey } from './client-handlers';
import type { ServerConfig } from './config';
import type { ServerDatabase } from './db';
import { classifyError, ServerError } from './errors';
import { discardFile, verifyFile } from './file-handlers';
import { FileReceiver } from './file-receiver';
import type { Logger, RequestLogEntry } from './log';
import type { Storage } from './storage';
import { sharedTurnBudget, type TurnBudget } from './turn-budget';

export interface SessionContext {
  db: ServerDatabase;
  storage: Storage;
  config: ServerConfig;
  log: Logger;
  /** 1028 content per event-loop turn, shared with other connections (default: the process's). */
  budget?: TurnBudget;
}

/** Unsent response bytes above which reading pauses until the peer reads. */
const RESPONSE_BUFFER_LIMIT = 64 * 1024;
/** Slowest delivery (bytes/s) of a request's payload allowed on top of the idle timeout. */
const MIN_REQUEST_RATE = 64 * 1024;
/** After a framing error, how long the peer gets to read our 1607 before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

const iso = () => new Date().toISOString();

/** A request is complete: the events after it belong to the next one. */
const isRequestEnd = (e: FrameEvent) => e.type === 'frame' || e.type === 'file-end';

export class Session {
  readonly #socket: Socket;
  readonly #ctx: SessionContext;
  readonly #reader: RequestDecoder;
  readonly #files: FileReceiver;
  readonly #queue: FrameEvent[] = [];
  /** Work the socket waits for; timeouts do not apply while `#serverBusy`. */
  #busy: Promise<void> | null = null;
  #serverBusy = false;
  #closed = false;
  /** The AES key this connection received (1602/1605) and the client it was issued to. */
  #key: { aesKey: Buffer; clientId: Uint8Array } | null = null;
  #name: string | undefined;
  #lastActivity = Date.now();
  /** When the frame now being received started (or the previous one completed). */
  #frameSince: number | null = null;
  readonly peer: string;

  constructor(socket: Socket, ctx: SessionContext) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#reader = new RequestDecoder({ maxPayload: ctx.config.maxPayload });
    this.#files = new FileReceiver({
      db: ctx.db,
      storage: ctx.storage,
      limits: {
        maxFileSize: ctx.config.maxFileSize,
        maxContentPerPacket: ctx.config.maxPayload - SEND_FILE_FIXED_SIZE,
      },
      key: () => this.#key,
      closed: () => this.#closed,
      send: (res) => this.#send(res),
      logRequest: (header, entry) => this.#logRequest(header, entry),
      logAbandoned: (clientId, entry) =>
        this.#ctx.log.request({
          client: clientIdToHex(clientId),
          ...(this.#name !== undefined ? { name: this.#name } : {}),
          code: RequestCode.SendFile,
          peer: this.peer,
          ...entry,
        }),
      touch: (clientId) => this.#touch(clientId),
      classify: (e) => {
        const c = classifyError(e);
        if (c.code === 'SERVER_ERR_INTERNAL')
          ctx.log.event('internal-error', { message: (e as Error).message });
        return c;
      },
    });
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
      if (e instanceof ProtocolError) this.#fatal(e, requestHeaderOf(e));
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
    const budget = this.#ctx.budget ?? sharedTurnBudget;
    while (this.#busy === null && !this.#closed && this.#queue.length > 0) {
      const event = this.#queue[0]!;
      if (event.type === 'file-content') {
        // Other connections get their turn: this content waits (in order) for the next one.
        if (budget.exhausted) {
          this.#serverBusy = true;
          this.#waitFor(budget.nextTurn());
          return;
        }
        budget.spend(event.chunk.length);
      }
      this.#queue.shift();
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
      error: classifyError(e).code,
    });
    this.close('framing error');
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /**
   * Handles one event; returns a promise when the socket must wait for it (all such waits
   * are the server's: storing a file or the disk catching up). Never throws.
   */
  #handle(ev: FrameEvent): Promise<void> | undefined {
    let wait: Promise<void> | undefined;
    switch (ev.type) {
      case 'file-start':
        this.#files.start(ev.header, ev.fixed, ev.contentLength);
        return;
      case 'file-content':
        wait = this.#files.content(ev.chunk);
        break;
      case 'file-end':
        wait = this.#files.end();
        break;
      case 'frame':
        if (ev.header.code === RequestCode.SendFile) {
          // A 1028 too short for its fixed part: decoding fails, the file fails.
          this.#files.start(ev.header, ev.payload, 0);
          wait = this.#files.end();
          break;
        }
        this.#files.interrupt();
        this.#onRequest(ev.header, ev.payload, performance.now(), REQUEST_HEADER_SIZE + ev.payload.length);
        return;
    }
    if (wait) this.#serverBusy = true;
    return wait;
  }

  #grant(g: KeyGrant): void {
    if (g.key) this.#key = g.key;
    if (g.name !== undefined) this.#name = g.name;
  }

  #touch(clientId: Uint8Array): void {
    this.#ctx.db.touch(clientId, iso());
  }

  /** Every request but 1028. */
  #onRequest(header: RequestHeader, payload: Uint8Array, t0: number, bytes: number): void {
    const { db, storage } = this.#ctx;
    let result: number | null = null;
    let error: string | undefined;
    let file: string | undefined;
    let detail: string | undefined;
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
            verifyFile(db, req.clientId, req.fileName, this.#files.tokenOf(req.clientId, req.fileName)),
          );
          break;
        case RequestCode.CrcRetry:
        case RequestCode.CrcAbort: {
          file = req.fileName;
          this.#touch(req.clientId);
          discardFile(
            db,
            storage,
            req.clientId,
            req.fileName,
            this.#files.tokenOf(req.clientId, req.fileName),
          );
          this.#files.forgetToken(req.clientId, req.fileName);
          if (req.code === RequestCode.CrcAbort)
            result = this.#send({ code: ResponseCode.Thanks, clientId: req.clientId });
          break;
        }
        default:
          throw new ServerError('SERVER_ERR_INTERNAL', `Unhandled request code ${req.code}.`);
      }
    } catch (e) {
      const c = classifyError(e);
      error = c.code;
      detail = c.detail;
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
      ...(detail ? { detail } : {}),
      ...(file !== undefined ? { file } : {}),
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
      this.#files.abandon(new ServerError('SERVER_ERR_UPLOAD_ABORTED', `Connection ended: ${reason}.`));
    }
    return Promise.all([this.#busy, this.#files.settled()]).then(() => {});
  }

  /** Ends the connection now (server shutdown). */
  destroy(): Promise<void> {
    const done = this.close('server shutting down');
    this.#socket.destroy();
    return done;
  }
}
