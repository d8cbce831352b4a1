/**
 * Imported into a server process by tests (StartOptions.preload): the database write that
 * records a stored file (completeStore) fails on its SFT_TEST_FAIL_ROW_AT-th call (1-based;
 * default 2), as SQLite does on a full disk or an I/O error; every other call works.
 */
import { SqliteDatabase } from '../../server/db';

const failAt = Number(process.env.SFT_TEST_FAIL_ROW_AT ?? '2');
let calls = 0;
const completeStore = SqliteDatabase.prototype.completeStore;
SqliteDatabase.prototype.completeStore = async function (this: SqliteDatabase, ...args) {
  if (++calls === failAt)
    throw Object.assign(new Error('database or disk is full (injected)'), { code: 'SQLITE_FULL' });
  return completeStore.apply(this, args);
};
