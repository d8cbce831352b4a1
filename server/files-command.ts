/** `npm run server -- files [--data DIR]`: what the server has received. */
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
 * JSON object per line for scripts (sizes in bytes, times in UTC as stored).
 */
export function formatListing(files: readonly FileListing[], tty: boolean): string {
  if (!tty) return jsonLines(files);
  if (files.length === 0) return 'No files received yet.\n';
  const head = ['CLIENT', 'FILE', 'SIZE', 'CRC', 'VERIFIED', 'RECEIVED', 'STORED AS'];
  const rows = files.map((f) => [
    f.client,
    f.fileName,
    f.size === null ? '?' : formatBytes(f.size),
    f.cksum === null ? '?' : String(f.cksum),
    f.verified ? 'yes' : 'no',
    f.receivedAt === null ? '?' : localTime(f.receivedAt),
    f.path,
  ]);
  return formatTable(head, rows, [2, 3]);
}

export { localTime };
