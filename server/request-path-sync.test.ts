/**
 * No synchronous file-system call on the request path (issue 14, item 6): one such call per
 * upload stalled every other connection. The modules below are what handlers reach;
 * startup (config.ts, db.ts's open, data-folder.ts) and the `files` command may block.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REQUEST_PATH = [
  'connection.ts',
  'session.ts',
  'handlers.ts',
  'client-handlers.ts',
  'file-handlers.ts',
  'file-receiver.ts',
  'file-store.ts',
  'stored-names.ts',
  'local-storage.ts',
  'upload.ts',
  'upload-sequence.ts',
  'outcome.ts',
  'peer-limits.ts',
  'turn-budget.ts',
];

describe('request path', () => {
  it.each(REQUEST_PATH)('%s makes no synchronous fs call', (file) => {
    const text = readFileSync(join(import.meta.dirname, file), 'utf8');
    // (Private methods such as #startSync are ours, not node:fs.)
    expect(text.match(/(?<![#\w])[a-z]+Sync\s*\(/g) ?? []).toEqual([]);
    expect(text).not.toMatch(/from 'node:fs'[^;]*\b\w+Sync\b/);
  });
});
