/**
 * Stored file names: never the client's text as is (the original name is kept in the
 * database). Pure functions.
 */
import { posix } from 'node:path';
import { MAX_STORED_NAME_LENGTH, sanitizeFileName, splitExtension } from '../lib/protocol/stored-name';

export { MAX_STORED_NAME_LENGTH, sanitizeFileName };

/** `name`, or "stem (2).ext", "stem (3).ext", ... : the first that `isTaken` refuses. */
export async function uniqueName(
  name: string,
  isTaken: (candidate: string) => boolean | Promise<boolean>,
): Promise<string> {
  if (!(await isTaken(name))) return name;
  const [stem, ext] = splitExtension(name);
  for (let n = 2; ; n++) {
    const suffix = ` (${n})`;
    const candidate = stem.slice(0, MAX_STORED_NAME_LENGTH - ext.length - suffix.length) + suffix + ext;
    if (!(await isTaken(candidate))) return candidate;
  }
}

/**
 * True when a stored path (from the database) is a file inside the client's folder, so
 * replacing or removing it cannot touch another client's files or anything outside.
 */
export function inClientFolder(pathName: string, clientHex: string): boolean {
  const p = posix.normalize(pathName);
  return p.startsWith(`${clientHex}/`) && p.length > clientHex.length + 1 && !p.endsWith('/');
}
