/** `clients list | remove NAME [--files]` (admin-options.ts): who is registered, and removing one. */
import { formatBytes } from '../lib/format';
import { clientIdToHex } from '../lib/protocol';
import type { ClientListing, Database } from './database';
import { ServerError } from './errors';
import type { FileStore } from './file-store';
import { formatTable, jsonLines, localTime } from './table-format';

/** What `clients list --json` prints per client (sizes in bytes, times in UTC as stored). */
export interface ClientJson {
  name: string;
  clientId: string;
  invite: string | null;
  registered: boolean;
  files: number;
  bytes: number;
  lastSeen: string | null;
}

export function formatClients(list: readonly ClientListing[], tty: boolean): string {
  const json = list.map(
    (c): ClientJson => ({
      name: c.Name,
      clientId: clientIdToHex(c.ID),
      invite: c.InviteID,
      registered: c.HasKey,
      files: c.files,
      bytes: c.bytes,
      lastSeen: c.LastSeen,
    }),
  );
  if (!tty) return jsonLines(json);
  if (json.length === 0) return 'No clients registered yet.\n';
  const head = ['NAME', 'INVITE', 'KEY', 'FILES', 'BYTES', 'LAST SEEN'];
  const rows = json.map((c) => [
    c.name,
    c.invite ?? '-',
    c.registered ? 'yes' : 'no',
    String(c.files),
    formatBytes(c.bytes),
    c.lastSeen === null ? '?' : localTime(c.lastSeen),
  ]);
  return formatTable(head, rows, [3, 4]);
}

export interface Removed {
  name: string;
  clientId: string;
  files: number;
  bytes: number;
  filesDeleted: boolean;
}

/** Removes the client named `name`; throws SERVER_ERR_BAD_ARGUMENT when there is none. */
export async function removeClient(
  db: Database,
  files: FileStore,
  name: string,
  withFiles: boolean,
): Promise<Removed> {
  const client = await db.clientByName(name);
  const rows = client && (await files.removeClient(client.ID, withFiles));
  if (!client || !rows)
    throw new ServerError('SERVER_ERR_BAD_ARGUMENT', `No client named "${name}"; see clients list.`);
  return {
    name,
    clientId: clientIdToHex(client.ID),
    files: rows.length,
    bytes: rows.reduce((n, r) => n + (r.Size ?? 0), 0),
    filesDeleted: withFiles,
  };
}

export function formatRemoved(r: Removed, tty: boolean): string {
  if (!tty) return jsonLines([r]);
  const what = `${r.files} file${r.files === 1 ? '' : 's'}, ${formatBytes(r.bytes)}`;
  return r.filesDeleted
    ? `Removed client "${r.name}" and deleted its ${what}.\n`
    : `Removed client "${r.name}"; its ${what} stay (listed by the files command; --files deletes them).\n`;
}
