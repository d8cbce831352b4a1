/**
 * The CLI's protocol v4 files in its --dir folder, beside me.info:
 * - `v4.key`: the client's long-term Ed25519 key (PKCS #8, base64, 0600), made on first use;
 * - `v4.name`: the name that key goes by (one line, 0600), kept once a server has welcomed it,
 *   so later runs need no --name (the v3 me.info keeps its name the same way);
 * - `known_servers`: one line per server, `ADDRESS SHA256:fingerprint` (like SSH's
 *   known_hosts); a server is pinned on first use and a changed key is refused;
 * - `v4-uploads.json`: unfinished uploads (server, path, size, mtime -> upload ID and file
 *   key, 0600), so a later run of the same command resumes instead of starting over.
 */
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes } from '../lib/crypto';
import { MAX_CLIENT_NAME_BYTES } from '../lib/protocol/v4/constants';
import { checkNameText } from '../lib/protocol/v4/messages';
import { V4Error } from '../lib/v4/errors';
import {
  exportSigningKey,
  fingerprint,
  generateSigningKey,
  importSigningKey,
  type KeyPairWithRaw,
} from '../lib/v4/keys';
import { writeFileAtomically } from '../platform/atomic-file';
import { CliError } from './errors';

export const V4_KEY_FILE = 'v4.key';
export const KNOWN_SERVERS_FILE = 'known_servers';
export const V4_UPLOADS_FILE = 'v4-uploads.json';
export const V4_NAME_FILE = 'v4.name';
/** The files above this module writes (each atomically: a temp file beside it, renamed over it). */
export const V4_FILES_WRITTEN: readonly string[] = [
  V4_KEY_FILE,
  V4_NAME_FILE,
  KNOWN_SERVERS_FILE,
  V4_UPLOADS_FILE,
];
const PRIVATE = 0o600;

async function readOr(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    // ENOTDIR: a folder on the way is a file, so there is no such file either.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new CliError('CLI_ERR_CONFIG', `Cannot read ${file}: ${(e as Error).message}.`, { cause: e });
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  try {
    await writeFileAtomically(file, text, { mode: PRIVATE });
  } catch (e) {
    throw new CliError('CLI_ERR_IDENTITY_WRITE', `Cannot write ${file}: ${(e as Error).message}.`, {
      cause: e,
    });
  }
}

/** The v4 key of this folder, made (and saved) on first use. */
export async function loadOrCreateV4Key(dir: string): Promise<{ key: KeyPairWithRaw; created: boolean }> {
  const file = path.join(dir, V4_KEY_FILE);
  const text = await readOr(file);
  if (text !== null) {
    try {
      return { key: await importSigningKey(base64ToBytes(text.trim())), created: false };
    } catch (e) {
      throw new CliError(
        'CLI_ERR_CONFIG',
        `${file} is not an Ed25519 key: move it away to make a new identity.`,
        { cause: e },
      );
    }
  }
  const key = await generateSigningKey(true);
  await writeAtomically(file, `${bytesToBase64(await exportSigningKey(key.privateKey))}\n`);
  return { key: await importSigningKey(base64ToBytes((await readFile(file, 'utf8')).trim())), created: true };
}

/** The name kept with the v4 key in `dir` (v4.name); null when none was kept yet. */
export async function readV4Name(dir: string): Promise<string | null> {
  const file = path.join(dir, V4_NAME_FILE);
  const text = await readOr(file);
  if (text === null) return null;
  const name = text.trim();
  try {
    checkNameText(name, MAX_CLIENT_NAME_BYTES, false);
  } catch (e) {
    throw new CliError(
      'CLI_ERR_CONFIG',
      `${file} is malformed: ${(e as Error).message} Put the client name on its one line, or move it away and pass --name.`,
      { cause: e },
    );
  }
  return name;
}

/** Keeps `name` with the v4 key unless a name is kept already; true when it wrote v4.name. */
export async function keepV4Name(dir: string, name: string): Promise<boolean> {
  if ((await readV4Name(dir)) !== null) return false;
  await writeAtomically(path.join(dir, V4_NAME_FILE), `${name}\n`);
  return true;
}

export class KnownServers {
  readonly #file: string;
  constructor(dir: string) {
    this.#file = path.join(dir, KNOWN_SERVERS_FILE);
  }

