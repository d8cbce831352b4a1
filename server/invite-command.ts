/**
 * `invite create | list | revoke` (admin-options.ts): make a link, see what each invite's
 * clients use of its limits, stop one. The token is signed with the data folder's invite key
 * (invite-keys.ts); the row in defensive.db is what the server checks (revocation, limits).
 */
import { randomBytes } from 'node:crypto';
import { formatBytes } from '../lib/format';
import { type InvitePayload, inviteLink, signInvite } from '../lib/invite';
import { escapeUnsafe as shown } from '../lib/protocol/name-chars';
import type { Database, InviteListing, InviteRow } from './database';
import { ServerError } from './errors';
import { inviteRefusal } from './invite-gate';
import { loadInviteKeys } from './invite-keys';
import { removeStaleKeyTemps } from './key-temps';
import { formatTable, jsonLines, localTime } from './table-format';
import { loadServerIdentity } from './v4/server-key';

export interface NewInvite {
  label: string;
  expiresMs: number;
  maxBytes: number | null;
  maxFiles: number | null;
  maxClients: number;
}

export interface CreatedInvite {
  row: InviteRow;
  /** The link with the token in its fragment: a secret, printed once, stored nowhere. */
  link: string;
  /** The v4 server key's fingerprint the link carries. */
  fingerprint: string;
}

const isoSeconds = (s: number) => new Date(s * 1000).toISOString();

/** The token's payload for a row (the row keeps whole seconds, so the token can be signed again). */
export function payloadOf(row: InviteRow): InvitePayload {
  return {
    v: 1,
    id: row.ID,
    label: row.Label,
    iat: Date.parse(row.CreatedAt) / 1000,
    exp: Date.parse(row.ExpiresAt) / 1000,
    maxBytes: row.MaxBytes,
    maxFiles: row.MaxFiles,
    maxClients: row.MaxClients,
  };
}

/** Signs a new invite and records it. The data folder must exist (its key pair is made on first need). */
export async function createInvite(
  db: Database,
  dataDir: string,
  publicUrl: string,
  inv: NewInvite,
  nowMs = Date.now(),
): Promise<CreatedInvite> {
  // This may be the first to make the key pairs, or run after a server was killed mid-write.
  await removeStaleKeyTemps(dataDir);
  const keys = await loadInviteKeys(dataDir);
  if (!keys.privateKey) {
    throw new ServerError(
      'SERVER_ERR_STORAGE',
      `${dataDir} has invite.pub but no invite.key: invites cannot be made here.`,
    );
  }
  const iat = Math.floor(nowMs / 1000);
  const row: InviteRow = {
    ID: randomBytes(8).toString('hex'),
    Label: inv.label,
    CreatedAt: isoSeconds(iat),
    ExpiresAt: isoSeconds(iat + Math.max(1, Math.round(inv.expiresMs / 1000))),
    MaxBytes: inv.maxBytes,
    MaxFiles: inv.maxFiles,
    MaxClients: inv.maxClients,
    RevokedAt: null,
  };
  const token = await signInvite(payloadOf(row), keys.privateKey);
  // The link carries the v4 server key's fingerprint: the sender's first connection checks it.
  const { fingerprint } = await loadServerIdentity(dataDir);
  await db.insertInvite(row);
  return { row, link: inviteLink(publicUrl, token, fingerprint), fingerprint };
}

export type InviteStatus = 'active' | 'expired' | 'revoked';

/** The server's rule (invite-gate.ts), in the words `invite list` prints. */
export function inviteStatus(row: InviteRow, nowMs = Date.now()): InviteStatus {
  const refusal = inviteRefusal(row, nowMs);
  return refusal === 'invite-revoked' ? 'revoked' : refusal === 'invite-expired' ? 'expired' : 'active';
}

/** What `invite list --json` prints per invite (sizes in bytes, times in UTC). */
export interface InviteJson {
  id: string;
  label: string;
  status: InviteStatus;
  created: string;
  expires: string;
  revoked: string | null;
  maxBytes: number | null;
  maxFiles: number | null;
  maxClients: number;
  clients?: number;
  files?: number;
  bytes?: number;
  link?: string;
}

function toJson(row: InviteRow, nowMs: number): InviteJson {
  return {
    id: row.ID,
    label: row.Label,
    status: inviteStatus(row, nowMs),
    created: row.CreatedAt,
    expires: row.ExpiresAt,
    revoked: row.RevokedAt,
    maxBytes: row.MaxBytes,
    maxFiles: row.MaxFiles,
    maxClients: row.MaxClients,
  };
}

