/**
 * The checkpoint thread (started by db-checkpoint.ts): its own connection to the database
 * copies the WAL into the database file, so those fsyncs never stall the event loop.
 *
 * PASSIVE: copy what can be copied without waiting for (or blocking) the main connection's
 * readers and writers. Only once the WAL has grown past `minBytes`: after a complete
 * checkpoint the main connection's next commit restarts the WAL and syncs its header, the one
 * fsync left on the event loop, so that happens about as rarely as SQLite's own 1000-page
 * checkpoints did.
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Sqlite from 'better-sqlite3';

export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
  minBytes: number;
}

/** Sent for each checkpoint asked for with CHECKPOINT_NOW; -1 pages when it failed. */
export interface CheckpointReport {
  checkpointed: number;
  error?: string;
}

/** The one message the thread takes: checkpoint now and report. */
export type CheckpointRequest = 'now';

function run(port: NonNullable<typeof parentPort>, data: CheckpointWorkerData): void {
  const db = new Sqlite(data.path, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const walSize = () => {
    try {
      return statSync(`${data.path}-wal`).size;
    } catch {
      return 0;
    }
  };
  // Only a checkpoint asked for (force) is reported, to checkpointNow().
  const checkpoint = (force: boolean) => {
    if (!force && walSize() < data.minBytes) return;
    try {
      const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { checkpointed: number }[];
      if (force) port.postMessage({ checkpointed: r?.checkpointed ?? -1 } satisfies CheckpointReport);
    } catch (e) {
      // A failed checkpoint (disk error, lock) is retried on the next tick; the WAL keeps the data.
      if (force) port.postMessage({ checkpointed: -1, error: String((e as Error)?.message ?? e) });
    }
  };
  setInterval(() => checkpoint(false), data.intervalMs);
  port.on('message', (m) => {
    if (m === ('now' satisfies CheckpointRequest)) checkpoint(true);
  });
}

if (parentPort) run(parentPort, workerData as CheckpointWorkerData);
