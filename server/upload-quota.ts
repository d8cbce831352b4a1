/**
 * Quotas (issue 15), checked at the start of each file from its declared size, before a byte
 * is written, and reserved until the file is stored or dropped, so concurrent uploads cannot
 * overshoot: per invite (its MaxBytes, MaxFiles), per client (--client-max-bytes/-files), in
 * total (--max-total-bytes) and a free-disk reserve (--disk-reserve). Usage comes from the
 * database (the files table's sizes: exact, and changed by other processes such as `clients
 * remove`); reservations live in this process and are taken one start at a time, so the read
 * and the reservation are one step. A replaced file counts its new size minus the old; the
 * disk needs the whole new size meanwhile (the temp file exists beside the old one). Bytes
 * kept by unfinished v4 uploads (resumable, on disk) count as usage of their client, invite
 * and the total while kept; a resume reserves only what is still missing.
 *
 * The shared room (the free-disk reserve and --max-total-bytes) is held as the bytes arrive:
 * a start is refused when its whole declared size does not fit now, but it holds at most
 * SHARED_WINDOW_BYTES ahead of what it has written, extended by cover() as it goes. So a
 * sender that declares a large file and then trickles it holds a window, not its declared
 * size, against everyone else (docs/SECURITY.md). The invite's and the client's own limits
 * stay held in full: a sender only keeps itself out of those. When honest uploads together
 * overcommit the shared room, the one that cannot extend its window is refused mid-file and
 * gives way (what it wrote is removed), so the others can finish.
 */
import { statfsSync } from 'node:fs';
import { formatBytes } from '../lib/format';
import { clientIdToHex } from '../lib/protocol';
import type { Database, Usage } from './database';
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
  /** Bytes kept on disk by unfinished resumable (v4) uploads: they count against the limits too. */
  kept?: KeptBytes;
}

/** Where unfinished uploads' bytes are counted (server/v4/partial-uploads.ts). */
export interface KeptBytes {
  /** Of one client (hex ID), of the clients of one invite, or of all. */
  keptBytes(of?: { clientId?: string; inviteId?: string }): number;
  /** How many unfinished uploads of the file `name` one client (hex ID) has, open ones included. */
  keptNamed(clientId: string, name: string): number;
}

interface Scope {
  key: string;
  usage: () => Promise<Usage>;
  kept: () => number;
  maxBytes: number | null;
  maxFiles: number | null;
  over: [RefusalReason, RefusalReason];
  /** Whose limit, for the sentence a refusal carries ("This invite", "This sender", "The server"). */
  whose: string;
}

/** Bytes of the shared room (disk, total) an upload holds ahead of what it has written. */
export const SHARED_WINDOW_BYTES = 16 * 1024 * 1024;

/** Held by an upload from its first packet; release() once it is stored (its row counts then) or dropped. */
export interface Reservation {
  /**
   * Call before writing more of the file: `upTo` is how many bytes of it this reservation has
   * received, the ones about to be written included. Undefined while they are within the
   * window already held (the hot path awaits nothing); else a promise that resolves once the
   * window is extended, or rejects with RefusedError (disk-reserve, over-total-bytes) when the
   * shared room went to other uploads meanwhile. Then the reservation is released, and
   * `giveWay` (which removes what the upload wrote) runs before any other start or extension
   * is checked: the room goes to the uploads still under way, so one of them can finish
   * (kept, the part would go on counting, and two uploads could each block the other).
   */
  cover(upTo: number, giveWay?: () => Promise<void>): Promise<void> | undefined;
  release(): void;
}

interface Held {
  bytes: number;
  files: number;
}

/** A replacement in flight that counts the stored file's size (`credit`) as its own. */
interface Credited {
  clientId: Uint8Array;
  hex: string;
  inviteId: string | null;
  name: string;
  credit: number;
}

/** `u` plus `more` (bytes and files), the rest of `u` as it was. */
const plus = <U extends Usage>(u: U, more: Usage): U => ({
  ...u,
  bytes: u.bytes + more.bytes,
  files: u.files + more.files,
});

