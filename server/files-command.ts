/**
 * `npm run server -- files [--data DIR] [--json]`: what the server has received. Parsed and
 * run with the other owner's commands (admin-options.ts, admin-command.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes } from '../lib/format';
import { clientIdToHex } from '../lib/protocol';
import { ServerDatabase } from './db';
import { ServerError } from './errors';
import { DATABASE_FILE } from './server';
import { formatTable, jsonLines, localTime } from './table-format';

export interface FileListing {
  client: string;
  clientId: string;
  fileName: string;
  size: number | null;
  cksum: number | null;
  /** SHA-256 (hex) of a file stored through protocol v4; null for v3 (a CRC only). */
  sha256: string | null;
  verified: boolean;
  receivedAt: string | null;
  /** Path of the stored file, relative to the data folder. */
  path: string;
}

export function listReceivedFiles(dataDir: string): FileListing[] {
  const path = join(dataDir, DATABASE_FILE);
  if (!existsSync(path)) {
    throw new ServerError(
      'SERVER_ERR_STORAGE',
      `No ${DATABASE_FILE} in ${dataDir}; start the server there first or pass --data.`,
    );
  }
  const db = new ServerDatabase(path, { readonly: true });
  try {
    return db.listFiles().map((r) => ({
      client: r.ClientName ?? '?',
      clientId: clientIdToHex(r.ID),
      fileName: r.FileName,
      size: r.Size,
      cksum: r.Cksum,
      sha256: r.Sha256 ?? null,
      verified: r.Verified === 1,
      receivedAt: r.ReceivedAt,
      path: join('files', r.PathName),
    }));
  } finally {
    db.close();
  }
}

/**
 * A table for people (TTY: sizes in KiB/MiB/GiB, times in this machine's time zone) or one
 * JSON object per line for scripts, when piped or with --json (sizes in bytes, times in UTC
 * as stored).
 */
export function formatListing(files: readonly FileListing[], tty: boolean): string {
  if (!tty) return jsonLines(files);
  if (files.length === 0) return 'No files received yet.\n';
  const head = ['CLIENT', 'FILE', 'SIZE', 'CRC', 'SHA-256', 'VERIFIED', 'RECEIVED', 'STORED AS'];
  // v3 files have a CRC, v4 files a SHA-256 (whole: it is what people compare).
  const rows = files.map((f) => [
    f.client,
    f.fileName,
    f.size === null ? '?' : formatBytes(f.size),
    f.cksum === null ? (f.sha256 === null ? '?' : '-') : String(f.cksum),
    f.sha256 ?? '-',
    f.verified ? 'yes' : 'no',
    f.receivedAt === null ? '?' : localTime(f.receivedAt),
    f.path,
  ]);
  return formatTable(head, rows, [2, 3]);
}

export { localTime };
