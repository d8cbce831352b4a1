/**
 * Quotas (issue 15), checked at the start of each file from its declared size, before a byte
 * is written, and reserved until the file is stored or dropped, so concurrent uploads cannot
 * overshoot: per invite (its MaxBytes, MaxFiles), per client (--client-max-bytes/-files), in
 * total (--max-total-bytes) and a free-disk reserve (--disk-reserve). Usage comes from the
 * database (the files table's sizes: exact, and changed by other processes such as `clients
 * remove`); reservations live in this process and are taken one start at a time, so the read
 * and the reservation are one step. A replaced file counts its new size minus the old; the
 * disk needs the whole new size meanwhile (the temp file exists beside the old one).
 */
import { statfsSync } from 'node:fs';
import { clientIdToHex } from '../lib/protocol';
import type { Database, InviteRow, Usage } from './database';
import { type InviteGate, type RefusalReason, RefusedError } from './invite-gate';

export interface QuotaLimits {
  maxTotalBytes: number | null;
  /** Null: the larger of DEFAULT_DISK_RESERVE_BYTES and DEFAULT_DISK_RESERVE_FRACTION of the file system. */
  diskReserve: number | null;
  clientMaxBytes: number | null;
  clientMaxFiles: number | null;
}

export interface DiskSpace {
  /** Bytes an unprivileged writer may still use. */
  free: number;
  /** Size of the file system. */
  size: number;
}

/**
 * The data folder's file system, via statfs(2). Synchronous (a few microseconds on a local
 * file system, like the SQLite calls): the async form costs the file start a trip through the
 * thread pool and an event-loop turn, which a busy server pays for with every file.
 */
export async function diskSpace(dir: string): Promise<DiskSpace> {
  const s = statfsSync(dir);
  return { free: s.bavail * s.bsize, size: s.blocks * s.bsize };
}

export interface QuotaOptions {
  dataDir: string;
  limits: QuotaLimits;
  /** The reserve when none is configured: bytes and fraction, the larger applies. */
  defaultReserve: { bytes: number; fraction: number };
  /** Injectable for tests. */
  disk?: (dir: string) => Promise<DiskSpace>;
}

/** Held by an upload from its first packet; release() once it is stored (its row counts then) or dropped. */
export interface Reservation {
  release(): void;
}

interface Held {
  bytes: number;
  files: number;
}

export class UploadQuota {
  readonly #db: Database;
  readonly #invites: InviteGate;
  readonly #opts: QuotaOptions;
  readonly #disk: (dir: string) => Promise<DiskSpace>;
  /** Reserved by uploads in flight, per scope key ("i:<invite>", "c:<client hex>", "total", "disk"). */
  readonly #held = new Map<string, Held>();
  /** Starts are checked one at a time: the usage read and the reservation are one step. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(db: Database, invites: InviteGate, opts: QuotaOptions) {
    this.#db = db;
    this.#invites = invites;
    this.#opts = opts;
    this.#disk = opts.disk ?? diskSpace;
  }

  /** Bytes reserved now in a scope (tests, the log). */
  held(scope: string): Held {
    return this.#held.get(scope) ?? { bytes: 0, files: 0 };
  }

  /**
   * Checks a new file of `size` plaintext bytes named `fileName` for the client and reserves
   * it; throws RefusedError with the first limit it would pass (or the invite's state).
   */
  reserve(clientId: Uint8Array, fileName: string, size: number, nowMs = Date.now()): Promise<Reservation> {
    const run = this.#queue.then(() => this.#reserve(clientId, fileName, size, nowMs));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #reserve(clientId: Uint8Array, fileName: string, size: number, nowMs: number): Promise<Reservation> {
    const db = this.#db;
    const client = await db.clientById(clientId);
    if (!client) throw new RefusedError('client-removed', 'The client was removed.');
    let invite: InviteRow | undefined;
    if (client.InviteID !== null) {
      invite = await db.inviteById(client.InviteID);
      if (!invite) throw new RefusedError('invite-unknown', `Invite ${client.InviteID} is gone.`);
      this.#invites.check(invite, nowMs);
    }
    const old = await db.fileByName(clientId, fileName);
    // What the file adds once stored: a replacement its growth (never less than nothing), no new file.
    const add: Held = { bytes: Math.max(0, size - (old?.Size ?? 0)), files: old ? 0 : 1 };
    const l = this.#opts.limits;
    const scopes: Array<[string, Held]> = [];
    const check = async (
      key: string,
      usage: () => Promise<Usage>,
      maxBytes: number | null,
      maxFiles: number | null,
      over: [RefusalReason, RefusalReason],
    ) => {
      scopes.push([key, add]);
      if (maxBytes === null && maxFiles === null) return;
      const used = await usage();
      const held = this.held(key);
      if (maxBytes !== null && add.bytes > 0 && used.bytes + held.bytes + add.bytes > maxBytes) {
        throw new RefusedError(over[0], `${size} more bytes would pass the limit of ${maxBytes}.`);
      }
      if (maxFiles !== null && add.files > 0 && used.files + held.files + add.files > maxFiles) {
        throw new RefusedError(over[1], `One more file would pass the limit of ${maxFiles}.`);
      }
    };
    if (invite) {
      const id = invite.ID;
      await check(`i:${id}`, () => db.inviteUsage(id), invite.MaxBytes, invite.MaxFiles, [
        'over-invite-bytes',
        'over-invite-files',
      ]);
    }
    await check(
      `c:${clientIdToHex(clientId)}`,
      () => db.clientUsage(clientId),
      l.clientMaxBytes,
      l.clientMaxFiles,
      ['over-client-bytes', 'over-client-files'],
    );
    await check('total', () => db.totalUsage(), l.maxTotalBytes, null, [
      'over-total-bytes',
      'over-total-bytes',
    ]);
    const disk = { bytes: size, files: 0 };
    await this.#checkDisk(size);
    scopes.push(['disk', disk]);
    for (const [key, h] of scopes) this.#add(key, h, 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        for (const [key, h] of scopes) this.#add(key, h, -1);
      },
    };
  }

  async #checkDisk(size: number): Promise<void> {
    const { free, size: total } = await this.#disk(this.#opts.dataDir);
    const d = this.#opts.defaultReserve;
    const reserve = this.#opts.limits.diskReserve ?? Math.max(d.bytes, Math.ceil(total * d.fraction));
    // Conservative: bytes already written by uploads in flight are both gone from `free` and still held.
    if (free - this.held('disk').bytes - size < reserve) {
      throw new RefusedError('disk-reserve', `${size} bytes would leave less than ${reserve} bytes free.`);
    }
  }

  #add(key: string, h: Held, sign: 1 | -1): void {
    const cur = this.held(key);
    const next = { bytes: cur.bytes + sign * h.bytes, files: cur.files + sign * h.files };
    if (next.bytes === 0 && next.files === 0) this.#held.delete(key);
    else this.#held.set(key, next);
  }
}
