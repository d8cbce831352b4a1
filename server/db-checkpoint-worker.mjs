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
 * Under continuous writes a PASSIVE checkpoint never catches up (new frames arrive while it
 * copies), so the WAL never restarts: 200,000 pipelined 1025s grew it to 3.4 GB. So the WAL
 * size is looked at every `pollMs`, and past `limitBytes` the thread runs a TRUNCATE
 * checkpoint, which makes the main connection's writers wait (busy_timeout) until the WAL is
 * copied and cut back to zero bytes.
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
 * @property {number} pollMs
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
    if (!force && size < data.minBytes) return;
    const mode = size >= data.limitBytes ? 'TRUNCATE' : 'PASSIVE';
    /** @type {CheckpointReport} */
    let report;
    try {
      const [r] = /** @type {{ checkpointed: number }[]} */ (db.pragma(`wal_checkpoint(${mode})`));
      report = { checkpointed: r?.checkpointed ?? -1 };
    } catch (e) {
      // A failed checkpoint (disk error, lock) is retried on the next tick; the WAL keeps the data.
      report = { checkpointed: -1, error: String(e instanceof Error ? e.message : e) };
    }
    if (force) port.postMessage(report);
  };
  let last = Date.now();
  setInterval(
    () => {
      const now = Date.now();
      if (now - last >= data.intervalMs) {
        last = now;
        checkpoint(false);
      } else if (walSize() >= data.limitBytes) checkpoint(false);
    },
    Math.min(data.pollMs, data.intervalMs),
  );
  port.on('message', (/** @type {CheckpointRequest} */ m) => {
    if (m === 'now') checkpoint(true);
  });
}

if (parentPort) run(parentPort, /** @type {CheckpointWorkerData} */ (workerData));
