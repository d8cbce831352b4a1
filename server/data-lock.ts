/**
 * One serving process per data folder. A server starting on a folder clears the temp files
 * of unfinished v3 uploads and sweeps v4 partial uploads: a second server on the same folder
 * (a second `npm start` on other ports, say) deleted the first one's temp file in the middle
 * of an upload. So the server holds `server.pid` in the folder while it runs, with its PID, as
 * PostgreSQL does with postmaster.pid, and refuses to start while another live process holds
 * it. A file left by a process that is gone (killed, crashed, a reboot) is taken over. The
 * admin commands (files, clients, invite, info) take no lock: they run beside the server.
 *
 * Created with O_EXCL, so of two servers starting at once only one gets it. Taking over a
 * stale file is not atomic: two servers that both find the same stale file in the same few
 * milliseconds could both start; one starting later sees the live holder and refuses.
 */
import { readFileSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { FILE_MODE } from './data-folder';
import { ServerError } from './errors';

export const LOCK_FILE = 'server.pid';

/** Lock files this process holds (a second server in one process, as tests make, is refused too). */
const held = new Set<string>();

export interface DataFolderLock {
  /** The PID of a process that held the folder before and is gone (its file was taken over), else null. */
  readonly tookOverFrom: number | null;
  /** Removes the lock file (if it is still this process's). */
  release(): Promise<void>;
}

/** Whether `pid` is a running process (a zombie, dead but not yet reaped, is not). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists and belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return processState(pid) !== 'Z';
}

/** The state letter in /proc/PID/stat (Linux; null where there is none). */
function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) || null;
  } catch {
    return null;
  }
}

function inUse(dir: string, pid: number): ServerError {
  return new ServerError(
    'SERVER_ERR_DATA_IN_USE',
    `another server (PID ${pid}) is using the data folder ${dir}. Stop it first, or give this one a folder of its own with --data (SFT_DATA for npm start).`,
  );
}

/** Takes the data folder for this process; ServerError SERVER_ERR_DATA_IN_USE while another live server holds it. */
export async function lockDataFolder(dir: string): Promise<DataFolderLock> {
  const path = join(dir, LOCK_FILE);
  if (held.has(path)) throw inUse(dir, process.pid);
  let tookOverFrom: number | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', FILE_MODE);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      held.add(path);
      return {
        tookOverFrom,
        async release() {
          if (!held.delete(path)) return;
          const now = await readFile(path, 'utf8').catch(() => '');
          if (Number.parseInt(now, 10) === process.pid) await unlink(path).catch(() => {});
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const pid = Number.parseInt(text, 10);
    // Our own PID in a file this process does not hold: left by an earlier process that had
    // the same PID (a container restarted, say).
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isRunning(pid)) throw inUse(dir, pid);
    tookOverFrom = Number.isSafeInteger(pid) && pid > 0 ? pid : null;
    await unlink(path).catch((u: NodeJS.ErrnoException) => {
      if (u.code !== 'ENOENT') throw u;
    });
  }
  throw new ServerError('SERVER_ERR_STORAGE', `could not take ${path}: it keeps coming back.`);
}