  async #entries(): Promise<Map<string, string>> {
    const text = (await readOr(this.#file)) ?? '';
    const out = new Map<string, string>();
    for (const line of text.split('\n')) {
      const [address, fp] = line.trim().split(/\s+/);
      if (address && fp && !address.startsWith('#')) out.set(address, fp);
    }
    return out;
  }

  /** The fingerprint pinned for `address`, or null when none is. */
  async pinnedFor(address: string): Promise<string | null> {
    return (await this.#entries()).get(address) ?? null;
  }

  /**
   * Checks `serverKey` for `address`: pins it on first use (returns 'pinned'), accepts the
   * pinned one ('known'), refuses another with V4_ERR_PINNED_KEY_CHANGED naming both. With
   * `expected` (the fingerprint an invite link carries) a first use pins only that key
   * ('matched') and refuses any other the same way.
   */
  async check(
    address: string,
    serverKey: Uint8Array,
    expected?: { fingerprint: string; from: string },
  ): Promise<'pinned' | 'known' | 'matched'> {
    const fp = await fingerprint(serverKey);
    if ((await this.#entries()).get(address) === fp) return 'known';
    // A first use is decided and written under known_servers.lock: two runs pinning at once
    // each read the file and wrote it whole with their line, and the last write won (the
    // other pin lost, so its next run was a first use again, trusting whatever answered).
    const release = await lockFor(this.#file);
    try {
      return await this.#checkLocked(address, fp, expected);
    } finally {
      await release();
    }
  }

  async #checkLocked(
    address: string,
    fp: string,
    expected: { fingerprint: string; from: string } | undefined,
  ): Promise<'pinned' | 'known' | 'matched'> {
    const pinned = (await this.#entries()).get(address);
    if (pinned === fp) return 'known';
    if (pinned !== undefined) {
      throw new V4Error(
        'V4_ERR_PINNED_KEY_CHANGED',
        `WARNING: the server at ${address} presented key ${fp}, but ${pinned} is pinned for it in ${this.#file}. ` +
          'Someone may be intercepting the connection, or the server got a new key. Nothing was sent. ' +
          `If the operator confirms the new key, remove the line for ${address} from that file.`,
      );
    }
    if (expected !== undefined && expected.fingerprint !== fp) {
      throw new V4Error(
        'V4_ERR_PINNED_KEY_CHANGED',
        `WARNING: the server at ${address} presented key ${fp}, but ${expected.from} names ${expected.fingerprint}. ` +
          'Someone may be intercepting the connection, or the link is for another server. Nothing was sent. ' +
          'Ask the owner of the server for its fingerprint (npm run server -- info) or a new link.',
      );
    }
    // Appended: every line already there stays as it was (comments and lines this CLI cannot
    // read were dropped without a word by the rewrite of the whole file from its entries).
    const before = (await readOr(this.#file)) ?? '';
    const sep = before === '' || before.endsWith('\n') ? '' : '\n';
    await writeAtomically(this.#file, `${before}${sep}${address} ${fp}\n`);
    return expected === undefined ? 'pinned' : 'matched';
  }
}

export interface KeptUpload {
  server: string;
  path: string;
  size: number;
  mtimeMs: number;
  uploadId: Uint8Array;
  fileKey: Uint8Array;
}

interface KeptJson {
  server: string;
  path: string;
  size: number;
  mtimeMs: number;
  uploadId: string;
  fileKey: string;
}

const isHex = (v: unknown, bytes: number): v is string =>
  typeof v === 'string' && v.length === bytes * 2 && /^[0-9a-f]*$/i.test(v);

/** An entry this CLI wrote (one of another shape is kept in the file, never used). */
function isKeptJson(v: unknown): v is KeptJson {
  if (typeof v !== 'object' || v === null) return false;
  const k = v as Record<string, unknown>;
  return (
    typeof k.server === 'string' &&
    typeof k.path === 'string' &&
    typeof k.size === 'number' &&
    typeof k.mtimeMs === 'number' &&
    isHex(k.uploadId, 16) &&
    isHex(k.fileKey, 32)
  );
}

/** How long a run waits for another run of this folder to finish its change of v4-uploads.json. */
const LOCK_WAIT_MS = 10_000;
/** A lock older than this is taken as left by a run that died (a change takes milliseconds). */
const LOCK_STALE_MS = 30_000;
const LOCK_RETRY_MS = 25;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Unfinished uploads, for resuming on a later run; matched by server, path, size and mtime.
 * Several runs may share the folder (two terminals): every change is read, changed and
 * written under `v4-uploads.json.lock`, so one run's entry no longer overwrites another's.
 * A file that cannot be parsed is moved aside (`v4-uploads.json.damaged`) and said, not
 * replaced by `[]` without a word; entries of another shape are kept in it and not used.
 */
export class KeptUploads {
  readonly #file: string;
  readonly #say: (text: string) => void;
  /** Said once per run: entries of another shape. */
  #saidOdd = false;

  constructor(dir: string, say: (text: string) => void = () => {}) {
    this.#file = path.join(dir, V4_UPLOADS_FILE);
    this.#say = say;
  }

  /** Every entry of the file as it is (valid or not); [] when there is none or it was damaged (moved aside). */
  async #read(): Promise<unknown[]> {
    const text = await readOr(this.#file);
    if (!text) return [];
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      await this.#setAside(`it is not JSON (${(e as Error).message})`);
      return [];
    }
    if (!Array.isArray(v)) {
      await this.#setAside('it is not a list of uploads');
      return [];
    }
    return v;
  }

  async #setAside(why: string): Promise<void> {
    let aside = `${this.#file}.damaged`;
    for (let n = 2; (await readOr(aside)) !== null && n < 100; n++) aside = `${this.#file}.damaged-${n}`;
    try {
      await rename(this.#file, aside);
    } catch (e) {
      throw new CliError(
        'CLI_ERR_CONFIG',
        `${this.#file} is damaged (${why}) and could not be moved aside (${(e as Error).message}): move it away yourself to go on.`,
        { cause: e },
      );
    }
    this.#say(
      `${this.#file} was damaged (${why}): moved it to ${aside}. The unfinished uploads it listed start again from the beginning.`,
    );
  }

  async #valid(): Promise<KeptJson[]> {
    const all = await this.#read();
    const valid = all.filter(isKeptJson);
    if (valid.length < all.length && !this.#saidOdd) {
      this.#saidOdd = true;
      this.#say(
        `${this.#file} has ${all.length - valid.length} entr${all.length - valid.length === 1 ? 'y' : 'ies'} this CLI cannot read: kept in the file, not used.`,
      );
    }
    return valid;
  }

  async find(server: string, filePath: string, size: number, mtimeMs: number): Promise<KeptUpload | null> {
    const e = (await this.#valid()).find(
      (k) => k.server === server && k.path === filePath && k.size === size && k.mtimeMs === mtimeMs,
    );
    return e ? { ...e, uploadId: hexToBytes(e.uploadId), fileKey: hexToBytes(e.fileKey) } : null;
  }

  async keep(u: KeptUpload): Promise<void> {
    await this.#change((all) => {
      const rest = all.filter((k) => !(isKeptJson(k) && k.server === u.server && k.path === u.path));
      rest.push({ ...u, uploadId: bytesToHex(u.uploadId), fileKey: bytesToHex(u.fileKey) });
      return rest;
    });
  }

  async forget(server: string, filePath: string): Promise<void> {
    const mine = (k: KeptJson) => k.server === server && k.path === filePath;
    if (!(await this.#valid()).some(mine)) return;
    await this.#change((all) => {
      const rest = all.filter((k) => !(isKeptJson(k) && k.server === server && k.path === filePath));
      return rest.length === all.length ? null : rest;
    });
  }

  /** Reads, changes (null: nothing to write) and writes the file, holding the lock. */
  async #change(edit: (all: unknown[]) => unknown[] | null): Promise<void> {
    const release = await lockFor(this.#file);
    try {
      const next = edit(await this.#read());
      if (next !== null) await writeAtomically(this.#file, JSON.stringify(next, null, 1));
    } finally {
      await release();
    }
  }
}

/**
 * Takes `file`.lock (made exclusively, holding our PID): the changes of several runs of one
 * folder go one at a time. Resolves the release.
 */
async function lockFor(file: string): Promise<() => Promise<void>> {
  const lock = `${file}.lock`;
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const h = await open(lock, 'wx', PRIVATE);
      try {
        await h.writeFile(`${process.pid}\n`, 'utf8');
      } catch (e) {
        // Not left behind empty (a full folder): the next change would wait for it.
        await h.close().catch(() => {});
        await unlink(lock).catch(() => {});
        throw e;
      }
      await h.close();
      return () => unlink(lock).catch(() => {});
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST')
        throw new CliError(
          'CLI_ERR_IDENTITY_WRITE',
          `Cannot write ${file} (its lock file): ${(e as Error).message}.`,
          { cause: e },
        );
    }
    // Held. Left by a run that died (its PID gone, or older than any change takes): taken over.
    const held = await stat(lock).catch(() => null);
    const pid = Number.parseInt((await readOr(lock).catch(() => null)) ?? '', 10);
    const dead = Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !pidAlive(pid);
    if (held && (dead || Date.now() - held.mtimeMs > LOCK_STALE_MS)) {
      await unlink(lock).catch(() => {});
      continue;
    }
    if (Date.now() > until)
      throw new CliError(
        'CLI_ERR_CONFIG',
        `${lock} is held by another run of this CLI (PID ${Number.isNaN(pid) ? '?' : pid}) for more than ${LOCK_WAIT_MS / 1000} s. If no other run is going on, remove it.`,
      );
    await new Promise((r) => setTimeout(r, LOCK_RETRY_MS));
  }
}
