/** `npm run server -- files [--data DIR]`: what the server has received. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes } from '../lib/format';
import { clientIdToHex } from '../lib/protocol';
import { ServerDatabase } from './db';
import { ServerError } from './errors';
import { DATABASE_FILE } from './server';

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
  if (!tty) return files.map((f) => JSON.stringify(f)).join('\n') + (files.length ? '\n' : '');
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
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 2 || i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

/** "2026-01-01 01:00:00" in the local time zone (the stored text if it is not a date). */
export function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}
