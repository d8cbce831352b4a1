/**
 * Imported into a server process by crash tests (StartOptions.preload): SIGKILLs the process
 * the first time it reaches the point SFT_TEST_KILL_AT names, as a power cut or `kill -9`
 * there would. Nothing after that point runs: no catch, no finally, no exit handler.
 *
 * - `before-record`: the finished upload has been moved into files/, its row not yet written;
 * - `before-move`: the upload is complete and written down, not yet moved into files/;
 * - `after-record`: the finished upload's row has been written (committed), nothing after it
 *   (a v4 upload's state file in partial/ not yet replaced by its `.done`).
 */
import { SqliteDatabase } from '../../server/db';
import { LocalFileStorage } from '../../server/local-storage';

function killBefore<T extends object>(proto: T, method: keyof T & string): void {
  const original = proto[method] as (...args: unknown[]) => unknown;
  Object.defineProperty(proto, method, {
    configurable: true,
    writable: true,
    value(this: unknown, ...args: unknown[]) {
      process.kill(process.pid, 'SIGKILL');
      return original.apply(this, args);
    },
  });
}

function killAfter<T extends object>(proto: T, method: keyof T & string): void {
  const original = proto[method] as (...args: unknown[]) => unknown;
  Object.defineProperty(proto, method, {
    configurable: true,
    writable: true,
    async value(this: unknown, ...args: unknown[]) {
      await original.apply(this, args);
      process.kill(process.pid, 'SIGKILL');
    },
  });
}

const at = process.env.SFT_TEST_KILL_AT;
if (at === 'before-record') killBefore(SqliteDatabase.prototype, 'completeStore');
else if (at === 'after-record') killAfter(SqliteDatabase.prototype, 'completeStore');
else if (at === 'before-move') killBefore(LocalFileStorage.prototype, 'commit');
else throw new Error(`SFT_TEST_KILL_AT: unknown point ${at}`);
