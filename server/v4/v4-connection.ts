/**
 * One protocol v4 connection: bytes -> frame decoder -> handshake -> session messages and
 * file records, strictly one frame after another (the socket is paused while a frame is
 * being handled and more are queued). Errors: a framing error or a Sealed frame that does
 * not verify gets an Alert/Error and closes; a refused upload or a failed record gets a
 * non-fatal Error and the connection stays usable (docs/PROTOCOL.md, "Errors (version 4)").
 */
import type { Socket } from 'node:net';
import { bytesToHex } from '../../lib/crypto/encoding';
import {
  CLIENT_HANDSHAKE_FRAMES,
  CLIENT_TO_SERVER_FRAMES,
  DEFAULT_MAX_FILE_SIZE_V4,
  FrameType,
  MessageType,
  V4_ERROR_SENTENCES,
  V4ErrorCode,
} from '../../lib/protocol/v4/constants';
import { V4ProtocolError } from '../../lib/protocol/v4/errors';
import { FrameDecoder } from '../../lib/protocol/v4/frame-decoder';
import { encodeFrame, type Frame } from '../../lib/protocol/v4/frames';
import { encodeAlert, type Message } from '../../lib/protocol/v4/messages';
import { V4Error } from '../../lib/v4/errors';
import { peerAlert, ServerHandshake } from '../../lib/v4/handshake';
import type { Session } from '../../lib/v4/session';
import type { ConnectionLease } from '../../platform/concurrency-limit';
import type { Logger } from '../../platform/log';
import type { LogSampler } from '../../platform/log-sampler';
import { type Peer, peerText } from '../admission';
import { drained } from '../drained';
import type { FileStore } from '../file-store';
import type { PartialUploads } from './partial-uploads';
import { startRecordThread } from './record-thread';
import { recordBodies } from './record-writer';
import type { ServerIdentity } from './server-key';
import { admitV4Client, isRefusal, roomFor, type V4AccessContext } from './v4-access';
import { v4Sentence } from './v4-log';
import { type UploadHost, V4Uploads } from './v4-uploads';

export interface V4Context extends V4AccessContext {
  files: FileStore;
  log: Logger;
  /** Refusal lines per source and kind are sampled (--log-rate), as v3's. */
  sampler: LogSampler;
  identity: ServerIdentity;
  partials: PartialUploads;
}

/** Frames queued before the socket is paused (each at most one record: about 1 MiB). */
const QUEUE_LIMIT = 4;
/**
 * Answers not yet taken by the kernel past which no frame is handled (and the socket stays
 * paused) until the client reads: a client that sends and never reads would otherwise have
 * the server hold every answer (v3's RESPONSE_BUFFER_LIMIT, server/connection.ts).
 */
export const V4_OUTPUT_LIMIT = 64 * 1024;
const CLOSE_GRACE_MS = 1000;
/**
 * A frame begun must be whole within the idle timeout plus this (the largest frame, a Chunk
 * of 262,160 bytes, at v3's 64 KiB/s per request): every byte reset the idle timeout, so a
 * frame trickled a byte at a time held the connection for good once past the login grace.
 */
const FRAME_SLACK_MS = 4_000;

