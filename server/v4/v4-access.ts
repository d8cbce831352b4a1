/**
 * Who may use protocol v4 and how much, with v3's rules (docs/SECURITY.md, "Who may send"):
 * one InviteGate, one UploadQuota and one PeerLimits serve both versions.
 *
 * At ClientAuth (the key is proven by then):
 * - a key seen before is a reconnect: it costs a token of the source's reconnect bucket (as a
 *   1027 does), and a client bound to a revoked or expired invite is refused (Error 5);
 * - a new key is a registration: the source's registration bucket (Error 8), --max-clients
 *   (Error 9), then the invite: the PROXY v2 TLV 0xE0 of a trusted relay if there is one,
 *   else ClientAuth's invite field, verified by the InviteGate (signature, expiry, its row,
 *   revocation, a free client slot; Error 4 without one where one is needed, 5 for a bad
 *   one). The key is bound to the invite in the same transaction that takes the slot.
 * At UploadStart: the declared size (less what a resumed upload already keeps) is reserved
 * in UploadQuota; a refusal there is non-fatal (6 or 14), except for the invite's state (5).
 * The shared room (disk, total) is held as the records arrive: coverUpload() before each.
 */
import { randomBytes } from 'node:crypto';
import { bytesToHex } from '../../lib/crypto/encoding';
import { V4_ERROR_SENTENCES, V4ErrorCode } from '../../lib/protocol/v4/constants';
import type { Peer } from '../admission';
import type { ServerConfig } from '../config';
import type { ClientRow, Database } from '../database';
import { type InviteGate, type RefusalReason, RefusedError } from '../invite-gate';
import type { PeerLimits } from '../peer-limits';
import type { Reservation, UploadQuota } from '../upload-quota';
import { storedV4Name } from './v4-clients';

export interface V4AccessContext {
  db: Database;
  invites: InviteGate;
  quota: UploadQuota;
  limits: PeerLimits;
  config: ServerConfig;
}

/** A refusal: the wire code and reason sent, and the reason logged. */
export interface V4Refusal {
  code: V4ErrorCode;
  reason: string;
  /** For the log line (`reason`): an invite-gate reason or a short word. */
  why: RefusalReason | 'rate-limited' | 'max-clients' | 'register-failed';
  detail: string;
}

export interface V4Admitted {
  row: ClientRow;
  registered: boolean;
  /** The invite the client is bound to (or its token named), for the log. */
  inviteId: string | null;
}

/** Only these go to the person as they are; the rest get the code's sentence (the log has the detail). */
const DETAIL_SENT = new Set<number>([V4ErrorCode.OverQuota, V4ErrorCode.FileTooLarge]);

function refusal(code: V4ErrorCode, why: V4Refusal['why'], detail: string): V4Refusal {
  return { code, why, detail, reason: DETAIL_SENT.has(code) ? detail : V4_ERROR_SENTENCES[code] };
}

/** The v4 answer to a refusal of the invite gate or the quota. */
export function fromRefused(e: RefusedError): V4Refusal {
  switch (e.reason) {
    case 'invite-required':
      return refusal(V4ErrorCode.InviteRequired, e.reason, e.message);
    case 'invite-malformed':
    case 'invite-forged':
    case 'invite-expired':
    case 'invite-unknown':
    case 'invite-revoked':
    case 'invite-full':
      return refusal(V4ErrorCode.InviteInvalid, e.reason, e.message);
    case 'disk-reserve':
      return refusal(V4ErrorCode.StorageFailed, e.reason, e.message);
    case 'client-removed':
      return refusal(V4ErrorCode.HandshakeFailed, e.reason, e.message);
    default:
      return refusal(V4ErrorCode.OverQuota, e.reason, e.message);
  }
}

/** Runs `step`, turning a RefusedError into its V4Refusal. */
async function refusedAs<T>(step: () => Promise<T>): Promise<T | V4Refusal> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof RefusedError) return fromRefused(e);
    throw e;
  }
}

export function isRefusal(x: unknown): x is V4Refusal {
  return typeof x === 'object' && x !== null && 'why' in x && 'code' in x;
}

