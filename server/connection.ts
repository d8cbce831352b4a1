/**
 * One TCP connection: bytes -> frame decoder -> handlers, strictly one request after another,
 * and the one log line per request outcome. The socket is paused while a handler is busy
 * (the database, storing a file), while the upload's write buffer is full, while our answers
 * wait for the peer to read them, or while this event-loop turn's 1028 content budget (one
 * TurnBudget per file server) is spent, so memory stays bounded by one frame plus that
 * buffer and one connection cannot hold the loop.
 *
 * Errors: a framing error (bad version or code, declared payload over the limit) gets 1607
 * and the connection is closed, since the byte stream can no longer be trusted. An error
 * inside a well-formed request gets its failure answer (handlers.ts, file-receiver.ts) and
 * the connection stays usable.
 */
import type { Socket } from 'node:net';
import {
  clientIdToHex,
  encodeResponse,
  type RequestEvent as FrameEvent,
  ProtocolError,
  REQUEST_HEADER_SIZE,
  RequestDecoder,
  type RequestHeader,
  type Response,
  ResponseCode,
  requestHeaderOf,
  SEND_FILE_FIXED_SIZE,
} from '../lib/protocol';
import type { ConnectionLease } from '../platform/concurrency-limit';
import type { Logger } from '../platform/log';
import type { LogSampler } from '../platform/log-sampler';
import { type Peer, peerText } from './admission';
import { belowMinUploadRate, type ServerConfig } from './config';
import type { Database } from './database';
import { drained } from './drained';
import { FileReceiver } from './file-receiver';
import type { FileStore } from './file-store';
import { handleRequest } from './handlers';
import type { InviteGate } from './invite-gate';
import { failure, type Outcome, type Step } from './outcome';
import { describeOutcome } from './outcome-message';
import type { PeerLimits } from './peer-limits';
import { Session } from './session';
import type { TurnBudget } from './turn-budget';
import type { UploadQuota } from './upload-quota';

export interface ConnectionContext {
  db: Database;
  files: FileStore;
  config: ServerConfig;
  /** The server's logger; the connection logs through a child carrying its peer. */
  log: Logger;
  /** 1028 content per event-loop turn, shared with the server's other connections. */
  budget: TurnBudget;
  limits: PeerLimits;
  /** Lets through a rate of log lines per source and kind of outcome (the rest are counted). */
  sampler: LogSampler;
  /** Invite checks (1025, 1027) and the quotas every file start reserves against. */
  invites: InviteGate;
  quota: UploadQuota;
}

/** Hex digits of a client ID in log lines: enough to tell clients apart, too few to impersonate one. */
export const LOGGED_ID_DIGITS = 8;

/** Who is at the other end (the PROXY header's source for relayed connections) and its slot. */
export interface ConnectionPeer {
  peer: Peer;
  lease: ConnectionLease;
}

/** Unsent response bytes above which reading pauses until the peer reads. */
const RESPONSE_BUFFER_LIMIT = 64 * 1024;
/** Slowest delivery (bytes/s) of a request's payload allowed on top of the idle timeout. */
const MIN_REQUEST_RATE = 64 * 1024;
/** After a framing error, how long the peer gets to read our 1607 before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

/** A request is complete: the events after it belong to the next one. */
const isRequestEnd = (e: FrameEvent) => e.type === 'frame' || e.type === 'file-end';

export class Connection {
  readonly #socket: Socket;
  readonly #ctx: ConnectionContext;
  readonly #log: Logger;
  readonly #reader: RequestDecoder;
  readonly #session: Session;
  readonly #files: FileReceiver;
  readonly #queue: FrameEvent[] = [];
  /** The header of the 1028 packet now arriving (its outcomes are logged under it). */
  #packetHeader: RequestHeader | null = null;
  /** Work the socket waits for; timeouts do not apply while `#serverBusy`. */
  #busy: Promise<void> | null = null;
  #serverBusy = false;
  #closed = false;
  #lastActivity = Date.now();
  /** When the frame now being received started (or the previous one completed). */
  #frameSince: number | null = null;
  readonly #peer: Peer;
  readonly #lease: ConnectionLease;
  readonly #openedAt = Date.now();
  /** Total time spent waiting for our own work (disk, turn budget): not the peer's slowness. */
  #serverWaitMs = 0;
  /** The upload now arriving: since when, our wait time then, and its bytes so far. */
  #upload: { since: number; waitAtStart: number; bytes: number } | null = null;