export class V4Connection {
  readonly #socket: Socket;
  readonly #ctx: V4Context;
  readonly #log: Logger;
  readonly #peer: Peer;
  readonly #lease: ConnectionLease;
  /**
   * Judges each header for the connection's state before it buffers the body (docs/PROTOCOL.md,
   * "Frames"): until Welcome only the handshake's small frames, then Chunks too (#welcome).
   */
  readonly #decoder = new FrameDecoder({
    allowed: CLIENT_HANDSHAKE_FRAMES,
    preamble: true,
    allocate: recordBodies.allocate,
  });
  readonly #handshake: ServerHandshake;
  readonly #queue: Frame[] = [];
  /** Work that comes between frames (an upload's record failed on its thread, another connection took it over). */
  readonly #tasks: (() => Promise<void>)[] = [];
  readonly #openedAt = Date.now();
  #session: Session | null = null;
  #client: { id: Uint8Array; key: Uint8Array; name: string; inviteId: string | null } | null = null;
  /** The upload in progress, if any (v4-uploads.ts). */
  readonly #uploads: V4Uploads;
  #busy: Promise<void> | null = null;
  /** Waiting for the client to read what was sent (V4_OUTPUT_LIMIT). */
  #draining = false;
  #closed = false;
  /** A fatal Error or Alert is on its way: nothing more is handled or sent. */
  #ending = false;
  /** The last sealed message's write: the next one waits for it (#send). */
  #sent: Promise<void> = Promise.resolve();
  #closing: Promise<void> | null = null;
  #lastActivity = Date.now();
  /** Since when a frame begun has been waited for (null: between frames), as v3's request clock. */
  #frameSince: number | null = null;
  /** The socket was paused for the queue (our work): the frame's clock restarts on resume. */
  #pausedForQueue = false;

  constructor(socket: Socket, ctx: V4Context, who: { peer: Peer; lease: ConnectionLease }) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#peer = who.peer;
    this.#lease = who.lease;
    this.#log = ctx.log.child({
      peer: peerText(who.peer),
      ...(who.peer.via !== undefined ? { via: who.peer.via } : {}),
      protocol: 4,
    });
    this.#handshake = new ServerHandshake({ identity: ctx.identity.key });
    this.#uploads = new V4Uploads(this.#uploadHost());
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => void this.close('peer closed'));
  }

  get source(): string {
    return this.#peer.source;
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    const now = Date.now();
    this.#lastActivity = now;
    this.#uploads.received(chunk.length);
    try {
      const frames = this.#decoder.push(chunk);
      for (const f of frames) this.#queue.push(f);
      // A slice of a frame is not progress: the clock runs from its first byte to its last.
      if (this.#decoder.idle) this.#frameSince = null;
      else if (this.#frameSince === null || frames.length > 0) this.#frameSince = now;
    } catch (e) {
      // Sealed once the session exists: the client takes a clear Alert after Welcome as a
      // lost connection (anyone on the path can write one), and would reconnect instead.
      this.#fatal(V4ErrorCode.Malformed, (e as Error).message, this.#client !== null);
      return;
    }
    if (this.#queue.length >= QUEUE_LIMIT) {
      this.#pausedForQueue = true;
      this.#socket.pause();
    }
    this.#pump();
  }

  #pump(): void {
    if (this.#busy || this.#draining || this.#closed || this.#ending) return;
    if (this.#socket.writableLength > V4_OUTPUT_LIMIT) {
      // Not busy meanwhile: a client that never reads is cut by the idle timeout.
      this.#draining = true;
      this.#socket.pause();
      void drained(this.#socket).then(() => {
        this.#draining = false;
        this.#pump();
      });
      return;
    }
    const task = this.#tasks.shift();
    const frame = task ? undefined : this.#queue.shift();
    if (!task && !frame) {
      // Time the socket waited for our own work does not count against the client's frame.
      if (this.#pausedForQueue && this.#frameSince !== null) this.#frameSince = Date.now();
      this.#pausedForQueue = false;
      this.#socket.resume();
      return;
    }
    this.#busy = (task ? task() : this.#handle(frame!))
      .catch((e: unknown) => this.#onError(e))
      .then(() => {
        this.#busy = null;
        this.#pump();
      });
  }

  /**
   * Runs `task` in turn with the frames, before those still queued; resolves once it ran (at
   * once, without running it, when the connection is closing: close() keeps the upload).
   */
  #interrupt(task: () => Promise<void>): Promise<void> {
    if (this.#closed || this.#ending) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#tasks.push(() => task().finally(resolve));
      this.#pump();
    });
  }

  #onError(e: unknown): void {
    if (e instanceof V4Error && e.code === 'V4_ERR_PEER') {
      // The client ended the connection with an Alert of its own: nothing to answer (an
      // Alert back would carry the client's code and words as the server's).
      if (this.#ctx.sampler.allow(this.#peer.source, 'v4 peer alert'))
        this.#log.info({ event: 'v4-peer-alert', code: e.wireCode });
      void this.close('peer alert');
      this.#socket.end();
      return;
    }
    if (e instanceof V4Error) {
      // Before the session exists the client has no key to read an Error with: Alert.
      this.#fatal(e.wireCode, e.message, this.#session !== null && e.code !== 'V4_ERR_RECORD');
      return;
    }
    if (e instanceof V4ProtocolError) {
      // A frame or message that breaks the format (a bad name, trailing bytes ...).
      this.#fatal(V4ErrorCode.Malformed, e.message, this.#session !== null);
      return;
    }
    this.#log.error({ event: 'internal-error', message: (e as Error)?.message ?? String(e) });
    this.#fatal(V4ErrorCode.Internal, V4_ERROR_SENTENCES[V4ErrorCode.Internal], this.#session !== null);
  }

  #write(bytes: Uint8Array): void {
    if (!this.#closed && this.#socket.writable) this.#socket.write(bytes);
  }

  /**
   * Seals `m` and writes it after every message sent before it. The sequence number is taken
   * when seal() is called, but the seals finish on the thread pool in any order: written as
   * they finished, a later message could go out first, and the client could not open it.
   * After a fatal Error nothing else goes out.
   */
  #send(m: Message): Promise<void> {
    if (this.#ending && !(m.type === MessageType.Error && m.fatal)) return Promise.resolve();
    const sealed = this.#session!.seal(m);
    const written = this.#sent.then(() => sealed).then((bytes) => this.#write(bytes));
    this.#sent = written.catch(() => {});
    return written;
  }

  /** Sends a fatal Error (sealed) or Alert (clear), then closes; `log` false when the caller logged it. */
  #fatal(code: number, reason: string, sealed: boolean, log = true): void {
    if (this.#closed || this.#ending) return;
    // From now on no frame is handled and nothing but this Error is sent (the Error goes out
    // after what was sent before it; then the connection closes).
    this.#ending = true;
    this.#queue.length = 0;
    this.#tasks.length = 0;
    if (log && this.#ctx.sampler.allow(this.#peer.source, `v4 refused ${code}`))
      this.#log.warn({ event: 'v4-refused', code, reason }, v4Sentence.refused(this.#who, code, reason));
    const done = () => {
      void this.close('fatal error');
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
    };
    if (sealed && this.#session) {
      this.#send({ type: MessageType.Error, code, fatal: true, reason }).then(done, done);
    } else {
      // In the clear, still after any sealed message on its way.
      const alert = encodeFrame(FrameType.Alert, encodeAlert({ code, fatal: true, reason }));
      this.#sent.then(() => this.#write(alert)).then(done, done);
    }
  }

  async #handle(frame: Frame): Promise<void> {
    if (this.#closed || this.#ending) return;
    if (!this.#session) {
      // Before the handshake's crypto, which a stranger can ask for as fast as it connects.
      if (frame.type === FrameType.ClientHello) {
        if (!this.#ctx.limits.takeHandshake(this.#peer.source)) {
          this.#fatal(V4ErrorCode.RateLimited, V4_ERROR_SENTENCES[V4ErrorCode.RateLimited], false);
          return;
        }
        // One thread per process, kept: it starts while the handshake goes on.
        startRecordThread();
      }
      const step = await this.#handshake.onFrame(frame);
      if (step.send) this.#write(step.send);
      if (step.done) await this.#welcome(step.done.session, step.done.clientAuth);
      return;
    }
    if (frame.type === FrameType.Chunk) return this.#uploads.chunk(frame.body);
    if (frame.type === FrameType.Alert) {
      // Never answered, after Welcome as before it (docs/PROTOCOL.md, "Alert"): the client
      // gave up (a Sealed frame of ours did not verify, say) and can read nothing more.
      peerAlert(frame);
    }
    if (frame.type !== FrameType.Sealed)
      throw new V4Error('V4_ERR_STATE', 'Only Sealed frames and Chunks now.');
    this.#uploads.sealedMessage();
    const m = await this.#session.open(frame.body);
    switch (m.type) {
      case MessageType.UploadStart:
        if (this.#uploads.isOpen) throw new V4Error('V4_ERR_STATE', 'An upload is already open.');
        return this.#uploads.start(m);
      case MessageType.UploadAbort: {
        const aborted = await this.#uploads.abort(m.uploadId);
        if (aborted === 'refused') return;
        if (aborted) return this.#send({ type: MessageType.UploadAborted, uploadId: m.uploadId });
        return this.#send({
          type: MessageType.Error,
          code: V4ErrorCode.UnknownUpload,
          fatal: false,
          reason: 'No upload with this ID to cancel (it was stored, cancelled or never started).',
        });
      }
      case MessageType.Bye:
        // (Not awaited: close() waits for the handler now running, this one.) The client closes
        // after its Bye: let it be the one, so a bridge logs a normal close (1000), not 4006.
        void this.close('bye');
        setTimeout(() => this.#socket.end(), CLOSE_GRACE_MS).unref();
        return;
      default:
        throw new V4Error('V4_ERR_STATE', `Message type ${m.type} is not one a client sends.`);
    }
  }

  /**
   * Lines a client can repeat as fast as it likes (UploadStart/UploadAbort loops, refused
   * starts) go through the per-source sampler, as v3's answers do; done uploads are always logged.
   */
  #sampled(kind: string): boolean {
    return this.#ctx.sampler.allow(this.#peer.source, kind);
  }

  /** Who the log names: the display name the client gave (its key proved), else a placeholder. */
  get #who(): string {
    return this.#client?.name ?? 'a v4 client';
  }

  async #welcome(
    session: Session,
    auth: { clientKey: Uint8Array; name: string; invite: string },
  ): Promise<void> {
    this.#session = session;
    const found = await admitV4Client(this.#ctx, {
      key: auth.clientKey,
      name: auth.name,
      invite: auth.invite,
      peer: this.#peer,
    });
    if (isRefusal(found)) {
      if (this.#ctx.sampler.allow(this.#peer.source, `v4 refused ${found.why}`))
        this.#log.warn(
          {
            event: 'v4-client-refused',
            name: auth.name,
            code: found.code,
            reason: found.why,
            detail: found.detail,
          },
          v4Sentence.refused(auth.name, found.code, found.why),
        );
      this.#fatal(found.code, found.reason, true, false);
      return;
    }
    const inviteId = found.inviteId;
    this.#client = { id: found.row.ID, key: auth.clientKey, name: auth.name, inviteId: found.row.InviteID };
    this.#lease.markAuthenticated();
    // A client sends nothing between its ClientAuth and our Welcome, so no header of a frame
    // meant for after it has been judged yet.
    this.#decoder.allow(CLIENT_TO_SERVER_FRAMES);
    this.#log.info(
      {
        event: 'v4-authenticated',
        client: bytesToHex(found.row.ID).slice(0, 8),
        name: auth.name,
        registered: found.registered,
        // The invite's ID only: the token is a bearer secret.
        ...(inviteId !== null ? { inviteId } : {}),
      },
      v4Sentence.authenticated(auth.name, found.registered, inviteId),
    );
    await this.#send({
      type: MessageType.Welcome,
      clientId: found.row.ID,
      registered: found.registered,
      maxFileSize: await roomFor(this.#ctx, found.row.ID, this.#maxFileSize),
    });
  }

  #uploadHost(): UploadHost {
    const conn = this;
    return {
      ctx: this.#ctx,
      log: this.#log,
      get who() {
        return conn.#who;
      },
      get maxFileSize() {
        return conn.#maxFileSize;
      },
      client: () => this.#client!,
      binding: () => this.#session!.binding,
      closed: () => this.#closed,
      send: (m) => this.#send(m),
      fatal: (code, reason) => this.#fatal(code, reason, true, false),
      sampled: (kind) => this.#sampled(kind),
      interrupt: (task) => this.#interrupt(task),
    };
  }

  get #maxFileSize(): number {
    return this.#ctx.config.v4MaxFileSize ?? DEFAULT_MAX_FILE_SIZE_V4;
  }

  /** Idle timeout and login grace, as for v3 connections. */
  checkTimeout(now: number): boolean {
    if (this.#closed || this.#busy) return false;
    const c = this.#ctx.config;
    let reason: string | null = null;
    const stalled = this.#frameSince !== null && now - this.#frameSince > c.idleTimeoutMs + FRAME_SLACK_MS;
    if (!this.#lease.authenticated && now - this.#openedAt > c.loginGraceMs) reason = 'login grace';
    else if (stalled) reason = 'request too slow';
    else if (now - this.#lastActivity > c.idleTimeoutMs) reason = 'idle';
    else if (this.#uploads.tooSlow()) {
      // A trickled upload keeps the connection and its reservation: cut it (the upload is
      // kept for a resume) and say why, as v3 does with its --min-upload-rate.
      if (this.#ctx.sampler.allow(this.#peer.source, 'timeout upload too slow'))
        this.#log.info({ event: 'timeout', reason: 'upload too slow' });
      this.#fatal(V4ErrorCode.Timeout, V4_ERROR_SENTENCES[V4ErrorCode.Timeout], true, false);
      return true;
    }
    if (!reason) return false;
    this.#log.info({ event: 'timeout', reason });
    void this.close(reason);
    this.#socket.destroy();
    return true;
  }

  /** Stops handling frames; an open upload is kept (durable) for a resume. */
  close(reason: string): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#queue.length = 0;
    this.#tasks.length = 0;
    // Every caller waits for the same work: the handler running now, then the upload kept.
    this.#closing = (async () => {
      await this.#busy;
      await this.#uploads.keep(reason);
    })();
    return this.#closing;
  }

  destroy(): Promise<void> {
    const done = this.close('server shutting down');
    this.#socket.destroy();
    return done;
  }
}
