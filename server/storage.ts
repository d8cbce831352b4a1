/**
 * Where received files live: data/files/<client id hex>/<sanitised name>, written first to
 * data/tmp/ and renamed into place only once complete. Stored paths never come from the
 * client's text as is; the original name is kept in the database.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { ServerError } from './errors';

/** Longest stored name (well under the 255-byte limit of common file systems, room for " (n)"). */
export const MAX_STORED_NAME_LENGTH = 120;
/** Longest extension kept when a name is shortened. */
const MAX_EXTENSION_LENGTH = 16;
/** Name used when nothing usable is left of the client's text. */
const FALLBACK_NAME = 'file';
/** Device names Windows reserves in any folder, with or without an extension. */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)$/i;
/** Characters kept as they are; everything else becomes '_'. Excludes / \ : * ? " < > | and controls. */
const SAFE_CHAR = /[A-Za-z0-9 ._\-+=,;@#$%&'()[\]{}!~^]/;
export const TEMP_SUFFIX = '.part';

/**
 * A safe file name for `name`: its last path component (either separator), unsafe
 * characters replaced by '_', no trailing dots or spaces, no leading dot, no reserved
 * device name, at most MAX_STORED_NAME_LENGTH characters keeping the extension.
 */
export function sanitizeFileName(name: string): string {
  const parts = name.split(/[/\\]/).filter((p) => p !== '');
  let base = parts.length ? parts[parts.length - 1]! : '';
  let out = '';
  for (const ch of base) out += SAFE_CHAR.test(ch) ? ch : '_';
  base = out.replace(/[. ]+$/, '').replace(/^ +/, '');
  if (base.startsWith('.')) base = `_${base}`;
  const dot = base.indexOf('.');
  const stem = dot < 0 ? base : base.slice(0, dot);
  if (WINDOWS_RESERVED.test(stem.trimEnd())) base = `_${base}`;
  if (base.length > MAX_STORED_NAME_LENGTH) base = shorten(base, MAX_STORED_NAME_LENGTH);
  return base === '' ? FALLBACK_NAME : base;
}

function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || name.length - dot > MAX_EXTENSION_LENGTH) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

function shorten(name: string, max: number): string {
  const [stem, ext] = splitExtension(name);
  return (stem.slice(0, max - ext.length).replace(/[. ]+$/, '') || FALLBACK_NAME) + ext;
}

/** `name`, or "stem (2).ext", "stem (3).ext", ... : the first that `isTaken` refuses. */
export function uniqueName(name: string, isTaken: (candidate: string) => boolean): string {
  if (!isTaken(name)) return name;
  const [stem, ext] = splitExtension(name);
  for (let n = 2; ; n++) {
    const suffix = ` (${n})`;
    const candidate = stem.slice(0, MAX_STORED_NAME_LENGTH - ext.length - suffix.length) + suffix + ext;
    if (!isTaken(candidate)) return candidate;
  }
}

export class Storage {
  readonly filesDir: string;
  readonly tmpDir: string;
  /** PathNames (lower case) chosen by commits whose rename is in flight. */
  readonly #reserved = new Set<string>();

  constructor(readonly dataDir: string) {
    this.filesDir = join(dataDir, 'files');
    this.tmpDir = join(dataDir, 'tmp');
  }

  /** Creates the folders and removes temporary files left by a crash; returns how many. */
  init(): number {
    try {
      mkdirSync(this.filesDir, { recursive: true });
      mkdirSync(this.tmpDir, { recursive: true });
      let removed = 0;
      for (const name of readdirSync(this.tmpDir)) {
        rmSync(join(this.tmpDir, name), { force: true, recursive: true });
        removed++;
      }
      return removed;
    } catch (e) {
      throw new ServerError(
        'SERVER_ERR_STORAGE',
        `Cannot prepare the data folder ${this.dataDir}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }

  /** A fresh path in tmp/ for an upload in progress. */
  newTempPath(): string {
    return join(this.tmpDir, `${randomBytes(12).toString('hex')}${TEMP_SUFFIX}`);
  }

  /** Absolute path of a stored PathName, or null when it would leave the client's folder. */
  resolveStored(pathName: string, clientHex?: string): string | null {
    const root = clientHex ? join(this.filesDir, clientHex) : this.filesDir;
    const abs = resolve(this.filesDir, pathName);
    return abs.startsWith(root + sep) ? abs : null;
  }

  /**
   * Moves a complete temp file into the client's folder. `previous` is the PathName of an
   * earlier upload of the same original name: it is replaced atomically (rename).
   * `isTaken(pathName)` reports names the database already uses. The name is chosen and
   * reserved synchronously, so concurrent commits never pick the same one; the rename runs
   * off the event loop; `record(pathName)` runs right after it (the database row), before
   * the reservation ends. Returns the new PathName.
   */
  async commit(
    tmpPath: string,
    clientHex: string,
    originalName: string,
    previous: string | undefined,
    isTaken: (pathName: string) => boolean,
    record: (pathName: string) => void = () => {},
  ): Promise<string> {
    const dir = join(this.filesDir, clientHex);
    let pathName: string;
    if (previous !== undefined && this.resolveStored(previous, clientHex)) {
      pathName = previous;
    } else {
      const name = uniqueName(sanitizeFileName(originalName), (n) => {
        const p = `${clientHex}/${n}`;
        return isTaken(p) || this.#reserved.has(p.toLowerCase()) || existsSync(join(dir, n));
      });
      pathName = `${clientHex}/${name}`;
    }
    const target = this.resolveStored(pathName, clientHex);
    if (!target) throw new ServerError('SERVER_ERR_STORAGE', `Refusing to store outside ${dir}.`);
    const key = pathName.toLowerCase();
    this.#reserved.add(key);
    try {
      await mkdir(dir, { recursive: true });
      await rename(tmpPath, target);
      record(pathName);
    } finally {
      this.#reserved.delete(key);
    }
    return pathName;
  }

  /** fsyncs a folder so a rename in it survives power loss; best effort. */
  async syncDir(pathName: string): Promise<void> {
    const abs = this.resolveStored(pathName);
    if (!abs) return;
    try {
      const handle = await open(abs.slice(0, abs.lastIndexOf(sep)), 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {
      // Some file systems refuse fsync on folders; the rename itself has happened.
    }
  }

  /** Removes a stored file; missing is fine. */
  remove(pathName: string, clientHex: string): void {
    const abs = this.resolveStored(pathName, clientHex);
    if (abs) rmSync(abs, { force: true });
  }

  /** Removes a temp file; missing is fine. */
  removeTemp(tmpPath: string): void {
    try {
      unlinkSync(tmpPath);
    } catch {
      // already gone
    }
  }
}
