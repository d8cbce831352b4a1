/**
 * WAL checkpoints (where SQLite fsyncs with synchronous=NORMAL) on a worker thread with its
 * own connection, not on the event loop. Under strace, with 100 uploads and the disk busy,
 * the main thread had made 13 fsyncs of up to 100 ms each, stalling every connection (a new
 * client's registration once waited 1.46 s); now it makes one WAL-header sync per 4 MiB of
 * WAL (when a commit reuses the WAL after a checkpoint).
 *
 * The thread runs db-checkpoint-worker.mjs, a module node loads as it is (under
 * `tsx server/main.ts`, under vitest, or plain node).
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type Sqlite from 'better-sqlite3';
import type { CheckpointReport, CheckpointRequest, CheckpointWorkerData } from './db-checkpoint-worker.mjs';

/** How often the checkpoint thread copies the WAL into the database file. */
export const CHECKPOINT_INTERVAL_MS = 1000;
/** The checkpoint thread checkpoints once the WAL is this big (SQLite's default: 1000 pages). */
export const WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024;
/** Default hard bound on the WAL (ServerConfig.walLimit overrides). */
export const WAL_LIMIT_BYTES = 64 * 1024 * 1024;
/**
 * How often, at most, a write looks at the WAL's size against the hard bound: one stat per
 * 10 ms whatever the request rate, and at about 80 MB/s of commits the WAL passes the bound
 * by no more than about 1 MB before it is cut back.
 */
export const WAL_CHECK_MS = 10;
/** How long a write waits, at most, for the WAL to be cut back below the bound. */
const BOUND_WAIT_MS = 5000;
/** Atomics.wait needs an Int32Array on shared memory to sleep on; nothing ever wakes it. */
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
/** SQLite's own default, restored on the main connection if the checkpoint thread fails. */
const DEFAULT_WAL_AUTOCHECKPOINT = 1000;

const WORKER_URL = new URL('./db-checkpoint-worker.mjs', import.meta.url);

/** The WAL's size in bytes; 0 when there is none. */
export function walBytes(walPath: string): number {
  try {
    return statSync(walPath).size;
  } catch {
    return 0;
  }
}

/** What checkpointNow() gives when no thread runs. */
export const noCheckpointThread = (): Promise<never> =>
  Promise.reject(new Error('No checkpoint thread is running.'));

export class CheckpointThread {
  readonly #db: Sqlite.Database;
  #worker: Worker | null;
  /** Resolvers waiting for the next checkpoint report (tests). */
  readonly #waiters: ((pages: number) => void)[] = [];
  readonly #walPath: string;
  readonly #limitBytes: number;
  #lastCheck = 0;

  /**
   * Starts the thread for `db` (open on `data.path`); the main connection checkpoints only once
   * the WAL passes `data.limitBytes`.
   */
  constructor(db: Sqlite.Database, data: CheckpointWorkerData) {
    this.#db = db;
    this.#walPath = `${data.path}-wal`;
    this.#limitBytes = data.limitBytes;
    const worker = new Worker(WORKER_URL, { workerData: data });
    this.#worker = worker;
    worker.unref();
    worker.on('message', (m: CheckpointReport) => {
      for (const resolve of this.#waiters.splice(0)) resolve(m.checkpointed);
    });
    const fallBack = () => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      // Without the thread the WAL would grow for ever: SQLite checkpoints on commit again.
      if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${DEFAULT_WAL_AUTOCHECKPOINT}`);
    };
    worker.on('error', fallBack);
    worker.on('exit', fallBack);
    // The hard bound: past it, the main connection checkpoints on commit itself, and the
    // writer waits for that (it is the only writer, and the thread's checkpoints are PASSIVE and
    // never wait for a lock, so this checkpoint completes and the next commit restarts the WAL).
    // Below it, never: those fsyncs stall the event loop.
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.pragma(`wal_autocheckpoint = ${Math.ceil(data.limitBytes / pageSize)}`);
    // The WAL file shrinks back when it is reused, so its size tells the thread how much
    // waits to be checkpointed (otherwise it keeps its largest size for ever).
    db.pragma('journal_size_limit = 0');
  }

  /**
   * The hard bound, called before every write on the main connection. SQLite's checkpoint on
   * commit (set above) is not enough: it is PASSIVE and gives up at once while the thread
   * holds the checkpoint lock, which under continuous writes is most of the time, and the
   * thread's own PASSIVE copies never catch up with the writer (12,000 commits with a 5 ms
   * interval grew a 4 MiB-bound WAL to 86 MiB). Past the bound the thread starts no copy, and
   * this runs a TRUNCATE checkpoint, retrying while the thread finishes the copy it was in;
   * writes wait meanwhile (the event loop is blocked: only a flood gets here), and the WAL is
   * cut back to zero bytes.
   */
  enforceBound(): void {
    const now = performance.now();
    if (now - this.#lastCheck < WAL_CHECK_MS || this.#db.inTransaction) return;
    this.#lastCheck = now;
    if (walBytes(this.#walPath) < this.#limitBytes) return;
    const deadline = now + BOUND_WAIT_MS;
    for (;;) {
      const [r] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      if (r?.busy === 0 || performance.now() > deadline) return;
      Atomics.wait(SLEEPER, 0, 0, 1);
    }
  }

  /** False once the thread has stopped (the main connection checkpoints again). */
  get running(): boolean {
    return this.#worker !== null;
  }

  /** A checkpoint now; resolves with the pages it copied (tests). */
  now(): Promise<number> {
    const w = this.#worker;
    if (!w) return noCheckpointThread();
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      w.postMessage('now' satisfies CheckpointRequest);
    });
  }

  /** Stops the thread as if it had died; resolves once it has exited. */
  async stop(): Promise<void> {
    await this.#worker?.terminate(); // 'exit' runs the fallback
  }

  /**
   * Ends the thread without the fallback (the database is closing). Its connection closes with
   * it; SQLite keeps the WAL safe meanwhile, and the last connection to close checkpoints the rest.
   */
  close(): void {
    const w = this.#worker;
    this.#worker = null;
    if (w) void w.terminate();
  }
}
