/**
 * `npm run server -- check [--data DIR] [--json] [--quick]`: are the stored files what
 * defensive.db says they are? Reads every stored file once and compares it with its row:
 * present, of the recorded size, with the recorded SHA-256 (protocol v4) or CRC (v3);
 * `--quick` looks at presence and sizes only and reads nothing. Also reports files in
 * `files/` that no row names (copied in by hand, or left by a crash of a server older than
 * the pending changes) and changes a crash cut that no server start has finished yet.
 *
 * Read only: it changes nothing, so it can run beside a running server. What that server
 * changes meanwhile is not reported: the rows are read again at the end, a finding on a row
 * that was removed or replaced since is dropped, a file whose row (or pending store) appeared
 * meanwhile is not unrecorded, and a pending change under PENDING_GRACE_MS old is taken as in
 * progress (a store takes milliseconds; a running server finishes a removal another process
 * left after a minute). Exit status 1 when anything is wrong.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Cksum } from '../lib/crypto';
import { formatBytes } from '../lib/format';
import { clientIdToHex } from '../lib/protocol';
import type { ListedFile, PendingEntry } from './database';
import { ServerDatabase } from './db';
import { ServerError } from './errors';
import { DATABASE_FILE } from './server';
import { formatTable, jsonLines } from './table-format';

/** A pending change younger than this at the end of a check is in progress, not a crash's. */
export const PENDING_GRACE_MS = 60_000;

export type CheckProblem = 'missing' | 'size' | 'sha256' | 'crc' | 'unreadable' | 'unrecorded' | 'pending';

export interface CheckFinding {
  problem: CheckProblem;
  /** Relative to the data folder ("files/<folder>/<name>"). */
  path: string;
  /** The row's client and file name (none for an unrecorded file). */
  client: string | null;
  fileName: string | null;
  /** What was found, as a sentence. */
  detail: string;
}

export interface CheckReport {
  /** Rows checked, and the bytes read for them (0 with `quick`). */
  files: number;
  bytes: number;
  /** Sizes only: nothing was read. */
  quick: boolean;
  /** Pending changes under PENDING_GRACE_MS old at the end: in progress, not judged. */
  inProgress: number;
  findings: CheckFinding[];
}

export interface CheckProgress {
  /** Rows done, of `total`; bytes read so far. */
  done: number;
  total: number;
  bytes: number;
}

export interface CheckOptions {
  /** Presence and sizes only; no file is read. */
  quick?: boolean;
  onProgress?: (p: CheckProgress) => void;
  /** The clock pending changes are judged by (ms since the epoch). */
  now?: () => number;
  /**
   * Runs after the rows are first read and before any file is looked at: what a running
   * server does meanwhile, for tests.
   */
  meanwhile?: () => Promise<void>;
}

/** The rows and pending changes of the database at `dbPath`, read-only. */
async function readState(dbPath: string): Promise<{ rows: ListedFile[]; pending: PendingEntry[] }> {
  const db = new ServerDatabase(dbPath, { readonly: true });
  try {
    return { rows: db.listFiles(), pending: await db.pending() };
  } finally {
    await db.close();
  }
}

/** Whether `b` is the same stored file as `a` (not removed, not replaced meanwhile). */
const sameRow = (a: ListedFile, b: ListedFile | undefined): boolean =>
  b !== undefined &&
  b.ID.length === a.ID.length &&
  b.ID.every((x, i) => x === a.ID[i]) &&
  b.FileName === a.FileName &&
  b.Token === a.Token &&
  b.Size === a.Size &&
  b.Sha256 === a.Sha256 &&
  b.Cksum === a.Cksum;

/**
 * Reads the stored files and compares them with their rows (see the file comment).
 * `onProgress` is called after each file and while a large one is read.
 */