  constructor(socket: Socket, ctx: ConnectionContext, who: ConnectionPeer) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#peer = who.peer;
    this.#lease = who.lease;
    this.#log = ctx.log.child({
      peer: peerText(who.peer),
      ...(who.peer.via !== undefined ? { via: who.peer.via } : {}),
    });
    this.#reader = new RequestDecoder({ maxPayload: ctx.config.maxPayload });
    this.#session = new Session(who.peer.source, {
      relayed: who.peer.via !== undefined,
      ...(who.peer.invite !== undefined ? { token: who.peer.invite } : {}),
    });
    this.#files = new FileReceiver({
      db: ctx.db,
      files: ctx.files,
      session: this.#session,
      peerLimits: ctx.limits,
      quota: ctx.quota,
      limits: {
        maxFileSize: ctx.config.maxFileSize,
        maxContentPerPacket: ctx.config.maxPayload - SEND_FILE_FIXED_SIZE,
      },
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {}); // 'close' follows; a reset peer is not our error
    socket.on('close', () => this.close('peer closed'));
  }

  /** The source key of the real peer (per-source limits count under it). */
  get source(): string {
    return this.#peer.source;
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
    const budget = this.#ctx.budget;
    while (this.#busy === null && !this.#closed) {
      if (this.#socket.writableLength > RESPONSE_BUFFER_LIMIT) {
        this.#waitFor(drained(this.#socket), false);
        return;
      }
      const event = this.#queue[0];
      if (!event) return;
      if (event.type === 'file-content') {
        // Other connections get their turn: this content waits (in order) for the next one.
        if (budget.exhausted) {
          this.#waitFor(budget.nextTurn(), true);
          return;
        }
        budget.spend(event.chunk.length);
      }
      this.#queue.shift();
      const wait = this.#handle(event);
      if (wait) this.#waitFor(wait, true);
    }
  }

  /** Pauses the socket until `work` is done; `serverBusy`: the wait is ours, not the peer's. */
  #waitFor(work: Promise<unknown>, serverBusy: boolean): void {
    this.#serverBusy = serverBusy;
    this.#socket.pause();
    const t0 = Date.now();
    this.#busy = work
      .catch(() => {})
      .then(() => {
        if (this.#serverBusy) this.#serverWaitMs += Date.now() - t0;
        this.#busy = null;
        this.#serverBusy = false;
        if (this.#closed) return;
        // Time spent waiting for our own disk does not count against the peer's request.
        if (this.#frameSince !== null) this.#frameSince = Date.now();
        this.#socket.resume();
        this.#pump();
      });
  }

  #send(res: Response): void {
    if (!this.#closed && this.#socket.writable) this.#socket.write(encodeResponse(res));
  }

  /** Sends an outcome's answer and writes its one log line. */
  #conclude(o: Outcome, header: RequestHeader | null, bytes: number, t0: number): void {
    if (o.response) this.#send(o.response);
    const result = o.response ? o.response.code : null;
    // The key exchange is done: the connection leaves the startup tier and its login grace.
    if (result === ResponseCode.PublicKeyAccepted || result === ResponseCode.Reconnected) {
      this.#lease.markAuthenticated();
    }
    // A file's answer (1603, or its 1607) ends the upload whose rate is watched.
    if (result !== null && this.#packetHeader !== null) this.#upload = null;
    const req = o.request ?? header;
    const code = req ? req.code : 0;
    if (!this.#ctx.sampler.allow(this.#peer.source, `${code} ${result} ${o.error ?? ''} ${o.reason ?? ''}`))
      return;
    if (o.internal !== undefined) this.#log.error({ event: 'internal-error', message: o.internal });
    // A registration's line names the client it registered (the session has no name until its key comes).
    const name = this.#session.name ?? o.name;
    const invite = this.#session.inviteId;
    const fields = {
      // Client IDs are half of a v3 credential: a prefix only.
      client: req ? clientIdToHex(req.clientId).slice(0, LOGGED_ID_DIGITS) : '',
      ...(name !== undefined ? { name } : {}),
      // The invite's ID only: the token is a bearer secret (and `invite` is a redacted field name).
      ...(invite !== undefined ? { inviteId: invite } : {}),
      code,
      result,
      bytes: o.bytes ?? bytes,
      ms: Math.round((performance.now() - (o.since ?? t0)) * 10) / 10,
      ...(o.error ? { error: o.error } : {}),
      ...(o.reason ? { reason: o.reason } : {}),
      ...(o.detail ? { detail: o.detail } : {}),
      ...(o.file !== undefined ? { file: o.file } : {}),
      ...(o.packets !== undefined ? { packets: o.packets } : {}),
    };
    this.#log[o.error ? 'warn' : 'info'](fields, describeOutcome(fields));
  }

  /** Concludes a step now, or once its work is done (then the socket waits for it). */
  #step(step: Step, header: RequestHeader | null): Promise<void> | undefined {
    if (step === undefined) return;
    const t0 = performance.now();
    if (!(step instanceof Promise)) {
      this.#conclude(step, header, 0, t0);
      return;
    }
    return step.then((o) => {
      if (o) this.#conclude(o, header, 0, t0);
    });
  }

  /** Framing error: 1607, then close. */
  #fatal(e: unknown, header: RequestHeader | null): void {
    this.#conclude(
      { response: { code: ResponseCode.ServerError }, ...failure(e) },
      header,
      0,
      performance.now(),
    );
    this.close('framing error');
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Handles one event; returns a promise when the socket must wait for it. Never throws. */
  #handle(ev: FrameEvent): Promise<void> | undefined {
    switch (ev.type) {
      case 'file-start':
        this.#packetHeader = ev.header;
        this.#upload ??= { since: Date.now(), waitAtStart: this.#serverWaitMs, bytes: 0 };
        this.#upload.bytes += REQUEST_HEADER_SIZE + ev.fixed.length;
        return this.#step(this.#files.start(ev.header, ev.fixed, ev.contentLength), ev.header);
      case 'file-content':
        if (this.#upload) this.#upload.bytes += ev.chunk.length;
        return this.#step(this.#files.content(ev.chunk), this.#packetHeader);
      case 'file-end':
        return this.#step(this.#files.end(), this.#packetHeader);
      case 'frame': {
        // (A 1028 always arrives as file-start/content/end: one too short for its fixed
        // part is a framing error in the decoder.)
        this.#upload = null;
        this.#packetHeader = null;
        const abandoned = this.#files.interrupt();
        if (abandoned) this.#conclude(abandoned, null, 0, performance.now());
        const t0 = performance.now();
        const bytes = REQUEST_HEADER_SIZE + ev.payload.length;
        const ctx = {
          db: this.#ctx.db,
          files: this.#ctx.files,
          session: this.#session,
          limits: this.#ctx.limits,
          maxClients: this.#ctx.config.maxClients,
          invites: this.#ctx.invites,
          now: new Date().toISOString(),
        };
        return handleRequest(ev.header, ev.payload, ctx).then((o) => this.#conclude(o, ev.header, bytes, t0));
      }
    }
  }

  /**
   * Closes the connection if it has been silent, or slow to deliver a request, for too long;
   * if it has not completed a key exchange within the login grace; or if its upload, past its
   * grace, has averaged less than the minimum rate (time we made it wait not counted).
   */
  checkTimeout(now: number): boolean {
    if (this.#closed || this.#serverBusy) return false;
    const config = this.#ctx.config;
    const limit = config.idleTimeoutMs;
    // A request may take the idle timeout plus the time its payload needs at MIN_REQUEST_RATE.
    const allowed = limit + (this.#reader.currentPayloadSize * 1000) / MIN_REQUEST_RATE;
    const stalled = this.#frameSince !== null && now - this.#frameSince > allowed;
    let reason: string | null = null;
    if (!this.#lease.authenticated && now - this.#openedAt > config.loginGraceMs) reason = 'login grace';
    else if (stalled) reason = 'request too slow';
    else if (now - this.#lastActivity > limit) reason = 'idle';
    else if (this.#uploadTooSlow(now)) reason = 'upload too slow';
    if (reason === null) return false;
    if (this.#ctx.sampler.allow(this.#peer.source, `timeout ${reason}`)) {
      this.#log.info({ event: 'timeout', reason });
    }
    this.close(reason);
    this.#socket.destroy();
    return true;
  }

  #uploadTooSlow(now: number): boolean {
    const u = this.#upload;
    if (!u) return false;
    return belowMinUploadRate(
      this.#ctx.config,
      u.bytes,
      now - u.since - (this.#serverWaitMs - u.waitAtStart),
    );
  }

  /**
   * Stops handling requests and drops a partial upload. Resolves when the work in flight
   * (a file being stored) and temp-file cleanup are done, so the database can be closed.
   */
  close(reason: string): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#queue.length = 0;
      const abandoned = this.#files.close(reason);
      if (abandoned) this.#conclude(abandoned, null, 0, performance.now());
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
