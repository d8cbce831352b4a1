/**
 * Stored file names: never the client's text as is (the original name is kept in the
 * database). Pure functions.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';

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

/** Numbered candidates tried before random ones: "stem (2).ext" ... "stem (5).ext". */
const LAST_NUMBERED = 5;

/**
 * `name`, or "stem (2).ext" ... "stem (5).ext", then "stem (<8 random hex>).ext": the first
 * that `isTaken` refuses. At most a handful of probes whatever the folder holds (probing
 * (2), (3), ... one by one made the 10,000th same-name upload cost 69 ms and stalled others).
 */
export async function uniqueName(
  name: string,
  isTaken: (candidate: string) => boolean | Promise<boolean>,
  random: () => string = () => randomBytes(4).toString('hex'),
): Promise<string> {
  if (!(await isTaken(name))) return name;
  const [stem, ext] = splitExtension(name);
  const withSuffix = (suffix: string) =>
    stem.slice(0, MAX_STORED_NAME_LENGTH - ext.length - suffix.length) + suffix + ext;
  for (let n = 2; n <= LAST_NUMBERED; n++) {
    const candidate = withSuffix(` (${n})`);
    if (!(await isTaken(candidate))) return candidate;
  }
  // 2^32 suffixes: a clash is rare, and each retry is again one probe.
  for (;;) {
    const candidate = withSuffix(` (${random()})`);
    if (!(await isTaken(candidate))) return candidate;
  }
}

/** A new client folder name: random, so a stored path says nothing about the client's ID. */
export function newFolderName(): string {
  return `c-${randomBytes(12).toString('hex')}`;
}

/**
 * True when a stored path (from the database) is a file inside the client's folder, so
 * replacing or removing it cannot touch another client's files or anything outside.
 */
export function inClientFolder(pathName: string, folder: string): boolean {
  const p = posix.normalize(pathName);
  return p.startsWith(`${folder}/`) && p.length > folder.length + 1 && !p.endsWith('/');
}
