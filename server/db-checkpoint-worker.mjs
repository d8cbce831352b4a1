// @ts-check
/**
 * The checkpoint thread (started by db-checkpoint.ts): its own connection to the database
 * copies the WAL into the database file, so those fsyncs never stall the event loop.
 *
 * Plain JavaScript, type-checked (`// @ts-check`, JSDoc types) and linted like the rest: a
 * worker thread runs it with no TypeScript loader, which would cost the process another
 * loader thread and about 23 MiB.
 *
 * PASSIVE: copy what can be copied without waiting for (or blocking) the main connection's
 * readers and writers. Only once the WAL has grown past `minBytes`: after a complete
 * checkpoint the main connection's next commit restarts the WAL and syncs its header, the one
 * fsync left on the event loop, so that happens about as rarely as SQLite's own 1000-page
 * checkpoints did.
 *
 * Never anything but PASSIVE, and no copy at all once the WAL has passed `limitBytes`. Under
 * continuous writes a PASSIVE checkpoint never catches up (new frames arrive while it copies),
 * so the WAL would never restart (200,000 pipelined 1025s grew it to 3.4 GB). The hard bound is
 * the main connection's (CheckpointThread.enforceBound): past it, the main connection runs a
 * TRUNCATE checkpoint, which needs the checkpoint lock this thread holds while copying. This
 * thread once ran the TRUNCATE itself, but it then held that lock while waiting for the writer
 * lock, a busy writer won that race again and again, and the WAL grew to 8x the bound.
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Sqlite from 'better-sqlite3';

/**
 * @typedef {object} CheckpointWorkerData
 * @property {string} path
 * @property {number} intervalMs
 * @property {number} minBytes
 * @property {number} limitBytes
 */

/**
 * Sent for each checkpoint asked for with a CheckpointRequest; -1 pages when it failed.
 * @typedef {{ checkpointed: number; error?: string }} CheckpointReport
 */

/**
 * The one message the thread takes: checkpoint now and report.
 * @typedef {'now'} CheckpointRequest
 */

/**
 * @param {import('node:worker_threads').MessagePort} port
 * @param {CheckpointWorkerData} data
 */
function run(port, data) {
  const db = new Sqlite(data.path, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const walSize = () => {
    try {
      return statSync(`${data.path}-wal`).size;
    } catch {
      return 0;
    }
  };
  /**
   * Only a checkpoint asked for (force) is reported, to checkpointNow().
   * @param {boolean} force
   */
  const checkpoint = (force) => {
    const size = walSize();
    // Past the bound the main connection checkpoints; a copy here would only make it wait.
    if (!force && (size < data.minBytes || size >= data.limitBytes)) return;
    /** @type {CheckpointReport} */
    let report;
    try {
      const [r] = /** @type {{ checkpointed: number }[]} */ (db.pragma('wal_checkpoint(PASSIVE)'));
      report = { checkpointed: r?.checkpointed ?? -1 };
    } catch (e) {
      // A failed checkpoint (disk error, lock) is retried on the next tick; the WAL keeps the data.
      report = { checkpointed: -1, error: String(e instanceof Error ? e.message : e) };
    }
    if (force) port.postMessage(report);
  };
  setInterval(() => checkpoint(false), data.intervalMs);
  port.on('message', (/** @type {CheckpointRequest} */ m) => {
    if (m === 'now') checkpoint(true);
  });
}

if (parentPort) run(parentPort, /** @type {CheckpointWorkerData} */ (workerData));
