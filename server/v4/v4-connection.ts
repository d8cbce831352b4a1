/**
 * One protocol v4 connection: bytes -> frame decoder -> handshake -> session messages and
 * file records, strictly one frame after another (the socket is paused while a frame is
 * being handled and more are queued). Errors: a framing error or a Sealed frame that does
 * not verify gets an Alert/Error and closes; a refused upload or a failed record gets a
 * non-fatal Error and the connection stays usable (docs/PROTOCOL.md, "Errors (version 4)").
 */
import type { Socket } from 'node:net';
import { basename } from 'node:path';
import { bytesToHex } from '../../lib/crypto/encoding';
import {
  CLIENT_TO_SERVER_FRAMES,
  DEFAULT_MAX_FILE_SIZE_V4,
  FrameType,
  isFatalCode,
  MessageType,
  RECORD_SIZE,
  V4_ERROR_SENTENCES,
  V4ErrorCode,
} from '../../lib/protocol/v4/constants';
import { V4ProtocolError } from '../../lib/protocol/v4/errors';
import { FrameDecoder } from '../../lib/protocol/v4/frame-decoder';
import { encodeFrame, type Frame } from '../../lib/protocol/v4/frames';
import { encodeAlert, type Message, type UploadStart } from '../../lib/protocol/v4/messages';
import { V4Error } from '../../lib/v4/errors';
import { ServerHandshake } from '../../lib/v4/handshake';
import type { Session } from '../../lib/v4/session';
import type { ConnectionLease } from '../../platform/concurrency-limit';
import type { Logger } from '../../platform/log';
import type { LogSampler } from '../../platform/log-sampler';
import { type Peer, peerText } from '../admission';
import { belowMinUploadRate } from '../config';
import type { FileStore } from '../file-store';
import type { Reservation } from '../upload-quota';
import type { PartialUpload, PartialUploads } from './partial-uploads';
import { RecordWriter, recordBodies, StorageFailure } from './record-writer';
import type { ServerIdentity } from './server-key';
import { admitV4Client, isRefusal, reserveUpload, roomFor, type V4AccessContext } from './v4-access';
import { v4Sentence } from './v4-log';

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
const CLOSE_GRACE_MS = 1000;

interface Open {
  upload: PartialUpload;
  /** The declared size (less what was kept) held against the quotas until stored or dropped. */
  reservation: Reservation;
  resumedFrom: number;
  /** Opens the records and writes them in batches (record-writer.ts). */
  writer: RecordWriter;
  uploadId: Uint8Array;
  name: string;
  since: number;
  /**
   * For --min-upload-rate: when its first byte came after UploadReady (the clock starts there:
   * a resuming client may hash the kept part of its file first, and the idle timeout bounds
   * that wait), the bytes received since, and the ms spent handling its Chunks (the server's wait).
   */
  firstChunkAt: number | null;
  received: number;
  serverMs: number;
}

