/**
 * 1028 on one connection: the file in progress, the packet whose content is arriving, and
 * the rest of a failed file's packets to skip. Each decoder event gives a Step (outcome.ts);
 * the connection sends and logs what comes of it.
 *
 * A failed file gets one 1607; its remaining packets (same file name) are then dropped
 * silently, so a client that only reads after its last packet sees exactly one answer. Any
 * other request, a packet of another file, or one that restarts the numbering (0 or 1, not
 * above the highest number dropped) ends that.
 */
import {
  clientIdEquals,
  clientIdToHex,
  decodeRequest,
  REQUEST_HEADER_SIZE,
  RequestCode,
  type RequestHeader,
  ResponseCode,
  type SendFileRequest,
} from '../lib/protocol';
import type { Database } from './database';
import { ServerError } from './errors';
import type { FileStore } from './file-store';
import { failure, type Outcome, type Step } from './outcome';
import type { PeerLimits } from './peer-limits';
import type { Session, SessionKey } from './session';
import { Upload } from './upload';
import type { Reservation, UploadQuota } from './upload-quota';
import { PacketSequence, type SequenceLimits } from './upload-sequence';

/** LastSeen is written at most this often during a file's packets. */
const LAST_SEEN_INTERVAL_MS = 1000;

export interface ReceiverContext {
  db: Database;
  files: FileStore;
  session: Session;
  /** Told when a key is lost to a failed decrypt. */
  peerLimits?: PeerLimits;
  limits: SequenceLimits;
  /** Checks and reserves each file's declared size before it is written (issue 15). */
  quota: UploadQuota;
}

interface UploadState {
  upload: Upload;
  /** The file's bytes held against its limits until it is stored or dropped. */
  reservation: Reservation;
  clientId: Uint8Array;
  startedAt: number;
  bytes: number;
  packets: number;
}

const iso = () => new Date().toISOString();

/**
 * Failures whose answer depends on what the ciphertext decrypts to (or on sizes checked
 * against it): with 1603 for the alternative they would make a CBC padding oracle under a
 * key the sender need not know, so the connection loses its key at the first one.
 */
const KEY_LOSING = new Set([
  'SERVER_ERR_UPLOAD_PADDING',
  'SERVER_ERR_UPLOAD_SIZE',
  'SERVER_ERR_UPLOAD_INCONSISTENT',
]);

export class FileReceiver {
  readonly #ctx: ReceiverContext;
  #upload: UploadState | null = null;
  #packet: { header: RequestHeader; req: SendFileRequest } | null = null;
  #discard: { fileName: string; lastNumber: number } | null = null;
  /**
   * Temp-file removals still running, each gone once done: a connection lives as long as its
   * peer keeps talking, and one that fails upload after upload kept every removal's promise
   * (about 50 bytes each) until it closed.
   */
  readonly #cleanups = new Set<Promise<void>>();
  #lastTouch = 0;
  #closed = false;

  constructor(ctx: ReceiverContext) {
    this.#ctx = ctx;
  }

