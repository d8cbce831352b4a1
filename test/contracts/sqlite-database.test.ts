import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteDatabase } from '../../server/db';
import { databaseContract } from './database.contract';

let dir = '';
databaseContract('SQLite', {
  async open() {
    dir = mkdtempSync(join(tmpdir(), 'sft-db-contract-'));
    return new SqliteDatabase(join(dir, 'defensive.db'), { checkpointIntervalMs: 0 });
  },
  cleanup: () => rmSync(dir, { recursive: true, force: true }),
});
