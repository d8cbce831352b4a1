/**
 * The uploads of one protocol v4 connection (v4-connection.ts gives it the frames): an
 * UploadStart is checked, opened (new or resumed: partial-uploads.ts) and reserved against the
 * quotas (v4-access.ts); its Chunks are opened and written by a RecordWriter, the shared room
 * covered before each; the last record stores the file and answers UploadDone. At most one
 * upload is open; a failed or refused one ends with a non-fatal Error, and its Chunks still
 * in flight are dropped until the next sealed message (docs/PROTOCOL.md, "Uploads").
 */
import { basename } from 'node:path';
import { bytesEqual, bytesToHex, hexToBytes } from '../../lib/crypto/encoding';
import { formatByteLimit } from '../../lib/format';
import {
  isFatalCode,
  MessageType,
  RECORD_SIZE,
  TAG_SIZE,
  V4_ERROR_SENTENCES,
  V4ErrorCode,
} from '../../lib/protocol/v4/constants';
import { type Message, nameProblem, type UploadStart } from '../../lib/protocol/v4/messages';
import { V4Error } from '../../lib/v4/errors';
import type { Logger } from '../../platform/log';
import { belowMinUploadRate } from '../config';
import type { FileStore } from '../file-store';
import type { Reservation } from '../upload-quota';
import type { PartialUpload, PartialUploads, TakeOver } from './partial-uploads';
import { RecordWriter, StorageFailure } from './record-writer';
import { coverUpload, isRefusal, reserveUpload, type V4AccessContext, type V4Refusal } from './v4-access';
import { v4Sentence } from './v4-log';

/**
 * Error 7's reason: the largest file this connection may send, as a person reads it, with the
 * exact count after it ("up to 20 MiB (20,971,520 bytes)"; the page shows it as it is).
 */
export function fileTooLargeReason(maxFileSize: number): string {
  return `The server accepts files up to ${formatByteLimit(maxFileSize)} (${maxFileSize.toLocaleString('en-US')} bytes).`;
}

/** The server's parts the uploads use (a part of v4-connection.ts's V4Context). */
export interface UploadContext extends V4AccessContext {
  files: FileStore;
  partials: PartialUploads;
}

/** What the uploads need of their connection. */
export interface UploadHost {
  readonly ctx: UploadContext;
  readonly log: Logger;
  /** Who the log names. */
  readonly who: string;
  readonly maxFileSize: number;
  /** The authenticated client (uploads come only after Welcome). */
  client(): { id: Uint8Array; key: Uint8Array; name: string; inviteId: string | null };
  /** The session binding the records' keys are derived with. */
  binding(): Uint8Array;
  closed(): boolean;
  send(m: Message): Promise<void>;
  /** A fatal Error (sealed), then the connection closes; already logged. */
  fatal(code: number, reason: string): void;
  /** Whether a line a client can repeat as fast as it likes is logged (the per-source sampler). */
  sampled(kind: string): boolean;
  /** Runs `task` in turn with the connection's frames (before those still queued); resolves once done. */
  interrupt(task: () => Promise<void>): Promise<void>;
}

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
  /** Plaintext bytes of the Chunks taken on this connection: the reservation covers them first. */
  taken: number;
}

export class V4Uploads {
  readonly #host: UploadHost;
  #open: Open | null = null;
  /** After a failed or aborted upload: its Chunks still in flight are dropped. */
  #dropping = false;

  constructor(host: UploadHost) {
    this.#host = host;
  }

  /** True while an upload is open. */
  get isOpen(): boolean {
    return this.#open !== null;
  }

  /** Bytes as they arrive, not whole Chunks (a trickled Chunk never completes): --min-upload-rate. */
  received(bytes: number): void {
    const open = this.#open;
    if (!open) return;
    open.firstChunkAt ??= performance.now();
    open.received += bytes;
  }

  /** A sealed message came: Chunks of a dropped upload no longer arrive after it. */
  sealedMessage(): void {
    this.#dropping = false;
  }