const NO_LIMIT = "no limit beyond the server's";

/** `invite create`'s output: the link, and every limit with "(default)" where none was given. */
export function formatCreated(
  c: CreatedInvite,
  tty: boolean,
  defaulted: ReadonlySet<string>,
  nowMs = Date.now(),
  /** The link as a QR code (invite-qr.ts), shown under it on a terminal. */
  qr?: string,
): string {
  if (!tty) return jsonLines([{ ...toJson(c.row, nowMs), link: c.link, fingerprint: c.fingerprint }]);
  const r = c.row;
  const d = (option: string) => (defaulted.has(option) ? ' (default)' : '');
  const days = (Date.parse(r.ExpiresAt) - Date.parse(r.CreatedAt)) / 86_400_000;
  const span = days >= 1 ? `${Math.round(days * 10) / 10} days` : `${Math.round(days * 240) / 10} hours`;
  // Escaped as in every table (table-format.ts): `invite create` refuses such labels, but what
  // is printed is the row, and a row from elsewhere may hold one (see formatRevoked).
  return [
    `Invite ${shown(r.ID)}${r.Label ? ` from "${shown(r.Label)}"` : ''}`,
    `  expires  ${localTime(r.ExpiresAt)} (in ${span})${d('expires')}`,
    `  bytes    ${r.MaxBytes === null ? NO_LIMIT : `up to ${formatBytes(r.MaxBytes)}`}${d('max-bytes')}`,
    `  files    ${r.MaxFiles === null ? NO_LIMIT : `up to ${r.MaxFiles}`}${d('max-files')}`,
    `  clients  ${r.MaxClients}${d('max-clients')}`,
    `  server   ${c.fingerprint} (in the link: the sender's first connection checks it)`,
    '',
    'Give this link to the sender. Whoever has it can send within these limits until it',
    `expires or you run: npm run server -- invite revoke ${r.ID}`,
    '',
    c.link,
    '',
    ...(qr ? [qr.trimEnd(), ''] : []),
  ].join('\n');
}

/** "3/10", "3" without a limit. */
const of = (used: string, limit: string | null) => (limit === null ? used : `${used}/${limit}`);

export function formatInvites(list: readonly InviteListing[], tty: boolean, nowMs = Date.now()): string {
  if (!tty) {
    return jsonLines(
      list.map((i) => ({ ...toJson(i, nowMs), clients: i.clients, files: i.files, bytes: i.bytes })),
    );
  }
  if (list.length === 0)
    return 'No invites yet. Make one with: npm run server -- invite create --label NAME\n';
  const head = ['ID', 'LABEL', 'STATUS', 'CREATED', 'EXPIRES', 'CLIENTS', 'FILES', 'BYTES'];
  const rows = list.map((i) => [
    i.ID,
    i.Label,
    inviteStatus(i, nowMs) === 'revoked' ? `revoked ${localTime(i.RevokedAt!)}` : inviteStatus(i, nowMs),
    localTime(i.CreatedAt),
    localTime(i.ExpiresAt),
    of(String(i.clients), String(i.MaxClients)),
    of(String(i.files), i.MaxFiles === null ? null : String(i.MaxFiles)),
    of(formatBytes(i.bytes), i.MaxBytes === null ? null : formatBytes(i.MaxBytes)),
  ]);
  return formatTable(head, rows, [5, 6, 7]);
}

/** Revokes; throws SERVER_ERR_BAD_ARGUMENT for an unknown ID. */
export async function revokeInvite(db: Database, id: string, nowMs = Date.now()): Promise<InviteRow> {
  const row = await db.revokeInvite(id, new Date(nowMs).toISOString());
  if (!row) throw new ServerError('SERVER_ERR_BAD_ARGUMENT', `No invite ${id}; see invite list.`);
  return row;
}

export function formatRevoked(row: InviteRow, tty: boolean, nowMs = Date.now()): string {
  if (!tty) return jsonLines([toJson(row, nowMs)]);
  // The label is the stored row's: one stored before labels were checked, or edited by hand
  // in the data folder, would reach the terminal raw (an ESC or U+009B runs as a command).
  return `Invite ${shown(row.ID)}${row.Label ? ` ("${shown(row.Label)}")` : ''} revoked at ${localTime(row.RevokedAt!)}: its clients can no longer upload; their files stay.\n`;
}
