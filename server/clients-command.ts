/**
 * `clients list | remove NAME [--files]` (admin-options.ts): who is registered, and removing
 * a sender. A sender may have several identities under one name: a v3 client (its RSA key)
 * and any number of v4 keys, each a clients row named "NAME [v4 <fingerprint prefix>]"
 * (server/v4/v4-clients.ts).
 */
import { formatBytes } from '../lib/format';
import { clientIdToHex } from '../lib/protocol';
import { escapeUnsafe } from '../lib/protocol/name-chars';
import type { ClientListing, Database } from './database';
import { ServerError } from './errors';
import type { FileStore } from './file-store';
import { formatTable, jsonLines, localTime } from './table-format';

/**
 * The key a client proves itself with: `RSA` (protocol v3, after its 1026), `v4` (an Ed25519
 * key, protocol v4), or null (v3, registered without sending its key yet).
 */
export type KeyKind = 'RSA' | 'v4' | null;

/** storedV4Name's form: the chosen name, then 8 characters of the key's base64 fingerprint. */
const V4_STORED_NAME = /^(.+) \[v4 [A-Za-z0-9+/]{8}\]$/;

/** The name a v4 identity chose, from its stored name; undefined for a name of another form. */
export function v4ChosenName(stored: string): string | undefined {
  return V4_STORED_NAME.exec(stored)?.[1];
}

/** Which key the row has on file. */
export function keyKind(c: Pick<ClientListing, 'HasKey' | 'HasV4Key'>): KeyKind {
  if (c.HasKey) return 'RSA';
  return c.HasV4Key ? 'v4' : null;
}

/** What `clients list --json` prints per client (sizes in bytes, times in UTC as stored). */
export interface ClientJson {
  name: string;
  clientId: string;
  invite: string | null;
  /** The client finished registering: it has a key on file (`key` says which). */
  registered: boolean;
  key: KeyKind;
  files: number;
  bytes: number;
  lastSeen: string | null;
}

export function formatClients(list: readonly ClientListing[], tty: boolean): string {
  const json = list.map((c): ClientJson => {
    const key = keyKind(c);
    return {
      name: c.Name,
      clientId: clientIdToHex(c.ID),
      invite: c.InviteID,
      registered: key !== null,
      key,
      files: c.files,
      bytes: c.bytes,
      lastSeen: c.LastSeen,
    };
  });
  if (!tty) return jsonLines(json);
  if (json.length === 0) return 'No clients registered yet.\n';
  const head = ['NAME', 'INVITE', 'KEY', 'FILES', 'BYTES', 'LAST SEEN'];
  const rows = json.map((c) => [
    c.name,
    c.invite ?? '-',
    c.key ?? '-',
    String(c.files),
    formatBytes(c.bytes),
    c.lastSeen === null ? '?' : localTime(c.lastSeen),
  ]);
  return formatTable(head, rows, [3, 4]);
}

/** One identity `clients remove` removed (one JSON line each). */
export interface Removed {
  /** Its stored name, as `clients list` shows it. */
  name: string;
  clientId: string;
  key: KeyKind;
  files: number;
  bytes: number;
  filesDeleted: boolean;
}

/**
 * The rows `clients remove NAME` means: the client named NAME, and every v4 identity that
 * registered as NAME. A whole v4 stored name ("alice [v4 FYjC2q9b]") means that row only.
 * NAME may also be written as `clients list` shows it: a name stored with control or bidi
 * characters (before the name rules refused them) as its escapes ("alice\u{9B}8m").
 */
export function identitiesNamed(list: readonly ClientListing[], name: string): ClientListing[] {
  const whole = v4ChosenName(name) !== undefined;
  const is = (stored: string | undefined) =>
    stored !== undefined && (stored === name || escapeUnsafe(stored) === name);
  return list.filter((c) => is(c.Name) || (!whole && keyKind(c) === 'v4' && is(v4ChosenName(c.Name))));
}

/**
 * Removes every identity under `name` (identitiesNamed), each with its files' rows and, with
 * `withFiles`, its stored files (else they stay, listed without a client). Throws
 * SERVER_ERR_BAD_ARGUMENT when there is none.
 */
export async function removeClient(
  db: Database,
  files: FileStore,
  name: string,
  withFiles: boolean,
): Promise<Removed[]> {
  const removed: Removed[] = [];
  for (const c of identitiesNamed(await db.clients(), name)) {
    const rows = await files.removeClient(c.ID, withFiles);
    if (!rows) continue; // removed by another command meanwhile
    removed.push({
      name: c.Name,
      clientId: clientIdToHex(c.ID),
      key: keyKind(c),
      files: rows.length,
      bytes: rows.reduce((n, r) => n + (r.Size ?? 0), 0),
      filesDeleted: withFiles,
    });
  }
  if (removed.length === 0)
    throw new ServerError(
      'SERVER_ERR_BAD_ARGUMENT',
      `No client named "${escapeUnsafe(name)}"; see clients list.`,
    );
  return removed;
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function formatRemoved(removed: readonly Removed[], name: string, tty: boolean): string {
  if (!tty) return jsonLines(removed);
  const v4 = removed.filter((r) => r.key === 'v4').length;
  const kinds = [
    ...(removed.length > v4 ? [count(removed.length - v4, 'v3 client', 'v3 clients')] : []),
    ...(v4 > 0 ? [count(v4, 'v4 key', 'v4 keys')] : []),
  ];
  const head = ['NAME', 'KEY', 'FILES', 'BYTES'];
  const rows = removed.map((r) => [r.name, r.key ?? '-', String(r.files), formatBytes(r.bytes)]);
  const n = removed.reduce((s, r) => s + r.files, 0);
  const bytes = formatBytes(removed.reduce((s, r) => s + r.bytes, 0));
  const their = `${removed.length === 1 ? 'Its' : 'Their'} ${count(n, 'file', 'files')} (${bytes})`;
  const outcome =
    n === 0
      ? `${removed.length === 1 ? 'It' : 'They'} had no files.`
      : removed[0]!.filesDeleted
        ? `${their} ${n === 1 ? 'was' : 'were'} deleted.`
        : `${their} ${n === 1 ? 'stays' : 'stay'} (listed by the files command; --files deletes them).`;
  return `Removed "${escapeUnsafe(name)}": ${kinds.join(' and ')}.\n${formatTable(head, rows, [2, 3])}${outcome}\n`;
}
