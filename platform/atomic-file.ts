/**
 * Replacing a file at once: the new content goes to a temp file beside it, which is then
 * renamed over it, so a reader finds the old content or the new, never part of either.
 * Durable (the default): the temp file is fsync'd before the rename and the folder after it,
 * so after a power loss the file holds the new content, not an empty file or the old one.
 * The CLI keeps its identity and v4 files this way, the server its partial-upload state.
 * A kill -9 mid-write leaves the temp file: its writer's next run removes it (removeStaleTemps).
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** The mode of the new file (narrowed by the umask, as open(2) does). */
  mode: number;
  /** fsync the file before the rename and its folder after (default true); false: a crash may lose the write. */
  durable?: boolean;
}

/**
 * A new temp file's path beside `file`: `${file}.${pid}.${8 random hex}.tmp`. The one naming
 * of temp files beside the files they become (writeFileAtomically, and the server's keys
 * written with a hard link), so that removeStaleTemps() knows them and nothing else.
 */
export function tempPathFor(file: string): string {
  return `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/** tempPathFor's suffix after the file's name. */
const TEMP_SUFFIX = /^\.[0-9]+\.[0-9a-f]{8}\.tmp$/;

/**
 * A temp file younger than this may be another process's write in progress (a write takes
 * milliseconds; two CLI runs on one --dir, or `invite create` beside a starting server).
 */
export const STALE_TEMP_MS = 60_000;

/**
 * Removes the temp files of tempPathFor's naming that a kill -9 or a power cut left in `dir`
 * beside the files named `files` (before the temp file's rename or removal): only those
 * names (a temp file of another program, or of a file not named, stays), only regular files,
 * and only older than `minAgeMs` (by mtime), so a concurrent writer's temp file is never
 * removed. Best effort (a folder that cannot be read, or a file that is gone meanwhile, is
 * left): returns the names removed.
 */
export async function removeStaleTemps(
  dir: string,
  files: readonly string[],
  { minAgeMs = STALE_TEMP_MS, now = Date.now() }: { minAgeMs?: number; now?: number } = {},
): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const ours = files.some((f) => {
      const b = basename(f);
      return name.startsWith(`${b}.`) && TEMP_SUFFIX.test(name.slice(b.length));
    });
    if (!ours) continue;
    const path = join(dir, name);
    const s = await lstat(path).catch(() => null);
    if (!s?.isFile() || now - s.mtimeMs < minAgeMs) continue;
    if (
      await unlink(path).then(
        () => true,
        () => false,
      )
    )
      removed.push(name);
  }
  return removed;
}

/**
 * Writes `data` (a string as UTF-8) to `file`, replacing it at once. The temp file
 * (tempPathFor) is created (never reused) in the same folder; on a failure it is removed and
 * the error is rethrown as it was. A kill -9 before that leaves it: removeStaleTemps().
 */
export async function writeFileAtomically(
  file: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions,
): Promise<void> {
  const durable = opts.durable ?? true;
  const tmp = tempPathFor(file);
  try {
    const handle = await open(tmp, 'wx', opts.mode);
    try {
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  if (durable) await syncFolder(dirname(file));
}

/** What fsync(2) on a folder answers where the file system (or the OS) does not do it. */
const FOLDER_SYNC_REFUSED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EBADF', 'EPERM', 'EISDIR']);

/**
 * fsyncs a folder, so a rename (or a new name) in it survives a power loss. Best effort: a
 * folder that cannot be opened (gone, not readable) or whose file system refuses the fsync is
 * left as it is; any other failure of the fsync (EIO) is thrown.
 */
export async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => null);
  if (!handle) return;
  try {
    await handle.sync();
  } catch (e) {
    if (!FOLDER_SYNC_REFUSED.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    await handle.close();
  }
}
