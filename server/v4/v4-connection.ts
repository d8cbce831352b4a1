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
  MessageType,
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
import { type Peer, peerText } from '../admission';
import type { ServerConfig } from '../config';
import type { Database } from '../database';
import type { FileStore } from '../file-store';
import type { PartialUpload, PartialUploads } from './partial-uploads';
import { RecordWriter, StorageFailure } from './record-writer';
import type { ServerIdentity } from './server-key';
import { findOrRegister } from './v4-clients';

export interface V4Context {
  db: Database;
  files: FileStore;
  config: ServerConfig;
  log: Logger;
  identity: ServerIdentity;
  partials: PartialUploads;
}

/** Frames queued before the socket is paused (each at most one record: about 1 MiB). */
const QUEUE_LIMIT = 4;
const CLOSE_GRACE_MS = 1000;

interface Open {
  upload: PartialUpload;
  /** Opens the records and writes them in batches (record-writer.ts). */
  writer: RecordWriter;
  uploadId: Uint8Array;
  name: string;
  since: number;
}

export class V4Connection {
  readonly #socket: Socket;
  readonly #ctx: V4Context;
  readonly #log: Logger;
  readonly #peer: Peer;
  readonly #lease: ConnectionLease;
  readonly #decoder = new FrameDecoder({ allowed: CLIENT_TO_SERVER_FRAMES, preamble: true });
  readonly #handshake: ServerHandshake;
  readonly #queue: Frame[] = [];
  readonly #openedAt = Date.now();
  #session: Session | null = null;
  #client: { id: Uint8Array; key: Uint8Array; name: string } | null = null;
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
    this.#log = ctx.log.child({ peer: peerText(who.peer), protocol: 4 });
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

  /** Sends a fatal Error (sealed) or Alert (clear), then closes. */
  #fatal(code: number, reason: string, sealed: boolean): void {
    if (this.#closed) return;
    this.#log.warn({ event: 'v4-refused', code, reason });
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
      const step = await this.#handshake.onFrame(frame);
      if (step.send) this.#write(step.send);
      if (step.done)
        await this.#welcome(step.done.session, step.done.clientAuth.clientKey, step.done.clientAuth.name);
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
          await this.#open.writer.discard();
          await this.#open.upload.remove();
          this.#open = null;
          this.#dropping = true;
        }
        return this.#send({ type: MessageType.UploadAborted, uploadId: m.uploadId });
      case MessageType.Bye:
        // (Not awaited: close() waits for the handler now running, this one.)
        void this.close('bye');
        this.#socket.end();
        return;
      default:
        throw new V4Error('V4_ERR_STATE', `Message type ${m.type} is not one a client sends.`);
    }
  }

  async #welcome(session: Session, key: Uint8Array, name: string): Promise<void> {
    this.#session = session;
    const found = await findOrRegister(
      this.#ctx.db,
      key,
      name,
      this.#ctx.config.maxClients,
      new Date().toISOString(),
    );
    if ('code' in found) {
      this.#fatal(found.code, found.reason, true);
      return;
    }
    this.#client = { id: found.row.ID, key, name };
    this.#lease.markAuthenticated();
    this.#log.info({
      event: 'v4-authenticated',
      client: bytesToHex(found.row.ID).slice(0, 8),
      name,
      registered: found.registered,
    });
    await this.#send({
      type: MessageType.Welcome,
      clientId: found.row.ID,
      registered: found.registered,
      maxFileSize: this.#maxFileSize,
    });
  }

  get #maxFileSize(): number {
    return this.#ctx.config.v4MaxFileSize ?? DEFAULT_MAX_FILE_SIZE_V4;
  }

  async #refuse(code: number, reason: string, uploadId: Uint8Array, name: string): Promise<void> {
    this.#log.info({
      event: 'v4-upload-refused',
      file: name,
      upload: bytesToHex(uploadId).slice(0, 8),
      code,
      reason,
    });
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
    });
    if ('code' in opened) return this.#refuse(opened.code, opened.reason, m.uploadId, m.name);
    const writer = new RecordWriter(opened, {
      fileKey: m.fileKey,
      binding: this.#session!.binding,
      uploadId: m.uploadId,
      size: m.size,
      start: opened.next,
    });
    this.#open = { upload: opened, writer, uploadId: m.uploadId, name: m.name, since: performance.now() };
    this.#log.info({ event: 'v4-upload-start', file: m.name, size: m.size, next: opened.next });
    await this.#send({ type: MessageType.UploadReady, uploadId: m.uploadId, nextRecord: opened.next });
  }

  async #onChunk(body: Uint8Array): Promise<void> {
    const open = this.#open;
    if (!open) {
      if (this.#dropping) return;
      throw new V4Error('V4_ERR_STATE', 'A Chunk without an open upload.');
    }
    try {
      await open.writer.push(body);
      if (open.writer.complete) await open.writer.drain();
    } catch (e) {
      this.#open = null;
      this.#dropping = true;
      await open.writer.discard();
      await open.upload.remove().catch(() => {});
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
    const done = await open.upload.finish();
    const now = new Date().toISOString();
    let stored: { pathName: string; token: string };
    try {
      stored = await this.#ctx.files.store(
        client.id,
        open.name,
        { cksum: 0, size: done.size, temp: this.#ctx.files.adopt(done.path) },
        now,
      );
    } catch (e) {
      await open.upload.forget();
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
    await open.upload.forget();
    this.#log.info({
      event: 'v4-upload-done',
      file: open.name,
      bytes: done.size,
      sha256: bytesToHex(done.sha256),
      ms: Math.round(performance.now() - open.since),
    });
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
    if (!reason) return false;
    this.#log.info({ event: 'timeout', reason });
    void this.close(reason);
    this.#socket.destroy();
    return true;
  }

  /** Stops handling frames; an open upload is kept (durable) for a resume. */
  async close(reason: string): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#queue.length = 0;
      if (this.#open)
        this.#log.info({
          event: 'v4-upload-kept',
          file: this.#open.name,
          reason,
          next: this.#open.upload.next,
        });
    }
    await this.#busy;
    const open = this.#open;
    this.#open = null;
    // What verified is written first, then kept durable for a resume.
    await open?.writer.drain().catch(() => {});
    await open?.upload.detach().catch(() => {});
  }

  destroy(): Promise<void> {
    const done = this.close('server shutting down');
    this.#socket.destroy();
    return done;
  }
}