  /** Another request arrived: a file in progress is abandoned, skipping ends. */
  interrupt(): Outcome | undefined {
    this.#discard = null;
    return this.#abandon(
      new ServerError('SERVER_ERR_UPLOAD_SEQUENCE', 'Another request interrupted the file.'),
    );
  }

  /** The connection ended: the file in progress is dropped without an answer. */
  close(reason: string): Outcome | undefined {
    this.#closed = true;
    return this.#abandon(new ServerError('SERVER_ERR_UPLOAD_ABORTED', `Connection ended: ${reason}.`));
  }

  /** Resolves once temp files of abandoned uploads are removed. */
  settled(): Promise<void> {
    return Promise.all(this.#cleanups).then(() => {});
  }

  /** Drops a file in the background; settled() waits for it while it runs. */
  #dropLater(u: UploadState): void {
    const done: Promise<void> = this.#drop(u).finally(() => this.#cleanups.delete(done));
    this.#cleanups.add(done);
  }

  /**
   * Header and fixed part of a packet: checks it against the connection's key and the file
   * in progress (the first packet starts it). Its content follows through content().
   */
  start(header: RequestHeader, fixed: Uint8Array, contentLength: number): Step {
    const t0 = performance.now();
    const bytes = REQUEST_HEADER_SIZE + fixed.length + contentLength;
    this.#packet = null;
    let req: SendFileRequest;
    try {
      req = decodeRequest(header, fixed) as SendFileRequest;
    } catch (e) {
      return this.#failed(e, null, bytes, t0);
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
    const u = this.#upload;
    if (!u) return this.#begin(header, req, contentLength, bytes, t0);
    try {
      if (!clientIdEquals(header.clientId, u.clientId)) {
        throw new ServerError(
          'SERVER_ERR_CLIENT_MISMATCH',
          "The packet's client ID changed in the middle of a file.",
        );
      }
      u.bytes += bytes;
      u.packets++;
      u.upload.beginPacket(req, contentLength);
      this.#packet = { header, req };
      // The shared room (disk, total) is held as the file arrives (upload-quota.ts).
      const extending = u.reservation.cover(u.bytes, () => u.upload.abort());
      if (extending)
        return extending.then(
          () => this.#touch(u, req, bytes, t0),
          (e: unknown) => (this.#upload === u ? this.#failed(e, req, bytes, t0) : undefined),
        );
    } catch (e) {
      return this.#failed(e, req, bytes, t0);
    }
    return this.#touch(u, req, bytes, t0);
  }

  /** LastSeen, at most once a LAST_SEEN_INTERVAL_MS. */
  #touch(u: UploadState, req: SendFileRequest, bytes: number, t0: number): Step {
    if (t0 - this.#lastTouch <= LAST_SEEN_INTERVAL_MS) return;
    this.#lastTouch = t0;
    return this.#ctx.db.touch(u.clientId, iso()).then(
      () => undefined,
      (e: unknown) => (this.#upload === u ? this.#failed(e, req, bytes, t0) : undefined),
    );
  }

  /**
   * The first packet of a file: needs this connection's key, issued to the packet's client,
   * sizes that can be right, and room within every limit for the declared size, reserved
   * before the temp file is opened (the socket waits meanwhile).
   */
  async #begin(
    header: RequestHeader,
    req: SendFileRequest,
    contentLength: number,
    bytes: number,
    t0: number,
  ): Promise<Outcome | undefined> {
    let reservation: Reservation | undefined;
    try {
      const key = this.#key(header);
      PacketSequence.start(req, this.#ctx.limits);
      reservation = await this.#ctx.quota.reserve(key.clientId, req.fileName, req.origSize);
      if (this.#closed) {
        reservation.release();
        return undefined;
      }
      const upload = new Upload(req, key.aesKey, () => this.#ctx.files.createTemp(), this.#ctx.limits);
      const u: UploadState = {
        upload,
        reservation,
        clientId: key.clientId,
        startedAt: t0,
        bytes,
        packets: 1,
      };
      reservation = undefined;
      this.#upload = u;
      u.upload.beginPacket(req, contentLength);
      this.#packet = { header, req };
      return (await this.#touch(u, req, bytes, t0)) ?? undefined;
    } catch (e) {
      reservation?.release();
      return this.#failed(e, req, bytes, t0);
    }
  }

  /** The connection's key, when it was issued to the packet's client. */
  #key(header: RequestHeader): SessionKey {
    const key = this.#ctx.session.key;
    if (!key) {
      throw new ServerError(
        'SERVER_ERR_NO_KEY',
        'This connection has no AES key; send the public key (1026) or reconnect (1027) first.',
      );
    }
    if (!clientIdEquals(header.clientId, key.clientId)) {
      throw new ServerError(
        'SERVER_ERR_CLIENT_MISMATCH',
        "The packet's client ID is not the one this connection's key was issued to.",
      );
    }
    return key;
  }

  /** A slice of the current packet's content (the hot path: nothing awaited unless the disk is behind). */
  content(chunk: Uint8Array): Step {
    const u = this.#upload;
    if (!this.#packet || !u) return;
    try {
      u.upload.addContent(chunk);
    } catch (e) {
      return this.#failed(e, this.#packet.req, 0, performance.now());
    }
    return this.#drained(u);
  }

  /** The current packet is complete; after the last one the file is stored and answered. */
  end(): Step {
    const p = this.#packet;
    this.#packet = null;
    const u = this.#upload;
    if (!p || !u) return;
    try {
      if (u.upload.endPacket()) return this.#finish(u, p.req);
    } catch (e) {
      return this.#failed(e, p.req, 0, performance.now());
    }
    return this.#drained(u);
  }

  async #finish(u: UploadState, req: SendFileRequest): Promise<Outcome | undefined> {
    const { db, files, session } = this.#ctx;
    let storing = false;
    try {
      const result = await u.upload.finish();
      if (this.#closed) {
        throw new ServerError(
          'SERVER_ERR_UPLOAD_ABORTED',
          'The connection closed before the file was stored.',
        );
      }
      // Complete and being stored: a connection closing now no longer abandons it (the
      // rename would race abort()'s removal of the temp file); close waits for this.
      this.#upload = null;
      storing = true;
      const stored = await files.store(u.clientId, req.fileName, result, iso()).finally(() =>
        // Stored (its row counts from now on) or failed: either way no longer held.
        u.reservation.release(),
      );
      await db.touch(u.clientId, iso());
      session.setToken(u.clientId, req.fileName, stored.token);
      return {
        response: {
          code: ResponseCode.FileReceived,
          clientId: u.clientId,
          contentSize: req.contentSize,
          fileName: req.fileName,
          cksum: result.cksum,
        },
        ...this.#fields(u, req.fileName),
      };
    } catch (e) {
      if (this.#closed) {
        await this.#drop(u);
        // close() has already dropped and logged the upload, unless it was being stored.
        return storing ? { response: null, ...failure(e), ...this.#fields(u, req.fileName) } : undefined;
      }
      // The last packet is not followed by more, so nothing to skip.
      this.#upload = u;
      return this.#failed(e, null, 0, u.startedAt);
    }
  }

  /** The disk is behind: wait until the temp file's buffer has room again. */
  #drained(u: UploadState): Promise<undefined> | undefined {
    return u.upload.needsDrain ? u.upload.drained().then(() => undefined) : undefined;
  }

  /** The log fields of a whole file. */
  #fields(u: UploadState, file: string): Partial<Outcome> {
    return { bytes: u.bytes, since: u.startedAt, file, packets: u.packets };
  }

  /** A file failed: drop it (temp file removed), answer 1607 once, skip the rest of its packets. */
  #failed(e: unknown, req: SendFileRequest | null, bytes: number, t0: number): Outcome {
    const u = this.#upload;
    this.#upload = null;
    if (u) this.#dropLater(u);
    this.#loseKeyAfter(e);
    if (req) this.#discard = { fileName: req.fileName, lastNumber: req.packetNumber };
    const file = req?.fileName ?? u?.upload.fileName;
    return {
      response: { code: ResponseCode.ServerError },
      ...failure(e),
      bytes: u ? u.bytes : bytes,
      since: u ? u.startedAt : t0,
      packets: u ? u.packets : 1,
      ...(file !== undefined ? { file } : {}),
    };
  }

  /** Drops a file: its reservation goes, its temp file is removed. */
  #drop(u: UploadState): Promise<void> {
    u.reservation.release();
    return u.upload.abort();
  }

  /** Forgets the connection's key after a failure an oracle could learn from. */
  #loseKeyAfter(e: unknown): void {
    const { session, peerLimits } = this.#ctx;
    const key = session.key;
    if (!key || !KEY_LOSING.has((e as { code?: string } | null)?.code ?? '')) return;
    session.key = null;
    peerLimits?.decryptFailed(session.source, clientIdToHex(key.clientId));
  }

  /** Drops the file in progress without answering (the connection closed or moved on). */
  #abandon(reason: ServerError): Outcome | undefined {
    const u = this.#upload;
    if (!u) return;
    this.#upload = null;
    this.#packet = null;
    this.#dropLater(u);
    return {
      response: null,
      error: reason.code,
      ...this.#fields(u, u.upload.fileName),
      request: { clientId: u.clientId, code: RequestCode.SendFile },
    };
  }
}
