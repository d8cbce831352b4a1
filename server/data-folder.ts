/**
 * The data folder holds every client's public key, the last session keys and the received
 * files in the clear: the server creates it 0700 (and its files 0600, see local-storage.ts
 * and db.ts) whatever the umask, and reports an existing folder that is more open, without
 * changing it (the operator may have reasons: a group that backs it up).
 */
import { chmod, mkdir, stat } from 'node:fs/promises';

/** Folders the server creates. */
export const FOLDER_MODE = 0o700;
/** Files the server creates: the database (SQLite gives its -wal and -shm the same mode), stored and temp files. */
export const FILE_MODE = 0o600;

/** Creates `dir` 0700 if missing; returns the mode of an existing folder open to group or others, else null. */
export async function secureDataFolder(dir: string): Promise<number | null> {
  const existing = await stat(dir).catch(() => null);
  if (existing) return (existing.mode & 0o077) !== 0 ? existing.mode & 0o777 : null;
  await mkdir(dir, { recursive: true, mode: FOLDER_MODE });
  // mkdir's mode is narrowed by the umask, never widened; chmod makes it exact.
  await chmod(dir, FOLDER_MODE);
  return null;
}