export class UploadQuota {
  readonly #db: Database;
  readonly #invites: InviteGate;
  readonly #opts: QuotaOptions;
  readonly #disk: (dir: string) => Promise<DiskSpace>;
  /** Reserved by uploads in flight, per scope key ("i:<invite>", "c:<client hex>", "total", "disk"). */
  readonly #held = new Map<string, Held>();
  /** Starts are checked one at a time: the usage read and the reservation are one step. */
  #queue: Promise<unknown> = Promise.resolve();
  /**
   * Reservations counting a stored file's size as theirs (a replacement's credit). The stored file a credit was taken from may shrink or go before the
   * replacement is stored (another upload of the name stored first, a 1031): what it then
   * adds beyond its hold counts as usage (#shortfall). Was: an empty replacement, or a 1031,
   * freed the credited bytes (and file) for new files, and the credited one still landed in
   * full, so a sender could pass its limits again and again.
   */
  readonly #credited = new Set<Credited>();

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
   * `kept`: bytes of it already on disk (a resumed v4 upload), counted by opts.kept, so only
   * the rest is reserved. `listed`: the upload is itself one of opts.kept's (a v4 upload).
   */
  reserve(
    clientId: Uint8Array,
    fileName: string,
    size: number,
    opts: { nowMs?: number; kept?: number; listed?: boolean } = {},
  ): Promise<Reservation> {
    const nowMs = opts.nowMs ?? Date.now();
    return this.#serial(() =>
      this.#reserve(clientId, fileName, size, nowMs, opts.kept ?? 0, opts.listed === true),
    );
  }

  /** Starts and window extensions run one at a time: each usage read and hold is one step. */
  #serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * The largest new file the client could start now within every limit (0 when its file count
   * is used up): what a v4 Welcome announces. Throws RefusedError as reserve() does.
   */
  async room(clientId: Uint8Array, nowMs = Date.now()): Promise<number> {
    let room = Number.MAX_SAFE_INTEGER;
    for (const s of await this.#scopes(clientId, nowMs)) {
      if (s.maxBytes === null && s.maxFiles === null) continue;
      const used = await s.usage();
      const held = this.held(s.key);
      if (s.maxFiles !== null && used.files + held.files >= s.maxFiles) return 0;
      if (s.maxBytes !== null) room = Math.min(room, s.maxBytes - used.bytes - held.bytes - s.kept());
    }
    const { free, reserve } = await this.#diskRoom();
    room = Math.min(room, free - this.held('disk').bytes - reserve);
    return Math.max(0, room);
  }

  /** The client's limits in the order they are checked: its invite's, its own, the total. */
  async #scopes(clientId: Uint8Array, nowMs: number): Promise<Scope[]> {
    const db = this.#db;
    const client = await db.clientById(clientId);
    if (!client) throw new RefusedError('client-removed', 'The client was removed.');
    const kept = this.#opts.kept;
    const l = this.#opts.limits;
    const scopes: Scope[] = [];
    if (client.InviteID !== null) {
      const invite = await db.inviteById(client.InviteID);
      if (!invite) throw new RefusedError('invite-unknown', `Invite ${client.InviteID} is gone.`);
      this.#invites.check(invite, nowMs);
      const id = invite.ID;
      scopes.push({
        key: `i:${id}`,
        usage: async () => plus(await db.inviteUsage(id), await this.#shortfall((c) => c.inviteId === id)),
        kept: () => kept?.keptBytes({ inviteId: id }) ?? 0,
        maxBytes: invite.MaxBytes,
        maxFiles: invite.MaxFiles,
        over: ['over-invite-bytes', 'over-invite-files'],
        whose: 'This invite',
      });
    }
    const hex = clientIdToHex(clientId);
    scopes.push({
      key: `c:${hex}`,
      usage: async () => plus(await db.clientUsage(clientId), await this.#shortfall((c) => c.hex === hex)),
      kept: () => kept?.keptBytes({ clientId: hex }) ?? 0,
      maxBytes: l.clientMaxBytes,
      maxFiles: l.clientMaxFiles,
      over: ['over-client-bytes', 'over-client-files'],
      whose: 'This sender',
    });
    scopes.push({
      key: 'total',
      usage: async () => plus(await db.totalUsage(), await this.#shortfall()),
      kept: () => kept?.keptBytes() ?? 0,
      maxBytes: l.maxTotalBytes,
      maxFiles: null,
      over: ['over-total-bytes', 'over-total-bytes'],
      whose: 'The server',
    });
    return scopes;
  }

  /**
   * What the credited replacements in flight (of those `match` picks) will add beyond what
   * they hold: the credit their stored file no longer covers (it shrank, or went: then it
   * is a new file too).
   */
  async #shortfall(match: (c: Credited) => boolean = () => true): Promise<Usage> {
    const more = { bytes: 0, files: 0 };
    for (const c of [...this.#credited]) {
      if (!match(c)) continue;
      const row = await this.#db.fileByName(c.clientId, c.name);
      if (row) more.bytes += Math.max(0, c.credit - (row.Size ?? 0));
      else {
        more.bytes += c.credit;
        more.files += 1;
      }
    }
    return more;
  }

  /** Whether a reservation in flight holds the credit of this sender's stored file `name`. */
  #hasCredit(hex: string, name: string): boolean {
    for (const c of this.#credited) if (c.hex === hex && c.name === name) return true;
    return false;
  }

  async #reserve(
    clientId: Uint8Array,
    fileName: string,
    size: number,
    nowMs: number,
    keptOfThis: number,
    listed: boolean,
  ): Promise<Reservation> {
    const scopes = await this.#scopes(clientId, nowMs);
    const old = await this.#db.fileByName(clientId, fileName);
    // A replacement counts only its growth over the file it replaces, as that file goes when
    // it is stored: the credit of the old size. One unfinished upload of a name at a time
    // gets it. Every other one (in flight, or kept by v4 for a resume) is on disk beside the
    // old file and counts whole: else a sender at its quota could keep any number of
    // same-size replacements at once, each counting nothing.
    const hex = clientIdToHex(clientId);
    const othersKept = (this.#opts.kept?.keptNamed(hex, fileName) ?? 0) - (listed ? 1 : 0);
    const credit =
      old !== undefined && !this.#hasCredit(hex, fileName) && othersKept <= 0 ? (old.Size ?? 0) : 0;
    // What the file adds once stored (never less than nothing); no new file for a
    // replacement; bytes of it already kept on disk count already (Scope.kept).
    const add: Held = { bytes: Math.max(0, size - credit - keptOfThis), files: old ? 0 : 1 };
    const taken: Array<[string, Held]> = [];
    for (const s of scopes) {
      // The total is a shared scope: held by the window below, not in full.
      if (s.key !== 'total') taken.push([s.key, add]);
      if (s.maxBytes === null && s.maxFiles === null) continue;
      const used = await s.usage();
      const held = this.held(s.key);
      if (
        s.maxBytes !== null &&
        add.bytes > 0 &&
        used.bytes + held.bytes + s.kept() + add.bytes > s.maxBytes
      ) {
        throw new RefusedError(
          s.over[0],
          `${s.whose} allows ${formatBytes(s.maxBytes)} in all; this file (${formatBytes(size)}) would pass it.`,
        );
      }
      if (s.maxFiles !== null && add.files > 0 && used.files + held.files + add.files > s.maxFiles) {
        throw new RefusedError(
          s.over[1],
          `${s.whose} allows ${s.maxFiles} ${s.maxFiles === 1 ? 'file' : 'files'}; one more would pass it.`,
        );
      }
    }
    const diskBytes = Math.max(0, size - keptOfThis);
    await this.#checkDisk(diskBytes);
    // The shared scopes hold a window of what they would add; the rest as the bytes arrive.
    const window = new SharedWindow(add.bytes, diskBytes);
    for (const [key, h] of taken) this.#add(key, h, 1);
    this.#holdShared(window, add.files, 1);
    const inviteKey = scopes.find((s) => s.key.startsWith('i:'))?.key;
    const credited: Credited | null =
      credit > 0
        ? {
            clientId: Uint8Array.from(clientId),
            hex,
            inviteId: inviteKey ? inviteKey.slice(2) : null,
            name: fileName,
            credit,
          }
        : null;
    if (credited) this.#credited.add(credited);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const [key, h] of taken) this.#add(key, h, -1);
      this.#holdShared(window, add.files, -1);
      if (credited) this.#credited.delete(credited);
    };
    return {
      cover: (upTo, giveWay) => {
        if (released) return undefined;
        const before = window.diskHeld;
        window.advance(upTo);
        this.#add('disk', { bytes: window.diskHeld - before, files: 0 }, 1);
        if (!window.needs(upTo)) return undefined;
        return this.#serial(async () => {
          if (released) return;
          try {
            await this.#extend(window, upTo, () => released);
          } catch (e) {
            if (!(e instanceof RefusedError)) throw e;
            release();
            await giveWay?.().catch(() => {});
            throw e;
          }
        });
      },
      release,
    };
  }

  #holdShared(w: SharedWindow, files: number, sign: 1 | -1): void {
    this.#add('total', { bytes: w.totalHeld, files }, sign);
    this.#add('disk', { bytes: w.diskHeld, files: 0 }, sign);
  }

  /** Moves an upload's shared window to cover `upTo` + SHARED_WINDOW_BYTES, if the room is there. */
  async #extend(w: SharedWindow, upTo: number, released: () => boolean): Promise<void> {
    if (!w.needs(upTo)) return;
    const covered = w.coverFor(upTo);
    const grow = { total: w.totalHeldAt(covered) - w.totalHeld, disk: w.diskHeldAt(covered) - w.diskHeld };
    const limit = this.#opts.limits.maxTotalBytes;
    if (limit !== null && grow.total > 0) {
      const used = plus(await this.#db.totalUsage(), await this.#shortfall());
      const kept = this.#opts.kept?.keptBytes() ?? 0;
      if (used.bytes + this.held('total').bytes + kept + grow.total > limit)
        throw new RefusedError(
          'over-total-bytes',
          `The server allows ${formatBytes(limit)} in all, and other uploads took the rest meanwhile.`,
        );
    }
    if (grow.disk > 0) await this.#checkDisk(grow.disk);
    if (released()) return;
    this.#add('total', { bytes: grow.total, files: 0 }, 1);
    this.#add('disk', { bytes: grow.disk, files: 0 }, 1);
    w.cover(covered);
  }

  async #diskRoom(): Promise<{ free: number; reserve: number }> {
    const { free, size: total } = await this.#disk(this.#opts.dataDir);
    const d = this.#opts.defaultReserve;
    const reserve = this.#opts.limits.diskReserve ?? Math.max(d.bytes, Math.ceil(total * d.fraction));
    return { free, reserve };
  }

  async #checkDisk(size: number): Promise<void> {
    const { free, reserve } = await this.#diskRoom();
    // Held disk bytes are the ones covered and not written yet: written ones are gone from `free`.
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

