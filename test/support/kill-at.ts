/**
 * Imported into a server process by crash tests (StartOptions.preload): SIGKILLs the process
 * the first time it reaches the point SFT_TEST_KILL_AT names, as a power cut or `kill -9`
 * there would. Nothing after that point runs: no catch, no finally, no exit handler.
 *
 * - `before-record`: the finished upload has been moved into files/, its row not yet written;
 * - `before-move`: the upload is complete and written down, not yet moved into files/;
 * - `before-move-durable`: as `before-move`, the upload's last durable point (written in the
 *   background as its last record lands) given 500 ms to finish first, as it does when the
 *   last steps are slow: the state file then counts every record;
 * - `after-record`: the finished upload's row has been written (committed), nothing after it
 *   (a v4 upload's state file in partial/ not yet replaced by its `.done`).
 */
import { SqliteDatabase } from '../../server/db';
import { LocalFileStorage } from '../../server/local-storage';
import { PartialUpload } from '../../server/v4/partial-uploads';

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
else if (at === 'before-move-durable') {
  const finish = PartialUpload.prototype.finish;
  PartialUpload.prototype.finish = async function (this: PartialUpload, ...args) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return finish.apply(this, args);
  };
  killBefore(LocalFileStorage.prototype, 'commit');
} else if (at === 'before-move') killBefore(LocalFileStorage.prototype, 'commit');
else throw new Error(`SFT_TEST_KILL_AT: unknown point ${at}`);
