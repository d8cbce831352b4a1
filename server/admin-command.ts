/**
 * Runs an owner's command (admin-options.ts) against the data folder: `files` reads
 * defensive.db read-only; the others open it read-write beside a running server (SQLite WAL
 * and its busy timeout let both write; a revoke is seen by the server's next request, which
 * reads the row again).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type AdminArgs, adminHelp, parseAdminArgs } from './admin-options';
import { checkStoredFiles, formatCheck, progressLine } from './check-command';
import { formatClients, formatRemoved, removeClient } from './clients-command';
import { secureDataFolder } from './data-folder';
import { SqliteDatabase } from './db';
import { ServerError } from './errors';
import { FileStore } from './file-store';
import { formatListing, listReceivedFiles } from './files-command';
import { createInvite, formatCreated, formatInvites, formatRevoked, revokeInvite } from './invite-command';
import { qrForTerminal } from './invite-qr';
import { LocalFileStorage } from './local-storage';
import { DATABASE_FILE } from './server';
import { wantsTable } from './table-format';

async function openDatabase(dataDir: string, create: boolean): Promise<SqliteDatabase> {
  const path = join(dataDir, DATABASE_FILE);
  if (create) await secureDataFolder(dataDir);
  else if (!existsSync(path)) {
    throw new ServerError(
      'SERVER_ERR_STORAGE',
      `No ${DATABASE_FILE} in ${dataDir}; start the server there first or pass --data.`,
    );
  }
  // No checkpoint thread for a command that lasts a moment: SQLite's own checkpoints do.
  return new SqliteDatabase(path, { checkpointIntervalMs: 0 });
}

async function run(a: AdminArgs, dataDir: string, tty: boolean): Promise<string> {
  const v = a.values;
  const db = await openDatabase(dataDir, a.command === 'invite create');
  try {
    switch (a.command) {
      case 'invite create': {
        const created = await createInvite(db, dataDir, v['public-url'], {
          label: v.label,
          expiresMs: v.expires,
          maxBytes: v['max-bytes'] ?? null,
          maxFiles: v['max-files'] ?? null,
          maxClients: v['max-clients'],
        });
        const qr = tty ? await qrForTerminal(created.link) : undefined;
        return formatCreated(created, tty, a.defaulted, Date.now(), qr);
      }
      case 'invite list':
        return formatInvites(await db.invites(), tty);
      case 'invite revoke':
        return formatRevoked(await revokeInvite(db, a.target!), tty);
      case 'clients list':
        return formatClients(await db.clients(), tty);
      case 'clients remove': {
        const files = new FileStore(db, new LocalFileStorage(dataDir));
        return formatRemoved(await removeClient(db, files, a.target!, v.files), a.target!, tty);
      }
      default:
        return adminHelp();
    }
  } finally {
    await db.close();
  }
}

export interface AdminOptions {
  cwd?: string;
  tty?: boolean;
  /** Where a long command (check) shows its progress: a terminal's stderr. */
  progress?: (text: string) => void;
  env?: Readonly<Record<string, string | undefined>>;
}

/** `npm run server -- files|check|invite ...|clients ...`: what to print on stdout. Throws ServerError. */
export async function runAdminCommand(argv: readonly string[], opts: AdminOptions = {}): Promise<string> {
  return (await runAdmin(argv, opts)).output;
}

/** runAdminCommand with the exit status: 1 when `check` found a problem, else 0. */
export async function runAdmin(
  argv: readonly string[],
  opts: AdminOptions = {},
): Promise<{ output: string; exitCode: number }> {
  const a = parseAdminArgs(argv, opts.env);
  if (a.command === 'help') return { output: `${adminHelp()}\n`, exitCode: 0 };
  const dataDir = resolve(opts.cwd ?? process.cwd(), a.values.data);
  const tty = wantsTable(a.values.json, opts.tty);
  // Read-only: listing and checking files never create or migrate a database.
  if (a.command === 'files') return { output: formatListing(listReceivedFiles(dataDir), tty), exitCode: 0 };
  if (a.command === 'check') {
    // Reading a large store takes a while: a progress line on a terminal's stderr.
    const line = opts.progress ? progressLine(opts.progress) : null;
    const report = await checkStoredFiles(dataDir, {
      quick: a.values.quick,
      ...(line ? { onProgress: line.update } : {}),
    }).finally(() => line?.clear());
    return { output: formatCheck(report, tty), exitCode: report.findings.length > 0 ? 1 : 0 };
  }
  return { output: await run(a, dataDir, tty), exitCode: 0 };
}