/**
 * One upload's hold on the shared room: of `totalAdd` bytes (what it adds to the total once
 * stored) and `diskAdd` (what it writes), covered up to `covered` bytes of it. The total holds
 * every covered byte (the written ones count nowhere else until the file is stored); the
 * disk only the covered bytes not written yet (written ones are gone from the free space).
 */
class SharedWindow {
  #covered: number;
  #written = 0;
  #next = 0;
  readonly #totalAdd: number;
  readonly #diskAdd: number;

  constructor(totalAdd: number, diskAdd: number) {
    this.#totalAdd = totalAdd;
    this.#diskAdd = diskAdd;
    this.#covered = Math.min(diskAdd, SHARED_WINDOW_BYTES);
  }

  get totalHeld(): number {
    return this.totalHeldAt(this.#covered);
  }
  get diskHeld(): number {
    return this.diskHeldAt(this.#covered);
  }
  totalHeldAt(covered: number): number {
    return Math.min(this.#totalAdd, covered);
  }
  diskHeldAt(covered: number): number {
    return Math.max(0, Math.min(this.#diskAdd, covered) - Math.min(this.#diskAdd, this.#written));
  }

  /** `upTo` bytes are about to have been received: the ones received before it count as written. */
  advance(upTo: number): void {
    this.#written = Math.min(this.#covered, Math.max(this.#written, this.#next));
    this.#next = Math.max(this.#next, upTo);
  }

  /** True when `upTo` passes the middle of the window (or its end, once it reaches the file's). */
  needs(upTo: number): boolean {
    if (this.#covered >= this.#diskAdd) return upTo > this.#covered;
    return upTo > this.#covered - SHARED_WINDOW_BYTES / 2;
  }

  /** What the window would cover once moved for `upTo`. */
  coverFor(upTo: number): number {
    return Math.max(this.#covered, Math.min(this.#diskAdd, upTo + SHARED_WINDOW_BYTES));
  }

  cover(covered: number): void {
    this.#covered = covered;
  }
}