/** The client behind a proven key, found or registered under the rules above. */
export async function admitV4Client(
  ctx: V4AccessContext,
  who: { key: Uint8Array; name: string; invite: string; peer: Peer },
  nowMs = Date.now(),
): Promise<V4Admitted | V4Refusal> {
  const { db, invites, limits } = ctx;
  const now = new Date(nowMs).toISOString();
  const known = await db.clientByV4Key(who.key);
  if (known) {
    if (!limits.takeReconnect(who.peer.source, bytesToHex(known.ID)))
      return refusal(V4ErrorCode.RateLimited, 'rate-limited', 'Too many connections of this key.');
    const bound = await refusedAs(() => invites.checkBound(known.InviteID, nowMs));
    if (isRefusal(bound)) return bound;
    await db.touch(known.ID, now);
    return { row: known, registered: false, inviteId: known.InviteID };
  }
  // Rows are permanent: a stranger must not be able to add them as fast as we answer.
  if (!limits.takeRegistration(who.peer.source))
    return refusal(V4ErrorCode.RateLimited, 'rate-limited', 'Too many new keys from this source.');
  if ((await db.clientCount()) >= ctx.config.maxClients)
    return refusal(V4ErrorCode.Busy, 'max-clients', 'The server has as many clients as it accepts.');
  // The relay's TLV takes precedence: it is what the bridge checked.
  const token = who.peer.invite ?? (who.invite === '' ? undefined : who.invite);
  let inviteId: string | null = null;
  const slot = await refusedAs(() =>
    invites.forRegistration(
      { relayed: who.peer.via !== undefined, ...(token !== undefined ? { token } : {}) },
      nowMs,
      (id) => {
        inviteId = id;
      },
    ),
  );
  if (isRefusal(slot)) return slot;
  const id = new Uint8Array(randomBytes(16));
  const name = await storedV4Name(who.name, who.key);
  if (!(await db.insertV4Client(id, name, who.key, now, slot, ctx.config.maxClients))) {
    // Another connection of the same key registered first, or the invite's last slot went,
    // or the cap was reached by other registrations meanwhile (the count above was read
    // before the awaited steps; the insert counts again).
    const again = await db.clientByV4Key(who.key);
    if (again) return { row: again, registered: false, inviteId: again.InviteID };
    if ((await db.clientCount()) >= ctx.config.maxClients)
      return refusal(V4ErrorCode.Busy, 'max-clients', 'The server has as many clients as it accepts.');
    if (slot)
      return refusal(V4ErrorCode.InviteInvalid, 'invite-full', `Invite ${slot.id} has no free client slot.`);
    return refusal(V4ErrorCode.Internal, 'register-failed', 'The client could not be registered.');
  }
  return { row: (await db.clientById(id))!, registered: true, inviteId };
}

/** What Welcome announces: the largest file the client may send now. */
export async function roomFor(
  ctx: V4AccessContext,
  clientId: Uint8Array,
  maxFileSize: number,
): Promise<number> {
  const room = await refusedAs(() => ctx.quota.room(clientId));
  return isRefusal(room) ? 0 : Math.min(maxFileSize, room);
}

/** Reserves an upload's declared size (less what it keeps already), or says why not. */
export function reserveUpload(
  ctx: V4AccessContext,
  clientId: Uint8Array,
  upload: { name: string; size: number; kept: number },
) {
  return refusedAs(() =>
    ctx.quota.reserve(clientId, upload.name, upload.size, { kept: upload.kept, listed: true }),
  );
}

/**
 * Extends an upload's hold on the shared room (disk, total) before its bytes up to `upTo` are
 * written; a refusal when the room went to others meanwhile (upload-quota.ts, SharedWindow),
 * after `giveWay` removed what the upload wrote.
 */
export async function coverUpload(
  reservation: Reservation,
  upTo: number,
  giveWay: () => Promise<void>,
): Promise<V4Refusal | undefined> {
  const extending = reservation.cover(upTo, giveWay);
  if (!extending) return undefined;
  const covered = await refusedAs(() => extending);
  return isRefusal(covered) ? covered : undefined;
}
