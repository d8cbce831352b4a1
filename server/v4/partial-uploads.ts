/**
 * Resumable v4 uploads on disk: data/partial/<owner>-<upload ID>.data holds the verified
 * plaintext received so far, <...>.json what the upload is (owner key, size, name, file-key
 * check) and how many records are durable. The data is fdatasync'd before the count is
 * raised (written to a temp file, fsync'd, renamed), so after a crash the count never
 * exceeds what is on disk; on reopen the file is cut back to the count. Partial uploads
 * without a record for the TTL expire; a tombstone (.expired) answers UPLOAD_EXPIRED for
 * one more TTL. The bytes each kept upload holds are indexed in memory (rebuilt from the
 * state files at start) so quotas can count them (upload-quota.ts, KeptBytes). A stored
 * upload leaves <hash of owner key and name>.done for a TTL (see PartialUpload.stored).
 */
import { createHash, type Hash, timingSafeEqual } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { bytesToHex } from '../../lib/crypto/encoding';
import {
  DURABLE_EVERY_RECORDS,
  RECORD_SIZE,
  V4_ERROR_SENTENCES,
  V4ErrorCode,
} from '../../lib/protocol/v4/constants';
import { fileKeyCheck } from '../../lib/v4/key-schedule';
import { syncFolder, writeFileAtomically } from '../../platform/atomic-file';
import { FileAppender } from '../../platform/direct-writes';
import { KeyedSerial } from '../../platform/keyed-serial';
import { PageAlignedPool } from '../../platform/page-aligned';
import { FILE_MODE, FOLDER_MODE } from '../data-folder';

export const PARTIAL_FOLDER = 'partial';

/** How long a take-over waits for the connection holding the upload to write what it verified and stop. */
export const TAKE_OVER_WAIT_MS = 5000;

/**
 * How long a resume or a cancel waits for the store of its upload in flight when nothing
 * says otherwise: the server's default --idle-timeout (createFileServer passes the one in
 * force). The waiting client hears nothing meanwhile, and the idle timeout is as long as the
 * server lets a connection go without progress; a stuck disk or database held the waiting
 * connection for good before.
 */
export const DEFAULT_STORE_WAIT_MS = 60_000;

/**
 * Files of partial/ that hold no upload: `.expired` (answers Error 10 for a TTL) and
 * `.done` (a stored upload's, answers a late resume with UploadDone for a TTL). Both are
 * swept by their age alone, so `.done` files of the old format (<owner>-<upload ID>.done,
 * one per upload) still go after the TTL; they are no longer read.
 */
export const isTombstone = (name: string): boolean => name.endsWith('.expired') || name.endsWith('.done');

/**
 * Unfinished uploads kept per client. Quotas count kept bytes, but an upload dropped before
 * its first durable point keeps none: without a cap a client could leave a state file (and
 * its fsyncs) per connection, each read again by every sweep and at every start.
 */
export const DEFAULT_MAX_PARTIAL_UPLOADS = 32;

interface Meta {
  v: 1;
  clientKey: string;
  clientId: string;
  name: string;
  size: number;
  keyCheck: string;
  durable: number;
  updatedAt: number;
  /** The invite the owner is bound to (quotas count kept bytes against it); absent: none. */
  inviteId?: string | null;
}

/** What one kept upload holds, for quotas: its durable bytes (frozen while a connection has it open). */
interface Kept {
  clientId: string;
  inviteId: string | null;
  /** The file name it was started under (a same-name replacement: upload-quota.ts). */
  name: string;
  bytes: number;
}

/**
 * The kept uploads by their state file's base name, with what quotas ask of them kept up to
 * date per client, per invite and in all: each UploadStart asks for a client's count and
 * bytes, its invite's and everyone's, and scanning every kept upload for each (up to
 * --max-partial-uploads times the clients) made a start cost more the more others kept.
 */
class KeptIndex {
  readonly #all = new Map<string, Kept>();
  readonly #byClient = new Map<string, Set<string>>();
  readonly #byInvite = new Map<string, Set<string>>();
  #bytes = 0;

