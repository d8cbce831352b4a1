/**
 * Stored file names: never the client's text as is (the original name is kept in the
 * database). Pure functions.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { MAX_STORED_NAME_LENGTH, sanitizeFileName, splitExtension } from '../lib/protocol/stored-name';

export { MAX_STORED_NAME_LENGTH, sanitizeFileName };

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
