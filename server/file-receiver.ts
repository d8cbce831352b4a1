/**
 * The 1028 side of one connection: the file in progress, the packet whose content is
 * arriving, the rest of a failed file's packets to skip, and which upload of each name this
 * connection stored (1029/1030/1031 may act on those only).
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
  type RequestHeader,
  type Response,
  ResponseCode,
  type SendFileRequest,
} from '../lib/protocol';
import type { ServerDatabase } from './db';
import { ServerError } from './errors';
import { storeUpload } from './file-handlers';
import type { RequestLogEntry } from './log';
import type { Storage } from './storage';
import { Upload } from './upload';
import type { SequenceLimits } from './upload-sequence';

/** LastSeen is written at most this often during a file's packets. */
const LAST_SEEN_INTERVAL_MS = 1000;

/** What the receiver needs from its connection. */
export interface ReceiverHost {
  db: ServerDatabase;
  storage: Storage;
  limits: SequenceLimits;
  /** The AES key this connection holds and the client it was issued to. */
  key(): { aesKey: Buffer; clientId: Uint8Array } | null;
  closed(): boolean;
  send(res: Response): number;
  logRequest(header: RequestHeader | null, entry: Omit<RequestLogEntry, 'client' | 'code' | 'peer'>): void;
  /** Logs a 1028 file that ended without an answer. */
  logAbandoned(clientId: Uint8Array, entry: Omit<RequestLogEntry, 'client' | 'code' | 'peer'>): void;
  touch(clientId: Uint8Array): void;
  /** The stable error code (and underlying code) to log for a failure. */
  classify(e: unknown): { code: string; detail?: string };
}

interface UploadState {
  upload: Upload;
  clientId: Uint8Array;
  startedAt: number;
  bytes: number;
  packets: number;
}

const tokenKey = (clientId: Uint8Array, fileName: string) => `${clientIdToHex(clientId)}/${fileName}`;

export class FileReceiver {
  #upload: UploadState | null = null;
  #packet: { use: false } | { use: true; header: RequestHeader; req: SendFileRequest } | null = null;
  #discard: { fileName: string; lastNumber: number } | null = null;
  readonly #tokens = new Map<string, string>();
  readonly #cleanups: Promise<void>[] = [];
  #lastTouch = 0;

  constructor(private readonly host: ReceiverHost) {}

  /** The token of the upload of `fileName` this connection stored, if any. */
  tokenOf(clientId: Uint8Array, fileName: string): string | undefined {
    return this.#tokens.get(tokenKey(clientId, fileName));
  }

  forgetToken(clientId: Uint8Array, fileName: string): void {
    this.#tokens.delete(tokenKey(clientId, fileName));
  }

  /** Another request arrived: a file in progress is abandoned, skipping ends. */
  interrupt(): void {
    this.#discard = null;
    this.abandon(new ServerError('SERVER_ERR_UPLOAD_SEQUENCE', 'Another request interrupted the file.'));
  }

  /** Resolves once temp files of abandoned uploads are removed. */
  settled(): Promise<void> {
    return Promise.all(this.#cleanups).then(() => {});
  }

  /**
   * Header and fixed part of a packet: checks it against the connection's key and the file
   * in progress (the first packet starts it). Its content follows through content().
   */
  start(header: RequestHeader, fixed: Uint8Array, contentLength: number): void {
    const t0 = performance.now();
    const bytes = REQUEST_HEADER_SIZE + fixed.length + contentLength;
    this.#packet = { use: false };
    let req: SendFileRequest;
    try {
      req = decodeRequest(header, fixed) as SendFileRequest;
    } catch (e) {
      this.#failed(header, e, null, bytes, t0);
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
        const key = this.host.key();
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
        const upload = new Upload(req, key.aesKey, this.host.storage.newTempPath(), this.host.limits);
        u = this.#upload = { upload, clientId: key.clientId, startedAt: t0, bytes: 0, packets: 0 };
      } else if (!clientIdEquals(header.clientId, u.clientId)) {
        throw new ServerError(
          'SERVER_ERR_CLIENT_MISMATCH',
          "The packet's client ID changed in the middle of a file.",
        );
      }
      u.bytes += bytes;
      u.packets++;
      if (t0 - this.#lastTouch > LAST_SEEN_INTERVAL_MS) {
        this.host.touch(u.clientId);
        this.#lastTouch = t0;
      }
      u.upload.beginPacket(req, contentLength);
      this.#packet = { use: true, header, req };
    } catch (e) {
      this.#failed(header, e, req, bytes, t0);
    }
  }