  set(base: string, k: Kept): void {
    this.delete(base);
    this.#all.set(base, k);
    this.#bytes += k.bytes;
    add(this.#byClient, k.clientId, base);
    if (k.inviteId !== null) add(this.#byInvite, k.inviteId, base);
  }

  delete(base: string): boolean {
    const k = this.#all.get(base);
    if (!k) return false;
    this.#all.delete(base);
    this.#bytes -= k.bytes;
    remove(this.#byClient, k.clientId, base);
    if (k.inviteId !== null) remove(this.#byInvite, k.inviteId, base);
    return true;
  }

  /** Bytes of one client's, of one invite's clients' (both given: of that client under it), or of all. */
  bytes(of: { clientId?: string; inviteId?: string }): number {
    if (of.clientId === undefined && of.inviteId === undefined) return this.#bytes;
    const bases =
      of.clientId !== undefined ? this.#byClient.get(of.clientId) : this.#byInvite.get(of.inviteId as string);
    let total = 0;
    for (const base of bases ?? []) {
      const k = this.#all.get(base) as Kept;
      if (of.inviteId !== undefined && k.inviteId !== of.inviteId) continue;
      total += k.bytes;
    }
    return total;
  }

  count(clientId: string): number {
    return this.#byClient.get(clientId)?.size ?? 0;
  }

  named(clientId: string, name: string): number {
    let n = 0;
    for (const base of this.#byClient.get(clientId) ?? []) if (this.#all.get(base)?.name === name) n++;
    return n;
  }
}

function add(m: Map<string, Set<string>>, key: string, base: string): void {
  const set = m.get(key);
  if (set) set.add(base);
  else m.set(key, new Set([base]));
}

function remove(m: Map<string, Set<string>>, key: string, base: string): void {
  const set = m.get(key);
  if (!set) return;
  set.delete(base);
  if (set.size === 0) m.delete(key);
}

/** A state file that is not one of ours (truncated, garbage, another shape). */
class DamagedState extends Error {}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isText = (v: unknown): v is string => typeof v === 'string';

/** The shape every later step relies on (a `{}` had NaN counts and undefined names). */
function isMeta(v: unknown): v is Meta {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    m.v === 1 &&
    isText(m.clientKey) &&
    isText(m.clientId) &&
    isText(m.name) &&
    isCount(m.size) &&
    isText(m.keyCheck) &&
    /^[0-9a-f]{64}$/.test(m.keyCheck) &&
    isCount(m.durable) &&
    typeof m.updatedAt === 'number' &&
    Number.isFinite(m.updatedAt) &&
    (m.inviteId === undefined || m.inviteId === null || isText(m.inviteId))
  );
}

/** Bytes on disk a kept upload's state file vouches for. */
const keptBytesOf = (m: Meta) => Math.min(m.durable * RECORD_SIZE, m.size);

export interface OpenRequest {
  clientKey: Uint8Array;
  clientId: Uint8Array;
  uploadId: Uint8Array;
  fileKey: Uint8Array;
  size: number;
  name: string;
  resume: boolean;
  /** The invite the client is bound to, if any. */
  inviteId?: string | null;
}

/** A refusal with its wire code. */
export interface Refusal {
  code: number;
  reason: string;
  /** For the log, when `reason` is the code's fixed sentence (Busy). */
  why?: string;
}

/**
 * The store of the upload outlasted the store wait: Busy (fatal, so the connection closes;
 * our clients reconnect and resume after a pause). Nothing of the upload was touched, and the
 * store goes on: the next resume is told what it left (UploadDone, or Error 11 if it failed).
 */
const STILL_STORING: Refusal = {
  code: V4ErrorCode.Busy,
  reason: V4_ERROR_SENTENCES[V4ErrorCode.Busy],
  why: 'still-storing',
};

/** `wait`, until `deadline` (performance.now()) at most: false when the deadline came first. */
async function until(wait: Promise<void> | undefined, deadline: number): Promise<boolean> {
  if (!wait) return true;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      wait.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A resume of an upload this server already stored (its connection broke before the client
 * read UploadDone): the stored file's token, for the caller to check it is still that upload's.
 */
export interface AlreadyStored {
  storedToken: string;
}

/**
 * What a `.done` file says of a stored upload, for a resume that comes after it. One per
 * owner and name (doneFileName): a later stored upload of the name replaces it.
 */
interface DoneMeta {
  v: 2;
  uploadId: string;
  clientKey: string;
  size: number;
  name: string;
  keyCheck: string;
  token: string;
}

/** How another connection of the owner took an open upload: resumed it, or cancelled it (UploadAbort). */
export type TakeOver = 'resumed' | 'cancelled';

export interface Finished {
  path: string;
  size: number;
  sha256: Uint8Array;
}

/** Replaces a file at once (temp file + rename); `flush` false: not made durable (see #open). */
function syncedWrite(path: string, text: string, flush = true): Promise<void> {
  return writeFileAtomically(path, text, { mode: FILE_MODE, durable: flush });
}

/**
 * The `.done` file of a stored upload (see PartialUpload.stored). Replaced at once (a resume
 * never reads half of it), and durable when it resolves (the file fsync'd, then the folder
 * after the rename), because the state file is removed next and the store's note dropped
 * after that: after a power cut that kept the removal and lost an unflushed `.done`, the
 * resume found neither, got Error 11 and the client sent the whole file again. Never throws.
 */
async function writeDone(path: string, uploadId: string, m: Meta, token: string): Promise<void> {
  const done: DoneMeta = {
    v: 2,
    uploadId,
    clientKey: m.clientKey,
    size: m.size,
    name: m.name,
    keyCheck: m.keyCheck,
    token,
  };
  await syncedWrite(path, JSON.stringify(done)).catch(() => {});
}

/**
 * After the `.done` is durable: the state file goes, and its removal is made durable too
 * (folder fsync) before the caller drops the store's note. A removal lost to a power cut
 * after the note went left the state file vouching for records whose data file had gone into
 * files/, with nothing at start to settle it again: a resume took the state file (it comes
 * before the `.done`) and started again.
 */
async function removeStateDurably(statePath: string): Promise<void> {
  await rm(statePath, { force: true });
  await syncFolder(dirname(statePath)).catch(() => {});
}

/** A temp file in partial/ older than this was left by a crash (a state write takes milliseconds). */
const STALE_TMP_MS = 60_000;

/** Bytes a FileHasher reads at a time. */
const HASH_READ_BYTES = 1024 * 1024;
const hashReads = new PageAlignedPool(HASH_READ_BYTES, { perMemory: 1 });

/**
 * The SHA-256 of a resumed upload's data file, read back from the disk as it becomes durable:
 * its records came on several connections (or before a restart), so no one hashed them in
 * order as they came. It runs while a connection has the upload open, from the moment it is
 * resumed, so the file is hashed while the rest arrives and finish() has only the last
 * records left; it was all read at the end (a resumed 2 GiB upload waited 8-12 s for its
 * UploadDone). Its progress outlives a connection (PartialUploads keeps it), so resuming
 * and dropping an upload again and again costs at most one pass over it in all.
 */
class FileHasher {
  readonly #path: string;
  readonly #hash = createHash('sha256');
  /** Bytes hashed. */
  at = 0;
  /** Bytes that may be read (durable: never cut back or rewritten). */
  #upTo = 0;
  #on = false;
  #running: Promise<void> | null = null;
  #failed: Error | null = null;

  constructor(path: string) {
    this.#path = path;
  }

  /** Hashes up to `upTo` bytes in the background (only bytes that are durable). */
  advance(upTo: number): void {
    this.#upTo = Math.max(this.#upTo, upTo);
    this.#on = true;
    void this.#run().catch(() => {});
  }

  /** No more reads until advance() (the connection is done with the upload). */
  stop(): void {
    this.#on = false;
  }

  /** The SHA-256 of the first `size` bytes (the whole file, all of it durable now). */
  async digest(size: number): Promise<Buffer> {
    this.#upTo = size;
    this.#on = true;
    while (this.at < size) {
      await this.#run();
      if (this.#failed) throw this.#failed;
    }
    this.#on = false;
    return this.#hash.digest();
  }

  #run(): Promise<void> {
    this.#running ??= this.#loop().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #loop(): Promise<void> {
    if (!this.#on || this.at >= this.#upTo) return;
    const fh = await open(this.#path, 'r');
    // Page-aligned: the kernel's copy from the page cache is four times cheaper (platform/page-aligned.ts).
    const buf = hashReads.take()!;
    try {
      while (this.#on && this.at < this.#upTo) {
        const want = Math.min(HASH_READ_BYTES, this.#upTo - this.at);
        const { bytesRead } = await fh.read(buf, 0, want, this.at);
        if (bytesRead === 0)
          throw new Error(`${this.#path} is shorter than its ${this.#upTo} durable bytes.`);
        this.#hash.update(buf.subarray(0, bytesRead));
        this.at += bytesRead;
      }
    } catch (e) {
      this.#failed = e as Error;
      this.#on = false;
    } finally {
      await fh.close().catch(() => {});
      hashReads.give(buf);
    }
  }
}

/** A resume of the upload `meta` (or a stored one's `.done`) describes: same owner, size, name and file key. */
function sameUpload(
  meta: Pick<Meta, 'clientKey' | 'size' | 'name' | 'keyCheck'>,
  req: OpenRequest,
  keyCheck: string,
): boolean {
  return (
    req.resume &&
    meta.clientKey === bytesToHex(req.clientKey) &&
    meta.size === req.size &&
    meta.name === req.name &&
    timingSafeEqual(Buffer.from(meta.keyCheck, 'hex'), Buffer.from(keyCheck, 'hex'))
  );
}

/**
 * The `.done` file of the stored uploads of `name` by the owner `clientKey` (hex): one per stored
 * file (FileStore keys them by owner and exact name), whatever the upload IDs. 64 hex digits,
 * so never an old-format name (<32>-<32>).
 */
export function doneFileName(clientKey: string, name: string): string {
  const h = createHash('sha256').update(`sft-v4-done\0${clientKey}\0`).update(name, 'utf8');
  return `${h.digest('hex')}.done`;
}

export class PartialUploads {
  readonly dir: string;
  readonly #ttlMs: number;
  readonly #active = new Map<string, PartialUpload>();
  /**
   * The opens and discards of one upload, one after another. Two resumes of the same upload
   * on two connections (a cut one whose UploadStart was still queued, and the client's next
   * try) once both detached the same old holder and both activated: the orphaned one kept
   * writing, and its detach later wrote back an older durable count.
   */
  readonly #turns = new KeyedSerial();
  readonly #kept = new KeptIndex();
  /**
   * Uploads whose last record is in, from finish() until stored() or forget(): the data file
   * is being moved into files/. A resume or a cancel of one waits for that end (a resume then
   * finds the `.done`, or nothing if the store failed), for at most the store wait (then
   * Busy, STILL_STORING): one that came meanwhile found no
   * holder and the state file still there, reopened the data file, cut it back to the
   * durable count and wrote into it, on its way into files/ (or removed it under the move).
   */
  readonly #finishing = new Map<string, Promise<void>>();
  /** Whether a sweep ran (the first, at init, removes every temp file: no write is in progress then). */
  #swept = false;
  /** The file hashes of resumed uploads, kept between their connections (FileHasher). */
  readonly #hashers = new Map<string, FileHasher>();
  readonly #direct: boolean;
  readonly #maxPerClient: number;
  readonly #storeWaitMs: number;

  /**
   * `direct` false: records are written through the page cache (--direct-writes off).
   * `storeWaitMs`: how long a resume or cancel waits for a store in flight (DEFAULT_STORE_WAIT_MS).
   */
  constructor(
    dataDir: string,
    ttlMs: number,
    maxPerClient = DEFAULT_MAX_PARTIAL_UPLOADS,
    opts: { direct?: boolean; storeWaitMs?: number } = {},
  ) {
    this.dir = join(dataDir, PARTIAL_FOLDER);
    this.#ttlMs = ttlMs;
    this.#maxPerClient = maxPerClient;
    this.#direct = opts.direct !== false;
    this.#storeWaitMs = opts.storeWaitMs ?? DEFAULT_STORE_WAIT_MS;
  }

  /**
   * Sweeps, then indexes the kept uploads. Returns the state files found damaged (kept
   * until the TTL, see sweep()), for the caller to say so.
   */
  async init(): Promise<{ damaged: string[] }> {
    await mkdir(this.dir, { recursive: true, mode: FOLDER_MODE });
    const damaged: string[] = [];
    await this.sweep(Date.now(), damaged);
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const base = name.slice(0, -5);
      const meta = await this.#readMeta(base);
      if (!meta) continue;
      // What the data file holds, not what the state file vouches for: after a kill -9
      // between the move of a finished upload into files/ and the removal of its state
      // file, the data file is gone and its bytes counted against the sender's quota for
      // a day. Resuming cuts the count back the same way (#activate).
      const held = await stat(join(this.dir, `${base}.data`)).then(
        (s) => s.size,
        () => 0,
      );
      this.#index(base, meta, held);
    }
    return { damaged };
  }

  /** `held`: the data file's size when known (the index counts no more than whole records of it). */
  #index(base: string, meta: Meta, held?: number): void {
    let bytes = keptBytesOf(meta);
    if (held !== undefined && held < bytes) bytes = Math.floor(held / RECORD_SIZE) * RECORD_SIZE;
    this.#kept.set(base, {
      clientId: meta.clientId,
      inviteId: meta.inviteId ?? null,
      name: meta.name,
      bytes,
    });
  }

  /**
   * Bytes held now by kept uploads (open ones at what they held when opened: the open
   * upload's reservation covers the rest): of one client (hex ID), of the clients of one
   * invite, or of everyone.
   */
  keptBytes(of: { clientId?: string; inviteId?: string } = {}): number {
    return this.#kept.bytes(of);
  }

  /** How many uploads of the file `name` one client (hex ID) has kept, open ones included. */
  keptNamed(clientId: string, name: string): number {
    return this.#kept.named(clientId, name);
  }

  /** How many uploads one client (hex ID) has kept, open ones included. */
  keptCount(clientId: string): number {
    return this.#kept.count(clientId);
  }

  /**
   * Expires uploads idle for the TTL and forgets old tombstones; returns how many expired.
   * A state file that cannot be parsed is not expired at once (it and its data were deleted
   * at the next start, without a word): it is kept until the TTL after it was last written,
   * and named in `damaged`. A state file that cannot be read now (EMFILE, EIO) is left for
   * the next sweep. A data file without a state file (a kill -9 between the removal of the
   * two) goes after the TTL.
   */
  async sweep(now = Date.now(), damaged: string[] = []): Promise<number> {
    let expired = 0;
    const names = await readdir(this.dir);
    const present = new Set(names);
    for (const name of names) {
      const path = join(this.dir, name);
      if (name.endsWith('.tmp')) {
        // A state file being written right now is a .tmp until its rename: only one left by
        // a crash (at start, or older than any write takes) goes; removing a fresh one made
        // that write's rename fail and ended its upload.
        const s = this.#swept ? await stat(path).catch(() => null) : null;
        if (!this.#swept || (s && Date.now() - s.mtimeMs > STALE_TMP_MS)) await rm(path, { force: true });
      } else if (isTombstone(name)) {
        const s = await stat(path).catch(() => null);
        if (s && now - s.mtimeMs > this.#ttlMs) await rm(path, { force: true });
      } else if (name.endsWith('.data')) {
        const base = name.slice(0, -5);
        if (this.#active.has(base) || present.has(`${base}.json`)) continue;
        const s = await stat(path).catch(() => null);
        if (s && now - s.mtimeMs > this.#ttlMs && !(await this.#exists(`${base}.json`)))
          await rm(path, { force: true });
      } else if (name.endsWith('.json')) {
        const base = name.slice(0, -5);
        if (this.#active.has(base) || this.#finishing.has(base)) continue;
        let meta: Meta | null;
        try {
          meta = await this.#readState(base);
        } catch (e) {
          if (!(e instanceof DamagedState)) continue;
          const s = await stat(path).catch(() => null);
          if (s && now - s.mtimeMs <= this.#ttlMs) {
            damaged.push(name);
            continue;
          }
          meta = null;
        }
        if (meta && now - meta.updatedAt <= this.#ttlMs) continue;
        if (await this.#turns.run(base, () => this.#expireIdle(base, now))) expired++;
      }
    }
    this.#swept = true;
    return expired;
  }

  async #exists(file: string): Promise<boolean> {
    return stat(join(this.dir, file)).then(
      () => true,
      () => false,
    );
  }

  /** The upload is gone (expired, stored, removed): so are its index entry and its hash. */
  #unindex(base: string): boolean {
    this.#hashers.delete(base);
    return this.#kept.delete(base);
  }

  /**
   * The sweep's expiry, in turn with the opens of the upload and checked again there: a
   * resume a moment before the TTL ran out (its own clock said it was in time) was opening
   * it as the sweep, a moment after, removed its files; its records went into an unlinked
   * file and the upload failed at its end.
   */
  async #expireIdle(base: string, now: number): Promise<boolean> {
    if (this.#active.has(base) || this.#finishing.has(base)) return false;
    const meta = await this.#readMeta(base);
    if (meta && now - meta.updatedAt <= this.#ttlMs) return false;
    await this.#expire(base);
    return true;
  }

  async #expire(base: string): Promise<void> {
    this.#unindex(base);
    await writeFile(join(this.dir, `${base}.expired`), '', { mode: FILE_MODE });
    await rm(join(this.dir, `${base}.data`), { force: true });
    await rm(join(this.dir, `${base}.json`), { force: true });
  }

  /** The `.done` of the stored upload `req` names (owner, name and upload ID), or null. */
  async #readDone(req: OpenRequest): Promise<DoneMeta | null> {
    try {
      const path = join(this.dir, doneFileName(bytesToHex(req.clientKey), req.name));
      const done = JSON.parse(await readFile(path, 'utf8')) as DoneMeta;
      // Another upload of the name was stored since (its file replaced this one's).
      return done.v === 2 && done.uploadId === bytesToHex(req.uploadId) ? done : null;
    } catch {
      return null;
    }
  }

  /** The state file of `base`, null when there is none or it is damaged (#readState says which). */
  async #readMeta(base: string): Promise<Meta | null> {
    return this.#readState(base).catch(() => null);
  }

  /**
   * The state file of `base`: null when there is none, DamagedState when it is not one
   * (truncated, garbage, another shape); any other read error is thrown as it came.
   */
  async #readState(base: string): Promise<Meta | null> {
    let text: string;
    try {
      text = await readFile(join(this.dir, `${base}.json`), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let meta: unknown;
    try {
      meta = JSON.parse(text);
    } catch {
      throw new DamagedState();
    }
    if (!isMeta(meta)) throw new DamagedState();
    return meta;
  }

  /**
   * At start, before init(): the upload whose data file was `dataPath` was moved into files/
   * and recorded (FileStore.recover) but a crash came before its state file went. As stored():
   * its resume is told the file is stored. A path outside partial/ is not one of these.
   */
  async recoverStored(dataPath: string, token: string): Promise<void> {
    if (dirname(dataPath) !== this.dir || !dataPath.endsWith('.data')) return;
    const base = basename(dataPath).slice(0, -'.data'.length);
    const meta = await this.#readMeta(base);
    if (!meta) return;
    const uploadId = base.slice(base.indexOf('-') + 1);
    await writeDone(join(this.dir, doneFileName(meta.clientKey, meta.name)), uploadId, meta, token);
    await removeStateDurably(join(this.dir, `${base}.json`));
  }

  /**
   * Until when a call may wait for a store in flight: counted from the call, so one queued
   * behind another of the same upload (which waited for the store already) does not wait the
   * whole time again.
   */
  #storeDeadline(): number {
    return performance.now() + this.#storeWaitMs;
  }

  /**
   * Removes a kept upload of this owner (UploadAbort for an upload no connection has open);
   * true if there was one. A Refusal (Busy) when its store in flight outlasted the store wait.
   */
  discard(clientKey: Uint8Array, uploadId: Uint8Array): Promise<boolean | Refusal> {
    const base = this.#base(clientKey, uploadId);
    const deadline = this.#storeDeadline();
    return this.#turns.run(base, () => this.#discard(base, deadline));
  }

  async #discard(base: string, deadline: number): Promise<boolean | Refusal> {
    const taken = await this.#active.get(base)?.takeOver('cancelled');
    if (taken && !(await until(taken.storing, deadline))) return STILL_STORING;
    // Its holder completed it (or the take-over timed out while it did): it is being stored.
    if (!(await until(this.#finishing.get(base), deadline))) return STILL_STORING;
    const had = this.#unindex(base);
    await rm(join(this.dir, `${base}.data`), { force: true });
    await rm(join(this.dir, `${base}.json`), { force: true });
    return had;
  }

  #base(clientKey: Uint8Array, uploadId: Uint8Array): string {
    return `${bytesToHex(clientKey).slice(0, 32)}-${bytesToHex(uploadId)}`;
  }

  /** Opens a new upload or resumes a kept one (or names the stored one it became); a Refusal says why not. */
  open(req: OpenRequest, now = Date.now()): Promise<PartialUpload | Refusal | AlreadyStored> {
    // Scoped by owner: another client choosing the same ID reaches a different file.
    const base = this.#base(req.clientKey, req.uploadId);
    const deadline = this.#storeDeadline();
    return this.#turns.run(base, () => this.#open(base, req, now, deadline));
  }

  async #open(
    base: string,
    req: OpenRequest,
    now: number,
    deadline: number,
  ): Promise<PartialUpload | Refusal | AlreadyStored> {
    const check = bytesToHex(await fileKeyCheck(req.fileKey));
    // Every wait for a store in flight is bounded (the deadline): the store ends by itself,
    // and the resume is told to come back (Busy) rather than held while it does not.
    if (!(await until(this.#finishing.get(base), deadline))) return STILL_STORING;
    let meta = await this.#readMeta(base);
    // Checked before a connection holding it is touched: only a matching resume takes it over.
    if (meta && !sameUpload(meta, req, check))
      return { code: V4ErrorCode.UploadMismatch, reason: 'The upload ID is taken by another upload.' };
    const holder = this.#active.get(base);
    if (holder) {
      // Another connection has it open (one cut but not yet closed, say): it is told, its
      // writes land, and its durable count is the one resumed from.
      const taken = await holder.takeOver('resumed');
      if (taken && !(await until(taken.storing, deadline))) return STILL_STORING;
      meta = await this.#readMeta(base);
    }
    // Its holder began completing it meanwhile (while the state was read: then it was no
    // holder any more when looked for; or while the take-over waited): stored or failed first.
    const finishing = this.#finishing.get(base);
    if (finishing) {
      if (!(await until(finishing, deadline))) return STILL_STORING;
      meta = await this.#readMeta(base);
    }
    if (!meta) {
      if (req.resume) {
        const done = await this.#readDone(req);
        if (done) {
          return sameUpload(done, req, check)
            ? { storedToken: done.token }
            : { code: V4ErrorCode.UploadMismatch, reason: 'The upload ID is taken by another upload.' };
        }
        const tomb = await stat(join(this.dir, `${base}.expired`)).catch(() => null);
        return tomb
          ? { code: V4ErrorCode.UploadExpired, reason: 'The unfinished upload expired.' }
          : { code: V4ErrorCode.UnknownUpload, reason: 'No unfinished upload with this ID.' };
      }
      const clientId = bytesToHex(req.clientId);
      if (this.keptCount(clientId) >= this.#maxPerClient)
        return {
          code: V4ErrorCode.OverQuota,
          reason: `The server keeps at most ${this.#maxPerClient} unfinished uploads per sender: finish or cancel one first (unfinished ones expire after a day without progress).`,
        };
      const fresh: Meta = {
        v: 1,
        clientKey: bytesToHex(req.clientKey),
        clientId,
        name: req.name,
        size: req.size,
        keyCheck: check,
        durable: 0,
        updatedAt: now,
        inviteId: req.inviteId ?? null,
      };
      // Counted at once (no await since the check): parallel starts cannot pass the cap together.
      this.#index(base, fresh);
      try {
        // Not flushed: it vouches for no record yet (after a crash the client's resume gets
        // Error 11 and starts again, as from record 0). Two flushes per UploadStart let an
        // UploadStart/UploadAbort loop spend the disk's flushes. The first durable point
        // flushes it and the folder (#makeDurable).
        await syncedWrite(join(this.dir, `${base}.json`), JSON.stringify(fresh), false);
      } catch (e) {
        this.#unindex(base);
        throw e;
      }
      return this.#activate(base, bytesToHex(req.uploadId), fresh, 0);
    }
    // Matched above: what it is (owner, size, name, key) never changes, only its counts.
    if (now - meta.updatedAt > this.#ttlMs) {
      await this.#expire(base);
      return { code: V4ErrorCode.UploadExpired, reason: 'The unfinished upload expired.' };
    }
    return this.#activate(base, bytesToHex(req.uploadId), meta, meta.durable);
  }

  async #activate(base: string, uploadId: string, meta: Meta, durable: number): Promise<PartialUpload> {
    const dataPath = join(this.dir, `${base}.data`);
    const fh = await open(dataPath, 'a+', FILE_MODE);
    // Bytes past the durable count were never acknowledged as kept: cut them off. A data
    // file shorter than the count (lost in a crash) must not be padded with zeros by the cut:
    // the count goes back to the whole records it holds.
    const held = (await fh.stat()).size;
    if (held < Math.min(durable * RECORD_SIZE, meta.size)) {
      durable = Math.floor(held / RECORD_SIZE);
      meta.durable = durable;
    }
    // Every record durable (the last was a durable point, every 16th, and the process died
    // before the file was stored): the resume gets the last record again, whose arrival
    // stores the file. UploadReady(next = all records) left nothing to send and no record to
    // end on: each resume was refused as out of range (fatal), for ever.
    const records = Math.max(1, Math.ceil(meta.size / RECORD_SIZE));
    if (durable >= records) {
      durable = records - 1;
      meta.durable = durable;
    }
    const keep = Math.min(durable * RECORD_SIZE, meta.size);
    await fh.truncate(keep);
    // A fresh upload hashes as its records arrive. A resumed one is read back from the disk
    // as it becomes durable (FileHasher), with the progress of its earlier connections: a
    // pass over the kept bytes at every resume let a 64 GiB partial upload, resumed and
    // dropped 30 times a minute, keep the server busy.
    const hash = keep === 0 ? createHash('sha256') : null;
    let fileHash: FileHasher | null = null;
    if (keep === 0) this.#hashers.delete(base);
    else {
      fileHash = this.#hashers.get(base) ?? null;
      if (!fileHash || fileHash.at > keep) {
        fileHash = new FileHasher(dataPath);
        this.#hashers.set(base, fileHash);
      }
    }
    const out = await FileAppender.open(dataPath, fh, { direct: this.#direct });
    this.#index(base, { ...meta, durable });
    const upload = new PartialUpload({
      fh,
      uploadId,
      donePath: join(this.dir, doneFileName(meta.clientKey, meta.name)),
      out,
      dataPath,
      metaPath: join(this.dir, `${base}.json`),
      meta,
      hash,
      fileHash,
      written: keep,
      next: durable,
      finishing: () => {
        let resolve!: () => void;
        const done = new Promise<void>((r) => {
          resolve = r;
        });
        this.#finishing.set(base, done);
        const end = () => {
          if (this.#finishing.get(base) === done) this.#finishing.delete(base);
          resolve();
        };
        return { done, end };
      },
      onEnd: (kept) => {
        if (this.#active.get(base) === upload) this.#active.delete(base);
        if (kept) this.#index(base, meta);
        else this.#unindex(base);
      },
    });
    this.#active.set(base, upload);
    return upload;
  }
}

interface PartialState {
  fh: FileHandle;
  /** Hex. */
  uploadId: string;
  /** Where stored() leaves the `.done` file (doneFileName). */
  donePath: string;
  /** The records' writes (O_DIRECT where the file system allows: platform/direct-writes.ts). */
  out: FileAppender;
  dataPath: string;
  metaPath: string;
  meta: Meta;
  /** The SHA-256 so far, when the upload started at 0 on this holder; null: fileHash reads it back. */
  hash: Hash | null;
  /** A resumed upload's hash, read back from the file as it becomes durable. */
  fileHash: FileHasher | null;
  written: number;
  next: number;
  /** The connection is done with it: `kept` for a resume (meta is current), else finished or removed. */
  onEnd: (kept: boolean) => void;
  /**
   * finish() began: resumes and cancels of the upload (PartialUploads' map, and takeOver)
   * wait for `done`, which `end` (called by forget()) resolves.
   */
  finishing: () => { done: Promise<void>; end: () => void };
}

/** One upload being received by one connection. Calls must not overlap (the connection is serial). */
export class PartialUpload {
  readonly #s: PartialState;
  #sinceDurable = 0;
  /** The durable point in progress (resolved when none). */
  #durable: Promise<void> = Promise.resolve();
  #durableError: Error | null = null;
  #ended = false;
  #detached = false;
  /** The caller hashes the records (handOverHash) and gives the SHA-256 to finish(). */
  #handedOver = false;
  #detaching: Promise<void> | null = null;
  /** Set by finish(): the upload is being stored, and holds its files until forget() ends it. */
  #storing: { done: Promise<void>; end: () => void } | null = null;
  #takenOver: TakeOver | null = null;
  /**
   * Set by the connection that holds it: told when another connection takes it over; the
   * take-over waits for it (the holder writes what it verified and stops).
   */
  onTakenOver: ((how: TakeOver) => Promise<void>) | null = null;
  /** The append in progress (resolved when none; never rejects). */
  #writing: Promise<void> = Promise.resolve();

  constructor(s: PartialState) {
    this.#s = s;
    // The kept bytes are durable: hashed while the rest arrives.
    s.fileHash?.advance(s.written);
  }

  /** Bytes of a resumed upload's file hashed so far (read back from the disk), null for a fresh one (tests). */
  get hashedBytes(): number | null {
    return this.#s.fileHash?.at ?? null;
  }

  /** True while its records are written past the page cache (tests). */
  get direct(): boolean {
    return this.#s.out.direct;
  }

  /** The record the server wants next (the durable count when opened). */
  get next(): number {
    return this.#s.next;
  }
  get size(): number {
    return this.#s.meta.size;
  }
  get name(): string {
    return this.#s.meta.name;
  }

  /**
   * Appends the verified plaintexts of records `next`, `next + 1` ... in one writev; when
   * that reaches 16 records since the last durable point they are made durable (a batch
   * must not cross a durable point: record-writer.ts cuts them so).
   */
  appendRecords(plains: readonly Uint8Array[]): Promise<void> {
    if (this.#ended) return Promise.reject(new Error('upload detached'));
    const append = this.#append(plains);
    this.#writing = append.catch(() => {});
    return append;
  }

  async #append(plains: readonly Uint8Array[]): Promise<void> {
    const s = this.#s;
    let total = 0;
    for (const p of plains) total += p.length;
    await s.out.write(plains, s.written);
    // Taken over meanwhile (a resume on a new connection detached us): its state is not ours.
    if (this.#ended) throw new Error('upload detached');
    s.written += total;
    if (s.hash) for (const p of plains) s.hash.update(p);
    s.next += plains.length;
    this.#sinceDurable += plains.length;
    if (this.#sinceDurable < DURABLE_EVERY_RECORDS) return;
    // One durable point at a time, in the background: later records are written while the
    // disk syncs (the sync covers at least what was written before it began).
    await this.#durable;
    if (this.#durableError) throw this.#durableError;
    this.#durable = this.#makeDurable(true).catch((e: unknown) => {
      this.#durableError = e as Error;
    });
  }

  /** Syncs the data written so far, then raises the durable count to it (never beyond). */
  async #makeDurable(background = false): Promise<void> {
    const s = this.#s;
    const next = s.next;
    this.#sinceDurable = 0;
    await s.fh.datasync();
    // Detached meanwhile: detach() wrote the state itself; a late write could outlive forget().
    if (background && this.#ended) return;
    s.meta.durable = next;
    s.meta.updatedAt = Date.now();
    if (!this.#ended) s.fileHash?.advance(Math.min(next * RECORD_SIZE, s.meta.size));
    // Syncs the folder too: the names of both files are durable.
    await syncedWrite(s.metaPath, JSON.stringify(s.meta));
  }

  /**
   * The caller hashes the records from now on and gives the SHA-256 to finish(): true when
   * this holder started at record 0 (it would have hashed them as they came); false when the
   * file is hashed at the end anyway (a resume).
   */
  handOverHash(): boolean {
    if (!this.#s.hash || this.#s.written !== 0) return false;
    this.#s.hash = null;
    this.#handedOver = true;
    return true;
  }

  /**
   * All records are in: the file is durable, ready to move into place. `sha256`: the hash of
   * the whole file, from the caller that took it over (handOverHash).
   */
  async finish(sha256?: Uint8Array | null): Promise<Finished> {
    const s = this.#s;
    // Taken over (a resume's take-over ran out of time before the store began): the files
    // are the resume's now.
    if (this.#detached) throw new Error('upload detached');
    // Before anything is awaited: from now on a resume or a cancel waits for stored() or forget().
    if (!this.#ended) this.#storing ??= s.finishing();
    this.#ended = true;
    await this.#durable;
    await s.out.close();
    try {
      if (this.#durableError) throw this.#durableError;
      await s.fh.sync();
    } finally {
      // Closed on failure too (forget() follows and removes the files).
      await s.fh.close().catch(() => {});
    }
    if (this.#handedOver && !sha256) throw new Error('The hash was handed over and not given back.');
    const digest = this.#handedOver
      ? sha256!
      : s.hash
        ? s.hash.digest()
        : await s.fileHash!.digest(s.written);
    // Still held (PartialUploads#active) until forget(), which the caller runs whether the
    // store succeeds or fails: a resume that came while the file was being moved into
    // files/ found no holder, reopened the data file and cut it back to its durable count,
    // and the store moved the cut file into place under a row of the whole file's size and
    // SHA-256, verified. It now waits for the store (takeOver) and is told the outcome.
    return { path: s.dataPath, size: s.written, sha256: new Uint8Array(digest) };
  }

  /**
   * After a successful commit, as forget(), leaving a `.done` file for a TTL: a resume that
   * comes after it (the connection broke before the client read UploadDone) is told the
   * file is stored instead of sending it all again. `token`: the stored file's (FileStore).
   * One file per owner and name: it replaces the one of an earlier upload of the name,
   * whose stored file this one replaced (that upload's resume gets Error 11, as its token
   * would no longer match). So there are no more of them than stored files.
   */
  async stored(token: string): Promise<void> {
    // In this order, each step durable before the next (see writeDone, removeStateDurably):
    // the `.done`, then the state file's removal; the caller drops the store's note after.
    await writeDone(this.#s.donePath, this.#s.uploadId, this.#s.meta, token);
    await this.#forget(removeStateDurably);
  }

  /**
   * After a successful commit: the metadata goes too. Also a failed completion's clean-up:
   * not once detached (as remove()): was, the files and kept bytes of the resume that took
   * the upload over went.
   */
  forget(): Promise<void> {
    return this.#forget((path) => rm(path, { force: true }));
  }

  async #forget(removeState: (path: string) => Promise<void>): Promise<void> {
    // Detached: the files are the kept upload's, perhaps reopened by the resume that took it.
    if (this.#detached) return;
    this.#s.fileHash?.stop();
    try {
      // The data first: cut between the two, a state file left without its data counts
      // nothing (init) and expires; a data file left without its state file waited for ever.
      await rm(this.#s.dataPath, { force: true });
      await removeState(this.#s.metaPath);
    } finally {
      // After the files went: a resume or cancel waiting (takeOver, or PartialUploads'
      // finishing map) reads the state again then.
      this.#s.onEnd(false);
      this.#storing?.end();
    }
  }

  /**
   * The connection is gone (or a resume took the upload over): keep what is written, durable.
   * Every caller waits for the same work: a resume that found the connection's own detach
   * under way once read the state before it was written, and cut the file back too far.
   */
  detach(): Promise<void> {
    if (this.#detaching) return this.#detaching;
    if (this.#ended) return Promise.resolve();
    this.#detaching = this.#detach();
    return this.#detaching;
  }

  /** Another connection of the owner took it (`how`), or null. */
  get takenOver(): TakeOver | null {
    return this.#takenOver;
  }

  /**
   * Another connection of the owner resumed or cancelled it: onTakenOver is told and awaited
   * (its holder writes what it verified and stops), then it is detached as after a lost
   * connection. Or it is being stored: `storing` ends with the store, and the caller waits
   * for it (as long as it chooses) before it reads what the store left.
   */
  async takeOver(how: TakeOver): Promise<{ storing: Promise<void> } | undefined> {
    // Being stored: nothing to take over; the caller reads what the store left (a `.done`,
    // or nothing when it failed) once it is over.
    if (this.#storing) return { storing: this.#storing.done };
    if (!this.#ended && this.#takenOver === null) {
      this.#takenOver = how;
      const told = this.onTakenOver;
      this.onTakenOver = null;
      // Bounded: the holder runs it between its frames, and two connections of one client
      // cancelling each other's uploads at once would each wait for the other for ever.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        told?.(how).catch(() => {}),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, TAKE_OVER_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    // Its store began while we waited (the holder is told only between its frames, after
    // the store): detached now, the resume would cut back the file being moved into place.
    // (Read again after the await: a cast, since TypeScript keeps the narrowing above.)
    const storing = this.#storing as { done: Promise<void> } | null;
    if (storing) return { storing: storing.done };
    await this.detach();
    return undefined;
  }

  async #detach(): Promise<void> {
    this.#ended = true;
    this.#detached = true;
    const s = this.#s;
    try {
      // A write in flight lands before the resume cuts the file back (never after it).
      await this.#writing;
      await this.#durable;
      // Not #sinceDurable: a background point that was syncing when we detached left its
      // count unwritten (it yields to us), and reset #sinceDurable when it began.
      if (s.meta.durable < s.next) await this.#makeDurable();
    } finally {
      s.fileHash?.stop();
      await s.out.close();
      await s.fh.close().catch(() => {});
      s.onEnd(true);
    }
  }

  /**
   * Drops the upload (a record failed, or the client gave up). Not once detached: the files
   * are then the kept upload's, perhaps already reopened by the resume that took it over.
   */
  async remove(): Promise<void> {
    if (this.#detached) return;
    if (!this.#ended) {
      this.#ended = true;
      await this.#writing;
      await this.#durable;
      await this.#s.out.close();
      await this.#s.fh.close().catch(() => {});
    }
    await this.forget();
  }
}