export class V4Connection {
  readonly #socket: Socket;
  readonly #ctx: V4Context;
  readonly #log: Logger;
  readonly #peer: Peer;
  readonly #lease: ConnectionLease;
  readonly #decoder = new FrameDecoder({
    allowed: CLIENT_TO_SERVER_FRAMES,
    preamble: true,
    allocate: recordBodies.allocate,
  });
  readonly #handshake: ServerHandshake;
  readonly #queue: Frame[] = [];
  readonly #openedAt = Date.now();
  #session: Session | null = null;
  #client: { id: Uint8Array; key: Uint8Array; name: string; inviteId: string | null } | null = null;
  #open: Open | null = null;
  /** After a failed or aborted upload: its Chunks still in flight are dropped. */
  #dropping = false;
  #busy: Promise<void> | null = null;
  #closed = false;
  #lastActivity = Date.now();

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
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => void this.close('peer closed'));
  }

  get source(): string {
    return this.#peer.source;
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#lastActivity = Date.now();
    // Bytes as they arrive, not whole Chunks: a trickled Chunk never completes.
    const open = this.#open;
    if (open) {
      open.firstChunkAt ??= performance.now();
      open.received += chunk.length;
    }
    try {
      for (const f of this.#decoder.push(chunk)) this.#queue.push(f);
    } catch (e) {
      this.#fatal(V4ErrorCode.Malformed, (e as Error).message, false);
      return;
    }
    if (this.#queue.length >= QUEUE_LIMIT) this.#socket.pause();
    this.#pump();
  }

  #pump(): void {
    if (this.#busy || this.#closed) return;
    const frame = this.#queue.shift();
    if (!frame) {
      this.#socket.resume();
      return;
    }
    this.#busy = this.#handle(frame)
      .catch((e: unknown) => this.#onError(e))
      .then(() => {
        this.#busy = null;
        this.#pump();
      });
  }

  #onError(e: unknown): void {
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

  async #send(m: Message): Promise<void> {
    this.#write(await this.#session!.seal(m));
  }

  /** Sends a fatal Error (sealed) or Alert (clear), then closes; `log` false when the caller logged it. */
  #fatal(code: number, reason: string, sealed: boolean, log = true): void {
    if (this.#closed) return;
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
      this.#write(encodeFrame(FrameType.Alert, encodeAlert({ code, fatal: true, reason })));
      done();
    }
  }

  async #handle(frame: Frame): Promise<void> {
    if (this.#closed) return;
    if (!this.#session) {
      // Before the handshake's crypto, which a stranger can ask for as fast as it connects.
      if (frame.type === FrameType.ClientHello && !this.#ctx.limits.takeHandshake(this.#peer.source)) {
        this.#fatal(V4ErrorCode.RateLimited, V4_ERROR_SENTENCES[V4ErrorCode.RateLimited], false);
        return;
      }
      const step = await this.#handshake.onFrame(frame);
      if (step.send) this.#write(step.send);
      if (step.done) await this.#welcome(step.done.session, step.done.clientAuth);
      return;
    }
    if (frame.type === FrameType.Chunk) return this.#onChunk(frame.body);
    if (frame.type !== FrameType.Sealed)
      throw new V4Error('V4_ERR_STATE', 'Only Sealed frames and Chunks now.');
    this.#dropping = false;
    const m = await this.#session.open(frame.body);
    switch (m.type) {
      case MessageType.UploadStart:
        if (this.#open) throw new V4Error('V4_ERR_STATE', 'An upload is already open.');
        return this.#onStart(m);
      case MessageType.UploadAbort:
        if (this.#open) {
          const open = this.#open;
          await open.writer.discard();
          this.#open = null;
          this.#dropping = true;
          await open.upload.remove();
          open.reservation.release();
          if (this.#sampled('v4 upload aborted'))
            this.#log.info(
              { event: 'v4-upload-aborted', file: open.name },
              v4Sentence.aborted(this.#who, open.name),
            );
        } else if (await this.#ctx.partials.discard(this.#client!.key, m.uploadId)) {
          // A kept upload (its connection was cut): its bytes no longer count against quotas.
          const upload = bytesToHex(m.uploadId).slice(0, 8);
          if (this.#sampled('v4 upload aborted'))
            this.#log.info(
              { event: 'v4-upload-aborted', upload },
              v4Sentence.aborted(this.#who, `kept upload ${upload}`),
            );
        }
        return this.#send({ type: MessageType.UploadAborted, uploadId: m.uploadId });
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

  get #maxFileSize(): number {
    return this.#ctx.config.v4MaxFileSize ?? DEFAULT_MAX_FILE_SIZE_V4;
  }

  /** Refuses an upload: a non-fatal Error (the connection stays), or a fatal one for the invite's state. */
  async #refuse(
    code: number,
    reason: string,
    uploadId: Uint8Array,
    name: string,
    why: string = reason,
  ): Promise<void> {
    if (this.#sampled(`v4 upload refused ${code}`))
      this.#log.info(
        {
          event: 'v4-upload-refused',
          file: name,
          upload: bytesToHex(uploadId).slice(0, 8),
          code,
          reason: why,
          ...(why !== reason ? { detail: reason } : {}),
        },
        v4Sentence.uploadRefused(this.#who, name, code, why),
      );
    if (isFatalCode(code)) {
      this.#fatal(code, reason, true, false);
      return;
    }
    await this.#send({ type: MessageType.Error, code, fatal: false, reason });
  }

  async #onStart(m: UploadStart): Promise<void> {
    if (m.size > this.#maxFileSize)
      return this.#refuse(
        V4ErrorCode.FileTooLarge,
        `The server accepts files up to ${this.#maxFileSize} bytes.`,
        m.uploadId,
        m.name,
      );
    const client = this.#client!;
    const opened = await this.#ctx.partials.open({
      clientKey: client.key,
      clientId: client.id,
      uploadId: m.uploadId,
      fileKey: m.fileKey,
      size: m.size,
      name: m.name,
      resume: m.resume,
      inviteId: client.inviteId,
    });
    if ('code' in opened) return this.#refuse(opened.code, opened.reason, m.uploadId, m.name);
    const kept = Math.min(opened.next * RECORD_SIZE, m.size);
    const reservation = await reserveUpload(this.#ctx, client.id, { name: m.name, size: m.size, kept });
    if (isRefusal(reservation)) {
      // Nothing of a new upload is kept; a resumed one stays as it was, for a later try.
      if (opened.next === 0 && !m.resume) await opened.remove();
      else await opened.detach();
      return this.#refuse(reservation.code, reservation.reason, m.uploadId, m.name, reservation.why);
    }
    if (this.#closed) {
      reservation.release();
      await opened.detach();
      return;
    }
    const writer = new RecordWriter(opened, {
      fileKey: m.fileKey,
      binding: this.#session!.binding,
      uploadId: m.uploadId,
      size: m.size,
      start: opened.next,
    });
    this.#open = {
      upload: opened,
      reservation,
      resumedFrom: opened.next,
      writer,
      uploadId: m.uploadId,
      name: m.name,
      since: performance.now(),
      firstChunkAt: null,
      received: 0,
      serverMs: 0,
    };
    if (this.#sampled('v4 upload start'))
      this.#log.info(
        { event: 'v4-upload-start', file: m.name, size: m.size, next: opened.next },
        v4Sentence.started(this.#who, m.name, m.size, opened.next),
      );
    await this.#send({ type: MessageType.UploadReady, uploadId: m.uploadId, nextRecord: opened.next });
  }

  async #onChunk(body: Uint8Array): Promise<void> {
    const open = this.#open;
    if (!open) {
      if (this.#dropping) return;
      throw new V4Error('V4_ERR_STATE', 'A Chunk without an open upload.');
    }
    const t = performance.now();
    try {
      await open.writer.push(body);
      if (open.writer.complete) await open.writer.drain();
      open.serverMs += performance.now() - t;
    } catch (e) {
      this.#open = null;
      this.#dropping = true;
      await open.writer.discard();
      await open.upload.remove().catch(() => {});
      open.reservation.release();
      if (!(e instanceof StorageFailure))
        return this.#refuse(V4ErrorCode.RecordInvalid, (e as Error).message, open.uploadId, open.name);
      // Disk full or failing: this upload ends, the connection stays (Error 14 is not fatal).
      this.#log.warn({ event: 'v4-write-failed', file: open.name, message: e.message });
      return this.#refuse(
        V4ErrorCode.StorageFailed,
        V4_ERROR_SENTENCES[V4ErrorCode.StorageFailed],
        open.uploadId,
        open.name,
      );
    }
    if (open.writer.complete) await this.#complete(open);
  }

  async #complete(open: Open): Promise<void> {
    this.#open = null;
    const client = this.#client!;
    const now = new Date().toISOString();
    let stored: { pathName: string; token: string };
    let done: Awaited<ReturnType<PartialUpload['finish']>>;
    const sha256 = () => bytesToHex(done.sha256);
    try {
      done = await open.upload.finish();
      stored = await this.#ctx.files.store(
        client.id,
        open.name,
        { cksum: 0, size: done.size, temp: this.#ctx.files.adopt(done.path), sha256: sha256() },
        now,
      );
    } catch (e) {
      await open.upload.forget();
      open.reservation.release();
      this.#log.warn({ event: 'v4-store-failed', file: open.name, message: (e as Error).message });
      return this.#refuse(
        V4ErrorCode.StorageFailed,
        V4_ERROR_SENTENCES[V4ErrorCode.StorageFailed],
        open.uploadId,
        open.name,
      );
    }
    // Every byte was authenticated on arrival: the file is verified as it is stored.
    await this.#ctx.files.verify(client.id, open.name, stored.token);
    // The row counts the bytes now: the reservation and the kept bytes go.
    open.reservation.release();
    await open.upload.forget();
    this.#log.info(
      {
        event: 'v4-upload-done',
        file: open.name,
        bytes: done.size,
        sha256: sha256(),
        resumedFrom: open.resumedFrom,
        ms: Math.round(performance.now() - open.since),
      },
      v4Sentence.done(this.#who, open.name, done.size, sha256(), open.resumedFrom),
    );
    await this.#send({
      type: MessageType.UploadDone,
      uploadId: open.uploadId,
      size: done.size,
      sha256: done.sha256,
      storedName: basename(stored.pathName),
    });
  }

  /** Idle timeout and login grace, as for v3 connections. */
  checkTimeout(now: number): boolean {
    if (this.#closed || this.#busy) return false;
    const c = this.#ctx.config;
    let reason: string | null = null;
    if (!this.#lease.authenticated && now - this.#openedAt > c.loginGraceMs) reason = 'login grace';
    else if (now - this.#lastActivity > c.idleTimeoutMs) reason = 'idle';
    else if (this.#uploadTooSlow()) {
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

  /** Below --min-upload-rate on average since the upload's first byte here, past the grace (server time not counted). */
  #uploadTooSlow(): boolean {
    const open = this.#open;
    if (!open || open.firstChunkAt === null) return false;
    return belowMinUploadRate(
      this.#ctx.config,
      open.received,
      performance.now() - open.firstChunkAt - open.serverMs,
    );
  }

  /** Stops handling frames; an open upload is kept (durable) for a resume. */
  async close(reason: string): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#queue.length = 0;
      if (this.#open)
        this.#log.info(
          { event: 'v4-upload-kept', file: this.#open.name, reason, next: this.#open.upload.next },
          v4Sentence.kept(this.#who, this.#open.name, this.#open.upload.next, reason),
        );
    }
    await this.#busy;
    const open = this.#open;
    this.#open = null;
    // What verified is written first, then kept durable for a resume.
    await open?.writer.drain().catch(() => {});
    await open?.upload.detach().catch(() => {});
    // Kept bytes now count through the partial-upload index: the rest of the reservation goes.
    open?.reservation.release();
  }

  destroy(): Promise<void> {
    const done = this.close('server shutting down');
    this.#socket.destroy();
    return done;
  }
}