  /** A slice of the current packet's content. A promise: wait for it (the disk is behind). */
  content(chunk: Uint8Array): Promise<void> | undefined {
    const p = this.#packet;
    const u = this.#upload;
    if (!p?.use || !u) return;
    try {
      u.upload.addContent(chunk);
    } catch (e) {
      this.#failed(p.header, e, p.req, 0, performance.now());
      return;
    }
    return u.upload.needsDrain ? u.upload.drained() : undefined;
  }

  /** The current packet is complete. A promise: wait for it (storing the file, or the disk). */
  end(): Promise<void> | undefined {
    const p = this.#packet;
    this.#packet = null;
    const u = this.#upload;
    if (!p?.use || !u) return;
    try {
      if (u.upload.endPacket()) return this.#finish(p.header, u, p.req);
    } catch (e) {
      this.#failed(p.header, e, p.req, 0, performance.now());
      return;
    }
    return u.upload.needsDrain ? u.upload.drained() : undefined;
  }

  async #finish(header: RequestHeader, u: UploadState, req: SendFileRequest): Promise<void> {
    let storing = false;
    try {
      const result = await u.upload.finish();
      if (this.host.closed()) {
        throw new ServerError(
          'SERVER_ERR_UPLOAD_ABORTED',
          'The connection closed before the file was stored.',
        );
      }
      const { db, storage } = this.host;
      // Complete and being stored: a connection closing now no longer abandons it (the
      // rename would race abort()'s removal of the temp file); close() waits for this.
      this.#upload = null;
      storing = true;
      const stored = await storeUpload(
        db,
        storage,
        u.clientId,
        req.fileName,
        result,
        new Date().toISOString(),
      );
      this.host.touch(u.clientId);
      this.#tokens.set(tokenKey(u.clientId, req.fileName), stored.token);
      const code = this.host.send({
        code: ResponseCode.FileReceived,
        clientId: u.clientId,
        contentSize: req.contentSize,
        fileName: req.fileName,
        cksum: result.cksum,
      });
      this.host.logRequest(header, {
        result: code,
        bytes: u.bytes,
        ms: performance.now() - u.startedAt,
        file: req.fileName,
        packets: u.packets,
      });
    } catch (e) {
      if (this.host.closed()) {
        // abandon() has already dropped and logged the upload, unless it was being stored.
        if (storing) {
          this.host.logAbandoned(u.clientId, {
            result: null,
            bytes: u.bytes,
            ms: performance.now() - u.startedAt,
            error: this.host.classify(e).code,
            file: req.fileName,
            packets: u.packets,
          });
        }
        return u.upload.abort();
      }
      // The last packet is not followed by more, so nothing to skip.
      this.#upload = u;
      this.#failed(header, e, null, 0, u.startedAt);
    }
  }

  /** A file failed: drop it (temp file removed), answer 1607 once, skip the rest of its packets. */
  #failed(header: RequestHeader, e: unknown, req: SendFileRequest | null, bytes: number, t0: number): void {
    const u = this.#upload;
    this.#upload = null;
    if (u) this.#cleanups.push(u.upload.abort());
    if (req) this.#discard = { fileName: req.fileName, lastNumber: req.packetNumber };
    const result = this.host.send({ code: ResponseCode.ServerError });
    const file = req?.fileName ?? u?.upload.fileName;
    const { code, detail } = this.host.classify(e);
    this.host.logRequest(header, {
      result,
      bytes: u ? u.bytes : bytes,
      ms: performance.now() - (u ? u.startedAt : t0),
      error: code,
      ...(detail ? { detail } : {}),
      packets: u ? u.packets : 1,
      ...(file !== undefined ? { file } : {}),
    });
  }

  /** Drops the file in progress without answering (the connection closed or moved on). */
  abandon(reason: ServerError): void {
    const u = this.#upload;
    if (!u) return;
    this.#upload = null;
    this.#cleanups.push(u.upload.abort());
    this.host.logAbandoned(u.clientId, {
      result: null,
      bytes: u.bytes,
      ms: performance.now() - u.startedAt,
      error: reason.code,
      file: u.upload.fileName,
      packets: u.packets,
    });
  }
}