export async function checkStoredFiles(dataDir: string, opts: CheckOptions = {}): Promise<CheckReport> {
  const { quick = false, onProgress, now = Date.now, meanwhile } = opts;
  const dbPath = join(dataDir, DATABASE_FILE);
  if (!existsSync(dbPath)) {
    throw new ServerError(
      'SERVER_ERR_STORAGE',
      `No ${DATABASE_FILE} in ${dataDir}; start the server there first or pass --data.`,
    );
  }
  const filesDir = join(dataDir, 'files');
  const before = await readState(dbPath);
  const rows = before.rows;
  await meanwhile?.();
  const findings: Array<CheckFinding & { row?: ListedFile }> = [];
  let bytes = 0;
  let done = 0;
  const progress = (extra = 0) => onProgress?.({ done, total: rows.length, bytes: bytes + extra });
  for (const r of rows) {
    progress();
    done++;
    const path = join('files', r.PathName);
    const finding = (problem: CheckProblem, detail: string) =>
      findings.push({
        problem,
        path,
        client: r.ClientName ?? clientIdToHex(r.ID),
        fileName: r.FileName,
        detail,
        row: r,
      });
    const s = await stat(join(filesDir, r.PathName)).catch((e: NodeJS.ErrnoException) => e);
    if (s instanceof Error) {
      if (s.code === 'ENOENT') finding('missing', 'The file its row names is not there.');
      else finding('unreadable', `Cannot read it: ${s.message}`);
      continue;
    }
    if (r.Size !== null && s.size !== r.Size) {
      finding('size', `It holds ${s.size} bytes; its row says ${r.Size}.`);
      continue;
    }
    if (quick) continue;
    const sums = await readSums(join(filesDir, r.PathName), r.Sha256 !== null, progress).catch(
      (e: Error) => e,
    );
    if (sums instanceof Error) {
      finding('unreadable', `Cannot read it: ${sums.message}`);
      continue;
    }
    bytes += s.size;
    if (r.Sha256 !== null && sums.sha256 !== r.Sha256)
      finding('sha256', `Its SHA-256 is ${sums.sha256}; the one recorded when it arrived is ${r.Sha256}.`);
    else if (r.Sha256 === null && r.Cksum !== null && sums.cksum !== r.Cksum)
      finding('crc', `Its CRC is ${sums.cksum}; the one recorded when it arrived is ${r.Cksum}.`);
  }
  progress();
  const paths = await storedPaths(filesDir);
  // What a running server changed while this read: judged by the rows as they are now.
  const after = await readState(dbPath);
  const rowNow = new Map(after.rows.map((r) => [r.PathName, r]));
  const kept = findings.filter((f) => f.row !== undefined && sameRow(f.row, rowNow.get(f.row.PathName)));
  const named = new Set<string>();
  for (const r of [...rows, ...after.rows]) named.add(r.PathName.toLowerCase());
  for (const { change } of [...before.pending, ...after.pending])
    if (change.kind === 'store') named.add(change.pathName.toLowerCase());
  for (const p of paths) {
    if (named.has(p.toLowerCase())) continue;
    kept.push({
      problem: 'unrecorded',
      path: join('files', p),
      client: null,
      fileName: null,
      detail: 'No row names this file: no client lists it and no quota counts it.',
    });
  }
  const end = now();
  let inProgress = 0;
  for (const { change, notedAt } of after.pending) {
    if (end - notedAt < PENDING_GRACE_MS) {
      inProgress++;
      continue;
    }
    kept.push({
      problem: 'pending',
      path: join('files', change.pathName),
      client: null,
      fileName: change.kind === 'store' ? change.file.fileName : null,
      detail: `A ${change.kind === 'store' ? 'move into place' : 'removal'} cut by a crash; the next server start finishes or undoes it.`,
    });
  }
  return {
    files: rows.length,
    bytes,
    quick,
    inProgress,
    findings: kept.map(({ row: _row, ...f }) => f),
  };
}

/** The SHA-256 (hex, when asked) and the POSIX cksum of a file, in one read. */
async function readSums(
  path: string,
  sha: boolean,
  onRead: (bytes: number) => void,
): Promise<{ sha256: string | null; cksum: number }> {
  const hash = sha ? createHash('sha256') : null;
  const crc = new Cksum();
  let read = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    hash?.update(chunk);
    if (!sha) crc.update(chunk);
    read += chunk.length;
    onRead(read);
  }
  return { sha256: hash ? hash.digest('hex') : null, cksum: crc.digest() };
}

/** Every file under `filesDir`, as a '/'-separated path relative to it. */
async function storedPaths(filesDir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else out.push(relative(filesDir, full).split(sep).join('/'));
    }
  };
  await walk(filesDir);
  return out.sort();
}

/**
 * A progress line for a terminal (rewritten in place, at most every `everyMs`), and the
 * function that clears it.
 */
export function progressLine(
  write: (text: string) => void,
  everyMs = 500,
): { update: (p: CheckProgress) => void; clear: () => void } {
  // Not 0: performance.now() counts from the process's start, so a check begun in its first
  // half second showed its first line only after everyMs (and a short one none at all).
  let last = Number.NEGATIVE_INFINITY;
  let shown = false;
  return {
    update(p) {
      const t = performance.now();
      if (t - last < everyMs) return;
      last = t;
      shown = true;
      write(
        `\r\x1b[2Kchecking: file ${Math.min(p.done, p.total)} of ${p.total}, ${formatBytes(p.bytes)} read`,
      );
    },
    clear() {
      if (shown) write('\r\x1b[2K');
    },
  };
}

/** What the owner reads (TTY) or one JSON object per finding and a summary line (piped, --json). */
export function formatCheck(r: CheckReport, tty: boolean): string {
  const ok = r.findings.length === 0;
  if (!tty)
    return jsonLines([
      ...r.findings,
      {
        summary: true,
        files: r.files,
        bytes: r.bytes,
        quick: r.quick,
        inProgress: r.inProgress,
        problems: r.findings.length,
      },
    ]);
  const what = r.quick ? 'sizes only, nothing read' : `${formatBytes(r.bytes)} read`;
  const checked = `${r.files} stored ${r.files === 1 ? 'file' : 'files'} checked (${what})`;
  const busy =
    r.inProgress > 0
      ? ` ${r.inProgress} ${r.inProgress === 1 ? 'change' : 'changes'} under a minute old ${r.inProgress === 1 ? 'is' : 'are'} taken as in progress.`
      : '';
  const judged = r.quick ? 'of its recorded size' : 'of its recorded size and checksum';
  if (ok) return `${checked}: every one is there, ${judged}.${busy}\n`;
  const table = formatTable(
    ['PROBLEM', 'PATH', 'CLIENT', 'FILE', 'DETAIL'],
    r.findings.map((f) => [f.problem, f.path, f.client ?? '-', f.fileName ?? '-', f.detail]),
  );
  return `${table}${checked}; ${r.findings.length} ${r.findings.length === 1 ? 'problem' : 'problems'} above.${busy}\n`;
}
