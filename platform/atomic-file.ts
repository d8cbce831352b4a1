/**
 * Replacing a file at once: the new content goes to a temp file beside it, which is then
 * renamed over it, so a reader finds the old content or the new, never part of either.
 * Durable (the default): the temp file is fsync'd before the rename and the folder after it,
 * so after a power loss the file holds the new content, not an empty file or the old one.
 * The CLI keeps its identity and v4 files this way, the server its partial-upload state.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /** The mode of the new file (narrowed by the umask, as open(2) does). */
  mode: number;
  /** fsync the file before the rename and its folder after (default true); false: a crash may lose the write. */
  durable?: boolean;
}

/**
 * Writes `data` (a string as UTF-8) to `file`, replacing it at once. The temp file,
 * `${file}.${pid}.${random hex}.tmp`, is created (never reused) in the same folder; on a
 * failure it is removed and the error is rethrown as it was.
 */
export async function writeFileAtomically(
  file: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions,
): Promise<void> {
  const durable = opts.durable ?? true;
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
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