  /**
   * An UploadAbort: the upload with this ID is removed, the open one or a kept one of this
   * client (one another connection has open too: that one is told, Error 18). False when
   * the client has no upload with this ID (the caller answers Error 11); 'refused' when it
   * was answered here (Busy: its store in flight outlasted the wait, and the upload stays).
   */
  async abort(uploadId: Uint8Array): Promise<boolean | 'refused'> {
    if (this.#open && bytesEqual(this.#open.uploadId, uploadId)) {
      const open = this.#open;
      await open.writer.discard();
      this.#open = null;
      this.#dropping = true;
      await open.upload.remove();
      open.reservation.release();
      if (this.#host.sampled('v4 upload aborted'))
        this.#host.log.info(
          { event: 'v4-upload-aborted', file: open.name },
          v4Sentence.aborted(this.#host.who, open.name),
        );
    } else {
      const upload = bytesToHex(uploadId).slice(0, 8);
      const discarded = await this.#host.ctx.partials.discard(this.#host.client().key, uploadId);
      if (discarded === false) return false;
      if (discarded !== true) {
        await this.#refuse(
          discarded.code,
          discarded.reason,
          uploadId,
          `kept upload ${upload}`,
          discarded.why,
        );
        return 'refused';
      }
      // A kept upload (its connection was cut): its bytes no longer count against quotas.
      if (this.#host.sampled('v4 upload aborted'))
        this.#host.log.info(
          { event: 'v4-upload-aborted', upload },
          v4Sentence.aborted(this.#host.who, `kept upload ${upload}`),
        );
    }
    return true;
  }

  /** Refuses an upload: a non-fatal Error (the connection stays), or a fatal one for the invite's state. */
  async #refuse(
    code: number,
    reason: string,
    uploadId: Uint8Array,
    name: string,
    why: string = reason,
  ): Promise<void> {
    if (this.#host.sampled(`v4 upload refused ${code}`))
      this.#host.log.info(
        {
          event: 'v4-upload-refused',
          file: name,
          upload: bytesToHex(uploadId).slice(0, 8),
          code,
          reason: why,
          ...(why !== reason ? { detail: reason } : {}),
        },
        v4Sentence.uploadRefused(this.#host.who, name, code, why),
      );
    if (isFatalCode(code)) {
      this.#host.fatal(code, reason);
      return;
    }
    await this.#host.send({ type: MessageType.Error, code, fatal: false, reason });
  }

  /** An UploadStart: refused, or opened (a new upload or a resume) and answered with UploadReady. */
  async start(m: UploadStart): Promise<void> {
    const problem = nameProblem(m.name, true);
    // The log gets the name quoted, as JSON (every v4 sentence also escapes the characters
    // the rule refuses, v4-log.ts: a terminal would run them).
    if (problem) return this.#refuse(V4ErrorCode.BadName, problem, m.uploadId, JSON.stringify(m.name));
    if (m.size > this.#host.maxFileSize)
      return this.#refuse(
        V4ErrorCode.FileTooLarge,
        fileTooLargeReason(this.#host.maxFileSize),
        m.uploadId,
        m.name,
      );
    const client = this.#host.client();
    const opened = await this.#host.ctx.partials.open({
      clientKey: client.key,
      clientId: client.id,
      uploadId: m.uploadId,
      fileKey: m.fileKey,
      size: m.size,
      name: m.name,
      resume: m.resume,
      inviteId: client.inviteId,
    });
    if ('code' in opened) return this.#refuse(opened.code, opened.reason, m.uploadId, m.name, opened.why);
    if ('storedToken' in opened) return this.#storedAlready(m, opened.storedToken);
    const kept = Math.min(opened.next * RECORD_SIZE, m.size);
    const reservation = await reserveUpload(this.#host.ctx, client.id, { name: m.name, size: m.size, kept });
    if (isRefusal(reservation)) {
      // Nothing of a new upload is kept; a resumed one stays as it was, for a later try.
      if (opened.next === 0 && !m.resume) await opened.remove();
      else await opened.detach();
      return this.#refuse(reservation.code, reservation.reason, m.uploadId, m.name, reservation.why);
    }
    if (this.#host.closed()) {
      reservation.release();
      await opened.detach();
      return;
    }
    const writer = new RecordWriter(opened, {
      fileKey: m.fileKey,
      binding: this.#host.binding(),
      uploadId: m.uploadId,
      size: m.size,
      start: opened.next,
    });
    const open: Open = {
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
      taken: 0,
    };
    this.#open = open;
    // Both come between frames, at once: a client may send nothing more for a while.
    writer.onFailure = (e) => void this.#host.interrupt(() => this.#fail(open, e));
    opened.onTakenOver = (how) => this.#host.interrupt(() => this.#takenOver(open, how));
    if (this.#host.sampled('v4 upload start'))
      this.#host.log.info(
        { event: 'v4-upload-start', file: m.name, size: m.size, next: opened.next },
        v4Sentence.started(this.#host.who, m.name, m.size, opened.next),
      );
    await this.#host.send({ type: MessageType.UploadReady, uploadId: m.uploadId, nextRecord: opened.next });
  }

  /** A Chunk: the next record of the open upload (dropped after a failed or aborted one). */
  async chunk(body: Uint8Array): Promise<void> {
    const open = this.#open;
    if (!open) {
      if (this.#dropping) return;
      throw new V4Error('V4_ERR_STATE', 'A Chunk without an open upload.');
    }
    const t = performance.now();
    open.taken += Math.max(0, body.length - TAG_SIZE);
    const short = await coverUpload(open.reservation, open.taken, async () => {
      await open.writer.discard();
      await open.upload.remove();
    });
    if (short) return this.#outOfRoom(open, short);
    try {
      await open.writer.push(body);
      if (open.writer.complete) await open.writer.drain();
      open.serverMs += performance.now() - t;
    } catch (e) {
      return this.#fail(open, e);
    }
    if (open.writer.complete) await this.#complete(open);
  }

  /**
   * A record of the open upload did not verify (Error 13), or its write failed (Error 14):
   * the upload ends, the connection stays. Once per upload: the writer says so as soon as it
   * happens (between frames) and push() again when the next Chunk comes.
   */
  async #fail(open: Open, e: unknown): Promise<void> {
    if (this.#open !== open) return;
    // Its writes fail once another connection has it: that is a take-over, not the disk.
    const how = open.upload.takenOver;
    if (how) return this.#takenOver(open, how);
    this.#open = null;
    this.#dropping = true;
    await open.writer.discard();
    await open.upload.remove().catch(() => {});
    open.reservation.release();
    if (!(e instanceof StorageFailure))
      return this.#refuse(V4ErrorCode.RecordInvalid, (e as Error).message, open.uploadId, open.name);
    // Disk full or failing: this upload ends, the connection stays (Error 14 is not fatal).
    this.#host.log.warn({ event: 'v4-write-failed', file: open.name, message: e.message });
    return this.#refuse(
      V4ErrorCode.StorageFailed,
      V4_ERROR_SENTENCES[V4ErrorCode.StorageFailed],
      open.uploadId,
      open.name,
    );
  }

  /**
   * Another connection of this client resumed or cancelled the open upload (a cut
   * connection the client has given up on, or a second run of the same command): this one
   * stops it, keeps nothing of it (the files are the other one's now) and says so (Error 18,
   * not fatal); its Chunks still in flight are dropped.
   */
  async #takenOver(open: Open, how: TakeOver): Promise<void> {
    if (this.#open !== open) return;
    this.#open = null;
    this.#dropping = true;
    // What verified here is written first (a batch may wait for more records): the resume
    // that takes it over starts from it.
    await open.writer.drain().catch(() => {});
    await open.writer.discard();
    open.reservation.release();
    const reason =
      how === 'resumed'
        ? 'Another connection of this sender resumed this upload; it goes on there.'
        : 'Another connection of this sender cancelled this upload.';
    return this.#refuse(V4ErrorCode.TakenOver, reason, open.uploadId, open.name);
  }

  /**
   * The shared room went to other uploads while this one was under way (honest uploads that
   * together do not fit): it stopped, and what it wrote is gone (coverUpload), so that the
   * others can finish.
   */
  #outOfRoom(open: Open, r: V4Refusal): Promise<void> {
    this.#open = null;
    this.#dropping = true;
    const reason = `${r.reason} Other uploads took the room while this one was being sent; send it again later.`;
    return this.#refuse(r.code, reason, open.uploadId, open.name, r.why);
  }

  async #complete(open: Open): Promise<void> {
    this.#open = null;
    const client = this.#host.client();
    const now = new Date().toISOString();
    let stored: { pathName: string; token: string };
    let done: Awaited<ReturnType<PartialUpload['finish']>>;
    const sha256 = () => bytesToHex(done.sha256);
    try {
      done = await open.upload.finish(await open.writer.digest());
      stored = await this.#host.ctx.files.store(
        client.id,
        open.name,
        {
          cksum: 0,
          size: done.size,
          temp: this.#host.ctx.files.adopt(done.path),
          sha256: sha256(),
          // Before the store's note goes: a kill -9 before the state file gave way to the
          // `.done` left it vouching for records whose data was in files/ (the resume started
          // again from record 0 and the whole file was sent and stored again).
          settle: (token) => open.upload.stored(token),
        },
        now,
      );
    } catch (e) {
      await open.upload.forget();
      open.reservation.release();
      // Another connection resumed or cancelled it before finish() (its take-over wait ran
      // out while the last records were written here): not a storage failure.
      const how = open.upload.takenOver;
      if (how)
        return this.#refuse(
          V4ErrorCode.TakenOver,
          how === 'resumed'
            ? 'Another connection of this sender resumed this upload; it goes on there.'
            : 'Another connection of this sender cancelled this upload.',
          open.uploadId,
          open.name,
        );
      this.#host.log.warn({ event: 'v4-store-failed', file: open.name, message: (e as Error).message });
      return this.#refuse(
        V4ErrorCode.StorageFailed,
        V4_ERROR_SENTENCES[V4ErrorCode.StorageFailed],
        open.uploadId,
        open.name,
      );
    }
    // Every byte was authenticated on arrival: store() recorded the file verified.
    // The row counts the bytes now: the reservation and the kept bytes go.
    open.reservation.release();
    this.#host.log.info(
      {
        event: 'v4-upload-done',
        file: open.name,
        bytes: done.size,
        sha256: sha256(),
        resumedFrom: open.resumedFrom,
        ms: Math.round(performance.now() - open.since),
      },
      v4Sentence.done(this.#host.who, open.name, done.size, sha256(), open.resumedFrom),
    );
    await this.#host.send({
      type: MessageType.UploadDone,
      uploadId: open.uploadId,
      size: done.size,
      sha256: done.sha256,
      storedName: basename(stored.pathName),
    });
  }

  /**
   * A resume of an upload stored already (its connection broke before the client read
   * UploadDone): UploadDone again, as long as the stored file is still that upload's (not
   * replaced by a later one of the same name, nor removed by the owner); else Error 11.
   */
  async #storedAlready(m: UploadStart, token: string): Promise<void> {
    const row = await this.#host.ctx.files.storedUpload(this.#host.client().id, m.name, token);
    if (!row)
      return this.#refuse(
        V4ErrorCode.UnknownUpload,
        'No unfinished upload with this ID.',
        m.uploadId,
        m.name,
      );
    if (this.#host.sampled('v4 upload done again'))
      this.#host.log.info(
        { event: 'v4-upload-done-again', file: m.name, bytes: row.size, sha256: row.sha256 },
        v4Sentence.doneAgain(this.#host.who, m.name),
      );
    await this.#host.send({
      type: MessageType.UploadDone,
      uploadId: m.uploadId,
      size: row.size,
      sha256: hexToBytes(row.sha256),
      storedName: basename(row.pathName),
    });
  }

  /** Below --min-upload-rate on average since the upload's first byte here, past the grace (server time not counted). */
  tooSlow(): boolean {
    const open = this.#open;
    if (!open || open.firstChunkAt === null) return false;
    return belowMinUploadRate(
      this.#host.ctx.config,
      open.received,
      performance.now() - open.firstChunkAt - open.serverMs,
    );
  }

  /**
   * The connection is gone: what verified is written first, then the upload is kept durable
   * for a resume; `reason` for the log line.
   */
  async keep(reason: string): Promise<void> {
    const open = this.#open;
    if (!open) return;
    this.#open = null;
    await open.writer.drain().catch(() => {});
    await open.writer.discard();
    await open.upload.detach().catch(() => {});
    // Kept bytes now count through the partial-upload index: the rest of the reservation goes.
    open.reservation.release();
    // After the detach: `next` is then the durable count a resume starts from.
    this.#host.log.info(
      { event: 'v4-upload-kept', file: open.name, reason, next: open.upload.next },
      v4Sentence.kept(this.#host.who, open.name, open.upload.next, reason),
    );
  }
}
