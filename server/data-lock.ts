/**
 * One serving process per data folder. A server starting on a folder clears the temp files
 * of unfinished v3 uploads and sweeps v4 partial uploads: a second server on the same folder
 * (a second `npm start` on other ports, say) deleted the first one's temp file in the middle
 * of an upload. So a server holds the folder while it runs and refuses to start while another
 * process holds it. The admin commands (files, clients, invite, info) take no lock: they run
 * beside the server.
 *
 * The hold is an operating-system lock, not a file's existence: `server.lock` is a small
 * SQLite database kept open in exclusive locking mode (SQLite's file locks, fcntl on Unix,
 * LockFileEx on Windows). Taking it is atomic, so of any number of servers starting at once
 * exactly one gets it, and the system drops it when the process ends however it ends (kill -9,
 * a crash, a reboot): there is no stale lock to judge, and a PID reused by another program
 * after a restart cannot keep a server from starting. `server.pid` beside it says which
 * process holds the folder, for the refusal's sentence and for people; it is only
 * information. `server.lock` itself stays in the folder: removing a lock file while others
 * may have it open would let two holders in.
 */
import { chmod, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { FILE_MODE } from './data-folder';
import { ServerError } from './errors';

/** The lock itself (an SQLite database held in exclusive locking mode). */
export const LOCK_FILE = 'server.lock';
/** The holder's PID, written once the lock is held. */
export const PID_FILE = 'server.pid';
/** What the lock puts in a data folder. */
export const LOCK_FILES: readonly string[] = [LOCK_FILE, PID_FILE];

export interface DataFolderLock {
  /** The PID in a server.pid left by a holder that ended without a clean stop, else null. */
  readonly tookOverFrom: number | null;
  /** server.lock was not a database (damaged): it was emptied and taken. */
  readonly repaired: boolean;
  /** Drops the hold and removes server.pid (if it is still this process's). */
  release(): Promise<void>;
}

function parsePid(text: string): number | null {
  const pid = Number.parseInt(text, 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

function inUse(dir: string, pid: number | null): ServerError {
  const who = pid === null ? 'another server' : `another server (PID ${pid})`;
  return new ServerError(
    'SERVER_ERR_DATA_IN_USE',
    `${who} is using the data folder ${dir}. Stop it first, or give this one a folder of its own with --data (SFT_DATA for npm start).`,
  );
}

/** SQLite's answer while another connection (in any process) holds the lock. */
function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/** SQLite's answer for a server.lock that is not a database (garbage, a foreign file, a torn one). */
function isDamaged(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT';
}

/**
 * Takes the data folder for this process; ServerError SERVER_ERR_DATA_IN_USE while another
 * server holds it. A server.lock that is not a database (it holds nothing but the lock) is
 * emptied in place and taken (`repaired`): it kept every server out, with "file is not a
 * database" as the only word. Emptied, not replaced: the lock is the file's (its inode's),
 * so a server that holds it keeps it, and a server starting beside is refused as before.
 * SQLite reads the file only once it holds a shared lock, so a file held by a running
 * server reads as busy, never as damaged.
 */
export async function lockDataFolder(dir: string): Promise<DataFolderLock> {
  try {
    return await takeLock(dir, false);
  } catch (e) {
    if (!isDamaged((e as { cause?: unknown } | undefined)?.cause)) throw e;
    await truncate(join(dir, LOCK_FILE), 0);
    return takeLock(dir, true);
  }
}

async function takeLock(dir: string, repaired: boolean): Promise<DataFolderLock> {
  const lockPath = join(dir, LOCK_FILE);
  const pidPath = join(dir, PID_FILE);
  const readPid = async () => parsePid(await readFile(pidPath, 'utf8').catch(() => ''));
  let db: Sqlite.Database;
  try {
    // timeout 0: a held lock is an answer at once, not a wait.
    db = new Sqlite(lockPath, { timeout: 0 });
  } catch (e) {
    throw new ServerError('SERVER_ERR_STORAGE', `could not open ${lockPath}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    // Exclusive locking mode keeps the lock from the first write until the connection
    // closes; the journal in memory leaves no -journal file beside it.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)');
    db.prepare('DELETE FROM holder').run();
    db.prepare('INSERT INTO holder (pid) VALUES (?)').run(process.pid);
    db.exec('COMMIT');
  } catch (e) {
    db.close();
    if (isBusy(e)) throw inUse(dir, await readPid());
    throw new ServerError('SERVER_ERR_STORAGE', `could not lock ${lockPath}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  await chmod(lockPath, FILE_MODE).catch(() => {});
  // Held: a server.pid still here was left by a holder that did not stop cleanly.
  const left = await readPid();
  const tookOverFrom = left !== process.pid ? left : null;
  try {
    await writeFile(pidPath, `${process.pid}\n`, { mode: FILE_MODE });
  } catch (e) {
    db.close();
    throw e;
  }
  let released = false;
  return {
    tookOverFrom,
    repaired,
    async release() {
      if (released) return;
      released = true;
      if ((await readPid()) === process.pid) await unlink(pidPath).catch(() => {});
      db.close();
    },
  };
}
